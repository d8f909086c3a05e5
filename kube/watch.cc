#include "kube/watch.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace gangsched::kube {
namespace {

// Runs a handler; an exception is logged, never thrown across the watcher thread.
template <typename Fn>
void Guarded(const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    spdlog::error("verb=watch resource={} decision=handler_failed error=\"{}\"", what, e.what());
  }
}

}  // namespace

// ---- ListWatcher --------------------------------------------------------------------------------

ListWatcher::ListWatcher(KubeClient& client, std::string path, bool optional, Handlers handlers,
                         WatchTiming timing)
    : client_(client),
      path_(std::move(path)),
      optional_(optional),
      handlers_(std::move(handlers)),
      timing_(timing) {}

ListWatcher::~ListWatcher() { Stop(); }

void ListWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ListWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ListWatcher::Pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [this] { return stop_; });
}

std::optional<std::pair<std::vector<std::string>, std::string>> ListWatcher::ListAll(
    bool& unserved, std::string& error) {
  std::vector<std::string> items;
  std::string resource_version;
  std::string continue_token;
  int restarts = 0;
  while (true) {
    std::string path = path_ + "?limit=" + std::to_string(timing_.page_size);
    if (!continue_token.empty()) path += "&continue=" + QueryEscape(continue_token);
    const KubeResponse response = client_.Get(path, 60);
    if (response.status == 404) {
      unserved = true;
      error = response.Describe();
      return std::nullopt;
    }
    if (response.status == 410 && !continue_token.empty() && restarts++ < 3) {
      // The continue token expired (about 5 minutes, reference/extender-protocol.md §4.1):
      // list again from the start.
      spdlog::info("verb=list resource={} decision=restart reason=\"continue token expired\"",
                   path_);
      items.clear();
      continue_token.clear();
      continue;
    }
    if (!response.Ok()) {
      error = response.Describe();
      return std::nullopt;
    }
    auto page = DecodeListPage(response.body);
    if (!page) {
      error = "GET " + path + ": " + page.error();
      return std::nullopt;
    }
    if (items.empty()) {
      items = std::move(page->items);
    } else {
      std::move(page->items.begin(), page->items.end(), std::back_inserter(items));
    }
    if (continue_token.empty()) resource_version = page->resource_version;
    continue_token = page->continue_token;
    if (continue_token.empty()) break;
    if (!page->resource_version.empty()) resource_version = page->resource_version;
  }
  ++lists_;
  return std::make_pair(std::move(items), std::move(resource_version));
}

ListWatcher::WatchEnd ListWatcher::WatchFrom(std::string& resource_version, std::string& error) {
  const std::string path =
      path_ + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + QueryEscape(resource_version) +
      "&timeoutSeconds=" + std::to_string(timing_.watch_timeout_seconds);
  ++watches_;
  WatchStreamParser parser;
  bool expired = false;
  std::string stream_error;
  const KubeResponse response =
      client_.Stream(path, timing_.watch_timeout_seconds + 30, [&](std::string_view chunk) {
        {
          std::lock_guard lock(mu_);
          if (stop_) return false;
        }
        auto fed = parser.Feed(chunk, [&](WatchEvent event) {
          if (expired || !stream_error.empty()) return;
          switch (event.type) {
            case WatchEventType::kBookmark:
              if (!event.resource_version.empty()) resource_version = event.resource_version;
              return;
            case WatchEventType::kError:
              if (event.status.code == 410) {
                expired = true;
              } else {
                stream_error = "ERROR event: " + std::to_string(event.status.code) + " " +
                               event.status.reason + ": " + event.status.message;
              }
              return;
            default:
              Guarded(path_, [&] { handlers_.event(event); });
              if (!event.resource_version.empty()) resource_version = event.resource_version;
          }
        });
        if (!fed) stream_error = fed.error();
        return !expired && stream_error.empty();
      });
  if (expired || response.status == 410) return WatchEnd::kExpired;
  if (!stream_error.empty()) {
    error = stream_error;
    return WatchEnd::kFailed;
  }
  if (response.status == 200 && response.error.empty()) return WatchEnd::kClosed;
  error = response.Describe();
  return WatchEnd::kFailed;
}

void ListWatcher::Run() {
  auto backoff = timing_.initial_backoff;
  auto grow = [this, &backoff] { backoff = std::min(backoff * 2, timing_.max_backoff); };
  auto stopping = [this] {
    std::lock_guard lock(mu_);
    return stop_;
  };
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    bool unserved = false;
    std::string error;
    auto listed = ListAll(unserved, error);
    if (!listed) {
      if (stopping()) return;  // the aborted request is not a failure worth a warning
      if (unserved) {
        if (optional_) {
          spdlog::debug("verb=list resource={} decision=not_served retry_in_ms={}", path_,
                        timing_.unserved_retry.count());
        } else {
          spdlog::warn("verb=list resource={} decision=not_served error=\"{}\"", path_, error);
        }
        if (handlers_.unserved) Guarded(path_, [&] { handlers_.unserved(); });
        if (!Pause(timing_.unserved_retry)) return;
        continue;
      }
      spdlog::warn("verb=list resource={} decision=retry error=\"{}\" retry_in_ms={}", path_, error,
                   backoff.count());
      if (!Pause(backoff)) return;
      grow();
      continue;
    }
    spdlog::info("verb=list resource={} items={} resource_version={}", path_, listed->first.size(),
                 listed->second);
    Guarded(path_, [&] { handlers_.replace(std::move(listed->first)); });
    std::string resource_version = std::move(listed->second);
    backoff = timing_.initial_backoff;
    bool relist = false;
    while (!relist) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      switch (WatchFrom(resource_version, error)) {
        case WatchEnd::kClosed:
          backoff = timing_.initial_backoff;
          break;
        case WatchEnd::kExpired:
          ++expired_;
          spdlog::info("verb=watch resource={} decision=relist reason=\"too old resource version\"",
                       path_);
          relist = true;
          break;
        case WatchEnd::kFailed:
          if (stopping()) return;
          spdlog::warn("verb=watch resource={} decision=retry error=\"{}\" retry_in_ms={}", path_,
                       error, backoff.count());
          if (!Pause(backoff)) return;
          grow();
          // After a failure the stream may have missed events past recovery only through 410;
          // an HTTP error status (403, 404, 5xx) relists, a dropped connection re-watches.
          relist = error.rfind("HTTP ", 0) == 0;
          break;
      }
    }
  }
}

}  // namespace gangsched::kube
