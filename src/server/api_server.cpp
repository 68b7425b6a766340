#include "server/api_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>

#include "chat/tool_calls.h"
#include "core/error.h"
#include "core/memory.h"
#include "engine/completion.h"
#include "engine/json_constraint.h"
#include "salut/version.h"
#include "server/dashboard.h"
#include "server/metrics.h"
#include "server/openai_json.h"
#include "server/requests.h"

namespace salut::server {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// HTTP status for an error the store or the engine threw.
int status_of(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return 400;
    case Errc::not_a_model: return 400;
    case Errc::unauthorized: return 401;
    case Errc::forbidden: return 403;
    case Errc::not_found: return 404;
    case Errc::busy: return 429;
    case Errc::cancelled: return 499;
    case Errc::verification: return 502;
    case Errc::unavailable: return 503;
    case Errc::insufficient_memory: return 503;
    case Errc::no_space: return 507;
    case Errc::io:
    case Errc::internal: return 500;
  }
  return 500;
}

std::string random_id(const char* prefix) {
  unsigned char bytes[12];
  RAND_bytes(bytes, sizeof bytes);
  std::string id = prefix;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

const std::string kFingerprint = std::string("salut-") + kVersion;

// OpenAI's logprobs objects from the engine's.
json chat_logprobs(std::span<const engine::TokenLogprob> tokens) {
  json content = json::array();
  auto bytes = [](const std::string& s) {
    json b = json::array();
    for (unsigned char c : s) b.push_back(int(c));
    return b;
  };
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& alt : t.top) top.push_back({{"token", alt.text}, {"logprob", alt.logprob}, {"bytes", bytes(alt.text)}});
    content.push_back({{"token", t.text}, {"logprob", t.logprob}, {"bytes", bytes(t.text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs(std::span<const engine::TokenLogprob> tokens, size_t text_offset) {
  json out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const auto& t : tokens) {
    out["tokens"].push_back(t.text);
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const auto& alt : t.top) top[alt.text] = alt.logprob;
    out["top_logprobs"].push_back(top);
    out["text_offset"].push_back(text_offset);
    text_offset += t.text.size();
  }
  return out;
}

// The chat answer's text split into OpenAI's message fields as it streams: <think>…</think> into
// reasoning_content, the model family's tool-call syntax into tool_calls, the rest content.
class ChatShaper {
 public:
  // `prefix` and `suffix` frame the generated text as the parser sees it (a forced tool call
  // whose opening markup is in the prompt).
  ChatShaper(bool reasoning, bool starts_in_think, chat::ToolCallFormat tools, std::string prefix = "",
             std::string suffix = "")
      : reasoning_on_(reasoning), reasoning_(starts_in_think), tools_(tools), suffix_(std::move(suffix)) {
    if (!prefix.empty()) tools_.push(prefix);
  }

  // The delta fields for `text` (empty object: nothing to send yet).
  json push(std::string_view text) {
    return fields(reasoning_on_ ? reasoning_.push(text) : chat::ReasoningDelta{"", std::string(text)}, false);
  }
  json finish() {
    chat::ReasoningDelta rest = reasoning_on_ ? reasoning_.finish() : chat::ReasoningDelta{};
    rest.content += suffix_;
    return fields(rest, true);
  }
  bool called_tools() const { return tools_.tool_call_count() > 0; }

 private:
  json fields(const chat::ReasoningDelta& r, bool last) {
    json d = json::object();
    if (!r.reasoning.empty()) d["reasoning_content"] = r.reasoning;
    chat::Delta t = tools_.push(r.content);
    if (last) {
      chat::Delta rest = tools_.finish();
      t.content += rest.content;
      t.tool_calls.insert(t.tool_calls.end(), rest.tool_calls.begin(), rest.tool_calls.end());
    }
    if (!t.content.empty()) d["content"] = t.content;
    for (const auto& call : t.tool_calls) {
      json c = {{"index", call.index}, {"function", {{"arguments", call.arguments}}}};
      if (!call.id.empty()) c["id"] = call.id, c["type"] = "function";
      if (!call.name.empty()) c["function"]["name"] = call.name;
      d["tool_calls"].push_back(c);
    }
    return d;
  }

  bool reasoning_on_;
  chat::ReasoningParser reasoning_;
  chat::ToolCallParser tools_;
  std::string suffix_;
};

// tool_choice "required" or a function's name: the answer is forced to be one call, as the JSON
// the model's syntax wraps ({"name", "arguments"} for Hermes/Qwen, {"name", "parameters"} for
// Llama 3), with the name one of the allowed tools and the arguments their parameters' schema
// (any object when that schema uses what the grammar does not support).
json forced_call_schema(const nlohmann::ordered_json& tools, const std::string& choice, chat::ToolCallFormat format) {
  const char* args_key = format == chat::ToolCallFormat::llama3 ? "parameters" : "arguments";
  json options = json::array();
  for (const auto& tool : tools) {
    const std::string name = tool["function"]["name"].get<std::string>();
    if (choice != "required" && name != choice) continue;
    json parameters = json::parse(tool["function"].value("parameters", nlohmann::ordered_json::object()).dump());
    try {
      engine::JsonSchema::compile(parameters);
    } catch (const Error&) {
      parameters = {{"type", "object"}};
    }
    if (parameters.empty()) parameters = {{"type", "object"}};
    options.push_back({{"type", "object"},
                       {"properties", {{"name", {{"const", name}}}, {args_key, parameters}}},
                       {"required", {"name", args_key}}});
  }
  if (options.empty())
    throw ApiError(400, fmt::format("'tool_choice' names '{}', which is not one of 'tools'", choice), "tool_choice",
                   "invalid_value");
  return options.size() == 1 ? options[0] : json{{"anyOf", options}};
}

std::string sse(const json& event) {
  return "data: " + event.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

}  // namespace

struct ApiServer::Impl {
  ServerOptions options;
  const store::Registry& registry;
  engine::ModelManager& manager;
  httplib::Server http;
  Metrics metrics;

  Impl(ServerOptions opts, const store::Registry& reg, engine::ModelManager& mgr)
      : options(std::move(opts)), registry(reg), manager(mgr) {}

  static void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
  }

  static void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, e.status, error_body(e.what(), e.type, e.code, e.param));
  }

  static ApiError api_error(const Error& e) {
    const int status = status_of(e.code());
    const bool server_side = status >= 500;
    return ApiError(status, e.what(), status == 404 ? "model" : "", errc_name(e.code()),
                    server_side ? "server_error" : "invalid_request_error");
  }

  bool authorized(const httplib::Request& req) const {
    if (!options.api_key) return true;
    const std::string expected = "Bearer " + *options.api_key;
    const std::string given = req.get_header_value("Authorization");
    // Constant time, so the key cannot be guessed byte by byte from response timings.
    return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
  }

  json status_json() const {
    const auto s = manager.status();
    json out = {{"state", engine::load_state_name(s.state)},
                {"model", s.model.empty() ? json(nullptr) : json(s.model)},
                {"queued", s.queued},
                {"busy", s.busy}};
    if (s.state == engine::LoadState::downloading)
      out["download"] = {{"done_bytes", s.download_done}, {"total_bytes", s.download_total}};
    if (s.state == engine::LoadState::failed) out["error"] = s.error;
    if (s.state == engine::LoadState::ready)
      out.update({{"context", s.context}, {"load_seconds", s.load_seconds}, {"weight_bytes", s.weight_bytes}});
    return out;
  }

  json models_json() const {
    const auto s = manager.status();
    json data = json::array();
    bool listed_current = false;
    for (const auto& entry : registry.list()) {
      json m = model_object(entry);
      const bool current = s.model == entry.id;
      listed_current |= current;
      m["loaded"] = current && s.state == engine::LoadState::ready;
      if (current && s.state != engine::LoadState::ready) m["state"] = engine::load_state_name(s.state);
      if (current && s.state == engine::LoadState::downloading)
        m["download"] = {{"done_bytes", s.download_done}, {"total_bytes", s.download_total}};
      data.push_back(m);
    }
    // A model loaded from a folder (or still downloading) is not in the cache listing.
    if (!listed_current && !s.model.empty() && s.state != engine::LoadState::failed)
      data.push_back({{"id", s.model},
                      {"object", "model"},
                      {"created", unix_now()},
                      {"owned_by", "local"},
                      {"loaded", s.state == engine::LoadState::ready},
                      {"state", engine::load_state_name(s.state)}});
    if (!listed_current && s.state == engine::LoadState::downloading)
      data.back()["download"] = {{"done_bytes", s.download_done}, {"total_bytes", s.download_total}};
    return {{"object", "list"}, {"data", data}};
  }

  // ---- Generation (both endpoints) ----

  struct Output {
    bool chat = true;
    std::string id, model;
    int64_t created = 0;
    bool include_usage = false;
    std::shared_ptr<ChatShaper> shaper;  // chat: set by the prompt builder
    bool keep_special_tokens = false;
    engine::Generator::LogitsMask mask;     // response_format's grammar
    std::function<void(int32_t)> on_token;
  };

  json usage(const engine::CompletionResult& r) const {
    return {{"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"total_tokens", r.prompt_tokens + r.completion_tokens}};
  }

  json chunk(const Output& o, json choice) const {
    return {{"id", o.id},
            {"object", o.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", o.created},
            {"model", o.model},
            {"system_fingerprint", kFingerprint},
            {"choices", json::array({std::move(choice)})}};
  }

  void record(const engine::CompletionResult& r, double first_token_at) {
    metrics.tokens(r.prompt_tokens, r.completion_tokens);
    if (first_token_at >= 0) metrics.time_to_first_token(first_token_at);
    if (r.completion_tokens > 1) metrics.token_latency(r.decode_seconds / double(r.completion_tokens - 1));
  }

  // Holds the engine, renders the prompt with `build`, checks it against the context, then runs
  // the completion as one response or as a stream of server-sent events.
  void generate(httplib::Response& res, const GenerationRequest& g, Output& o,
                const std::function<std::vector<int32_t>(engine::LoadedModel&)>& build, const std::string& echo) {
    const auto start = Clock::now();
    auto lease = std::make_shared<engine::ModelManager::Lease>(manager.acquire(g.model));
    engine::LoadedModel& model = lease->model();
    engine::CompletionRequest request;
    request.prompt = build(model);
    if (request.prompt.empty()) throw ApiError(400, "The prompt is empty", "messages");
    if (int64_t(request.prompt.size()) >= model.context)
      throw ApiError(400,
                     fmt::format("The prompt has {} tokens but the model's context holds {} (prompt and answer together)",
                                 request.prompt.size(), model.context),
                     o.chat ? "messages" : "prompt", "context_length_exceeded");
    request.sampling = g.sampling;
    request.max_tokens = g.max_tokens;
    request.stop = g.stop;
    request.top_logprobs = g.top_logprobs;
    request.keep_special_tokens = o.keep_special_tokens;
    request.mask = o.mask;
    request.on_token = o.on_token;
    try {
      request.sampling.validate(int64_t(model.model->vocab_size()));
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "", "invalid_value");
    }
    o.created = unix_now();

    if (!g.stream) {
      std::vector<engine::TokenLogprob> logprobs;
      double first = -1;
      engine::CompletionResult result;
      manager.run_on_engine([&] {
        result = engine::complete(*model.generator, *model.tokenizer, model.eos_tokens, request,
                                  [&](std::string_view text, std::span<const engine::TokenLogprob> lp) {
                                    if (text.empty() && lp.empty()) return true;  // prefill heartbeat
                                    if (first < 0) first = std::chrono::duration<double>(Clock::now() - start).count();
                                    logprobs.insert(logprobs.end(), lp.begin(), lp.end());
                                    return true;
                                  });
      });
      record(result, first);
      json choice = {{"index", 0}, {"finish_reason", engine::finish_reason_name(result.finish)}};
      if (o.chat) {
        json message = {{"role", "assistant"}, {"content", result.text}};
        if (o.shaper) {
          json parts = o.shaper->push(result.text);
          json rest = o.shaper->finish();
          for (const char* key : {"content", "reasoning_content"})
            if (rest.contains(key)) parts[key] = parts.value(key, "") + rest[key].get<std::string>();
          for (const auto& call : rest.value("tool_calls", json::array())) parts["tool_calls"].push_back(call);
          message["content"] = parts.contains("content") ? parts["content"] : json(o.shaper->called_tools() ? json(nullptr) : json(""));
          if (parts.contains("reasoning_content")) message["reasoning_content"] = parts["reasoning_content"];
          if (parts.contains("tool_calls")) {
            for (auto& call : parts["tool_calls"]) call.erase("index");
            message["tool_calls"] = parts["tool_calls"];
          }
          if (o.shaper->called_tools() && result.finish == engine::FinishReason::stop) choice["finish_reason"] = "tool_calls";
        }
        choice["message"] = message;
        choice["logprobs"] = g.top_logprobs >= 0 ? chat_logprobs(logprobs) : json(nullptr);
      } else {
        choice["text"] = echo + result.text;
        choice["logprobs"] = g.top_logprobs >= 0 ? completion_logprobs(logprobs, echo.size()) : json(nullptr);
      }
      json body = chunk(o, choice);
      body["object"] = o.chat ? "chat.completion" : "text_completion";
      body["usage"] = usage(result);
      return send_json(res, 200, body);
    }

    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, lease, request = std::move(request), o, echo, start, want_logprobs = g.top_logprobs >= 0](
            size_t, httplib::DataSink& sink) mutable {
          auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
          engine::LoadedModel& model = lease->model();
          bool alive = true;
          if (o.chat)
            alive = write(sse(chunk(o, {{"index", 0},
                                        {"delta", {{"role", "assistant"}, {"content", ""}}},
                                        {"logprobs", nullptr},
                                        {"finish_reason", nullptr}})));
          else if (!echo.empty())
            alive = write(sse(chunk(o, {{"index", 0}, {"text", echo}, {"logprobs", nullptr}, {"finish_reason", nullptr}})));
          double first = -1;
          size_t offset = echo.size();
          engine::CompletionResult result;
          if (alive) {
            try {
              // on the engine's thread; its writes go to this connection, whose thread waits here
              manager.run_on_engine([&] { result = engine::complete(
                  *model.generator, *model.tokenizer, model.eos_tokens, request,
                  [&](std::string_view text, std::span<const engine::TokenLogprob> lp) {
                    // a long prefill: an SSE comment keeps proxies and clients from timing out
                    if (text.empty() && lp.empty()) return write(": prefill\n\n");
                    if (first < 0) first = std::chrono::duration<double>(Clock::now() - start).count();
                    json choice = {{"index", 0}, {"finish_reason", nullptr}};
                    if (o.chat) {
                      choice["delta"] = o.shaper ? o.shaper->push(text) : json{{"content", text}};
                      if (choice["delta"].empty() && lp.empty()) return true;  // held back: nothing to send yet
                      choice["logprobs"] = want_logprobs ? chat_logprobs(lp) : json(nullptr);
                    } else {
                      choice["text"] = text;
                      choice["logprobs"] = want_logprobs ? completion_logprobs(lp, offset) : json(nullptr);
                    }
                    offset += text.size();
                    return write(sse(chunk(o, choice)));  // false: the client is gone, stop now
                  }); });
            } catch (const std::exception& e) {
              spdlog::error("generation failed: {}", e.what());
              write(sse(error_body(e.what(), "server_error", "internal_error")));
              write("data: [DONE]\n\n");
              sink.done();
              return true;
            }
            record(result, first);
          }
          if (result.finish == engine::FinishReason::cancelled || !alive) {
            spdlog::info("client disconnected: generation stopped after {} tokens", result.completion_tokens);
            return false;
          }
          if (o.shaper) {
            json rest = o.shaper->finish();
            if (!rest.empty())
              write(sse(chunk(o, {{"index", 0}, {"delta", rest}, {"logprobs", nullptr}, {"finish_reason", nullptr}})));
          }
          const bool tool_calls = o.shaper && o.shaper->called_tools() && result.finish == engine::FinishReason::stop;
          json last = {{"index", 0},
                       {"finish_reason", tool_calls ? "tool_calls" : engine::finish_reason_name(result.finish)},
                       {"logprobs", nullptr}};
          last[o.chat ? "delta" : "text"] = o.chat ? json::object() : json("");
          write(sse(chunk(o, last)));
          if (o.include_usage) {
            json u = chunk(o, {});
            u["choices"] = json::array();
            u["usage"] = usage(result);
            write(sse(u));
          }
          write("data: [DONE]\n\n");
          sink.done();
          return true;
        },
        [lease](bool) mutable { lease.reset(); });  // the engine is free once the stream ends
  }

  void chat_completions(const httplib::Request& req, httplib::Response& res) {
    const ChatRequest r = parse_chat_request(parse_body(req.body));
    std::optional<engine::JsonSchema> schema;
    try {
      schema = engine::JsonSchema::from_response_format(r.response_format);
    } catch (const Error& e) {
      throw ApiError(400, e.what(), "response_format", "unsupported_schema");
    }
    Output o{true, random_id("chatcmpl-"), r.model, 0, r.include_usage, nullptr, false, {}, {}};
    generate(res, r, o,
             [&](engine::LoadedModel& model) {
               std::string text;
               try {
                 text = model.chat_template->render(r.template_input);
               } catch (const Error& e) {
                 throw ApiError(400, fmt::format("The chat template failed: {}", e.what()), "messages");
               }
               // The answer's fields: thinking when the template knows <think>, tool calls in the
               // syntax the template teaches (its markup may be special tokens: keep them).
               const std::string_view source = model.chat_template->source(r.has_tools);
               const bool thinks = source.find("<think>") != std::string_view::npos;
               const auto format = r.has_tools ? chat::detect_tool_call_format(source) : chat::ToolCallFormat::none;
               o.keep_special_tokens = format != chat::ToolCallFormat::none;
               if (r.has_tools && r.tool_choice != "auto") {
                 if (schema)
                   throw ApiError(400, "'response_format' cannot be combined with a required tool call", "tool_choice");
                 if (format != chat::ToolCallFormat::hermes && format != chat::ToolCallFormat::llama3)
                   throw ApiError(400,
                                  fmt::format("'tool_choice' '{}' needs a model whose tool-call syntax salut can "
                                              "enforce (Hermes/Qwen or Llama 3); this model's is '{}'",
                                              r.tool_choice, chat::to_string(format)),
                                  "tool_choice", "unsupported_value");
                 schema = engine::JsonSchema::compile(forced_call_schema(r.template_input["tools"], r.tool_choice, format));
                 const std::string opening = format == chat::ToolCallFormat::hermes ? "<tool_call>\n" : "";
                 text += opening;  // the call starts at once, its markup already written
                 o.shaper = std::make_shared<ChatShaper>(false, false, format, opening,
                                                         opening.empty() ? "" : "\n</tool_call>");
               } else if (thinks || format != chat::ToolCallFormat::none) {
                 o.shaper = std::make_shared<ChatShaper>(thinks, thinks && chat::prompt_opens_think(text), format);
               }
               if (schema) {
                 // The answer must be a document of the schema: tokens that cannot continue one
                 // are masked, and the end comes only once it is complete.
                 const engine::TokenConstraint& constraint = model.json_constraint();
                 auto state = std::make_shared<engine::TokenConstraint::State>(schema->start());
                 o.mask = [&constraint, state](std::span<float> logits) { constraint.mask(*state, logits); };
                 o.on_token = [&constraint, state](int32_t token) { *state = constraint.accept(*state, token); };
               }
               // The template writes BOS and the other special tokens itself.
               return model.tokenizer->encode(text, /*add_special_tokens=*/false);
             },
             "");
  }

  void completions(const httplib::Request& req, httplib::Response& res) {
    const TextCompletionRequest r = parse_completion_request(parse_body(req.body));
    Output o{false, random_id("cmpl-"), r.model, 0, r.include_usage, nullptr, false, {}, {}};
    std::string echo;
    generate(res, r, o,
             [&](engine::LoadedModel& model) {
               if (r.prompt_ids) {
                 for (int32_t id : *r.prompt_ids)
                   if (id >= model.model->vocab_size())
                     throw ApiError(400, fmt::format("Token ID {} is outside the vocabulary ({} tokens)", id,
                                                     model.model->vocab_size()),
                                    "prompt", "invalid_value");
                 if (r.echo) echo = model.tokenizer->decode(*r.prompt_ids, false);
                 return *r.prompt_ids;
               }
               if (r.echo) echo = r.prompt;
               return model.tokenizer->encode(r.prompt, /*add_special_tokens=*/true);
             },
             echo);
  }

  // Runs a handler, turning every failure into an OpenAI error body with the right status.
  template <class Fn>
  void guarded(const std::string& endpoint, httplib::Response& res, Fn&& fn) {
    try {
      fn();
    } catch (const ApiError& e) {
      send_error(res, e);
      if (e.status == 429) res.set_header("Retry-After", "1");
    } catch (const Error& e) {
      send_error(res, api_error(e));
      if (e.code() == Errc::busy) res.set_header("Retry-After", "1");
    } catch (const std::exception& e) {
      spdlog::error("{} failed: {}", endpoint, e.what());
      send_json(res, 500, error_body(e.what(), "server_error", "internal_error"));
    }
    metrics.request(endpoint, res.status);
  }

  std::string gauges() const {
    const auto s = manager.status();
    return fmt::format(
        "# HELP salut_queue_depth Requests waiting for the engine.\n# TYPE salut_queue_depth gauge\nsalut_queue_depth {}\n"
        "# HELP salut_model_load_seconds Time the loaded model took to load.\n# TYPE salut_model_load_seconds gauge\n"
        "salut_model_load_seconds {}\n"
        "# HELP salut_download_bytes Bytes downloaded for the model being loaded.\n# TYPE salut_download_bytes gauge\n"
        "salut_download_bytes {}\n"
        "# HELP salut_resident_bytes Resident memory of this process.\n# TYPE salut_resident_bytes gauge\n"
        "salut_resident_bytes {}\n",
        s.queued, s.load_seconds, s.download_done, resident_bytes());
  }

  void install_routes() {
    // Handlers block (a request waits for the engine, a stream lasts minutes), so each open
    // connection needs a thread: a bounded pool of mostly idle threads (their stacks are only
    // reserved address space) keeps hundreds of keep-alive connections served without asio's
    // callback plumbing in every handler.
    const int threads = options.http_threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_keep_alive_max_count(1000);
    http.set_keep_alive_timeout(30);
    http.set_read_timeout(60);
    http.set_write_timeout(600);

    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      res.set_header("Access-Control-Allow-Origin", "*");
      if (req.method == "OPTIONS") {
        res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
      if (req.path != "/health" && !authorized(req)) {
        send_json(res, 401, error_body("Missing or invalid API key: send Authorization: Bearer <key>",
                                       "invalid_request_error", "invalid_api_key"));
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    http.Get("/", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(dashboard_html()), "text/html; charset=utf-8");
    });
    // Starts loading a model in the background (the dashboard's Load and Download buttons).
    http.Post("/api/load", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/api/load", res, [&] {
        const json body = parse_body(req.body);
        if (!body.contains("model") || !body["model"].is_string() || body["model"].get<std::string>().empty())
          throw ApiError(400, "'model' is required", "model", "missing_required_parameter");
        manager.preload(body["model"].get<std::string>());
        send_json(res, 202, {{"model", status_json()}});
      });
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}, {"version", kVersion}, {"model", status_json()}});
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, models_json());
    });
    http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      for (const auto& m : models_json()["data"])
        if (m["id"] == id) return send_json(res, 200, m);
      send_json(res, 404, error_body(fmt::format("The model '{}' does not exist", id), "invalid_request_error",
                                     "model_not_found", "model"));
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/chat/completions", res, [&] { chat_completions(req, res); });
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/completions", res, [&] { completions(req, res); });
    });
    http.Get("/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
      const auto s = manager.status();
      send_json(res, 200,
                {{"mode", "single"},
                 {"nodes",
                  json::array({{{"id", "local"},
                                {"self", true},
                                {"device", s.device},
                                {"memory_available_bytes", available_bytes()},
                                {"memory_resident_bytes", resident_bytes()},
                                {"model", status_json()}}})}});
    });
    http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics.render(gauges()), "text/plain; version=0.0.4");
    });

    // Known routes with the wrong method: 405, not 404.
    for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
      http.Get(path, [](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", "POST");
        send_json(res, 405, error_body(fmt::format("{} {} is not allowed: use POST", req.method, req.path),
                                       "invalid_request_error", "method_not_allowed"));
      });
    }
    for (const char* path : {"/health", "/v1/models", "/v1/cluster", "/metrics"}) {
      auto refuse = [](const httplib::Request& req, httplib::Response& res) {
        res.set_header("Allow", "GET");
        send_json(res, 405, error_body(fmt::format("{} {} is not allowed: use GET", req.method, req.path),
                                       "invalid_request_error", "method_not_allowed"));
      };
      http.Post(path, refuse);
      http.Put(path, refuse);
      http.Delete(path, refuse);
      http.Patch(path, refuse);
    }

    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        send_json(res, 404, error_body(fmt::format("Unknown route {} {}", req.method, req.path), "invalid_request_error",
                                       "not_found"));
      else if (res.status == 413)
        send_json(res, 413, error_body(fmt::format("The request body is larger than {} bytes", options.max_body_bytes),
                                       "invalid_request_error", "request_too_large"));
      else
        send_json(res, res.status,
                  error_body(fmt::format("HTTP {} for {} {}", res.status, req.method, req.path), "invalid_request_error"));
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string message = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        message = e.what();
      } catch (...) {
      }
      spdlog::error("request failed: {}", message);
      send_json(res, 500, error_body(message, "server_error", "internal_error"));
    });
  }
};

ApiServer::ApiServer(ServerOptions options, const store::Registry& registry, engine::ModelManager& manager)
    : impl_(std::make_unique<Impl>(std::move(options), registry, manager)) {
  impl_->install_routes();
}

ApiServer::~ApiServer() = default;

void ApiServer::run() {
  auto& http = impl_->http;
  if (!http.bind_to_port(impl_->options.host, impl_->options.port))
    throw Error(Errc::unavailable, fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)",
                                               impl_->options.host, impl_->options.port));
  spdlog::info("salut {} listening on http://{}:{}", kVersion, impl_->options.host, impl_->options.port);
  http.listen_after_bind();
}

void ApiServer::stop() { impl_->http.stop(); }

}  // namespace salut::server
