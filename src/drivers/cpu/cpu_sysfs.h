// Small readers for /proc and /sys files; each returns nullopt when the file is absent or odd.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace unihal::cpu {

std::optional<std::string> ReadFileTrimmed(const std::string& path);
std::optional<int64_t> ReadInt64File(const std::string& path);
// Entries of a directory whose names start with `prefix`, as full paths, sorted.
std::vector<std::string> ListDir(const std::string& dir, const std::string& prefix);
// "MemTotal:  24684084 kB" -> bytes, from a /proc/meminfo-style file.
std::optional<int64_t> ReadMeminfoBytes(const std::string& path, const std::string& key);

}  // namespace unihal::cpu
