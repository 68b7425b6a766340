#include "store/model_id.h"

#include <fmt/format.h>

#include "core/env.h"
#include "core/error.h"

namespace salut::store {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Each part: [A-Za-z0-9][A-Za-z0-9._-]*, at most 96 characters, no "..".
std::optional<std::string> part_error(std::string_view part, const char* what) {
  if (part.empty()) return fmt::format("the {} is empty", what);
  if (part.size() > kMaxIdPartLength)
    return fmt::format("the {} is {} characters long (at most {})", what, part.size(), kMaxIdPartLength);
  if (!is_alnum(part.front())) return fmt::format("the {} must start with a letter or digit", what);
  for (char c : part) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f)
        return fmt::format("the {} contains a control character (0x{:02x})", what, u);
      if (c == ' ') return fmt::format("the {} contains a space", what);
      // Never quote a lone byte of a multi-byte character: the message must stay valid UTF-8.
      if (u >= 0x80) return fmt::format("the {} contains a non-ASCII character", what);
      return fmt::format("the {} contains '{}' (allowed: letters, digits, '.', '_', '-')", what, c);
    }
  }
  if (part.find("..") != std::string_view::npos) return fmt::format("the {} contains '..'", what);
  // The cache folder joins owner and name with "--" (models--owner--name), so a part that
  // held "--" could not be read back; the Hub refuses such names too.
  if (std::string_view(what) != "revision" && part.find("--") != std::string_view::npos)
    return fmt::format("the {} contains '--'", what);
  return std::nullopt;
}

// Keeps error messages one printable ASCII line even when the input is not (non-ASCII bytes
// are escaped too: the input may not be valid UTF-8, and the cut at 120 may split a character).
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 120)) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) out += fmt::format("\\x{:02x}", u);
    else out.push_back(c);
  }
  if (text.size() > 120) out += "...";
  return out;
}

}  // namespace

std::optional<std::string> model_id_error(std::string_view text) {
  if (text.empty()) return "the model ID is empty";
  std::string_view repo = text;
  std::optional<std::string_view> revision;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    repo = text.substr(0, at);
    revision = text.substr(at + 1);
  }
  auto slash = repo.find('/');
  if (slash == std::string_view::npos) return "expected owner/name";
  if (repo.find('/', slash + 1) != std::string_view::npos) return "expected exactly one '/' (owner/name)";
  if (auto e = part_error(repo.substr(0, slash), "owner")) return e;
  if (auto e = part_error(repo.substr(slash + 1), "name")) return e;
  if (revision) {
    if (revision->find('@') != std::string_view::npos) return "expected at most one '@'";
    if (auto e = part_error(*revision, "revision")) return e;
  }
  return std::nullopt;
}

ModelId ModelId::parse(std::string_view text) {
  if (auto e = model_id_error(text))
    throw Error(Errc::invalid_argument, fmt::format("invalid model ID '{}': {}", printable(text), *e));
  ModelId id;
  std::string_view repo = text;
  if (auto at = text.find('@'); at != std::string_view::npos) {
    repo = text.substr(0, at);
    id.revision = std::string(text.substr(at + 1));
  }
  auto slash = repo.find('/');
  id.owner = std::string(repo.substr(0, slash));
  id.name = std::string(repo.substr(slash + 1));
  return id;
}

std::string ModelRef::str() const { return is_local() ? path().string() : id().str(); }

bool looks_like_path(std::string_view text) {
  return text.starts_with('/') || text.starts_with("./") || text.starts_with("../") ||
         text.starts_with("~/") || text == "." || text == "..";
}

ModelRef parse_model_ref(std::string_view text, bool allow_local) {
  const auto is_model_folder = [&] {
    std::error_code ec;
    return text.find('\0') == std::string_view::npos &&
           std::filesystem::is_regular_file(std::filesystem::path(std::string(text)) / "config.json", ec);
  };
  if (allow_local && (looks_like_path(text) || is_model_folder())) {
    if (text.find('\0') != std::string_view::npos)
      throw Error(Errc::invalid_argument, "invalid model path: it contains a NUL character");
    std::filesystem::path path = text.starts_with("~/") ? home_dir() / std::string(text.substr(2))
                                                         : std::filesystem::path(std::string(text));
    return ModelRef{path.lexically_normal()};
  }
  return ModelRef{ModelId::parse(text)};
}

}  // namespace salut::store
