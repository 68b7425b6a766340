#pragma once
// Reading the gzip-compressed JSON fixtures under tests/data (SALUT_TEST_DATA_DIR).

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace salut::chat::testing {

std::filesystem::path data_dir();
std::string read_gz(const std::filesystem::path& path);
nlohmann::ordered_json read_json_gz(const std::filesystem::path& path);

}  // namespace salut::chat::testing
