#include "engine/model_manager.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <fstream>

#include "core/error.h"
#include "core/format.h"
#include "core/memory.h"
#include "engine/model_loading.h"
#include "engine/sampling_defaults.h"
#include "model/kv_cache.h"
#include "weights/model_config.h"

namespace salut::engine {

using Clock = std::chrono::steady_clock;

const char* load_state_name(LoadState state) {
  switch (state) {
    case LoadState::none: return "none";
    case LoadState::downloading: return "downloading";
    case LoadState::loading: return "loading";
    case LoadState::ready: return "ready";
    case LoadState::failed: return "failed";
  }
  return "none";
}

const TokenConstraint& LoadedModel::json_constraint() {
  if (!json_constraint_) {
    // Every ID the model can produce; special tokens (and padding rows past the tokenizer) never.
    std::vector<std::string> bytes(size_t(model->vocab_size()));
    const auto known = int32_t(std::min<size_t>(bytes.size(), tokenizer->vocab_size()));
    for (int32_t id = 0; id < known; ++id)
      if (!tokenizer->is_special(id)) bytes[size_t(id)] = tokenizer->token_bytes(id);
    json_constraint_ = std::make_unique<TokenConstraint>(bytes, eos_tokens);
  }
  return *json_constraint_;
}

LoadedModel::~LoadedModel() {
  generator.reset();
  model.reset();
  backend.reset();
}

struct ModelManager::Waiter {
  std::string ref;
  std::optional<Error> failed;  // the load this waiter wanted failed while it waited
};

// Download progress into the status the API shows.
class ModelManager::Progress final : public store::PullObserver {
 public:
  explicit Progress(ModelManager& manager) : manager_(manager) {}
  void on_plan(const store::ModelId&, const std::vector<store::PlannedFile>& files) override {
    uint64_t total = 0;
    for (const auto& f : files) total += f.size;
    std::lock_guard lock(manager_.mutex_);
    manager_.status_.state = LoadState::downloading;
    manager_.status_.download_total = total;
    manager_.status_.download_done = 0;
    done_.clear();
  }
  void on_progress(const std::string& path, uint64_t done, uint64_t) override {
    std::lock_guard lock(manager_.mutex_);
    uint64_t& mine = done_[path];
    manager_.status_.download_done += done - std::min(done, mine);
    mine = std::max(mine, done);
  }

 private:
  ModelManager& manager_;
  std::map<std::string, uint64_t> done_;  // under the manager's mutex
};

ModelManager::ModelManager(ManagerOptions options, Locator locate)
    : options_(options),
      planned_device_(backend::place(options.device).name),
      locate_(std::move(locate)),
      engine_([this] { engine_loop(); }) {}

ModelManager::~ModelManager() {
  {
    std::lock_guard lock(preload_mutex_);
    if (preloader_.joinable()) preloader_.join();
  }
  current_.reset();
  {
    std::lock_guard lock(engine_mutex_);
    engine_stop_ = true;
  }
  engine_wake_.notify_all();
  engine_.join();
}

void ModelManager::engine_loop() {
  std::unique_lock lock(engine_mutex_);
  while (true) {
    engine_wake_.wait(lock, [&] { return engine_stop_ || engine_job_ != nullptr; });
    if (engine_job_ == nullptr) return;  // stopping
    const std::function<void()>* job = std::exchange(engine_job_, nullptr);
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)();
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    engine_error_ = error;
    engine_busy_ = false;
    engine_done_.notify_all();
  }
}

void ModelManager::run_on_engine(const std::function<void()>& fn) {
  std::unique_lock lock(engine_mutex_);
  engine_done_.wait(lock, [&] { return !engine_busy_; });
  engine_busy_ = true;
  engine_job_ = &fn;
  engine_wake_.notify_all();
  engine_done_.wait(lock, [&] { return !engine_busy_ && engine_job_ == nullptr; });
  if (std::exception_ptr error = std::exchange(engine_error_, nullptr)) std::rethrow_exception(error);
}

void ModelManager::preload(const std::string& ref) {
  std::lock_guard one_at_a_time(preload_mutex_);  // callers are HTTP threads (POST /api/load)
  if (preloader_.joinable()) preloader_.join();
  {
    std::lock_guard lock(mutex_);
    status_.state = LoadState::loading;
    status_.model = ref;
    status_.error.clear();
  }
  preloader_ = std::thread([this, ref] {
    try {
      with_model(ref, [](LoadedModel&) {});
    } catch (const std::exception& e) {
      spdlog::error("preloading {} failed: {}", ref, e.what());
    }
  });
}

// The request to serve next: the oldest one for the loaded model, unless `burst` of those went
// first while the oldest request (for another model) waited; else the oldest.
const ModelManager::Waiter* ModelManager::next_to_serve() const {
  if (queue_.empty()) return nullptr;
  const Waiter* oldest = queue_.front();
  if (!current_ || oldest->ref == current_->ref) return oldest;
  if (served_in_a_row_ >= options_.burst) return oldest;
  for (const Waiter* w : queue_)
    if (w->ref == current_->ref) return w;
  return oldest;
}

ModelManager::Lease::~Lease() {
  if (!manager_) return;
  std::lock_guard lock(manager_->mutex_);
  manager_->busy_ = false;
  manager_->turn_.notify_all();
}

ModelManager::Lease ModelManager::acquire(const std::string& ref, const std::function<bool()>& gone) {
  Waiter me{ref, std::nullopt};
  {
    std::unique_lock lock(mutex_);
    if (queue_.size() >= options_.max_queue)
      throw Error(Errc::busy, fmt::format("{} requests are already waiting; try again shortly", queue_.size()));
    queue_.push_back(&me);
    while (true) {
      if (me.failed) break;
      if (!busy_ && next_to_serve() == &me) break;
      if (gone && gone()) {
        queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
        turn_.notify_all();
        throw Error(Errc::cancelled, "the client went away while waiting");
      }
      turn_.wait_for(lock, std::chrono::milliseconds(100));
    }
    queue_.erase(std::find(queue_.begin(), queue_.end(), &me));
    if (me.failed) {
      turn_.notify_all();
      throw *me.failed;
    }
    // Fairness: count same-model grants that overtook an older request for another model.
    const bool overtook = !queue_.empty() && queue_.front()->ref != ref && current_ && current_->ref == ref;
    served_in_a_row_ = overtook ? served_in_a_row_ + 1 : 0;
    busy_ = true;
  }
  Lease lease(this);  // from here on, leaving (normally or by a throw) frees the engine
  if (!current_ || current_->ref != ref) load(ref);
  lease.model_ = current_.get();
  return lease;
}

void ModelManager::with_model(const std::string& ref, const std::function<void(LoadedModel&)>& fn,
                              const std::function<bool()>& gone) {
  Lease lease = acquire(ref, gone);
  fn(lease.model());
}

void ModelManager::load(const std::string& ref) {
  const auto start = Clock::now();
  if (current_) {
    const int64_t before = resident_bytes();
    const std::string old = current_->ref;
    backend::Backend& backend = *current_->backend;
    run_on_engine([&] { backend.release_thread_scratch(); });
    current_.reset();
    malloc_trim(0);  // give freed heap (KV cache, workspaces) back to the system now
    spdlog::info("unloaded {}: resident memory {} -> {}", old, human_bytes(uint64_t(before)),
                 human_bytes(uint64_t(resident_bytes())));
  }
  {
    std::lock_guard lock(mutex_);
    status_ = ManagerStatus{};
    status_.state = LoadState::loading;
    status_.model = ref;
  }
  try {
    auto loaded = std::make_unique<LoadedModel>();
    loaded->ref = ref;
    Progress progress(*this);
    loaded->folder = locate_(ref, &progress);
    {
      std::lock_guard lock(mutex_);
      status_.state = LoadState::loading;
    }
    const auto config = weights::ModelConfig::load(loaded->folder);
    int64_t context = options_.context;
    if (context <= 0)
      context = std::min(config.max_position_embeddings.value_or(ManagerOptions::kDefaultContextCap),
                         ManagerOptions::kDefaultContextCap);

    // Memory check: on the CPU the weights (mapped, paged in) plus the KV cache must fit in what
    // is free; a GPU is checked the same way against its own memory by load_on_device.
    backend::Placement placement = backend::place(options_.device);
    if (!placement.cuda) {
      const uint64_t weight_bytes = safetensors_bytes(loaded->folder);
      const int64_t kv_bytes = kv_cache_bytes(config, context, false);
      const int64_t available = available_bytes();
      if (int64_t(weight_bytes) + kv_bytes > available)
        throw Error(Errc::insufficient_memory,
                    fmt::format("{} needs {} of weights plus {} of KV cache for a {}-token context, but only {} "
                                "of memory is available",
                                ref, human_bytes(weight_bytes), human_bytes(uint64_t(kv_bytes)), context,
                                human_bytes(uint64_t(available))));
    }

    auto on_device = load_on_device(loaded->folder, std::move(placement), options_.threads, context);
    loaded->backend = std::move(on_device.backend);
    loaded->model = std::move(on_device.model);
    loaded->device = on_device.placement.name;
    loaded->tokenizer = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_dir(loaded->folder));
    loaded->chat_template = std::make_unique<chat::ChatTemplate>(chat::ChatTemplate::load(loaded->folder));
    loaded->generator = std::make_unique<Generator>(*loaded->model, *loaded->backend, context);
    loaded->defaults = sampling_defaults(loaded->folder);
    for (int64_t id : loaded->model->config().eos_token_ids) loaded->eos_tokens.push_back(int32_t(id));
    loaded->context = context;
    loaded->load_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    spdlog::info("loaded {} on {} ({} of weights, context {}) in {:.1f} s; resident memory {}", ref, loaded->device,
                 human_bytes(loaded->model->weight_bytes()), context, loaded->load_seconds,
                 human_bytes(uint64_t(resident_bytes())));
    std::lock_guard lock(mutex_);
    current_ = std::move(loaded);
    status_.state = LoadState::ready;
    status_.load_seconds = current_->load_seconds;
    status_.context = context;
    status_.weight_bytes = current_->model->weight_bytes();
    status_.device = current_->device;
  } catch (const Error& e) {
    fail_waiters(ref, e);
    throw;
  } catch (const std::exception& e) {
    const Error error(Errc::internal, e.what());
    fail_waiters(ref, error);
    throw error;
  }
}

// A failed load fails every request waiting for that model, and leaves the manager free.
void ModelManager::fail_waiters(const std::string& ref, const Error& error) {
  std::lock_guard lock(mutex_);
  status_.state = LoadState::failed;
  status_.model = ref;
  status_.error = error.what();
  for (Waiter* w : queue_)
    if (w->ref == ref) w->failed = error;
  turn_.notify_all();
}

ManagerStatus ModelManager::status() const {
  std::lock_guard lock(mutex_);
  ManagerStatus s = status_;
  s.queued = queue_.size();
  s.busy = busy_;
  if (s.device.empty()) s.device = planned_device_;
  return s;
}

std::optional<std::string> ModelManager::loaded_model() const {
  std::lock_guard lock(mutex_);
  if (!current_) return std::nullopt;
  return current_->ref;
}

}  // namespace salut::engine
