#include "server/metrics.h"

#include <fmt/format.h>

namespace salut::server {

void Metrics::Histogram::add(double v) {
  for (size_t i = 0; i < kBounds.size(); ++i)
    if (v <= kBounds[i]) ++counts[i];
  ++total;
  sum += v;
}

std::string Metrics::Histogram::render(const std::string& name, const std::string& help) const {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  for (size_t i = 0; i < kBounds.size(); ++i) out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds[i], counts[i]);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, total, name, sum, name, total);
  return out;
}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard lock(mutex_);
  ++requests_[{endpoint, status}];
}

void Metrics::tokens(int64_t prompt, int64_t completion) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += uint64_t(prompt);
  completion_tokens_ += uint64_t(completion);
}

void Metrics::time_to_first_token(double seconds) {
  std::lock_guard lock(mutex_);
  ttft_.add(seconds);
}

void Metrics::token_latency(double seconds) {
  std::lock_guard lock(mutex_);
  token_latency_.add(seconds);
}

std::string Metrics::render(const std::string& extra) const {
  std::lock_guard lock(mutex_);
  std::string out = "# HELP salut_requests_total HTTP requests by endpoint and status.\n# TYPE salut_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += fmt::format("salut_requests_total{{endpoint=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, count);
  out += fmt::format(
      "# HELP salut_prompt_tokens_total Prompt tokens processed.\n# TYPE salut_prompt_tokens_total counter\n"
      "salut_prompt_tokens_total {}\n"
      "# HELP salut_completion_tokens_total Tokens generated.\n# TYPE salut_completion_tokens_total counter\n"
      "salut_completion_tokens_total {}\n",
      prompt_tokens_, completion_tokens_);
  out += ttft_.render("salut_time_to_first_token_seconds", "Time from request to first token.");
  out += token_latency_.render("salut_token_latency_seconds", "Time per generated token after the first.");
  return out + extra;
}

}  // namespace salut::server
