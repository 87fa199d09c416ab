// Reference Pad, CenterCropPad and Unique kernels.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <numeric>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/indexing_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

// Per output dim, the source index of each output position along that dim, or -1 for the
// constant fill. Negative pads crop first; the rest pads the cropped range.
std::vector<int64_t> PadSourceMap(int64_t dim, int64_t begin, int64_t end, PadMode mode) {
  const int64_t crop_begin = std::max<int64_t>(-begin, 0);
  const int64_t kept = dim - crop_begin - std::max<int64_t>(-end, 0);
  const int64_t pad_begin = std::max<int64_t>(begin, 0);
  const int64_t out_dim = kept + pad_begin + std::max<int64_t>(end, 0);
  std::vector<int64_t> map(static_cast<size_t>(std::max<int64_t>(out_dim, 0)));
  for (int64_t o = 0; o < out_dim; ++o) {
    int64_t i = o - pad_begin;
    if (i < 0 || i >= kept) {
      switch (mode) {
        case PadMode::kConstant:
          i = -1;
          break;
        case PadMode::kEdge:
          i = std::clamp<int64_t>(i, 0, kept - 1);
          break;
        case PadMode::kWrap:
          i = ((i % kept) + kept) % kept;
          break;
        case PadMode::kReflect: {
          const int64_t period = 2 * (kept - 1);
          if (period == 0) {
            i = 0;
            break;
          }
          i = ((i % period) + period) % period;
          if (i >= kept) i = period - i;
          break;
        }
      }
    }
    map[static_cast<size_t>(o)] = i < 0 ? -1 : i + crop_begin;
  }
  return map;
}

// Writes the output of `data` padded by per-dim `begins`/`ends` (negative crops) in `mode`,
// filling constant positions with the element bytes in `fill`.
Status PadOutput(KernelContext& context, const Tensor& data, const std::vector<int64_t>& begins,
                 const std::vector<int64_t>& ends, PadMode mode,
                 const std::array<std::byte, 8>& fill) {
  const ir::Node& node = context.node();
  const Shape& s = data.shape();
  std::vector<std::vector<int64_t>> maps;
  Shape out_shape;
  for (size_t d = 0; d < s.size(); ++d) {
    const int64_t out_dim = s[d] + begins[d] + ends[d];
    if (out_dim < 0 ||
        (mode != PadMode::kConstant && out_dim > 0 &&
         s[d] - std::max<int64_t>(-begins[d], 0) - std::max<int64_t>(-ends[d], 0) <= 0)) {
      return InvalidArgumentError(node.Describe() + ": pads " + std::to_string(begins[d]) + ", " +
                                  std::to_string(ends[d]) + " on dim " + std::to_string(d) +
                                  " of " + data.Describe() + " leave nothing to pad from");
    }
    maps.push_back(PadSourceMap(s[d], begins[d], ends[d], mode));
    out_shape.push_back(out_dim);
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data.dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  const std::vector<int64_t> strides = StridesOf(s);
  VisitElementSize(DTypeSize(data.dtype()), [&](auto tag) {
    using U = decltype(tag);
    U value;
    std::memcpy(&value, fill.data(), sizeof(U));
    const U* x = static_cast<const U*>(data.data());
    U* y = static_cast<U*>(out->data());
    IndexOdometer at(out_shape);
    for (int64_t o = 0; o < out->num_elements(); ++o, at.Next()) {
      int64_t src = 0;
      bool constant = false;
      for (size_t d = 0; d < s.size() && !constant; ++d) {
        const int64_t i = maps[d][static_cast<size_t>(at.index()[d])];
        constant = i < 0;
        src += i * strides[d];
      }
      y[o] = constant ? value : x[src];
    }
  });
  return Status::Ok();
}

Result<PadMode> ParsePadMode(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(const std::string mode, node.GetString("mode", "constant"));
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap" && node.opset >= 19) return PadMode::kWrap;
  return InvalidArgumentError(node.Describe() + ": mode '" + mode + "' is not one of constant, " +
                              "reflect, edge" + (node.opset >= 19 ? ", wrap" : "") + " at opset " +
                              std::to_string(node.opset));
}

// The constant fill as element bytes: attribute 'value' before opset 11, input 2 since.
Result<std::array<std::byte, 8>> PadFill(const KernelContext& context, DType dtype) {
  const ir::Node& node = context.node();
  std::array<std::byte, 8> fill{};
  if (node.opset < 11) {
    UH_ASSIGN_OR_RETURN(const float value, node.GetFloat("value", 0.0f));
    VisitDType(dtype, [&](auto tag) {
      using T = decltype(tag);
      const T v = FromDouble<T>(value);
      std::memcpy(fill.data(), &v, sizeof(T));
    });
    return fill;
  }
  const Tensor* value = context.input(2);
  if (!value || value->num_elements() == 0) return fill;
  if (value->dtype() != dtype || value->num_elements() != 1) {
    return InvalidArgumentError(node.Describe() + ": constant_value " + value->Describe() +
                                " must be one element of the data's dtype " +
                                std::string(DTypeName(dtype)));
  }
  std::memcpy(fill.data(), value->data(), DTypeSize(dtype));
  return fill;
}

Status ComputePad(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const PadMode mode, ParsePadMode(node));
  UH_ASSIGN_OR_RETURN(const OptionalInts pads, Int64sFromInputOrAttribute(context, 1, "pads", 11));
  OptionalInts axes;
  if (node.opset >= 18) {
    UH_ASSIGN_OR_RETURN(axes, OptionalInt64Input(context, 3));
  }
  const int64_t rank = data->rank();
  if (!axes.given) {
    axes.values.resize(static_cast<size_t>(rank));
    std::iota(axes.values.begin(), axes.values.end(), 0);
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> axis_of, NormalizeAxes(node, axes.values, rank));
  const size_t n = axis_of.size();
  if (!pads.given || pads.values.size() != 2 * n) {
    return InvalidArgumentError(node.Describe() + ": pads must have 2 entries per padded axis (" +
                                std::to_string(2 * n) + "), got " +
                                (pads.given ? ShapeToString(pads.values) : "none"));
  }
  std::vector<int64_t> begins(static_cast<size_t>(rank), 0), ends(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < n; ++i) {
    begins[static_cast<size_t>(axis_of[i])] = pads.values[i];
    ends[static_cast<size_t>(axis_of[i])] = pads.values[n + i];
  }
  UH_ASSIGN_OR_RETURN(const auto fill, PadFill(context, data->dtype()));
  return PadOutput(context, *data, begins, ends, mode, fill);
}

Status ComputeCenterCropPad(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts shape, OptionalInt64Input(context, 1));
  const int64_t rank = data->rank();
  std::vector<int64_t> axes(static_cast<size_t>(rank));
  std::iota(axes.begin(), axes.end(), 0);
  UH_ASSIGN_OR_RETURN(axes, node.GetInts("axes", axes));
  UH_ASSIGN_OR_RETURN(axes, NormalizeAxes(node, axes, rank));
  if (!shape.given || shape.values.size() != axes.size()) {
    return InvalidArgumentError(node.Describe() + ": shape must have one entry per axis (" +
                                std::to_string(axes.size()) + ")");
  }
  std::vector<int64_t> begins(static_cast<size_t>(rank), 0), ends(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t a = static_cast<size_t>(axes[i]);
    const int64_t target = shape.values[i];
    const int64_t dim = data->dim(axes[i]);
    if (target < 0) return InvalidArgumentError(node.Describe() + ": shape has a negative entry");
    // Crops start at floor((dim - target) / 2); pads put the odd element on the right.
    begins[a] = dim >= target ? -((dim - target) / 2) : (target - dim) / 2;
    ends[a] = target - dim - begins[a];
  }
  return PadOutput(context, *data, begins, ends, PadMode::kConstant, {});
}

// ---- Unique ----

template <typename C>
bool IsNan(C value) {
  if constexpr (std::is_floating_point_v<C>) {
    return std::isnan(value);
  } else {
    return false;
  }
}

// Slices of `data` viewed as [outer, count, inner]: slice i is every element with middle index
// i, compared in (outer, inner) order.
template <typename T>
struct SliceView {
  const T* x;
  int64_t outer, count, inner;
  // -1, 0 or 1 comparing slices a and b lexicographically.
  int Compare(int64_t a, int64_t b) const {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const auto va = ToCompute(x[(o * count + a) * inner + j]);
        const auto vb = ToCompute(x[(o * count + b) * inner + j]);
        // NaNs sort last and equal each other (NumPy's equal_nan), keeping the order strict.
        const bool nan_a = IsNan(va);
        const bool nan_b = IsNan(vb);
        if (nan_a || nan_b) {
          if (nan_a != nan_b) return nan_a ? 1 : -1;
          continue;
        }
        if (va < vb) return -1;
        if (vb < va) return 1;
      }
    }
    return 0;
  }
};

struct UniqueGroups {
  std::vector<int64_t> first;    // per unique slice, in output order: first occurrence
  std::vector<int64_t> counts;   // per unique slice: occurrences
  std::vector<int64_t> inverse;  // per input slice: its unique slice
};

template <typename T>
UniqueGroups GroupSlices(const SliceView<T>& view, bool sorted) {
  std::vector<int64_t> order(static_cast<size_t>(view.count));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return view.Compare(a, b) < 0; });
  UniqueGroups groups;
  std::vector<int64_t> group_of(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    if (i == 0 || view.Compare(order[i - 1], order[i]) != 0) {
      groups.first.push_back(order[i]);  // stable: the earliest of equal slices comes first
      groups.counts.push_back(0);
    }
    group_of[static_cast<size_t>(order[i])] = static_cast<int64_t>(groups.first.size() - 1);
    ++groups.counts.back();
  }
  std::vector<int64_t> rank(groups.first.size());
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {
    // Output order is first occurrence; rank maps a sorted group to its position.
    std::vector<int64_t> by_first(rank);
    std::sort(by_first.begin(), by_first.end(), [&](int64_t a, int64_t b) {
      return groups.first[static_cast<size_t>(a)] < groups.first[static_cast<size_t>(b)];
    });
    UniqueGroups reordered;
    for (size_t p = 0; p < by_first.size(); ++p) {
      rank[static_cast<size_t>(by_first[p])] = static_cast<int64_t>(p);
      reordered.first.push_back(groups.first[static_cast<size_t>(by_first[p])]);
      reordered.counts.push_back(groups.counts[static_cast<size_t>(by_first[p])]);
    }
    groups.first = std::move(reordered.first);
    groups.counts = std::move(reordered.counts);
  }
  for (int64_t g : group_of) groups.inverse.push_back(rank[static_cast<size_t>(g)]);
  return groups;
}

Status WriteInt64Output(KernelContext& context, size_t i, const std::vector<int64_t>& values) {
  if (context.num_outputs() <= i) return Status::Ok();
  UH_ASSIGN_OR_RETURN(
      Tensor * out, context.AllocateOutput(i, DType::kI64, {static_cast<int64_t>(values.size())}));
  std::copy(values.begin(), values.end(), out->data_as<int64_t>());
  return Status::Ok();
}

Status ComputeUnique(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t sorted, node.GetInt("sorted", 1));
  const bool has_axis = node.HasAttribute("axis");
  Shape s = has_axis ? data->shape() : Shape{data->num_elements()};
  size_t a = 0;
  if (has_axis) {
    UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis"));
    UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
    a = static_cast<size_t>(axis);
  }
  const int64_t outer = DimProduct(s, 0, a);
  const int64_t inner = DimProduct(s, a + 1, s.size());
  UniqueGroups groups;
  VisitDType(data->dtype(), [&](auto tag) {
    using T = decltype(tag);
    groups = GroupSlices(SliceView<T>{data->data_as<T>(), outer, s[a], inner}, sorted != 0);
  });
  const int64_t count = s[a];
  s[a] = static_cast<int64_t>(groups.first.size());
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, data->dtype(), s));
  const size_t block = static_cast<size_t>(inner) * DTypeSize(data->dtype());
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(y->data());
  for (int64_t o = 0; block > 0 && o < outer; ++o) {
    for (int64_t f : groups.first) {
      std::memcpy(dst, src + static_cast<size_t>(o * count + f) * block, block);
      dst += block;
    }
  }
  UH_RETURN_IF_ERROR(WriteInt64Output(context, 1, groups.first));
  UH_RETURN_IF_ERROR(WriteInt64Output(context, 2, groups.inverse));
  return WriteInt64Output(context, 3, groups.counts);
}

}  // namespace

void RegisterPadUniqueKernels(hal::KernelRegistry& registry) {
  RegisterIndexingOp(registry, "Pad", 2, StatelessKernel(ComputePad));
  RegisterIndexingOp(registry, "CenterCropPad", 18, StatelessKernel(ComputeCenterCropPad));
  RegisterIndexingOp(registry, "Unique", 11, StatelessKernel(ComputeUnique));
}

}  // namespace unihal::cpu
