#pragma once
// The node's counters for GET /metrics, in Prometheus' text format. Thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace salut::server {

class Metrics {
 public:
  void request(const std::string& endpoint, int status);
  void tokens(int64_t prompt, int64_t completion);
  void time_to_first_token(double seconds);
  void token_latency(double seconds);  // per generated token after the first

  // `extra` lines (gauges the server reads elsewhere: queue depth, load time, bytes downloaded).
  std::string render(const std::string& extra) const;

 private:
  struct Histogram {
    static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    std::array<uint64_t, kBounds.size()> counts{};
    uint64_t total = 0;
    double sum = 0;
    void add(double v);
    std::string render(const std::string& name, const std::string& help) const;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  Histogram ttft_, token_latency_;
};

}  // namespace salut::server
