#include "core/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <vector>

#include "core/error.h"

namespace salut {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1)
    throw Error(Errc::internal, "OpenSSL could not initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::update(const void* data, size_t size) { EVP_DigestUpdate(ctx_, data, size); }

std::string Sha256::hex_digest() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx_, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

void sha256_file(const std::filesystem::path& path, Sha256& hasher, size_t limit) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Errc::io, "cannot read " + path.string());
  std::vector<char> buffer(1 << 20);
  size_t remaining = limit;
  while (remaining > 0) {
    ssize_t n = ::read(fd, buffer.data(), std::min(buffer.size(), remaining));
    if (n < 0) {
      ::close(fd);
      throw Error(Errc::io, "cannot read " + path.string());
    }
    if (n == 0) break;
    hasher.update(buffer.data(), static_cast<size_t>(n));
    remaining -= static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace salut
