#include "cli/serve_command.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <future>
#include <memory>
#include <optional>

#include "api/http_server.h"
#include "api/state_setup.h"
#include "cli/exit_codes.h"
#include "config/config.h"
#include "kube/binder.h"
#include "kube/kube_client.h"
#include "kube/notifier.h"
#include "kube/state_source.h"

namespace gangsched::cli {

using api::Binder;
using api::ExtenderServer;
using api::ExtenderService;
using api::LoadApiState;
using api::LoadStandaloneState;
using api::StandaloneBinder;
using kube::ApiBinder;
using kube::GangNotifier;
using kube::InClusterConfig;
using kube::KubeClient;
using kube::KubeConfig;
using kube::KubeStateSource;
using kube::LoadKubeconfig;

namespace {
// How long a stop waits for the listeners' workers before exiting anyway.
constexpr std::chrono::milliseconds kStopGrace{2'000};
}  // namespace

int RunServe(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << config::ServeUsage();
      return kExitOk;
    }
  }
  auto config = config::ParseServeFlags(args);
  if (!config) {
    return BadInput(err, config.error());
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  // The state source (issue 4): the API server with --kubeconfig, or in-cluster when neither
  // --cluster nor --kubeconfig is given and KUBERNETES_SERVICE_HOST is set; else standalone.
  std::optional<KubeConfig> kube;
  if (!config->kubeconfig.empty()) {
    auto loaded = LoadKubeconfig(config->kubeconfig);
    if (!loaded) {
      return BadInput(err, loaded.error());
    }
    kube = std::move(*loaded);
  } else if (config->cluster_file.empty() && std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) {
    auto loaded = InClusterConfig();
    if (!loaded) {
      return BadInput(err, loaded.error());
    }
    kube = std::move(*loaded);
  }
  auto state = kube ? LoadApiState(*config) : LoadStandaloneState(*config);
  if (!state) {
    return BadInput(err, state.error());
  }
  if (kube) {
    spdlog::info("verb=start source=api server={} via=\"{}\"", kube->server, kube->source);
  } else {
    spdlog::info("verb=start cluster={} nodes={} pods={} jobs={} ready={}",
                 config->cluster_file.empty() ? "-" : config->cluster_file, state->nodes,
                 state->pods, state->jobs, state->inventory_loaded);
  }

  // Block the stop signals in every thread (threads inherit the mask); this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the process

  std::unique_ptr<KubeClient> client;
  std::unique_ptr<KubeClient> bind_client;  // not stopped with the watches: binds finish
  std::unique_ptr<Binder> binder = std::make_unique<StandaloneBinder>();
  if (kube) {
    client = std::make_unique<KubeClient>(*kube);
    bind_client = std::make_unique<KubeClient>(*kube);
    binder = std::make_unique<ApiBinder>(*bind_client);
  }
  ExtenderService service(*config, std::move(state->engine), state->inventory_loaded,
                          std::move(binder));
  std::unique_ptr<KubeStateSource> source;
  std::unique_ptr<GangNotifier> notifier;
  if (kube) {
    source = std::make_unique<KubeStateSource>(*client, service);
    source->Start();
    notifier = std::make_unique<GangNotifier>(
        *bind_client, service,
        [&source](const scheduler::GangKey& key) { return source->Members(key); },
        GangNotifier::Options{});
    notifier->Start();
  }
  ExtenderServer server(*config, service);
  if (auto started = server.Start(); !started) {
    err << "gangsched: " << started.error() << "\n";
    if (notifier) notifier->Stop();
    if (source) source->Stop();
    service.Shutdown("gangsched failed to start");
    server.Stop();
    return kExitServeFailed;
  }
  const char* scheme = config->tls.Enabled() ? "https" : "http";
  out << "gangsched serving: verbs " << scheme << "://" << config->listen << " (port "
      << server.main_port() << ")";
  if (server.bind_port() != 0) out << ", binds port " << server.bind_port();
  if (server.ops_port() != 0) out << ", ops port " << server.ops_port();
  out << "\n" << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("verb=stop signal={}", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
  if (notifier) notifier->Stop();
  if (source) source->Stop();
  service.Shutdown("gangsched is shutting down");
  // Held binds are answered; the listeners close. A connection kube-scheduler keeps alive but idle
  // holds its worker until the keep-alive timeout (cpp-httplib checks for a stop only between
  // requests), so the join is bounded: after the grace period the process exits with those
  // connections open. Nothing is lost: all state is rebuilt from the API server or the file.
  auto stopped = std::async(std::launch::async, [&server] { server.Stop(); });
  if (stopped.wait_for(kStopGrace) == std::future_status::timeout) {
    spdlog::info(
        "verb=stop decision=exit reason=\"idle keep-alive connections still open after {} ms\"",
        kStopGrace.count());
    spdlog::shutdown();
    out << std::flush;
    err << std::flush;
    std::_Exit(0);
  }
  return kExitOk;
}

}  // namespace gangsched::cli
