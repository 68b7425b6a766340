// salut bench: prefill and decode speed of a model on this machine, and how close decode comes
// to the memory bandwidth measured in the same run (decode reads every weight once per token,
// and the KV cache up to its position).

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/bandwidth.h"
#include "backend/gpu_info.h"
#include "cli/commands.h"
#include "cli/text_io.h"
#include "core/error.h"
#include "engine/generator.h"
#include "engine/model_loading.h"
#include "engine/sampler.h"
#include "model/kv_cache.h"
#include "model/transformer.h"
#include "weights/weight_store.h"

namespace salut::cli {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

struct Result {
  double prefill_tps = 0, decode_tps = 0;
};

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode speed against this machine's memory bandwidth");
  struct Args {
    std::string model;
    int64_t prompt = 512;
    int64_t tokens = 128;
    int64_t context = 0;  // 0: prompt + tokens + 1
    int threads = 0;
    int repeat = 1;
    double buffer_gb = 1.0;
    bool json = false;
    std::string device;
    float temperature = 0, top_p = 1;
    int top_k = 0;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Model ID (owner/name) or path to a model folder")->required();
  cmd->add_option("--prompt", args->prompt, "Prompt tokens to prefill (random IDs, fixed seed)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tokens", args->tokens, "Tokens to decode, one at a time")->check(CLI::Range(2, 1 << 20));
  cmd->add_option("--context", args->context,
                  "KV cache size in tokens, as a server's --context sets it (default: prompt + tokens + 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "CPU threads (default: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--repeat", args->repeat, "Runs of prefill + decode; the median is reported")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--bandwidth-buffer-gb", args->buffer_gb, "Size of each buffer of the bandwidth test")
      ->check(CLI::Range(0.01, 64.0));
  cmd->add_option("--device", args->device, "Where the model runs: cpu, cuda, cuda:N or auto (default: the first GPU, if any)")
      ->envname("SALUT_DEVICE");
  cmd->add_option("--temp", args->temperature, "Sampling temperature of the decode (default 0: greedy)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling of the decode (default 1: off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--top-k", args->top_k, "Top-k sampling of the decode (default 0: off)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of a table");
  cmd->callback([args] {
    const auto folder = model_folder(args->model);
    const int64_t needed = args->prompt + args->tokens + 1;
    const int64_t context = args->context > 0 ? args->context : needed;
    if (context < needed)
      throw Error(Errc::invalid_argument, fmt::format("--context {} is smaller than --prompt + --tokens + 1 = {}",
                                                      context, needed));

    // GPU memory: free before anything of the model exists (the CUDA context already made), after
    // the weights and the KV cache, after the runs (scratch), and after unloading.
    const backend::Placement wanted = backend::place(backend::parse_device(args->device));
    auto gpu_free = [&] { return wanted.cuda ? backend::gpu_free_memory(wanted.index) : 0; };
    const uint64_t free_before = gpu_free();

    auto on_device = engine::load_on_device(folder, wanted, args->threads, context);
    backend::Backend* backend = on_device.backend.get();
    model::Transformer& model = *on_device.model;
    // Decode reads every weight once per token, except an untied embedding table (one row).
    uint64_t bytes_per_token = model.weight_bytes();
    if (!model.config().tie_word_embeddings)
      bytes_per_token -= weights::WeightStore::open(folder).bytes_for_prefix("model.embed_tokens.");

    std::mt19937 rng(1234);
    std::uniform_int_distribution<int32_t> token(0, int32_t(model.vocab_size() - 1));
    std::vector<int32_t> prompt(size_t(args->prompt));
    for (auto& t : prompt) t = token(rng);

    auto owned_generator = std::make_unique<engine::Generator>(model, *backend, context);
    engine::Generator& generator = *owned_generator;
    backend->synchronize();
    const uint64_t free_loaded = gpu_free();
    const auto& config = model.config();
    const uint64_t kv_bytes = uint64_t(model::KvCache::bytes_for(int(config.num_hidden_layers),
                                                                  config.num_key_value_heads * config.head_dim,
                                                                  context, backend->kv_value_bytes()));
    engine::SamplingParams sampling;
    sampling.temperature = args->temperature;
    sampling.top_p = args->top_p;
    sampling.top_k = args->top_k;
    sampling.seed = 1;
    sampling.validate(model.vocab_size());
    auto run = [&](std::span<const int32_t> p, int64_t tokens) {
      engine::Sampler sampler(sampling, model.vocab_size());
      const auto stats = generator.generate(p, sampler, tokens, {}, [](int32_t) { return true; });
      // decode: the steps after the first token (that one comes from the prefill's logits)
      return Result{double(stats.prompt_tokens) / stats.prefill_seconds,
                    double(stats.generated_tokens - 1) / stats.decode_seconds};
    };
    run(std::span(prompt).first(std::min<size_t>(prompt.size(), 16)), 4);  // page the weights in

    // On the CPU the reference is measured around every run (before the first, after each): a
    // shared machine's bandwidth drifts by tens of percent within seconds, so each run's decode is
    // set against the mean of the two measurements that bracket it, and the median run reported.
    const bool on_gpu = on_device.placement.cuda;
    std::unique_ptr<backend::cpu::ThreadPool> bandwidth_pool;
    std::vector<backend::cpu::MemoryBandwidth> brackets;
    auto measure_cpu = [&] {
      brackets.push_back(backend::cpu::measure_memory_bandwidth(*bandwidth_pool, size_t(args->buffer_gb * 1e9), 2));
    };
    if (!on_gpu) {
      bandwidth_pool = std::make_unique<backend::cpu::ThreadPool>(args->threads);
      measure_cpu();
    }
    std::vector<Result> results;
    for (int i = 0; i < args->repeat; ++i) {
      results.push_back(run(prompt, args->tokens));
      if (!on_gpu) measure_cpu();
    }
    bandwidth_pool.reset();
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    auto median = [&](double Result::*field) {
      std::vector<double> v;
      for (const auto& r : results) v.push_back(r.*field);
      return median_of(v);
    };
    const double prefill = median(&Result::prefill_tps), decode = median(&Result::decode_tps);
    const uint64_t free_after_runs = gpu_free();
    const std::string backend_name = backend->name();
    const int kv_value_bytes = backend->kv_value_bytes();
    const weights::ModelConfig c = model.config();
    const uint64_t weight_bytes = model.weight_bytes();
    // Unload, as the server does, and see what the GPU gets back.
    owned_generator.reset();
    on_device.model.reset();
    on_device.backend.reset();
    const uint64_t free_unloaded = gpu_free();
    // Each decode step also reads the KV cache up to its position (keys and values in the
    // backend's element type): on average prompt + tokens / 2 positions.
    const uint64_t kv_bytes_per_position = uint64_t(model::KvCache::bytes_for(
        int(c.num_hidden_layers), c.num_key_value_heads * c.head_dim, 1, kv_value_bytes));
    const uint64_t kv_bytes_per_token = kv_bytes_per_position * uint64_t(args->prompt + args->tokens / 2);
    auto gb_s_at = [&](double tok_s) { return double(bytes_per_token + kv_bytes_per_token) * tok_s / 1e9; };
    const double achieved = gb_s_at(decode);
    // The reference: the GPU's memory (a device-to-device copy, once the model is unloaded), or
    // the CPU's around each run (above).
    backend::cpu::MemoryBandwidth bw;
    double copy_fraction = 0, read_fraction = 0;
    nlohmann::json per_run = nlohmann::json::array();
    if (on_gpu) {
      bw.copy_gb_s = bw.read_gb_s = backend::measure_gpu_copy_bandwidth(on_device.placement.index, size_t(args->buffer_gb * 1e9));
      copy_fraction = read_fraction = achieved / bw.copy_gb_s;
    } else {
      std::vector<double> copy, read, copy_fractions, read_fractions;
      for (size_t i = 0; i < results.size(); ++i) {
        copy.push_back((brackets[i].copy_gb_s + brackets[i + 1].copy_gb_s) / 2);
        read.push_back((brackets[i].read_gb_s + brackets[i + 1].read_gb_s) / 2);
        copy_fractions.push_back(gb_s_at(results[i].decode_tps) / copy.back());
        read_fractions.push_back(gb_s_at(results[i].decode_tps) / read.back());
        per_run.push_back({{"decode_tok_s", results[i].decode_tps},
                           {"copy_bandwidth_gb_s", copy.back()},
                           {"read_bandwidth_gb_s", read.back()},
                           {"fraction_of_copy_bandwidth", copy_fractions.back()},
                           {"fraction_of_read_bandwidth", read_fractions.back()}});
      }
      bw.copy_gb_s = median_of(copy);
      bw.read_gb_s = median_of(read);
      bw.threads = brackets.front().threads;
      copy_fraction = median_of(copy_fractions);
      read_fraction = median_of(read_fractions);
    }

    nlohmann::json out = {
        {"model", args->model},
        {"backend", backend_name},
        {"threads", bw.threads},
        {"cpu", cpu_model()},
        {"device", on_device.placement.name},
        {"prompt_tokens", args->prompt},
        {"context", context},
        {"decode_tokens", args->tokens},
        {"sampling", {{"temperature", args->temperature}, {"top_p", args->top_p}, {"top_k", args->top_k}}},
        {"repeat", args->repeat},
        {"prefill_tok_s", prefill},
        {"decode_tok_s", decode},
        {"weight_bytes_per_token", bytes_per_token},
        {"kv_bytes_per_token", kv_bytes_per_token},
        {"decode_gb_s", achieved},
        {"copy_bandwidth_gb_s", bw.copy_gb_s},
        {"read_bandwidth_gb_s", bw.read_gb_s},
        {"fraction_of_copy_bandwidth", copy_fraction},
        {"fraction_of_read_bandwidth", read_fraction},
    };
    if (!per_run.empty()) out["runs"] = per_run;
    if (on_gpu) {
      const auto used = [&](uint64_t free_now) { return int64_t(free_before) - int64_t(free_now); };
      out["gpu_memory"] = {{"weights_bytes", weight_bytes},
                           {"kv_cache_bytes", kv_bytes},
                           {"used_after_load_bytes", used(free_loaded)},
                           {"used_after_runs_bytes", used(free_after_runs)},
                           {"used_after_unload_bytes", used(free_unloaded)},
                           {"after_load_over_weights_and_kv", double(used(free_loaded)) / double(weight_bytes + kv_bytes)}};
    }
    if (args->json) {
      fmt::print("{}\n", out.dump(2));
      return;
    }
    fmt::print("model          {}\n", args->model);
    if (on_gpu) fmt::print("backend        {}\n", backend_name);
    else fmt::print("backend        {} on {}\n", backend_name, cpu_model());
    fmt::print("prefill        {:8.1f} tok/s   ({} tokens)\n", prefill, args->prompt);
    fmt::print("decode         {:8.2f} tok/s   ({} tokens, batch 1{})\n", decode, args->tokens,
               args->temperature > 0 ? fmt::format(", temperature {} top_p {} top_k {}", args->temperature, args->top_p,
                                                   args->top_k)
                                     : "");
    fmt::print("reads/token    {:8.1f} MB      (weights {:.1f} MB + KV cache {:.1f} MB on average)\n",
               double(bytes_per_token + kv_bytes_per_token) / 1e6, double(bytes_per_token) / 1e6,
               double(kv_bytes_per_token) / 1e6);
    fmt::print("decode reads   {:8.2f} GB/s\n", achieved);
    fmt::print("memory copy    {:8.2f} GB/s   (read + write{}; decode reaches {:.0f}%)\n", bw.copy_gb_s,
               on_gpu ? ", device to device" : ", around each run", 100 * copy_fraction);
    if (on_gpu)
      fmt::print("GPU memory     {:8.1f} MB after load = {:.3f} x (weights {:.1f} MB + KV cache {:.1f} MB); {:.1f} MB "
                 "after the runs; {:.1f} MB after unloading\n",
                 double(int64_t(free_before) - int64_t(free_loaded)) / 1e6,
                 double(int64_t(free_before) - int64_t(free_loaded)) / double(weight_bytes + kv_bytes),
                 double(weight_bytes) / 1e6, double(kv_bytes) / 1e6,
                 double(int64_t(free_before) - int64_t(free_after_runs)) / 1e6,
                 double(int64_t(free_before) - int64_t(free_unloaded)) / 1e6);
    if (!on_gpu) fmt::print("memory read    {:8.2f} GB/s   (around each run; decode reaches {:.0f}%)\n", bw.read_gb_s, 100 * read_fraction);
  });
}

}  // namespace salut::cli
