// NumPy .npy files (format versions 1.0, 2.0 and 3.0), C order, little-endian, to and from
// host Tensors. Every unihal dtype except bfloat16 has a NumPy equivalent ('<f2' for float16,
// '|b1' for bool); NumPy has no bfloat16, so reading or writing one is an error.
#pragma once

#include <string>
#include <string_view>

#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::io {

// Parses the bytes of a .npy file; `source` names it in error messages (usually its path).
Result<Tensor> ParseNpy(std::string_view bytes, std::string_view source);
// Reads a .npy file.
Result<Tensor> ReadNpyFile(const std::string& path);

// The bytes of a .npy file holding `tensor` (a host tensor), byte-identical to numpy.save:
// format 1.0, or 2.0 when the header needs more than 65535 bytes.
Result<std::string> SerializeNpy(const Tensor& tensor);
// Writes `tensor` to `path`, replacing any existing file.
Status WriteNpyFile(const std::string& path, const Tensor& tensor);

}  // namespace unihal::io
