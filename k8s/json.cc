#include "k8s/json.h"

namespace gangsched::k8s {

namespace {
std::mutex& KeptParserMutex() {
  static std::mutex mu;
  return mu;
}
od::parser& KeptParser() {
  static od::parser parser;
  return parser;
}
}  // namespace

ParserLease::ParserLease(std::size_t body_size) : body_size_(body_size) {
  if (body_size <= kThreadParserBytes) {
    thread_local od::parser thread_parser;
    parser_ = &thread_parser;
    return;
  }
  kept_ = std::unique_lock(KeptParserMutex(), std::try_to_lock);
  if (kept_.owns_lock()) {
    parser_ = &KeptParser();
  } else {
    own_ = std::make_unique<od::parser>();
    parser_ = own_.get();
  }
}

ParserLease::~ParserLease() {
  if (kept_.owns_lock() && body_size_ > kKeptParserBytes) KeptParser() = od::parser();
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Most strings (node names, reasons) need no escaping: copied whole.
  if (std::none_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
      })) {
    out.push_back('"');
    out.append(s);
    out.push_back('"');
    return;
  }
  out.push_back('"');
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20) {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A multi-byte UTF-8 sequence: copied when valid, else U+FFFD (as Go's encoder does).
    std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool valid = len != 0 && c < 0xf5 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (valid && len == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      valid = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out.push_back('"');
}

}  // namespace gangsched::k8s
