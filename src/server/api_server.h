#pragma once
// The node's HTTP API (OpenAI wire format). This layer speaks JSON over HTTP and asks the
// store and the model manager for answers; it knows nothing of tensors.

#include <memory>
#include <optional>
#include <string>

#include "engine/model_manager.h"
#include "store/registry.h"

namespace salut::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 7258;
  std::optional<std::string> api_key;  // when set, every route but /health needs it
  size_t max_body_bytes = 8 << 20;     // larger bodies get 413
  int http_threads = 512;              // open connections served at once (see api_server.cpp)
};

class ApiServer {
 public:
  ApiServer(ServerOptions options, const store::Registry& registry, engine::ModelManager& manager);
  ~ApiServer();

  // Binds and serves until stop(); throws salut::Error when the address cannot be bound.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace salut::server
