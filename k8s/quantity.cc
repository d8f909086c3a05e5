#include "k8s/quantity.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>
#include <system_error>

#include "k8s/reader.h"  // Quote

namespace gangsched::k8s {
namespace {

using scheduler::Resources;
__extension__ using Uint128 = unsigned __int128;

int DecimalSuffix(char c, bool& ok) {
  ok = true;
  switch (c) {
    case 'n':
      return -9;
    case 'u':
      return -6;
    case 'm':
      return -3;
    case 'k':
      return 3;
    case 'M':
      return 6;
    case 'G':
      return 9;
    case 'T':
      return 12;
    case 'P':
      return 15;
    case 'E':
      return 18;
    default:
      ok = false;
      return 0;
  }
}

int BinarySuffix(std::string_view s, bool& ok) {
  ok = true;
  if (s == "Ki") return 10;
  if (s == "Mi") return 20;
  if (s == "Gi") return 30;
  if (s == "Ti") return 40;
  if (s == "Pi") return 50;
  if (s == "Ei") return 60;
  ok = false;
  return 0;
}

}  // namespace

std::optional<scheduler::TaintEffect> ParseTaintEffect(std::string_view name) {
  if (name == "NoSchedule") return scheduler::TaintEffect::kNoSchedule;
  if (name == "PreferNoSchedule") return scheduler::TaintEffect::kPreferNoSchedule;
  if (name == "NoExecute") return scheduler::TaintEffect::kNoExecute;
  return std::nullopt;
}

tl::expected<std::int64_t, std::string> ParseQuantity(std::string_view text, QuantityScale scale) {
  // Error texts are built only on failure (the wire decoder calls this for every Node quantity).
  auto shown = [text] { return Quote(text); };
  if (text.empty()) {
    return tl::unexpected(std::string("empty quantity; write a number such as \"4\" or \"500m\""));
  }
  // Fast path: a plain integer of up to 15 digits ("8", "110", "192"), the common case.
  if (text.size() <= 15) {
    std::int64_t whole = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), whole);
    if (ec == std::errc() && end == text.data() + text.size() && whole >= 0 && text[0] != '-') {
      return scale == QuantityScale::kMilli ? whole * 1000 : whole;
    }
  }
  std::size_t i = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++i;
  }
  std::string digits;
  int fraction_digits = 0;
  bool dot = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c >= '0' && c <= '9') {
      digits += c;
      if (dot) ++fraction_digits;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits.empty()) {
    return tl::unexpected(shown() +
                          " is not a quantity: it must start with a number, e.g. \"4\", " +
                          "\"500m\", \"64Gi\"");
  }
  const std::string_view suffix = text.substr(i);
  long long decimal_exponent = -fraction_digits;
  int binary_exponent = 0;
  if (!suffix.empty()) {
    bool ok = false;
    binary_exponent = BinarySuffix(suffix, ok);
    if (!ok && suffix.size() == 1) {
      decimal_exponent += DecimalSuffix(suffix[0], ok);
    }
    if (!ok && suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
      std::string_view exp = suffix.substr(1);
      bool exp_negative = false;
      if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) {
        exp_negative = exp[0] == '-';
        exp.remove_prefix(1);
      }
      int value = 0;
      auto [ptr, ec] = std::from_chars(exp.data(), exp.data() + exp.size(), value);
      if (!exp.empty() && ec == std::errc() && ptr == exp.data() + exp.size() && value <= 1000) {
        ok = true;
        decimal_exponent += exp_negative ? -value : value;
      }
    }
    if (!ok) {
      return tl::unexpected(shown() + " has an unknown suffix " + Quote(suffix) +
                            "; use one of n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent "
                            "such as e3");
    }
  }
  // Exact arithmetic: value = digits x 10^decimal_exponent x 2^binary_exponent.
  const std::size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 0;
  digits.erase(0, first);
  const std::size_t last = digits.find_last_not_of('0');
  decimal_exponent += static_cast<long long>(digits.size() - last - 1);
  digits.erase(last + 1);
  if (negative) return tl::unexpected(shown() + " is negative; quantities here must be >= 0");
  bool inexact = false;  // digits dropped beyond what 64 bits hold
  constexpr std::size_t kMaxDigits = 19;
  if (digits.size() > kMaxDigits) {
    inexact = true;  // the dropped digits are not all zero: trailing zeros were stripped above
    decimal_exponent += static_cast<long long>(digits.size() - kMaxDigits);
    digits.erase(kMaxDigits);
  }
  std::uint64_t mantissa = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), mantissa);
  if (scale == QuantityScale::kMilli) decimal_exponent += 3;
  constexpr auto kLimit = static_cast<Uint128>(std::numeric_limits<std::int64_t>::max());
  auto too_large = [&shown] { return shown() + " is too large (the limit is 2^63-1 base units)"; };
  Uint128 value = static_cast<Uint128>(mantissa) << binary_exponent;
  if (decimal_exponent >= 0) {
    for (long long k = 0; k < decimal_exponent; ++k) {
      value *= 10;
      if (value > kLimit) return tl::unexpected(too_large());
    }
    if (inexact || value > kLimit) return tl::unexpected(too_large());
    return static_cast<std::int64_t>(value);
  }
  Uint128 quotient = 0;
  if (-decimal_exponent <= 38) {
    Uint128 divisor = 1;
    for (long long k = 0; k < -decimal_exponent; ++k) divisor *= 10;
    quotient = value / divisor;
    if (value % divisor != 0) inexact = true;
  } else {
    inexact = true;
  }
  if (scale == QuantityScale::kWhole && inexact) {
    return tl::unexpected(shown() +
                          " is not a whole number; this resource is counted in whole "
                          "units, e.g. \"1\" or \"2\"");
  }
  if (inexact) ++quotient;  // round up, as resource.Quantity.Value()/MilliValue() do
  if (quotient > kLimit) return tl::unexpected(too_large());
  return static_cast<std::int64_t>(quotient);
}

namespace {
Resources Max(const Resources& a, const Resources& b) {
  return Resources{std::max(a.milli_cpu, b.milli_cpu), std::max(a.memory_bytes, b.memory_bytes),
                   std::max(a.gpus, b.gpus), std::max(a.pods, b.pods)};
}

// "brings WHAT of RESOURCE over ...": the decoder puts the field it stands at before it.
std::string Overflow(std::string_view resource, std::string_view what) {
  return "brings " + std::string(what) + " of " + std::string(resource) +
         " over the limit of 2^63-1 base units; request less";
}
}  // namespace

std::optional<std::string_view> AddResources(Resources& sum, const Resources& add) {
  Resources out;
  if (__builtin_add_overflow(sum.milli_cpu, add.milli_cpu, &out.milli_cpu)) return "cpu";
  if (__builtin_add_overflow(sum.memory_bytes, add.memory_bytes, &out.memory_bytes)) {
    return "memory";
  }
  if (__builtin_add_overflow(sum.gpus, add.gpus, &out.gpus)) return scheduler::kGpuResource;
  if (__builtin_add_overflow(sum.pods, add.pods, &out.pods)) return "pods";
  sum = out;
  return std::nullopt;
}

tl::expected<void, std::string> PodRequests::AddContainer(const Resources& requests) {
  if (auto r = AddResources(containers_, requests)) {
    return tl::unexpected(Overflow(*r, "the sum of the containers' requests"));
  }
  return {};
}

tl::expected<void, std::string> PodRequests::AddInitContainer(const Resources& requests,
                                                              bool restartable) {
  if (restartable) {  // a sidecar keeps running beside everything started after it
    if (auto r = AddResources(sidecars_, requests)) {
      return tl::unexpected(Overflow(*r, "the sum of the sidecars (restartable init containers)"));
    }
    init_peak_ = Max(init_peak_, sidecars_);
    return {};
  }
  Resources beside = requests;
  if (auto r = AddResources(beside, sidecars_)) {
    return tl::unexpected(Overflow(*r, "its requests plus the sidecars before it"));
  }
  init_peak_ = Max(init_peak_, beside);
  return {};
}

tl::expected<Resources, std::string> PodRequests::Total(const Resources& overhead) const {
  Resources running = containers_;
  if (auto r = AddResources(running, sidecars_)) {
    return tl::unexpected("initContainers " + Overflow(*r, "the containers plus the sidecars"));
  }
  Resources total = Max(running, init_peak_);
  if (auto r = AddResources(total, overhead)) {
    return tl::unexpected("overhead " + Overflow(*r, "the pod's requests"));
  }
  total.pods = 1;
  return total;
}

std::optional<std::vector<int>> ParseGpuIds(std::string_view text) {
  std::vector<int> ids;
  if (text.empty()) return ids;
  while (true) {
    const std::size_t comma = text.find(',');
    std::string_view part = text.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    int id = -1;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), id);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || id < 0 ||
        id >= 64) {
      return std::nullopt;
    }
    ids.push_back(id);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace gangsched::k8s
