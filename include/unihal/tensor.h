// Shape and Tensor: an n-dimensional array on the host or on a device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unihal/dtype.h"
#include "unihal/hal/buffer.h"
#include "unihal/status.h"

namespace unihal {

using Shape = std::vector<int64_t>;

// Product of the dims (1 for a scalar).
int64_t NumElements(const Shape& shape);
// "[1, 3, 224, 224]"
std::string ShapeToString(const Shape& shape);
// Row-major strides in elements.
std::vector<int64_t> StridesOf(const Shape& shape);

// A typed view of (part of) a Buffer. Copies are cheap and share the storage.
class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, Shape shape, std::shared_ptr<hal::Buffer> buffer, size_t offset = 0);

  // Zero-filled host tensor. Fails for negative dims or absurd sizes.
  static Result<Tensor> Allocate(DType dtype, Shape shape);
  // Host tensor holding a copy of `values`.
  template <typename T>
  static Tensor FromVector(Shape shape, const std::vector<T>& values);
  template <typename T>
  static Tensor Scalar(T value) {
    return FromVector<T>({}, std::vector<T>{value});
  }

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t num_elements() const { return NumElements(shape_); }
  // Storage size; sub-byte types are packed (see StorageBytes).
  size_t nbytes() const { return StorageBytes(dtype_, num_elements()); }
  const std::shared_ptr<hal::Buffer>& buffer() const { return buffer_; }
  size_t offset() const { return offset_; }
  bool is_host() const;

  // Host pointer to the first element; nullptr when not host-addressable.
  void* data();
  const void* data() const;
  template <typename T>
  T* data_as() {
    return static_cast<T*>(data());
  }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data());
  }

  // Same storage, new shape with the same element count.
  Result<Tensor> Reshaped(Shape shape) const;
  // Deep copy into fresh host memory.
  Result<Tensor> Clone() const;
  // Values as a vector (host tensors only), converting integer types to int64.
  Result<std::vector<int64_t>> ToInt64Vector() const;
  // "float32[1, 3, 224, 224]"
  std::string Describe() const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  std::shared_ptr<hal::Buffer> buffer_;
  size_t offset_ = 0;
};

template <typename T>
Tensor Tensor::FromVector(Shape shape, const std::vector<T>& values) {
  Result<Tensor> t = Allocate(DTypeOf<T>(), std::move(shape));
  if (!t.ok()) return Tensor();
  T* dst = t->template data_as<T>();
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t->num_elements(); ++i) {
    dst[i] = values[i];
  }
  return *std::move(t);
}

}  // namespace unihal
