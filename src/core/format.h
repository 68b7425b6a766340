#pragma once
// Human-readable sizes and durations for the CLI and logs.

#include <cstdint>
#include <string>

namespace salut {

// 1536 -> "1.5 KB" (decimal units, as download tools and the Hub show sizes).
std::string human_bytes(uint64_t bytes);
// 75 -> "1m15s"
std::string human_duration(double seconds);

}  // namespace salut
