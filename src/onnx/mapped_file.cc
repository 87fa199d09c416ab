#include "onnx/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace unihal::onnx_import {
namespace {

// Closes the descriptor on every path out of Open; the mapping outlives it.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::unique_ptr<const MappedFile>> MappedFile::Open(const std::string& path,
                                                           std::string_view what) {
  const std::string named = std::string(what) + " '" + path + "'";
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT) return NotFoundError(named + " does not exist; check the path");
    return NotFoundError("cannot open " + named + ": " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) {
    return NotFoundError("cannot stat " + named + ": " + std::strerror(errno));
  }
  if (S_ISDIR(info.st_mode)) {
    return InvalidArgumentError(named + " is a directory; give the .onnx file inside it");
  }
  if (!S_ISREG(info.st_mode)) {
    return InvalidArgumentError(named + " is not a regular file; give the .onnx file itself");
  }
  if (info.st_size > static_cast<off_t>(INT_MAX)) {
    return InvalidArgumentError(named +
                                " is larger than 2 GB, protobuf's limit; save the model with "
                                "its weights as external data");
  }
  const auto size = static_cast<size_t>(info.st_size);
  if (size == 0) return std::make_unique<const MappedFile>(PrivateToken{}, nullptr, 0);
  // MAP_POPULATE maps the page-cache pages in one go instead of one fault per few pages.
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.fd, 0);
  if (data == MAP_FAILED) {
    return ResourceExhaustedError("cannot map " + named + " into memory: " + std::strerror(errno));
  }
  return std::make_unique<const MappedFile>(PrivateToken{}, data, size);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace unihal::onnx_import
