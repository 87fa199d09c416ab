// A model file mapped into memory (mmap), so loading reads its bytes in place instead of
// copying 100 MB through read(2) into a string first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "unihal/status.h"

namespace unihal::onnx_import {

class MappedFile {
  struct PrivateToken {};  // only Open makes one

 public:
  // Maps `path` read-only and private: nothing can reach the file through it. `what` names
  // the file in errors ("model file"). An empty file maps to no bytes.
  static Result<std::unique_ptr<const MappedFile>> Open(const std::string& path,
                                                        std::string_view what);
  MappedFile(PrivateToken, void* data, size_t size) : data_(data), size_(size) {}
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const { return {static_cast<const char*>(data_), size_}; }

 private:
  void* data_;
  size_t size_;
};

}  // namespace unihal::onnx_import
