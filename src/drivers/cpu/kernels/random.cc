// RandomUniform(Like), RandomNormal(Like) and Bernoulli. With a seed the draws follow NumPy's
// RandomState(seed) as the ONNX reference does (see random_util.h); without one they are seeded
// from std::random_device. The ONNX node cases of these ops cannot be matched: their expected
// values were drawn from NumPy's global stream after it generated the inputs, not from a stream
// a kernel can reconstruct from the node (test_bernoulli_seed: RandomState(0) gives different draws
// than the stored ones).
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/random_util.h"

namespace unihal::cpu {
namespace {

enum class Distribution { kUniform, kNormal, kBernoulli };

struct RandomAttributes {
  Distribution distribution = Distribution::kUniform;
  std::optional<uint32_t> seed;
  double low = 0;                   // uniform low, or normal mean
  double high = 1;                  // uniform high, or normal scale
  DType dtype = DType::kUndefined;  // kUndefined: the input's
  Shape shape;                      // for the ops without an input
};

// TensorProto element type -> unihal float dtype (the random ops output floats only).
Result<DType> RandomOutputDType(const ir::Node& node, int64_t onnx_type) {
  switch (onnx_type) {
    case 1:
      return DType::kF32;
    case 10:
      return DType::kF16;
    case 11:
      return DType::kF64;
    case 16:
      return DType::kBF16;
    default:
      return UnimplementedError(node.Describe() + ": " + node.op_type + " (opset " +
                                std::to_string(node.opset) + ") with dtype " +
                                std::to_string(onnx_type) +
                                " is not supported (float, float16, double, bfloat16)");
  }
}

template <typename T>
void Draw(const RandomAttributes& a, const Tensor* probabilities, Tensor& out) {
  NumpyRandomState random(a.seed);
  T* data = out.data_as<T>();
  std::vector<double> p;
  if (probabilities) {
    p.resize(static_cast<size_t>(probabilities->num_elements()));
    VisitNumericDType(probabilities->dtype(), [&](auto tag) {
      const auto* in = probabilities->data_as<decltype(tag)>();
      for (size_t i = 0; i < p.size(); ++i) p[i] = AsDouble(in[i]);
    });
  }
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    switch (a.distribution) {
      case Distribution::kUniform:
        data[i] =
            FromDouble<T>(AsDouble(FromDouble<T>(random.Uniform())) * (a.high - a.low) + a.low);
        break;
      case Distribution::kNormal:
        data[i] = FromDouble<T>(AsDouble(FromDouble<T>(random.Normal())) * a.high + a.low);
        break;
      case Distribution::kBernoulli: {
        // NumPy's binomial(1, p) by inversion: one uniform per element.
        const double u = random.Uniform();
        const double pi = p[static_cast<size_t>(i)];
        data[i] = FromDouble<T>((pi <= 0.5 ? u > 1 - pi : u <= pi) ? 1.0 : 0.0);
        break;
      }
    }
  }
}

Status ComputeRandom(hal::KernelContext& context, const RandomAttributes& a) {
  const ir::Node& node = context.node();
  const bool like = !node.inputs.empty();
  const Tensor* input = nullptr;
  if (like) {
    UH_ASSIGN_OR_RETURN(input, NeedInput(context, 0));
  }
  DType dtype = a.dtype;
  if (dtype == DType::kUndefined) dtype = input ? input->dtype() : DType::kF32;
  Shape shape = input ? input->shape() : a.shape;
  if (a.distribution == Distribution::kBernoulli) {
    UH_RETURN_IF_ERROR(CheckDType(node, *input, "input", FloatDTypes()));
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, dtype, std::move(shape)));
  const bool handled =
      a.distribution == Distribution::kBernoulli
          ? VisitDType(dtype, [&](auto tag) { Draw<decltype(tag)>(a, input, *out); })
          : VisitFloatDType(dtype, [&](auto tag) { Draw<decltype(tag)>(a, nullptr, *out); });
  if (!handled) {
    return UnimplementedError(node.Describe() + ": " + node.op_type + " output dtype " +
                              std::string(DTypeName(dtype)) + " is not supported");
  }
  return Status::Ok();
}

hal::KernelFactory RandomFactory(Distribution distribution, bool like) {
  return [distribution,
          like](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
    const ir::Node& node = info.node;
    RandomAttributes a;
    a.distribution = distribution;
    if (node.HasAttribute("seed")) {
      UH_ASSIGN_OR_RETURN(float seed, node.GetFloat("seed"));
      a.seed = static_cast<uint32_t>(static_cast<int64_t>(seed));
    }
    if (distribution == Distribution::kUniform) {
      UH_ASSIGN_OR_RETURN(float low, node.GetFloat("low", 0.0f));
      UH_ASSIGN_OR_RETURN(float high, node.GetFloat("high", 1.0f));
      a.low = low;
      a.high = high;
    } else if (distribution == Distribution::kNormal) {
      UH_ASSIGN_OR_RETURN(float mean, node.GetFloat("mean", 0.0f));
      UH_ASSIGN_OR_RETURN(float scale, node.GetFloat("scale", 1.0f));
      a.low = mean;
      a.high = scale;
    }
    if (node.HasAttribute("dtype")) {
      UH_ASSIGN_OR_RETURN(int64_t onnx_type, node.GetInt("dtype"));
      if (distribution == Distribution::kBernoulli) {
        // Bernoulli may also output integers and bool.
        Result<DType> d = RandomOutputDType(node, onnx_type);
        if (!d.ok()) {
          static const std::map<int64_t, DType> kOther = {
              {2, DType::kU8},   {3, DType::kI8},   {4, DType::kU16},
              {5, DType::kI16},  {6, DType::kI32},  {7, DType::kI64},
              {9, DType::kBool}, {12, DType::kU32}, {13, DType::kU64}};
          auto it = kOther.find(onnx_type);
          if (it == kOther.end()) return d.status();
          a.dtype = it->second;
        } else {
          a.dtype = *d;
        }
      } else {
        UH_ASSIGN_OR_RETURN(a.dtype, RandomOutputDType(node, onnx_type));
      }
    } else if (!like) {
      a.dtype = DType::kF32;
    }
    if (!like) {
      if (!node.HasAttribute("shape")) {
        return InvalidArgumentError(node.Describe() +
                                    ": the required attribute 'shape' is missing");
      }
      UH_ASSIGN_OR_RETURN(std::vector<int64_t> shape, node.GetInts("shape"));
      a.shape = Shape(shape.begin(), shape.end());
    }
    return MakeFunctionKernel([a](hal::KernelContext& c) { return ComputeRandom(c, a); });
  };
}

}  // namespace

void RegisterRandomKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("RandomUniform", 1, INT_MAX,
                                       RandomFactory(Distribution::kUniform, false)));
  registry.Register(ReferenceKernelDef("RandomUniformLike", 1, INT_MAX,
                                       RandomFactory(Distribution::kUniform, true)));
  registry.Register(
      ReferenceKernelDef("RandomNormal", 1, INT_MAX, RandomFactory(Distribution::kNormal, false)));
  registry.Register(ReferenceKernelDef("RandomNormalLike", 1, INT_MAX,
                                       RandomFactory(Distribution::kNormal, true)));
  registry.Register(
      ReferenceKernelDef("Bernoulli", 15, INT_MAX, RandomFactory(Distribution::kBernoulli, true)));
}

}  // namespace unihal::cpu
