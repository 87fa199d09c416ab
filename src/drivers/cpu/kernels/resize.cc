// Reference Resize (opsets 10..) and Upsample (7..9), after ONNX's reference implementation:
// the interpolation is separable, so each resized axis is done in turn in float64 with a table
// of (input index, weight) taps per output index.
#include <algorithm>
#include <cmath>
#include <map>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

enum class Mode { kNearest, kLinear, kCubic };
enum class Coordinates {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfCropAndResize,
  kTfHalfPixelForNn  // opsets 11 and 12 only
};
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttributes {
  Mode mode = Mode::kNearest;
  Coordinates coordinates = Coordinates::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation_value = 0.0;
  bool antialias = false;
  AspectPolicy policy = AspectPolicy::kStretch;
  std::vector<int64_t> axes;  // as written; empty: every axis
};

template <typename E>
Result<E> ParseEnum(const ir::Node& node, const std::string& name, const std::string& fallback,
                    const std::map<std::string, E>& values) {
  UH_ASSIGN_OR_RETURN(const std::string text, node.GetString(name, fallback));
  auto it = values.find(text);
  if (it == values.end()) {
    return Unimplemented(node, node.op_type + " " + name + " '" + text + "' is not supported");
  }
  return it->second;
}

// Upsample and Resize-10 map output to input coordinates asymmetrically and take the floor
// for nearest, as np.repeat does.
Result<ResizeAttributes> ParseLegacyAttributes(const ir::Node& node) {
  ResizeAttributes a;
  UH_ASSIGN_OR_RETURN(a.mode, ParseEnum<Mode>(node, "mode", "nearest",
                                              {{"nearest", Mode::kNearest},
                                               {"linear", Mode::kLinear},
                                               {"bilinear", Mode::kLinear}}));
  a.coordinates = Coordinates::kAsymmetric;
  a.nearest = Nearest::kFloor;
  return a;
}

Result<ResizeAttributes> ParseResizeAttributes(const ir::Node& node) {
  if (node.op_type == "Upsample" || node.opset < 11) return ParseLegacyAttributes(node);
  ResizeAttributes a;
  UH_ASSIGN_OR_RETURN(a.mode, ParseEnum<Mode>(node, "mode", "nearest",
                                              {{"nearest", Mode::kNearest},
                                               {"linear", Mode::kLinear},
                                               {"cubic", Mode::kCubic}}));
  std::map<std::string, Coordinates> coordinates = {
      {"half_pixel", Coordinates::kHalfPixel},
      {"pytorch_half_pixel", Coordinates::kPytorchHalfPixel},
      {"align_corners", Coordinates::kAlignCorners},
      {"asymmetric", Coordinates::kAsymmetric},
      {"tf_crop_and_resize", Coordinates::kTfCropAndResize}};
  if (node.opset >= 19) coordinates["half_pixel_symmetric"] = Coordinates::kHalfPixelSymmetric;
  if (node.opset < 13) coordinates["tf_half_pixel_for_nn"] = Coordinates::kTfHalfPixelForNn;
  UH_ASSIGN_OR_RETURN(a.coordinates, ParseEnum<Coordinates>(node, "coordinate_transformation_mode",
                                                            "half_pixel", coordinates));
  UH_ASSIGN_OR_RETURN(a.nearest,
                      ParseEnum<Nearest>(node, "nearest_mode", "round_prefer_floor",
                                         {{"round_prefer_floor", Nearest::kRoundPreferFloor},
                                          {"round_prefer_ceil", Nearest::kRoundPreferCeil},
                                          {"floor", Nearest::kFloor},
                                          {"ceil", Nearest::kCeil}}));
  UH_ASSIGN_OR_RETURN(const float cubic_a, node.GetFloat("cubic_coeff_a", -0.75f));
  UH_ASSIGN_OR_RETURN(const int64_t exclude_outside, node.GetInt("exclude_outside", 0));
  UH_ASSIGN_OR_RETURN(const float extrapolation, node.GetFloat("extrapolation_value", 0.0f));
  a.cubic_a = cubic_a;
  a.exclude_outside = exclude_outside != 0;
  a.extrapolation_value = extrapolation;
  if (node.opset >= 18) {
    UH_ASSIGN_OR_RETURN(const int64_t antialias, node.GetInt("antialias", 0));
    a.antialias = antialias != 0;
    UH_ASSIGN_OR_RETURN(a.policy,
                        ParseEnum<AspectPolicy>(node, "keep_aspect_ratio_policy", "stretch",
                                                {{"stretch", AspectPolicy::kStretch},
                                                 {"not_larger", AspectPolicy::kNotLarger},
                                                 {"not_smaller", AspectPolicy::kNotSmaller}}));
    UH_ASSIGN_OR_RETURN(a.axes, node.GetInts("axes", std::vector<int64_t>{}));
  }
  if (a.antialias && a.mode == Mode::kNearest) {
    return Invalid(node, "antialias is not defined for mode 'nearest'");
  }
  return a;
}

// ---- Interpolation weights for one output position, `ratio` in (0, 1] ----

std::vector<double> NearestWeights(double ratio, Nearest nearest) {
  if (ratio == 1.0) return {0.0, 1.0};
  switch (nearest) {
    case Nearest::kRoundPreferFloor:
      return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};
    case Nearest::kRoundPreferCeil:
      return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
    case Nearest::kFloor:
      return {1.0, 0.0};
    case Nearest::kCeil:
      return {0.0, 1.0};
  }
  return {0.0, 1.0};
}

double CubicKernel(double x, double a) {
  x = std::abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

std::vector<double> Normalized(std::vector<double> weights) {
  double sum = 0.0;
  for (double w : weights) sum += w;
  for (double& w : weights) w /= sum;
  return weights;
}

// Antialiasing stretches the kernel by 1/scale when downsampling.
std::vector<double> LinearAntialiasWeights(double ratio, double scale) {
  scale = std::min(scale, 1.0);
  const int64_t start = static_cast<int64_t>(std::floor(-1 / scale) + 1);
  const int64_t footprint = 2 - 2 * start;
  std::vector<double> weights;
  for (int64_t i = start; i < start + footprint; ++i) {
    weights.push_back(std::clamp(1 - std::abs((static_cast<double>(i) - ratio) * scale), 0.0, 1.0));
  }
  return Normalized(std::move(weights));
}

std::vector<double> CubicAntialiasWeights(double ratio, double scale, double a) {
  scale = std::min(scale, 1.0);
  const int64_t start = static_cast<int64_t>(std::floor(-2 / scale) + 1);
  const int64_t end = 2 - start;
  std::vector<double> weights;
  for (int64_t i = start; i < end; ++i) {
    weights.push_back(CubicKernel(scale * (static_cast<double>(i) - ratio), a));
  }
  return Normalized(std::move(weights));
}

std::vector<double> Weights(const ResizeAttributes& a, double ratio, double scale) {
  switch (a.mode) {
    case Mode::kNearest:
      return NearestWeights(ratio, a.nearest);
    case Mode::kLinear:
      if (a.antialias) return LinearAntialiasWeights(ratio, scale);
      return {1 - ratio, ratio};
    case Mode::kCubic:
      if (a.antialias) return CubicAntialiasWeights(ratio, scale, a.cubic_a);
      return {CubicKernel(ratio + 1, a.cubic_a), CubicKernel(ratio, a.cubic_a),
              CubicKernel(1 - ratio, a.cubic_a), CubicKernel(2 - ratio, a.cubic_a)};
  }
  return {};
}

// ---- One axis ----

struct AxisPlan {
  int64_t input = 0;
  int64_t output = 0;
  double scale = 1.0;
  double roi_start = 0.0;
  double roi_end = 1.0;
};

// The input coordinate output index `y` maps to.
double SourceCoordinate(Coordinates mode, const AxisPlan& p, double y) {
  const double in = static_cast<double>(p.input);
  const double out = p.scale * in;  // the unrounded output length
  switch (mode) {
    case Coordinates::kAlignCorners:
      return out == 1 ? 0.0 : y * (in - 1) / (out - 1);
    case Coordinates::kAsymmetric:
      return y / p.scale;
    case Coordinates::kTfCropAndResize: {
      const double span = (p.roi_end - p.roi_start) * (in - 1);
      const double x = out == 1 ? span / 2 : y * span / (out - 1);
      return x + p.roi_start * (in - 1);
    }
    case Coordinates::kPytorchHalfPixel:
      return out == 1 ? -0.5 : (y + 0.5) / p.scale - 0.5;
    case Coordinates::kHalfPixel:
      return (y + 0.5) / p.scale - 0.5;
    case Coordinates::kTfHalfPixelForNn:
      return (y + 0.5) / p.scale;
    case Coordinates::kHalfPixelSymmetric: {
      const double adjustment = static_cast<double>(p.output) / out;
      const double offset = in / 2 * (1 - adjustment);
      return offset + (y + 0.5) / p.scale - 0.5;
    }
  }
  return 0.0;
}

// Per output index: `taps` (input index, weight) pairs, or extrapolated.
struct AxisTaps {
  size_t taps = 0;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<bool> extrapolated;
};

AxisTaps PlanTaps(const ResizeAttributes& a, const AxisPlan& p) {
  AxisTaps t;
  t.extrapolated.assign(static_cast<size_t>(p.output), false);
  for (int64_t o = 0; o < p.output; ++o) {
    const double x = SourceCoordinate(a.coordinates, p, static_cast<double>(o));
    if (a.coordinates == Coordinates::kTfCropAndResize &&
        (x < 0 || x > static_cast<double>(p.input - 1))) {
      t.extrapolated[static_cast<size_t>(o)] = true;
    }
    const double floor_x = std::floor(x);
    // The ratio is in (0, 1]: the pixel left of x is preferred.
    const double ratio = x == floor_x ? 1.0 : x - floor_x;
    std::vector<double> weights = Weights(a, ratio, p.scale);
    const int64_t n = static_cast<int64_t>(weights.size());
    t.taps = weights.size();
    // The n input indices nearest x, ties to the smaller one.
    const int64_t pad = (n + 1) / 2;
    const double padded = x + static_cast<double>(pad);
    const int64_t whole = SafeIndex(std::floor(padded));
    const double frac = padded - static_cast<double>(whole);
    int64_t offset;
    if (n % 2 == 0) {
      offset = frac == 0 ? -(n / 2) : -(n / 2) + 1;
    } else {
      offset = frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1;
    }
    const int64_t start = whole + offset - pad;
    if (a.exclude_outside) {
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        if (start + k < 0 || start + k >= p.input) weights[static_cast<size_t>(k)] = 0.0;
        sum += weights[static_cast<size_t>(k)];
      }
      if (sum != 0.0) {
        for (double& w : weights) w /= sum;
      }
    }
    for (int64_t k = 0; k < n; ++k) {
      t.index.push_back(std::clamp<int64_t>(start + k, 0, p.input - 1));
      t.weight.push_back(weights[static_cast<size_t>(k)]);
    }
  }
  return t;
}

// Resizes `data` (of `shape`) along `axis`; updates `shape`.
std::vector<double> ResizeAxis(const std::vector<double>& data, Shape& shape, size_t axis,
                               const AxisPlan& p, const AxisTaps& t, double extrapolation) {
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::vector<double> out(static_cast<size_t>(outer * p.output * inner));
  for (int64_t b = 0; b < outer; ++b) {
    const double* in = data.data() + b * p.input * inner;
    double* dst = out.data() + b * p.output * inner;
    for (int64_t o = 0; o < p.output; ++o) {
      const size_t first = static_cast<size_t>(o) * t.taps;
      for (int64_t i = 0; i < inner; ++i) {
        double sum = 0.0;
        if (t.extrapolated[static_cast<size_t>(o)]) {
          sum = extrapolation;
        } else {
          for (size_t k = 0; k < t.taps; ++k) {
            sum += t.weight[first + k] * in[t.index[first + k] * inner + i];
          }
        }
        dst[o * inner + i] = sum;
      }
    }
  }
  shape[axis] = p.output;
  return out;
}

bool IsClose(double a, double b) {
  return std::abs(a - b) <= 1e-9 * std::max(std::abs(a), std::abs(b));
}

// ---- Output geometry from scales / sizes / roi ----

struct ResizeInputs {
  OptionalDoubles roi;
  OptionalDoubles scales;
  OptionalInts sizes;
};

Result<ResizeInputs> ReadResizeInputs(const KernelContext& context) {
  const ir::Node& node = context.node();
  ResizeInputs r;
  if (node.op_type == "Upsample" && node.opset < 9) {
    UH_ASSIGN_OR_RETURN(const std::vector<float> scales, node.GetFloats("scales"));
    r.scales.given = true;
    r.scales.values.assign(scales.begin(), scales.end());
    return r;
  }
  if (node.op_type == "Upsample" || node.opset < 11) {
    UH_ASSIGN_OR_RETURN(r.scales, OptionalDoubleInput(context, 1));
    return r;
  }
  UH_ASSIGN_OR_RETURN(r.roi, OptionalDoubleInput(context, 1));
  UH_ASSIGN_OR_RETURN(r.scales, OptionalDoubleInput(context, 2));
  UH_ASSIGN_OR_RETURN(r.sizes, OptionalInt64Input(context, 3));
  if (r.sizes.given && r.sizes.values.empty()) r.sizes.given = false;
  return r;
}

// Output sizes given: the scales follow, or with a keep_aspect_ratio_policy one common scale
// decides the sizes.
Status ApplySizes(const ir::Node& node, AspectPolicy policy, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& axes, std::vector<AxisPlan>& plans) {
  const size_t n = axes.size();
  for (size_t i = 0; i < n; ++i) {
    if (sizes[i] < 0) return Invalid(node, "sizes must not be negative");
    AxisPlan& p = plans[static_cast<size_t>(axes[i])];
    if (p.input == 0) return Invalid(node, "cannot resize an empty axis");
    p.scale = static_cast<double>(sizes[i]) / static_cast<double>(p.input);
    p.output = sizes[i];
  }
  if (policy != AspectPolicy::kStretch) {
    double scale = plans[static_cast<size_t>(axes[0])].scale;
    for (int64_t axis : axes) {
      const double s = plans[static_cast<size_t>(axis)].scale;
      scale = policy == AspectPolicy::kNotLarger ? std::min(scale, s) : std::max(scale, s);
    }
    for (int64_t axis : axes) {
      AxisPlan& p = plans[static_cast<size_t>(axis)];
      p.scale = scale;
      p.output = static_cast<int64_t>(scale * static_cast<double>(p.input) + 0.5);
    }
  }
  return Status::Ok();
}

Result<std::vector<AxisPlan>> PlanAxes(const ir::Node& node, const ResizeAttributes& a,
                                       const ResizeInputs& r, const Shape& shape,
                                       std::vector<int64_t>& axes) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (a.axes.empty()) {
    axes.clear();
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  } else {
    UH_ASSIGN_OR_RETURN(axes, NormalizeAxes(node, a.axes, rank));
  }
  const size_t n = axes.size();
  if (r.scales.given == r.sizes.given) {
    return Invalid(node, "exactly one of scales and sizes must be given");
  }
  if ((r.scales.given && r.scales.values.size() != n) ||
      (r.sizes.given && r.sizes.values.size() != n)) {
    return Invalid(node,
                   "scales/sizes must have one value per resized axis (" + std::to_string(n) + ")");
  }
  std::vector<AxisPlan> plans(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) plans[d] = AxisPlan{shape[d], shape[d], 1.0, 0.0, 1.0};
  if (r.roi.given && a.coordinates == Coordinates::kTfCropAndResize) {
    if (r.roi.values.size() != 2 * n) {
      return Invalid(node, "roi must have 2 values per resized axis");
    }
    for (size_t i = 0; i < n; ++i) {
      plans[static_cast<size_t>(axes[i])].roi_start = r.roi.values[i];
      plans[static_cast<size_t>(axes[i])].roi_end = r.roi.values[n + i];
    }
  }
  if (r.scales.given) {
    for (size_t i = 0; i < n; ++i) {
      const double scale = r.scales.values[i];
      AxisPlan& p = plans[static_cast<size_t>(axes[i])];
      if (!(scale > 0) || !(scale * static_cast<double>(p.input) < 9.0e15)) {
        return Invalid(node, "scales must be positive and finite");
      }
      p.scale = scale;
      p.output = static_cast<int64_t>(scale * static_cast<double>(p.input));
    }
    return plans;
  }
  UH_RETURN_IF_ERROR(ApplySizes(node, a.policy, r.sizes.values, axes, plans));
  return plans;
}

Status ComputeResize(KernelContext& context, const ResizeAttributes& a) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(const ResizeInputs inputs, ReadResizeInputs(context));
  std::vector<int64_t> axes;
  UH_ASSIGN_OR_RETURN(const std::vector<AxisPlan> plans,
                      PlanAxes(node, a, inputs, x->shape(), axes));
  // Every intermediate shape lies within the larger of input and output per axis.
  Shape largest = x->shape();
  for (size_t d = 0; d < plans.size(); ++d) {
    largest[d] = std::max(plans[d].input, plans[d].output);
  }
  UH_RETURN_IF_ERROR(CheckOutputSize(node, largest));
  Shape shape = x->shape();
  std::vector<double> data = TensorToDoubles(*x);
  for (int64_t axis : axes) {
    const AxisPlan& p = plans[static_cast<size_t>(axis)];
    if (IsClose(p.scale, 1.0) && p.output == p.input &&
        (a.coordinates != Coordinates::kTfCropAndResize ||
         (IsClose(p.roi_start, 0.0) && IsClose(p.roi_end, 1.0)))) {
      continue;  // identity along this axis
    }
    if (p.input == 0) return Invalid(node, "cannot resize an empty axis");
    data = ResizeAxis(data, shape, static_cast<size_t>(axis), p, PlanTaps(a, p),
                      a.extrapolation_value);
  }
  return WriteOutput(context, 0, x->dtype(), shape, data);
}

Result<std::unique_ptr<hal::Kernel>> CreateResize(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(const ResizeAttributes attributes, ParseResizeAttributes(info.node));
  return MakeFunctionKernel(
      [attributes](KernelContext& context) { return ComputeResize(context, attributes); });
}

}  // namespace

void RegisterResizeKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("Resize", 10, INT_MAX, CreateResize,
                                       AcceptInputDTypes({0}, NumericDTypes())));
  registry.Register(ReferenceKernelDef("Upsample", 7, INT_MAX, CreateResize,
                                       AcceptInputDTypes({0}, NumericDTypes())));
}

}  // namespace unihal::cpu
