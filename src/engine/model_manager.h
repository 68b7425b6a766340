#pragma once
// The node's one loaded model, and the queue of requests that want a model.
//
// One model at a time: a request names a model; if another is loaded, the manager waits for
// the generation in flight, unloads it (its memory goes back to the system) and loads the one
// asked for, downloading it first when allowed. Requests wait in one bounded FIFO queue and are
// served one after another (continuous batching comes later). To avoid ping-pong between two
// clients of two models, requests for the loaded model go first, but at most `burst` in a row
// while an older request waits for another model.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/device.h"
#include "core/error.h"
#include "chat/chat_template.h"
#include "engine/generator.h"
#include "engine/json_constraint.h"
#include "engine/sampler.h"
#include "model/transformer.h"
#include "store/downloader.h"
#include "tokenizer/tokenizer.h"

namespace salut::engine {

// A model ready to generate, with its text side.
struct LoadedModel {
  std::string ref;  // as requested: an ID or a folder
  std::filesystem::path folder;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Transformer> model;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
  std::unique_ptr<chat::ChatTemplate> chat_template;
  std::unique_ptr<Generator> generator;
  std::unique_ptr<TokenConstraint> json_constraint_;
  SamplingParams defaults;           // from generation_config.json
  std::vector<int32_t> eos_tokens;
  int64_t context = 0;
  double load_seconds = 0;
  std::string device;  // "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)"
  // The vocabulary as a JSON-grammar mask, built on the first request that needs one.
  const TokenConstraint& json_constraint();
  ~LoadedModel();  // the generator and model go before the backend that holds their memory
};

enum class LoadState { none, downloading, loading, ready, failed };
const char* load_state_name(LoadState state);

struct ManagerStatus {
  LoadState state = LoadState::none;
  std::string model;  // loaded, or being loaded, or failed
  std::string error;  // when failed
  uint64_t download_done = 0, download_total = 0;
  double load_seconds = 0;
  int64_t context = 0;
  size_t queued = 0;   // requests waiting
  bool busy = false;   // a request or a load holds the engine
  uint64_t weight_bytes = 0;
  std::string device;  // where the loaded model runs (none loaded: where the next one would)
};

struct ManagerOptions {
  int64_t context = 0;        // tokens per sequence; 0: the model's own maximum, capped at kDefaultContextCap
  size_t max_queue = 64;      // waiting requests beyond this get Errc::busy (429)
  int burst = 8;              // same-model requests served in a row while another model waits
  bool allow_download = true;
  int threads = 0;            // CPU threads; 0: all cores
  backend::DeviceChoice device;  // --device / SALUT_DEVICE
  static constexpr int64_t kDefaultContextCap = 8192;
};

class ModelManager {
 public:
  // Finds (and downloads) a model's folder; reports progress to the observer.
  using Locator = std::function<std::filesystem::path(const std::string& ref, store::PullObserver* observer)>;

  ModelManager(ManagerOptions options, Locator locate);
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  // Starts loading `ref` in the background (SALUT_PRELOAD_MODEL, --model); returns at once.
  void preload(const std::string& ref);

  // The engine, held: the loaded model is the holder's alone until the lease is destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept : manager_(std::exchange(other.manager_, nullptr)), model_(other.model_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    LoadedModel& model() const { return *model_; }

   private:
    friend class ModelManager;
    explicit Lease(ModelManager* manager) : manager_(manager) {}
    ModelManager* manager_;
    LoadedModel* model_ = nullptr;
  };

  // Waits its turn (FIFO, with the burst rule), makes `ref` the loaded model and returns the
  // engine. Throws salut::Error: busy (queue full), cancelled (`gone` said so while waiting),
  // or whatever loading `ref` failed with.
  Lease acquire(const std::string& ref, const std::function<bool()>& gone = {});
  // acquire, then fn with the model.
  void with_model(const std::string& ref, const std::function<void(LoadedModel&)>& fn,
                  const std::function<bool()>& gone = {});

  // Runs fn on the engine's own thread and waits (rethrowing what it throws). Generation runs
  // there, not on the HTTP threads, so per-thread scratch exists once and is freed on unload.
  void run_on_engine(const std::function<void()>& fn);

  ManagerStatus status() const;
  // The model loaded now, if any (for listings; not for generating).
  std::optional<std::string> loaded_model() const;

 private:
  struct Waiter;
  class Progress;

  void load(const std::string& ref);  // the caller holds the engine
  void fail_waiters(const std::string& ref, const Error& error);
  const Waiter* next_to_serve() const;

  ManagerOptions options_;
  std::string planned_device_;  // backend::place(options_.device) at start
  Locator locate_;
  mutable std::mutex mutex_;
  std::condition_variable turn_;
  std::deque<Waiter*> queue_;
  bool busy_ = false;
  int served_in_a_row_ = 0;  // same-model grants while another model waited
  std::unique_ptr<LoadedModel> current_;
  ManagerStatus status_;  // of the load; status() adds the queue and busy_
  std::mutex preload_mutex_;  // guards preloader_
  std::thread preloader_;

  // The engine thread: one job at a time (the holder of a lease submits it).
  void engine_loop();
  std::mutex engine_mutex_;
  std::condition_variable engine_wake_, engine_done_;
  const std::function<void()>* engine_job_ = nullptr;
  std::exception_ptr engine_error_;
  bool engine_busy_ = false, engine_stop_ = false;
  std::thread engine_;
};

}  // namespace salut::engine
