// One watched resource of the API server (reference/extender-protocol.md §4): list (paged), then
// watch from the list's resourceVersion, relisting on "too old resource version" and reconnecting
// with backoff. Owns one thread per resource; no exception crosses it. Knows nothing of the
// objects it carries: handlers get their JSON.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kube/kube_client.h"

namespace gangsched::kube {

// Retry timing of list/watch (exponential backoff, capped).
struct WatchTiming {
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds unserved_retry{60'000};  // a 404 resource is looked for again after
  int watch_timeout_seconds = 300;                   // timeoutSeconds of each watch request
  int page_size = 500;                               // limit= of each list page
};

// One watched resource: list (paged) then watch from the list's resourceVersion, relisting on
// "too old resource version" (HTTP 410 or an ERROR event with code 410), reconnecting with backoff.
class ListWatcher {
 public:
  struct Handlers {
    // A full list: every item's JSON. Replaces what the previous list and events said.
    std::function<void(std::vector<std::string> items)> replace;
    // One ADDED / MODIFIED / DELETED event.
    std::function<void(const WatchEvent& event)> event;
    // The resource is not served (404): whatever an earlier list said is gone.
    std::function<void()> unserved;
  };
  // `path`: the collection, e.g. "/api/v1/pods". `optional`: a 404 is normal (a CRD that is not
  // installed) and is logged at debug level.
  ListWatcher(KubeClient& client, std::string path, bool optional, Handlers handlers,
              WatchTiming timing = {});
  ~ListWatcher();
  ListWatcher(const ListWatcher&) = delete;
  ListWatcher& operator=(const ListWatcher&) = delete;

  void Start();
  void Stop();

  // Counters for tests and logs.
  int lists() const { return lists_; }
  int watches() const { return watches_; }
  int relists_for_expired() const { return expired_; }
  const std::string& path() const { return path_; }

 private:
  enum class WatchEnd : std::uint8_t { kClosed, kExpired, kFailed };
  void Run();
  // Lists every page. 404 -> nullopt with `unserved`; 410 (continue token expired) restarts.
  std::optional<std::pair<std::vector<std::string>, std::string>> ListAll(bool& unserved,
                                                                          std::string& error);
  WatchEnd WatchFrom(std::string& resource_version, std::string& error);
  // Waits `delay` or until Stop(); false when stopping.
  bool Pause(std::chrono::milliseconds delay);

  KubeClient& client_;
  std::string path_;
  bool optional_;
  Handlers handlers_;
  WatchTiming timing_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<int> lists_{0};
  std::atomic<int> watches_{0};
  std::atomic<int> expired_{0};
  std::thread thread_;
};

}  // namespace gangsched::kube
