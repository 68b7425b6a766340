#pragma once
// The node's HTTP API (OpenAI wire format). This layer speaks JSON over HTTP and asks the
// store and, later, the engine for answers; it knows nothing of tensors.

#include <memory>
#include <optional>
#include <string>

#include "store/registry.h"

namespace salut::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 7258;
  std::optional<std::string> api_key;  // when set, every route but /health needs it
};

class ApiServer {
 public:
  ApiServer(ServerOptions options, const store::Registry& registry);
  ~ApiServer();

  // Binds and serves until stop(); throws salut::Error when the address cannot be bound.
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace salut::server
