#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/text_io.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace salut::cli {

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token IDs of the UTF-8 text on stdin (a JSON array)");
  struct Args {
    std::string model;
    bool special = false;
    bool jsonl = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Model ID or path to a model folder")->required();
  cmd->add_flag("--special", args->special, "Add the special tokens the tokenizer adds (BOS, ...)");
  cmd->add_flag("--jsonl", args->jsonl, "Each stdin line is a JSON string; each output line its IDs");
  cmd->callback([args] {
    const auto tokenizer = tokenizer::Tokenizer::from_dir(model_folder(args->model));
    if (args->jsonl) {
      for_each_jsonl_line([&](const nlohmann::ordered_json& input) -> nlohmann::ordered_json {
        if (!input.is_string()) throw Error(Errc::invalid_argument, "expected a JSON string");
        return tokenizer.encode(input.get<std::string>(), args->special);
      });
      return;
    }
    std::cout << nlohmann::json(tokenizer.encode(read_stdin(), args->special)).dump() << '\n';
  });
}

void add_detokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("detokenize", "Print the text of the JSON array of token IDs on stdin");
  struct Args {
    std::string model;
    bool skip_special = false;
    bool jsonl = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Model ID or path to a model folder")->required();
  cmd->add_flag("--skip-special", args->skip_special, "Leave special tokens out of the text");
  cmd->add_flag("--jsonl", args->jsonl, "Each stdin line is a JSON array of IDs; each output line a JSON string");
  auto ids_of = [](const nlohmann::ordered_json& input) {
    if (!input.is_array()) throw Error(Errc::invalid_argument, "expected a JSON array of token IDs");
    std::vector<int32_t> ids;
    for (const auto& id : input) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw Error(Errc::invalid_argument, "token IDs must be non-negative integers");
      ids.push_back(id.get<int32_t>());
    }
    return ids;
  };
  cmd->callback([args, ids_of] {
    const auto tokenizer = tokenizer::Tokenizer::from_dir(model_folder(args->model));
    if (args->jsonl) {
      for_each_jsonl_line([&](const nlohmann::ordered_json& input) -> nlohmann::ordered_json {
        return tokenizer.decode(ids_of(input), args->skip_special);
      });
      return;
    }
    auto input = nlohmann::ordered_json::parse(read_stdin(), nullptr, false);
    if (input.is_discarded()) throw Error(Errc::invalid_argument, "stdin is not JSON (expected an array of token IDs)");
    std::cout << tokenizer.decode(ids_of(input), args->skip_special);
  });
}

}  // namespace salut::cli
