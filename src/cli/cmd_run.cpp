#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "cli/commands.h"
#include "core/error.h"
#include "engine/generator.h"
#include "engine/model_loading.h"
#include "engine/sampling_defaults.h"
#include "model/transformer.h"
#include "chat/chat_template.h"
#include "cli/text_io.h"
#include "tokenizer/tokenizer.h"

namespace salut::cli {

void add_run_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Generate text with a model (ID or local folder)");
  struct Args {
    std::string model;
    std::string prompt;
    std::string prompt_ids;
    bool raw = false;
    std::optional<float> temperature, top_p;  // default: the model's generation_config.json
    int64_t max_tokens = 256;
    std::optional<uint64_t> seed;
    bool greedy = false;
    bool ids = false;
    int64_t context = 4096;
    std::string device;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Model ID (owner/name) or path to a model folder")->required();
  cmd->add_option("prompt", args->prompt, "The prompt");
  cmd->add_option("--prompt-ids", args->prompt_ids, "The prompt as a JSON array of token IDs (no template)");
  cmd->add_flag("--raw", args->raw, "Send the prompt as it is, without the chat template");
  cmd->add_option("--temp", args->temperature, "Sampling temperature (0 = greedy; default: the model's generation_config.json, else 0)")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-p", args->top_p, "Nucleus sampling mass")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--max-tokens", args->max_tokens, "Most tokens to generate")->check(CLI::PositiveNumber);
  cmd->add_option("--seed", args->seed, "Random seed");
  cmd->add_option("--context", args->context, "Context length (prompt + answer)")->check(CLI::PositiveNumber);
  cmd->add_option("--device", args->device, "Where the model runs: cpu, cuda, cuda:N or auto (default: the first GPU, if any)")
      ->envname("SALUT_DEVICE");
  cmd->add_flag("--greedy", args->greedy, "Always take the most likely token");
  cmd->add_flag("--ids", args->ids, "Print the generated token IDs as a JSON array");
  cmd->callback([args] {
    const auto folder = model_folder(args->model);
    const auto tokenizer = tokenizer::Tokenizer::from_dir(folder);

    std::vector<int32_t> prompt;
    if (!args->prompt_ids.empty()) {
      auto json = nlohmann::json::parse(args->prompt_ids, nullptr, false);
      if (!json.is_array()) throw Error(Errc::invalid_argument, "--prompt-ids must be a JSON array of token IDs");
      for (const auto& id : json) {
        if (!id.is_number_integer()) throw Error(Errc::invalid_argument, "--prompt-ids must hold integers");
        prompt.push_back(id.get<int32_t>());
      }
    } else if (args->raw) {
      prompt = tokenizer.encode(args->prompt, /*add_special_tokens=*/true);
    } else {
      nlohmann::ordered_json request = {{"messages", {{{"role", "user"}, {"content", args->prompt}}}},
                                        {"add_generation_prompt", true}};
      // The template writes BOS itself: no special tokens added on top.
      prompt = tokenizer.encode(chat::ChatTemplate::load(folder).render(request), /*add_special_tokens=*/false);
    }
    if (prompt.empty()) throw Error(Errc::invalid_argument, "the prompt is empty");

    auto on_device = engine::load_on_device(folder, backend::place(backend::parse_device(args->device)), 0, args->context);
    backend::Backend* backend = on_device.backend.get();
    model::Transformer& model = *on_device.model;
    engine::Generator generator(model, *backend, args->context);
    engine::SamplingParams sampling = engine::sampling_defaults(folder);
    if (args->temperature) sampling.temperature = *args->temperature;
    if (args->top_p) sampling.top_p = *args->top_p;
    if (args->greedy) sampling.temperature = 0.0f;
    sampling.seed = args->seed;
    sampling.validate(model.vocab_size());
    engine::Sampler sampler(sampling, model.vocab_size());
    std::vector<int32_t> stop;
    for (int64_t id : model.config().eos_token_ids) stop.push_back(static_cast<int32_t>(id));

    std::vector<int32_t> generated;
    tokenizer::StreamingDetokenizer text(tokenizer, /*skip_special_tokens=*/true);
    auto stats = generator.generate(prompt, sampler, args->max_tokens, stop, [&](int32_t token) {
      generated.push_back(token);
      if (!args->ids) {
        std::fputs(text.push(token).c_str(), stdout);
        std::fflush(stdout);
      }
      return true;
    });
    if (args->ids) fmt::print("{}\n", nlohmann::json(generated).dump());
    else fmt::print("{}\n", text.finish());
    std::fflush(stdout);  // the answer, then the figures, even when both go to one terminal
    fmt::print(stderr, "prompt: {} tokens, {:.1f} tok/s; generation: {} tokens, {:.1f} tok/s\n", stats.prompt_tokens,
               stats.prompt_tokens / std::max(stats.prefill_seconds, 1e-9), stats.generated_tokens,
               stats.generated_tokens / std::max(stats.decode_seconds, 1e-9));
  });
}

}  // namespace salut::cli
