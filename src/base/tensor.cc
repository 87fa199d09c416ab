#include "unihal/tensor.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "base/uninitialized_allocation.h"

namespace unihal {

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::ostringstream out;
  out << '[';
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << ']';
  return out.str();
}

std::vector<int64_t> StridesOf(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

Tensor::Tensor(DType dtype, Shape shape, std::shared_ptr<hal::Buffer> buffer, size_t offset)
    : dtype_(dtype), shape_(std::move(shape)), buffer_(std::move(buffer)), offset_(offset) {}

namespace {

Result<Tensor> AllocateHostTensor(DType dtype, Shape shape, bool zeroed) {
  if (DTypeBits(dtype) == 0) return InvalidArgumentError("cannot allocate a tensor of undefined dtype");
  // Guard against overflow before multiplying: hostile models declare huge dims.
  constexpr int64_t kMaxBytes = int64_t{1} << 40;
  int64_t elements = 1;
  for (int64_t d : shape) {
    if (d < 0) {
      return InvalidArgumentError("cannot allocate a tensor of shape " + ShapeToString(shape) +
                                  ": negative dimension");
    }
    if (d != 0 && elements > kMaxBytes / d) {
      return ResourceExhaustedError("tensor of shape " + ShapeToString(shape) + " is too large");
    }
    elements *= d;
  }
  const auto bytes = static_cast<int64_t>(StorageBytes(dtype, elements));
  if (bytes > kMaxBytes) {
    return ResourceExhaustedError("tensor of shape " + ShapeToString(shape) + " is too large");
  }
  auto buffer = zeroed ? hal::AllocateHostBuffer(static_cast<size_t>(bytes))
                       : hal::AllocateUninitializedHostBuffer(static_cast<size_t>(bytes));
  if (!buffer) {
    return ResourceExhaustedError("out of host memory allocating " + std::to_string(bytes) +
                                  " bytes for a tensor of shape " + ShapeToString(shape));
  }
  return Tensor(dtype, std::move(shape), std::move(buffer), 0);
}

}  // namespace

Result<Tensor> Tensor::Allocate(DType dtype, Shape shape) {
  return AllocateHostTensor(dtype, std::move(shape), /*zeroed=*/true);
}

Result<Tensor> AllocateUninitializedTensor(DType dtype, Shape shape) {
  return AllocateHostTensor(dtype, std::move(shape), /*zeroed=*/false);
}

bool Tensor::is_host() const { return buffer_ && buffer_->host_data() != nullptr; }

void* Tensor::data() {
  if (!buffer_) return nullptr;
  auto* base = static_cast<std::byte*>(buffer_->host_data());
  return base ? base + offset_ : nullptr;
}

const void* Tensor::data() const { return const_cast<Tensor*>(this)->data(); }

Result<Tensor> Tensor::Reshaped(Shape shape) const {
  if (NumElements(shape) != num_elements()) {
    return InvalidArgumentError("cannot reshape " + Describe() + " to " + ShapeToString(shape) +
                                ": element counts differ");
  }
  return Tensor(dtype_, std::move(shape), buffer_, offset_);
}

Result<Tensor> Tensor::Clone() const {
  if (!defined()) return Tensor();
  if (!is_host()) return UnimplementedError("Clone of a device tensor: copy it to the host first");
  UH_ASSIGN_OR_RETURN(Tensor copy, AllocateUninitializedTensor(dtype_, shape_));
  if (nbytes()) std::memcpy(copy.data(), data(), nbytes());
  return copy;
}

Result<std::vector<int64_t>> Tensor::ToInt64Vector() const {
  if (!is_host()) return FailedPreconditionError("tensor is not in host memory");
  std::vector<int64_t> out(static_cast<size_t>(num_elements()));
  bool ok = true;
  VisitDType(dtype_, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_integral_v<T>) {
      const T* src = data_as<T>();
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(src[i]);
    } else {
      ok = false;
    }
  });
  if (!ok) return InvalidArgumentError("expected an integer tensor, got " + Describe());
  return out;
}

std::string Tensor::Describe() const {
  return std::string(DTypeName(dtype_)) + ShapeToString(shape_);
}

}  // namespace unihal
