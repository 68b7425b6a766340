#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <thread>

#include "backend/device.h"
#include "backend/gpu_info.h"
#include "cli/commands.h"
#include "core/env.h"
#include "core/error.h"
#include "engine/model_manager.h"
#include "server/api_server.h"
#include "store/model_locator.h"

namespace salut::cli {

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible API (default http://127.0.0.1:7258)");
  auto options = std::make_shared<server::ServerOptions>();
  cmd->add_option("--host", options->host, "Address to listen on")->envname("SALUT_HOST")->capture_default_str();
  cmd->add_option("--port", options->port, "Port to listen on")
      ->envname("SALUT_PORT")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  auto api_key = std::make_shared<std::string>();
  cmd->add_option("--api-key", *api_key, "Require Authorization: Bearer <key> on every route but /health")
      ->envname("SALUT_API_KEY");
  auto preload = std::make_shared<std::string>();
  cmd->add_option("--model", *preload, "Model to load at start, in the background (ID or folder)")
      ->envname("SALUT_PRELOAD_MODEL");
  auto manager_options = std::make_shared<engine::ManagerOptions>();
  cmd->add_option("--context", manager_options->context,
                  "Context length (prompt + answer) per request; default: the model's, at most 8192")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", manager_options->threads, "CPU threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  auto device = std::make_shared<std::string>();
  cmd->add_option("--device", *device, "Where models run: cpu, cuda, cuda:N or auto (default: the first GPU, if any)")
      ->envname("SALUT_DEVICE");
  cmd->add_option("--max-queue", manager_options->max_queue, "Requests that may wait for the engine (more get 429)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([options, api_key, preload, manager_options, device] {
    if (!api_key->empty()) options->api_key = *api_key;
    manager_options->device = backend::parse_device(*device);

    // Signals are taken by one thread with sigwait, so shutdown runs as ordinary code.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto gpus = backend::list_gpus();
    if (gpus.empty()) spdlog::info("device: cpu{}", backend::built_with_cuda() ? " (no CUDA device found)" : "");
    for (const auto& gpu : gpus) spdlog::info("device: cuda:{} {}", gpu.index, gpu.name);
    const auto placement = backend::place(manager_options->device);
    spdlog::info("models will run on {}{}", placement.name,
                 placement.why_not.empty() ? "" : fmt::format(" ({})", placement.why_not));

    store::Registry registry = open_registry();
    engine::ModelManager manager(*manager_options, [](const std::string& ref, store::PullObserver* observer) {
      auto downloader = make_downloader();
      return store::locate_model(store::parse_model_ref(ref), *downloader, /*pull_if_missing=*/true, observer);
    });
    if (!preload->empty()) manager.preload(*preload);
    server::ApiServer server(*options, registry, manager);
    std::thread waiter([&] {
      int signal = 0;
      sigwait(&signals, &signal);
      spdlog::info("shutting down ({})", signal == SIGINT ? "SIGINT" : "SIGTERM");
      server.stop();
    });
    try {
      server.run();
    } catch (...) {
      pthread_kill(waiter.native_handle(), SIGTERM);
      waiter.join();
      throw;
    }
    waiter.join();
  });
}

}  // namespace salut::cli
