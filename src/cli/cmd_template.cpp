#include <fmt/format.h>

#include <iostream>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "cli/text_io.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace salut::cli {

void add_template_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "template", "Render the chat template for the JSON request on stdin ({\"messages\": [...], ...})");
  struct Args {
    std::string model;
    bool ids = false;
    bool jsonl = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Model ID or path to a model folder")->required();
  cmd->add_flag("--ids", args->ids, "Print the prompt's token IDs instead of its text");
  cmd->add_flag("--jsonl", args->jsonl, "Each stdin line is a JSON request; each output line its result");
  cmd->callback([args] {
    const auto folder = model_folder(args->model);
    const auto chat_template = chat::ChatTemplate::load(folder);
    std::optional<tokenizer::Tokenizer> tokenizer;
    if (args->ids) tokenizer = tokenizer::Tokenizer::from_dir(folder);
    // The template supplies BOS and friends: the prompt is tokenized without special tokens.
    auto render = [&](const nlohmann::ordered_json& request) -> nlohmann::ordered_json {
      if (!request.is_object()) throw Error(Errc::invalid_argument, "expected a JSON object with \"messages\"");
      std::string prompt = chat_template.render(request);
      if (tokenizer) return tokenizer->encode(prompt, false);
      return prompt;
    };
    if (args->jsonl) {
      for_each_jsonl_line(render);
      return;
    }
    auto request = nlohmann::ordered_json::parse(read_stdin(), nullptr, false);
    if (request.is_discarded()) throw Error(Errc::invalid_argument, "stdin is not JSON (expected a request object)");
    auto result = render(request);
    if (result.is_string()) std::cout << result.get<std::string>();
    else std::cout << result.dump() << '\n';
  });
}

}  // namespace salut::cli
