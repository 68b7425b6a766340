#pragma once
// Streaming SHA-256 over OpenSSL's EVP interface (uses SHA-NI where the CPU has it).

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

struct evp_md_ctx_st;

namespace salut {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, size_t size);
  // Lower-case hex digest; the object must not be updated afterwards.
  std::string hex_digest();

 private:
  evp_md_ctx_st* ctx_;
};

// Hashes the first `limit` bytes of a file (all of it by default) into `hasher`.
void sha256_file(const std::filesystem::path& path, Sha256& hasher, size_t limit = SIZE_MAX);

}  // namespace salut
