#include "server/api_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "salut/version.h"
#include "server/openai_json.h"

namespace salut::server {

using nlohmann::json;

struct ApiServer::Impl {
  ServerOptions options;
  const store::Registry& registry;
  httplib::Server http;

  Impl(ServerOptions opts, const store::Registry& reg) : options(std::move(opts)), registry(reg) {}

  static void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }

  bool authorized(const httplib::Request& req) const {
    if (!options.api_key) return true;
    const std::string expected = "Bearer " + *options.api_key;
    const std::string given = req.get_header_value("Authorization");
    // Constant time, so the key cannot be guessed byte by byte from response timings.
    return given.size() == expected.size() && CRYPTO_memcmp(given.data(), expected.data(), given.size()) == 0;
  }

  json models_json() const {
    json data = json::array();
    for (const auto& entry : registry.list()) data.push_back(model_object(entry));
    return {{"object", "list"}, {"data", data}};
  }

  void install_routes() {
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

    http.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"status", "ok"}, {"version", kVersion}});
    });
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, models_json());
    });
    http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      for (const auto& entry : registry.list()) {
        if (entry.id == id) return send_json(res, 200, model_object(entry));
      }
      send_json(res, 404, error_body(fmt::format("The model '{}' does not exist", id), "invalid_request_error",
                                     "model_not_found", "model"));
    });

    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        send_json(res, 404, error_body(fmt::format("Unknown route {} {}", req.method, req.path), "invalid_request_error",
                                       "not_found"));
      else
        send_json(res, res.status, error_body(fmt::format("HTTP {} for {} {}", res.status, req.method, req.path), "invalid_request_error"));
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

ApiServer::ApiServer(ServerOptions options, const store::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(options), registry)) {
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
