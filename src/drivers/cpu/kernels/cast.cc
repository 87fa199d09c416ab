// Reference Cast and CastLike, between every unihal dtype, including the storage-only float8,
// float4, int4 and int2 types (through unihal/low_precision.h), with Cast's saturate (opset
// 19+) and round_mode (float8e8m0, opset 25) attributes. Registered from RegisterMathKernels.
#include "drivers/cpu/kernels/cast.h"

#include <cstring>

#include "drivers/cpu/kernels/kernel_util.h"
#include "onnx/tensor_proto.h"
#include "unihal/low_precision.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

struct CastOptions {
  bool saturate = true;
  E8M0Rounding rounding = E8M0Rounding::kUp;
};

template <typename D, typename S>
D ConvertElement(S value) {
  if constexpr (std::is_same_v<D, S>) {
    return value;
  } else if constexpr (std::is_same_v<D, bool>) {
    return AsDouble(value) != 0.0;
  } else if constexpr (std::is_arithmetic_v<S> && std::is_floating_point_v<D>) {
    return static_cast<D>(value);  // one rounding, also for int64 -> float
  } else if constexpr (std::is_integral_v<S> && std::is_integral_v<D>) {
    return static_cast<D>(value);  // modular, as C and NumPy
  } else if constexpr (std::is_same_v<S, float> &&
                       (std::is_same_v<D, Float16> || std::is_same_v<D, BFloat16>)) {
    return D(value);
  } else {
    return FromDouble<D>(AsDouble(value));
  }
}

bool IsLowPrecisionInt(DType dtype) { return LowPrecisionIntRange(dtype).has_value(); }

// Between two regular dtypes.
void CastRegular(KernelContext& context, const Tensor& x, Tensor& y) {
  VisitDType(x.dtype(), [&](auto src_tag) {
    using S = decltype(src_tag);
    VisitDType(y.dtype(), [&](auto dst_tag) {
      using D = decltype(dst_tag);
      const S* src = x.data_as<S>();
      D* dst = y.data_as<D>();
      context.thread_pool().ParallelFor(x.num_elements(), 1 << 15, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) dst[i] = ConvertElement<D>(src[i]);
      });
    });
  });
}

// Into a storage-only dtype: integers keep their low bits, everything else goes through double
// (exact for every source but int64 beyond 2^53, which rounds once, as NumPy's float cast).
// Serial: packed elements share bytes.
void CastToStorageOnly(const Tensor& x, Tensor& y, const CastOptions& options) {
  const DType to = y.dtype();
  void* dst = y.data();
  if (y.nbytes()) std::memset(dst, 0, y.nbytes());
  const int64_t n = x.num_elements();
  if (IsStorageOnly(x.dtype())) {
    const bool int_to_int = IsLowPrecisionInt(x.dtype()) && IsLowPrecisionInt(to);
    for (int64_t i = 0; i < n; ++i) {
      const double value = DecodeLowPrecision(x.dtype(), LoadCode(x.data(), x.dtype(), i));
      const uint8_t code = int_to_int ? CastToIntCode(to, static_cast<int64_t>(value))
                                      : CastToCode(to, value, options.saturate, options.rounding);
      StoreCode(dst, to, i, code);
    }
    return;
  }
  VisitDType(x.dtype(), [&](auto src_tag) {
    using S = decltype(src_tag);
    const S* src = x.data_as<S>();
    for (int64_t i = 0; i < n; ++i) {
      uint8_t code = 0;
      if constexpr (std::is_integral_v<S>) {
        code = IsLowPrecisionInt(to)
                   ? CastToIntCode(to, static_cast<int64_t>(src[i]))
                   : CastToCode(to, AsDouble(src[i]), options.saturate, options.rounding);
      } else {
        code = CastToCode(to, AsDouble(src[i]), options.saturate, options.rounding);
      }
      StoreCode(dst, to, i, code);
    }
  });
}

// From a storage-only dtype to a regular one. The float codes decode exactly to float32, so
// they then convert as float32 does; the integer codes convert as int64 does.
void CastFromStorageOnly(KernelContext& context, const Tensor& x, Tensor& y) {
  const DType from = x.dtype();
  const bool from_int = IsLowPrecisionInt(from);
  VisitDType(y.dtype(), [&](auto dst_tag) {
    using D = decltype(dst_tag);
    D* dst = y.data_as<D>();
    context.thread_pool().ParallelFor(x.num_elements(), 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const double value = DecodeLowPrecision(from, LoadCode(x.data(), from, i));
        dst[i] = from_int ? ConvertElement<D>(static_cast<int64_t>(value))
                          : ConvertElement<D>(static_cast<float>(value));
      }
    });
  });
}

Status CastTensor(KernelContext& context, const Tensor& x, DType to, const CastOptions& options) {
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, to, x.shape()));
  if (to == x.dtype()) {
    if (x.nbytes()) std::memcpy(y->data(), x.data(), x.nbytes());
  } else if (IsStorageOnly(to)) {
    CastToStorageOnly(x, *y, options);
  } else if (IsStorageOnly(x.dtype())) {
    CastFromStorageOnly(context, x, *y);
  } else {
    CastRegular(context, x, *y);
  }
  return Status::Ok();
}

// saturate (opset 19+) and round_mode (opset 24+); both only matter for float8 targets.
Result<CastOptions> ReadCastOptions(const ir::Node& node) {
  CastOptions options;
  if (node.opset >= 19) {
    UH_ASSIGN_OR_RETURN(const int64_t saturate, node.GetInt("saturate", 1));
    options.saturate = saturate != 0;
  }
  if (node.opset >= 24) {
    UH_ASSIGN_OR_RETURN(const std::string mode, node.GetString("round_mode", "up"));
    std::optional<E8M0Rounding> rounding = ParseE8M0Rounding(mode);
    if (!rounding) {
      return InvalidArgumentError(node.Describe() + ": round_mode '" + mode +
                                  "' is not one of up, down, nearest");
    }
    options.rounding = *rounding;
  }
  return options;
}

Status ComputeCast(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t to, node.GetInt("to"));
  const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(to));
  if (!dtype) {
    return UnimplementedError(node.Describe() + ": cannot cast to " +
                              onnx_import::OnnxTypeName(static_cast<int32_t>(to)) +
                              "; unihal tensors have no such dtype");
  }
  UH_ASSIGN_OR_RETURN(const CastOptions options, ReadCastOptions(node));
  return CastTensor(context, *x, *dtype, options);
}

Status ComputeCastLike(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* like, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const CastOptions options, ReadCastOptions(context.node()));
  return CastTensor(context, *x, like->dtype(), options);
}

hal::SupportResult SupportsCast(const hal::KernelCreateInfo& info) {
  Result<int64_t> to = info.node.GetInt("to");
  if (!to.ok()) return hal::SupportResult::No("attribute 'to' is missing or not an int");
  if (!onnx_import::DTypeFromOnnx(static_cast<int32_t>(*to))) {
    return hal::SupportResult::No("no unihal dtype for " +
                                  onnx_import::OnnxTypeName(static_cast<int32_t>(*to)));
  }
  return hal::SupportResult::Yes("reference");
}

}  // namespace

void RegisterCastKernels(hal::KernelRegistry& registry) {
  hal::KernelDef cast =
      ReferenceKernelDef("Cast", 6, INT_MAX, StatelessKernel(ComputeCast), SupportsCast);
  cast.accepts_storage_only_dtypes = true;
  registry.Register(std::move(cast));
  hal::KernelDef cast_like =
      ReferenceKernelDef("CastLike", 15, INT_MAX, StatelessKernel(ComputeCastLike));
  cast_like.accepts_storage_only_dtypes = true;
  registry.Register(std::move(cast_like));
}

}  // namespace unihal::cpu
