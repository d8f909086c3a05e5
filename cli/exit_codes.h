// The exit codes of every gangsched command (README "What works today"), in one place.
#pragma once

namespace gangsched::cli {

inline constexpr int kExitOk = 0;               // done; for `plan`: every job placed
inline constexpr int kExitSomeUnplaceable = 1;  // `plan`: some job cannot be placed
inline constexpr int kExitServeFailed = 1;      // `serve`: a listener could not start
inline constexpr int kExitBadInput = 2;  // usage, unreadable file, decode error, failed start

}  // namespace gangsched::cli
