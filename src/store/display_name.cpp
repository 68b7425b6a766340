#include "store/display_name.h"

#include <algorithm>
#include <cctype>
#include <regex>
#include <vector>

#include "store/model_id.h"

namespace salut::store {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::toupper(c); });
  return out;
}

// The last component of an ID's name or of a path, without "@revision" or trailing slashes.
std::string base_name(std::string_view text) {
  std::string s(text);
  if (!looks_like_path(s)) {
    if (auto at = s.find('@'); at != std::string::npos) s.resize(at);
  }
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  if (auto slash = s.rfind('/'); slash != std::string::npos) s = s.substr(slash + 1);
  return s;
}

// "4bit" -> "(4-bit)", "bf16" -> "(BF16)", ...; empty when the word is not a format word.
std::string quantization_suffix(const std::string& word) {
  static const std::regex kBits(R"((\d+)bit)", std::regex::icase);
  std::smatch m;
  if (std::regex_match(word, m, kBits)) return "(" + m[1].str() + "-bit)";
  const std::string w = lower(word);
  if (w == "bf16") return "(BF16)";
  if (w == "fp16" || w == "f16") return "(FP16)";
  if (w == "fp32" || w == "f32") return "(FP32)";
  if (w == "mxfp4" || w == "nvfp4" || w == "mxfp8") return "(" + upper(w) + ")";
  return {};
}

bool is_size(const std::string& word) {  // 8b, 0.6B, 135m, 8x7B
  static const std::regex kSize(R"(\d+(\.\d+)?(x\d+(\.\d+)?)?[bmkt])", std::regex::icase);
  return std::regex_match(word, kSize);
}

bool is_active_size(const std::string& word) {  // the A3B of 30B-A3B
  static const std::regex kActive(R"(a\d+(\.\d+)?[bm])", std::regex::icase);
  return std::regex_match(word, kActive);
}

std::string cased(const std::string& word) {
  static const char* const kAcronyms[][2] = {{"it", "IT"},   {"qat", "QAT"}, {"dwq", "DWQ"}, {"awq", "AWQ"},
                                             {"gptq", "GPTQ"}, {"moe", "MoE"}, {"vl", "VL"}};
  const std::string w = lower(word);
  for (const auto& [from, to] : kAcronyms)
    if (w == from) return to;
  if (is_size(word)) return word.substr(0, word.size() - 1) + upper(word.substr(word.size() - 1));  // 8x7b -> 8x7B
  if (is_active_size(word)) return upper(word);
  if (std::all_of(word.begin(), word.end(), [](unsigned char c) { return c >= 'a' && c <= 'z'; })) {
    std::string out = word;
    out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
    return out;
  }
  return word;
}

}  // namespace

std::string display_name(std::string_view id_or_path) {
  const std::string base = base_name(id_or_path);

  // Split at '-' and '_', then split "Qwen3"/"Qwen2.5"/"SmolLM2" into family and version.
  static const std::regex kFamilyVersion(R"(([A-Za-z]{2,})(\d+(\.\d+)*))");
  std::vector<std::string> words;
  size_t start = 0;
  for (size_t i = 0; i <= base.size(); ++i) {
    if (i == base.size() || base[i] == '-' || base[i] == '_') {
      if (i > start) {
        std::string word = base.substr(start, i - start);
        std::smatch m;
        if (quantization_suffix(word).empty() && std::regex_match(word, m, kFamilyVersion)) {
          words.push_back(m[1].str());
          words.push_back(m[2].str());
        } else {
          words.push_back(word);
        }
      }
      start = i + 1;
    }
  }

  std::vector<std::string> kept;
  std::vector<std::string> suffixes;
  for (const auto& word : words) {
    if (lower(word) == "mlx") continue;
    if (auto suffix = quantization_suffix(word); !suffix.empty()) {
      suffixes.push_back(suffix);
      continue;
    }
    std::string out = cased(word);
    if (is_active_size(word) && !kept.empty() && is_size(kept.back())) {
      kept.back() += "-" + out;  // "30B" "A3B" -> "30B-A3B"
      continue;
    }
    kept.push_back(out);
  }

  std::string name;
  for (const auto& part : kept) name += (name.empty() ? "" : " ") + part;
  for (const auto& suffix : suffixes) name += (name.empty() ? "" : " ") + suffix;
  return name.empty() ? base : name;
}

}  // namespace salut::store
