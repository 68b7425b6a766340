#pragma once
// This process's resident memory and the system's available memory (Linux /proc), for the
// model manager's memory check and the figures it reports.

#include <cstdint>

namespace salut {

int64_t resident_bytes();   // this process's RSS
int64_t available_bytes();  // MemAvailable: what can be allocated without swapping

}  // namespace salut
