// Reference binary and bit-level kernels: Mod (Python and C remainder), BitShift,
// BitwiseAnd/Or/Xor/Not, PRelu (slope broadcast to X) and BitCast. All broadcast NumPy-style.
#include <climits>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "drivers/cpu/kernels/elementwise_more.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

const std::vector<DType>& IntegerDTypes() {
  static const std::vector<DType> kIntegers = {DType::kI8,  DType::kU8,  DType::kI16, DType::kU16,
                                               DType::kI32, DType::kU32, DType::kI64, DType::kU64};
  return kIntegers;
}

const std::vector<DType>& UnsignedDTypes() {
  static const std::vector<DType> kUnsigned = {DType::kU8, DType::kU16, DType::kU32, DType::kU64};
  return kUnsigned;
}

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;

Status CheckSameDType(const ir::Node& node, const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return Status::Ok();
  return InvalidArgumentError(
      node.Describe() + ": input 1 is " + std::string(DTypeName(b.dtype())) + " but input 0 is " +
      std::string(DTypeName(a.dtype())) + "; the inputs must have the same dtype (insert a Cast)");
}

// The two same-dtype inputs of a broadcasting op and its output (their dtype, broadcast shape).
struct BinaryOperands {
  const Tensor* a = nullptr;
  const Tensor* b = nullptr;
  Tensor* out = nullptr;
};

Result<BinaryOperands> PrepareBinary(KernelContext& context, const std::vector<DType>& allowed) {
  const ir::Node& node = context.node();
  BinaryOperands operands;
  UH_ASSIGN_OR_RETURN(operands.a, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(operands.b, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckSameDType(node, *operands.a, *operands.b));
  UH_RETURN_IF_ERROR(CheckDType(node, *operands.a, "input 0", allowed));
  UH_ASSIGN_OR_RETURN(Shape shape, BroadcastPair(node, *operands.a, *operands.b));
  UH_ASSIGN_OR_RETURN(operands.out,
                      context.AllocateOutput(0, operands.a->dtype(), std::move(shape)));
  return operands;
}

// ---- Mod ----

// Integer remainder: truncated (C %, sign of the dividend) or floored (Python %, sign of the
// divisor). x % 0 gives 0 as NumPy does instead of trapping; MIN % -1 (undefined in C) is 0.
template <typename T>
T IntegerMod(T a, T b, bool truncated) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;
    auto r = static_cast<T>(a % b);
    // |r| < |b| and their signs differ, so r + b cannot overflow.
    if (!truncated && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
    return r;
  } else {
    return static_cast<T>(a % b);
  }
}

// Float remainder: C fmod, or numpy.mod (floored, sign of the divisor) when not truncated.
template <typename C>
C FloatMod(C a, C b, bool truncated) {
  C r = std::fmod(a, b);
  if (truncated) return r;
  if (r != C(0) && ((r < C(0)) != (b < C(0)))) return r + b;
  return r == C(0) ? std::copysign(C(0), b) : r;
}

Status ComputeMod(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const int64_t fmod, node.GetInt("fmod", 0));
  if (fmod != 0 && fmod != 1) {
    return InvalidArgumentError(node.Describe() + ": Mod's fmod must be 0 or 1, got " +
                                std::to_string(fmod));
  }
  // ONNX asks for fmod=1 with floats; fmod=0 on floats follows numpy.mod as the ONNX reference.
  const bool truncated = fmod == 1;
  UH_ASSIGN_OR_RETURN(BinaryOperands io, PrepareBinary(context, NumericDTypes()));
  if (io.out->num_elements() == 0) return Status::Ok();
  VisitNumericDType(io.a->dtype(), [&](auto tag) {
    using T = decltype(tag);
    BroadcastMap<T, T, T>(context.thread_pool(), *io.a, *io.b, *io.out, [truncated](T x, T y) {
      if constexpr (kIsInteger<T>) {
        return IntegerMod(x, y, truncated);
      } else {
        return FromCompute<T>(FloatMod(ToCompute(x), ToCompute(y), truncated));
      }
    });
  });
  return Status::Ok();
}

// ---- BitShift and the bitwise ops (integers only) ----

Status ComputeBitShift(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(std::string direction, node.GetString("direction"));
  if (direction != "LEFT" && direction != "RIGHT") {
    return InvalidArgumentError(node.Describe() + ": BitShift direction must be \"LEFT\" or " +
                                "\"RIGHT\", got \"" + direction + "\"");
  }
  const bool left = direction == "LEFT";
  UH_ASSIGN_OR_RETURN(BinaryOperands io, PrepareBinary(context, UnsignedDTypes()));
  if (io.out->num_elements() == 0) return Status::Ok();
  VisitDType(io.a->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsInteger<T> && std::is_unsigned_v<T>) {
      // Shifting by the width or more is undefined in C; every bit is shifted out, so 0.
      BroadcastMap<T, T, T>(context.thread_pool(), *io.a, *io.b, *io.out, [left](T x, T s) {
        if (s >= sizeof(T) * CHAR_BIT) return T{0};
        return static_cast<T>(left ? x << s : x >> s);
      });
    }
  });
  return Status::Ok();
}

template <typename Op>
Status ComputeBitwiseBinary(KernelContext& context, Op op) {
  UH_ASSIGN_OR_RETURN(BinaryOperands io, PrepareBinary(context, IntegerDTypes()));
  if (io.out->num_elements() == 0) return Status::Ok();
  VisitDType(io.a->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsInteger<T>) {
      BroadcastMap<T, T, T>(context.thread_pool(), *io.a, *io.b, *io.out,
                            [op](T x, T y) { return static_cast<T>(op(x, y)); });
    }
  });
  return Status::Ok();
}

Status ComputeBitwiseNot(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", IntegerDTypes()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsInteger<T>) {
      MapElements(context.thread_pool(), x->data_as<T>(), y->data_as<T>(), x->num_elements(),
                  [](T v) { return static_cast<T>(~v); });
    }
  });
  return Status::Ok();
}

// ---- PRelu: y = x < 0 ? slope * x : x, slope broadcast to X's shape ----

template <typename T>
T PReluElement(T x, T slope) {
  if constexpr (kIsInteger<T>) {
    if constexpr (std::is_signed_v<T>) {
      // Through uint64 so the product wraps instead of overflowing (int16 promotes to int).
      if (x < 0) {
        return static_cast<T>(static_cast<uint64_t>(x) * static_cast<uint64_t>(slope));
      }
    }
    return x;
  } else {
    const auto v = ToCompute(x);
    return v < 0 ? FromCompute<T>(v * ToCompute(slope)) : x;
  }
}

Status ComputePRelu(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* slope, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckSameDType(node, *x, *slope));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(const Shape shape, BroadcastPair(node, *x, *slope));
  if (shape != x->shape()) {
    return InvalidArgumentError(node.Describe() + ": slope " + slope->Describe() +
                                " does not broadcast to X " + x->Describe() +
                                " (PRelu broadcasts the slope only)");
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), shape));
  if (y->num_elements() == 0) return Status::Ok();
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    BroadcastMap<T, T, T>(context.thread_pool(), *x, *slope, *y, PReluElement<T>);
  });
  return Status::Ok();
}

// ---- BitCast: the input's bytes viewed as another dtype of the same width ----

Status CheckBoolBytes(const ir::Node& node, const Tensor& x) {
  const auto* bytes = static_cast<const uint8_t*>(x.data());
  for (size_t i = 0; i < x.nbytes(); ++i) {
    if (bytes[i] > 1) {
      return InvalidArgumentError(node.Describe() + ": byte " + std::to_string(i) + " is " +
                                  std::to_string(bytes[i]) +
                                  ", which is not a bool bit pattern (0 or 1)");
    }
  }
  return Status::Ok();
}

Status ComputeBitCast(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t to, node.GetInt("to"));
  const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(to));
  if (!dtype) {
    return UnimplementedError(node.Describe() + ", opset " + std::to_string(node.opset) +
                              ": cannot bit-cast to " +
                              onnx_import::OnnxTypeName(static_cast<int32_t>(to)) +
                              "; unihal tensors have no such dtype");
  }
  if (DTypeSize(*dtype) != DTypeSize(x->dtype())) {
    return InvalidArgumentError(node.Describe() + ": cannot bit-cast " +
                                std::string(DTypeName(x->dtype())) + " to " +
                                std::string(DTypeName(*dtype)) + ": their widths differ");
  }
  // A bool must hold 0 or 1; other bytes have no bool meaning.
  if (*dtype == DType::kBool && x->dtype() != DType::kBool) {
    UH_RETURN_IF_ERROR(CheckBoolBytes(node, *x));
  }
  // Host storage is little endian, as BitCast asks, so the view needs no byte swaps.
  return context.SetOutput(0, Tensor(*dtype, x->shape(), x->buffer(), x->offset()));
}

hal::SupportResult SupportsBitCast(const hal::KernelCreateInfo& info) {
  Result<int64_t> to = info.node.GetInt("to");
  if (!to.ok()) return hal::SupportResult::No("attribute 'to' is missing or not an int");
  if (!onnx_import::DTypeFromOnnx(static_cast<int32_t>(*to))) {
    return hal::SupportResult::No("no unihal dtype for " +
                                  onnx_import::OnnxTypeName(static_cast<int32_t>(*to)));
  }
  return hal::SupportResult::Yes("reference");
}

void Register(hal::KernelRegistry& registry, const char* op, int min_opset,
              hal::FunctionKernel::Fn fn, SupportsFn supports) {
  registry.Register(
      ReferenceKernelDef(op, min_opset, INT_MAX, StatelessKernel(std::move(fn)), supports));
}

}  // namespace

void RegisterMoreBinaryKernels(hal::KernelRegistry& registry) {
  Register(registry, "Mod", 10, ComputeMod, AcceptInputDTypes({0, 1}, NumericDTypes()));
  Register(registry, "BitShift", 11, ComputeBitShift, AcceptInputDTypes({0, 1}, UnsignedDTypes()));
  const SupportsFn integers = AcceptInputDTypes({0, 1}, IntegerDTypes());
  Register(
      registry, "BitwiseAnd", 18,
      [](KernelContext& c) {
        return ComputeBitwiseBinary(c, [](auto x, auto y) { return x & y; });
      },
      integers);
  Register(
      registry, "BitwiseOr", 18,
      [](KernelContext& c) {
        return ComputeBitwiseBinary(c, [](auto x, auto y) { return x | y; });
      },
      integers);
  Register(
      registry, "BitwiseXor", 18,
      [](KernelContext& c) {
        return ComputeBitwiseBinary(c, [](auto x, auto y) { return x ^ y; });
      },
      integers);
  Register(registry, "BitwiseNot", 18, ComputeBitwiseNot, AcceptInputDTypes({0}, IntegerDTypes()));
  // Opset 7 gave PRelu unidirectional broadcasting; 16 added the integer types (a superset).
  Register(registry, "PRelu", 7, ComputePRelu, AcceptInputDTypes({0, 1}, NumericDTypes()));
  Register(registry, "BitCast", 26, ComputeBitCast, SupportsBitCast);
}

}  // namespace unihal::cpu
