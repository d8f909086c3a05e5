// The exit codes of every gangsched command (README "What works today"), in one place.
#pragma once

#include <ostream>
#include <string_view>

namespace gangsched::cli {

inline constexpr int kExitOk = 0;               // done; for `plan`: every job placed
inline constexpr int kExitSomeUnplaceable = 1;  // `plan`: some job cannot be placed
inline constexpr int kExitServeFailed = 1;      // `serve`: a listener could not start
inline constexpr int kExitBadInput = 2;     // usage, unreadable file, decode error, failed start
inline constexpr int kExitNotFound = 1;     // `explain`: the server does not know the gang
inline constexpr int kExitUnreachable = 3;  // `explain`, `get`: no usable answer from the server

// Bad input: one line "gangsched: MESSAGE" on `err` (nothing on standard output), exit 2.
inline int BadInput(std::ostream& err, std::string_view message) {
  err << "gangsched: " << message << "\n";
  return kExitBadInput;
}

}  // namespace gangsched::cli
