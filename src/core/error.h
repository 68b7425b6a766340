#pragma once
// One error type for the whole program. The code says what kind of failure it is, so the
// CLI can print one line and the HTTP layer can pick a status, without either knowing who threw.

#include <stdexcept>
#include <string>

namespace salut {

enum class Errc {
  invalid_argument,  // the caller's input is wrong (bad model ID, bad flag)
  not_found,         // repository, revision, file or model does not exist
  unauthorized,      // missing or invalid credentials (401)
  forbidden,         // credentials valid but not allowed (403, gated)
  not_a_model,       // the repository is not an MLX-format model
  unavailable,       // network unreachable, offline and not cached, server errors
  verification,      // downloaded bytes do not match their checksum or size
  no_space,          // disk full
  io,                // any other filesystem failure
  busy,              // a queue is full: try again later (429)
  insufficient_memory,  // the model (weights + KV cache) does not fit in free memory
  cancelled,         // the caller went away (a client disconnected)
  internal,
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

// A short stable name for an error code ("not_found"), used in logs and API error bodies.
const char* errc_name(Errc code);

}  // namespace salut
