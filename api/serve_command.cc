#include "api/serve_command.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <memory>

#include "api/server.h"
#include "config/config.h"

namespace gangsched::api {

int RunServe(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << config::ServeUsage();
      return 0;
    }
  }
  auto config = config::ParseServeFlags(args);
  if (!config) {
    err << "gangsched: " << config.error() << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  auto state = LoadStandaloneState(*config);
  if (!state) {
    err << "gangsched: " << state.error() << "\n";
    return 2;
  }
  spdlog::info("verb=start cluster={} nodes={} pods={} jobs={} ready={}",
               config->cluster_file.empty() ? "-" : config->cluster_file, state->nodes, state->pods,
               state->jobs, state->inventory_loaded);

  // Block the stop signals in every thread (threads inherit the mask); this thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the process

  ExtenderService service(*config, std::move(state->engine), state->inventory_loaded,
                          std::make_unique<StandaloneBinder>());
  ExtenderServer server(*config, service);
  if (auto started = server.Start(); !started) {
    err << "gangsched: " << started.error() << "\n";
    service.Shutdown("gangsched failed to start");
    server.Stop();
    return 1;
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
  service.Shutdown("gangsched is shutting down");
  server.Stop();
  return 0;
}

}  // namespace gangsched::api
