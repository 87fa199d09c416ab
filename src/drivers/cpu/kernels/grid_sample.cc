// Reference GridSample (opset 16: 4-D, bilinear/nearest/bicubic; opset 20: N-D, linear/nearest/
// cubic) and AffineGrid (opset 20), after ONNX's reference implementation, in float64.
#include <algorithm>
#include <cmath>
#include <map>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

enum class SampleMode { kNearest, kLinear, kCubic };
enum class Padding { kZeros, kBorder, kReflection };

struct GridSampleAttributes {
  SampleMode mode = SampleMode::kLinear;
  Padding padding = Padding::kZeros;
  bool align_corners = false;
};

Result<GridSampleAttributes> ParseGridSampleAttributes(const ir::Node& node) {
  GridSampleAttributes a;
  // Opset 20 renamed bilinear/bicubic to linear/cubic.
  const bool renamed = node.opset >= 20;
  const std::map<std::string, SampleMode> modes =
      renamed ? std::map<std::string, SampleMode>{{"nearest", SampleMode::kNearest},
                                                  {"linear", SampleMode::kLinear},
                                                  {"cubic", SampleMode::kCubic}}
              : std::map<std::string, SampleMode>{{"nearest", SampleMode::kNearest},
                                                  {"bilinear", SampleMode::kLinear},
                                                  {"bicubic", SampleMode::kCubic}};
  UH_ASSIGN_OR_RETURN(const std::string mode,
                      node.GetString("mode", renamed ? "linear" : "bilinear"));
  auto it = modes.find(mode);
  if (it == modes.end())
    return Unimplemented(node, "GridSample mode '" + mode + "' is not supported");
  a.mode = it->second;
  UH_ASSIGN_OR_RETURN(const std::string padding, node.GetString("padding_mode", "zeros"));
  if (padding == "zeros") {
    a.padding = Padding::kZeros;
  } else if (padding == "border") {
    a.padding = Padding::kBorder;
  } else if (padding == "reflection") {
    a.padding = Padding::kReflection;
  } else {
    return Unimplemented(node, "GridSample padding_mode '" + padding + "' is not supported");
  }
  UH_ASSIGN_OR_RETURN(const int64_t align_corners, node.GetInt("align_corners", 0));
  a.align_corners = align_corners != 0;
  return a;
}

// Reflects x by the nearer border until it lies within [low, high].
double Reflect(double x, double low, double high) {
  const double range = high - low;
  if (x < low) {
    const double dx = low - x;
    const int64_t n = SafeIndex(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? low + r : high - r;
  }
  if (x > high) {
    const double dx = x - high;
    const int64_t n = SafeIndex(dx / range);
    const double r = dx - static_cast<double>(n) * range;
    return n % 2 == 0 ? high - r : low + r;
  }
  return x;
}

void CubicWeights(double t, double* w) {
  const double a = -0.75;
  auto kernel = [a](double x) {
    x = std::abs(x);
    if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  };
  w[0] = kernel(t + 1);
  w[1] = kernel(t);
  w[2] = kernel(1 - t);
  w[3] = kernel(2 - t);
}

// Sampling one (n, c) plane of `dims`.
class PlaneSampler {
 public:
  PlaneSampler(const GridSampleAttributes& a, const std::vector<int64_t>& dims)
      : a_(a), dims_(dims) {
    for (int64_t d : dims) {
      low_.push_back(a.align_corners ? 0.0 : -0.5);
      high_.push_back(a.align_corners ? static_cast<double>(d) - 1 : static_cast<double>(d) - 0.5);
    }
  }

  // The value at normalised coordinates `grid` (innermost dim first, as in Grid).
  double Sample(const double* plane, const double* grid) const {
    const size_t rank = dims_.size();
    std::vector<double> x(rank);
    for (size_t i = 0; i < rank; ++i) {
      const double n = grid[rank - 1 - i];
      const double length = static_cast<double>(dims_[i]);
      x[i] = a_.align_corners ? (n + 1) / 2 * (length - 1) : ((n + 1) * length - 1) / 2;
      if (a_.mode == SampleMode::kNearest) x[i] = std::nearbyint(x[i]);
      if (x[i] < low_[i] || x[i] > high_[i]) {
        if (a_.padding == Padding::kBorder) x[i] = std::clamp(x[i], 0.0, length - 1);
        if (a_.padding == Padding::kReflection) x[i] = Reflect(x[i], low_[i], high_[i]);
      }
    }
    if (a_.mode == SampleMode::kNearest) {
      std::vector<int64_t> index(rank);
      for (size_t i = 0; i < rank; ++i) index[i] = SafeIndex(x[i]);
      return Pixel(plane, index);
    }
    const size_t taps = a_.mode == SampleMode::kLinear ? 2 : 4;
    std::vector<int64_t> first(rank);
    std::vector<double> weights(rank * taps);
    for (size_t i = 0; i < rank; ++i) {
      const double floor_x = std::floor(x[i]);
      const double t = x[i] - floor_x;
      first[i] = SafeIndex(floor_x) - (taps == 4 ? 1 : 0);
      if (taps == 2) {
        weights[i * 2] = 1 - t;
        weights[i * 2 + 1] = t;
      } else {
        CubicWeights(t, &weights[i * 4]);
      }
    }
    return Interpolate(plane, first, weights, taps);
  }

 private:
  // Sum over every combination of taps of the product of weights times the pixel.
  double Interpolate(const double* plane, const std::vector<int64_t>& first,
                     const std::vector<double>& weights, size_t taps) const {
    const size_t rank = dims_.size();
    size_t combinations = 1;
    for (size_t i = 0; i < rank; ++i) combinations *= taps;
    std::vector<int64_t> index(rank);
    double sum = 0.0;
    for (size_t c = 0; c < combinations; ++c) {
      size_t rest = c;
      double weight = 1.0;
      for (size_t i = rank; i-- > 0;) {
        const size_t k = rest % taps;
        rest /= taps;
        index[i] = first[i] + static_cast<int64_t>(k);
        weight *= weights[i * taps + k];
      }
      if (weight != 0.0) sum += weight * Pixel(plane, index);
    }
    return sum;
  }

  // The pixel at integer `index` with the padding rule applied to each coordinate.
  double Pixel(const double* plane, std::vector<int64_t> index) const {
    int64_t offset = 0;
    for (size_t i = 0; i < dims_.size(); ++i) {
      int64_t at = index[i];
      if (at < 0 || at >= dims_[i]) {
        if (a_.padding == Padding::kZeros) return 0.0;
        if (a_.padding == Padding::kBorder) at = std::clamp<int64_t>(at, 0, dims_[i] - 1);
        if (a_.padding == Padding::kReflection) {
          at = SafeIndex(Reflect(static_cast<double>(at), low_[i], high_[i]));
          at = std::clamp<int64_t>(at, 0, dims_[i] - 1);
        }
      }
      offset = offset * dims_[i] + at;
    }
    return plane[offset];
  }

  const GridSampleAttributes a_;
  const std::vector<int64_t> dims_;
  std::vector<double> low_;
  std::vector<double> high_;
};

Status ComputeGridSample(KernelContext& context, const GridSampleAttributes& a) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* grid, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", NumericDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *grid, "input grid", FloatDTypes()));
  const int64_t rank = x->rank();
  if (rank < 3) return Invalid(node, "X " + x->Describe() + " must be (N, C, spatial...)");
  if (node.opset < 20 && rank != 4) {
    return Unimplemented(node, "GridSample before opset 20 takes only 4-D X, got " + x->Describe());
  }
  const int64_t spatial = rank - 2;
  if (grid->rank() != rank || grid->dim(0) != x->dim(0) || grid->dim(rank - 1) != spatial) {
    return Invalid(node, "grid " + grid->Describe() + " must be (N, spatial_out..., " +
                             std::to_string(spatial) + ") for X " + x->Describe());
  }
  const std::vector<int64_t> dims(x->shape().begin() + 2, x->shape().end());
  Shape out_shape{x->dim(0), x->dim(1)};
  out_shape.insert(out_shape.end(), grid->shape().begin() + 1, grid->shape().end() - 1);
  UH_RETURN_IF_ERROR(CheckOutputSize(node, out_shape));
  const int64_t in_plane = NumElements(dims);
  const int64_t points = NumElements(Shape(grid->shape().begin() + 1, grid->shape().end() - 1));
  if (in_plane == 0 && NumElements(out_shape) > 0) {
    return Invalid(node, "cannot sample the empty image " + x->Describe());
  }
  const std::vector<double> xs = TensorToDoubles(*x);
  const std::vector<double> gs = TensorToDoubles(*grid);
  std::vector<double> ys(static_cast<size_t>(NumElements(out_shape)));
  const PlaneSampler sampler(a, dims);
  const int64_t channels = x->dim(1);
  context.thread_pool().ParallelFor(x->dim(0) * channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / channels;
      const double* plane = xs.data() + item * in_plane;
      double* out = ys.data() + item * points;
      for (int64_t p = 0; p < points; ++p) {
        out[p] = sampler.Sample(plane, gs.data() + (n * points + p) * spatial);
      }
    }
  });
  return WriteOutput(context, 0, x->dtype(), out_shape, ys);
}

Result<std::unique_ptr<hal::Kernel>> CreateGridSample(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(const GridSampleAttributes attributes, ParseGridSampleAttributes(info.node));
  return MakeFunctionKernel(
      [attributes](KernelContext& context) { return ComputeGridSample(context, attributes); });
}

// AffineGrid: theta (N, 2, 3) or (N, 3, 4) applied to the normalised grid of size (N, C, ...).
Status ComputeAffineGrid(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* theta, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *theta, "input theta", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const OptionalInts size, OptionalInt64Input(context, 1));
  UH_ASSIGN_OR_RETURN(const int64_t align_corners, node.GetInt("align_corners", 0));
  const int64_t spatial = static_cast<int64_t>(size.values.size()) - 2;
  if (spatial != 2 && spatial != 3) return Invalid(node, "size must have 4 or 5 values");
  const int64_t batch = size.values[0];
  if (theta->rank() != 3 || theta->dim(0) != batch || theta->dim(1) != spatial ||
      theta->dim(2) != spatial + 1) {
    return Invalid(node, "theta " + theta->Describe() + " does not match size");
  }
  // dims innermost first: W, H (, D).
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < spatial; ++i)
    dims.push_back(size.values[static_cast<size_t>(1 + spatial - i)]);
  auto coordinate = [&](int64_t i, int64_t length) {
    if (align_corners)
      return length == 1 ? -1.0
                         : -1.0 + 2.0 * static_cast<double>(i) / static_cast<double>(length - 1);
    return -1.0 + (2.0 * static_cast<double>(i) + 1) / static_cast<double>(length);
  };
  Shape out_shape{batch};
  for (int64_t i = spatial; i-- > 0;) out_shape.push_back(dims[static_cast<size_t>(i)]);
  out_shape.push_back(spatial);
  UH_RETURN_IF_ERROR(CheckOutputSize(node, out_shape));
  const int64_t points = NumElements(dims);
  const std::vector<double> t = TensorToDoubles(*theta);
  std::vector<double> out(static_cast<size_t>(batch * points * spatial));
  std::vector<double> homogeneous(static_cast<size_t>(spatial + 1), 1.0);
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t p = 0; p < points; ++p) {
      int64_t rest = p;
      for (int64_t i = 0; i < spatial; ++i) {
        const int64_t length = dims[static_cast<size_t>(i)];
        homogeneous[static_cast<size_t>(i)] = coordinate(rest % length, length);
        rest /= length;
      }
      for (int64_t r = 0; r < spatial; ++r) {
        double sum = 0.0;
        for (int64_t k = 0; k <= spatial; ++k) {
          sum += t[static_cast<size_t>((n * spatial + r) * (spatial + 1) + k)] *
                 homogeneous[static_cast<size_t>(k)];
        }
        out[static_cast<size_t>((n * points + p) * spatial + r)] = sum;
      }
    }
  }
  return WriteOutput(context, 0, theta->dtype(), out_shape, out);
}

}  // namespace

void RegisterGridSampleKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("GridSample", 16, INT_MAX, CreateGridSample,
                                       AcceptInputDTypes({0}, NumericDTypes())));
  registry.Register(ReferenceKernelDef("AffineGrid", 20, INT_MAX,
                                       StatelessKernel(ComputeAffineGrid),
                                       AcceptInputDTypes({0}, FloatDTypes())));
}

}  // namespace unihal::cpu
