// Reference indexing kernels that generate or rearrange elements: Range Split Tile Trilu EyeLike
// OneHot NonZero Compress DepthToSpace SpaceToDepth ReverseSequence. The gather/scatter family
// lives in indexing_gather_scatter.cc, Pad/CenterCropPad/Unique in indexing_pad_unique.cc.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/indexing_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

std::string OpsetText(const ir::Node& node) { return "opset " + std::to_string(node.opset); }

// ---- Range ----

// Each of start/limit/delta must be a one-element tensor of the same dtype.
Status CheckRangeInputs(const ir::Node& node, const Tensor* const (&inputs)[3]) {
  static const char* kNames[] = {"start", "limit", "delta"};
  for (size_t i = 0; i < 3; ++i) {
    if (inputs[i]->num_elements() != 1 || inputs[i]->dtype() != inputs[0]->dtype()) {
      return InvalidArgumentError(node.Describe() + ": " + kNames[i] + " is " +
                                  inputs[i]->Describe() + "; start, limit and delta must be " +
                                  "one-element tensors of one dtype");
    }
  }
  return CheckDType(
      node, *inputs[0], "start",
      {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI16, DType::kI32, DType::kI64});
}

// Floating Range: the count and values in `C` (double, or float for the stash_type=1 case).
template <typename T, typename C>
Status FillFloatRange(KernelContext& context, C start, C limit, C delta) {
  const ir::Node& node = context.node();
  if (delta == C(0)) return InvalidArgumentError(node.Describe() + ": delta is 0");
  const double count =
      std::max(std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                         static_cast<double>(delta)),
               0.0);
  if (!(count < 9.0e15)) {
    return InvalidArgumentError(node.Describe() + ": the range has too many elements");
  }
  UH_ASSIGN_OR_RETURN(Tensor * out,
                      context.AllocateOutput(0, DTypeOf<T>(), {static_cast<int64_t>(count)}));
  T* y = out->data_as<T>();
  for (int64_t i = 0; i < out->num_elements(); ++i) {
    y[i] = FromCompute<T>(start + static_cast<C>(i) * delta);
  }
  return Status::Ok();
}

template <typename T>
Status FillIntegerRange(KernelContext& context, int64_t start, int64_t limit, int64_t delta) {
  if (delta == 0) return InvalidArgumentError(context.node().Describe() + ": delta is 0");
  int64_t span = 0;
  if (__builtin_sub_overflow(limit, start, &span)) {
    return InvalidArgumentError(context.node().Describe() + ": limit - start overflows int64");
  }
  int64_t count = span / delta;
  if (count * delta != span) ++count;  // ceil for either sign: both signs agree when it is > 0
  count = std::max<int64_t>(count, 0);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DTypeOf<T>(), {count}));
  T* y = out->data_as<T>();
  for (int64_t i = 0; i < count; ++i) y[i] = static_cast<T>(start + i * delta);
  return Status::Ok();
}

Status ComputeRange(KernelContext& context) {
  const ir::Node& node = context.node();
  const Tensor* inputs[3];
  for (size_t i = 0; i < 3; ++i) {
    UH_ASSIGN_OR_RETURN(inputs[i], NeedInput(context, i));
  }
  UH_RETURN_IF_ERROR(CheckRangeInputs(node, inputs));
  const DType dtype = inputs[0]->dtype();
  // stash_type (opset 27) picks the accumulation type for float16/bfloat16.
  int64_t stash_type = 0;
  if (node.opset >= 27 && (dtype == DType::kF16 || dtype == DType::kBF16)) {
    UH_ASSIGN_OR_RETURN(stash_type, node.GetInt("stash_type", 1));
    if (stash_type != 1 && stash_type != 11) {
      return UnimplementedError(node.Describe() + ": Range " + OpsetText(node) + " stash_type " +
                                std::to_string(stash_type) +
                                " is not supported; use 1 (float) or 11 (double)");
    }
  }
  Status status = Status::Ok();
  VisitNumericDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    auto value = [&](size_t i) { return inputs[i]->data_as<T>()[0]; };
    if constexpr (std::is_integral_v<T>) {
      status = FillIntegerRange<T>(context, value(0), value(1), value(2));
    } else if constexpr (!std::is_floating_point_v<T>) {
      if (stash_type == 1) {
        status =
            FillFloatRange<T, float>(context, static_cast<float>(value(0)),
                                     static_cast<float>(value(1)), static_cast<float>(value(2)));
        return;
      }
      status = FillFloatRange<T, double>(context, AsDouble(value(0)), AsDouble(value(1)),
                                         AsDouble(value(2)));
    } else {
      status = FillFloatRange<T, double>(context, AsDouble(value(0)), AsDouble(value(1)),
                                         AsDouble(value(2)));
    }
  });
  return status;
}

// ---- Split ----

// The sizes of Split's outputs along an axis of size `dim`.
Result<std::vector<int64_t>> SplitSizes(const KernelContext& context, int64_t dim) {
  const ir::Node& node = context.node();
  const int64_t outputs = static_cast<int64_t>(context.num_outputs());
  UH_ASSIGN_OR_RETURN(const OptionalInts split,
                      Int64sFromInputOrAttribute(context, 1, "split", 13));
  std::vector<int64_t> sizes;
  if (split.given && !split.values.empty()) {
    sizes = split.values;
    int64_t sum = 0;
    for (int64_t s : sizes) sum += s < 0 ? dim + 1 : s;  // a negative size never sums right
    if (static_cast<int64_t>(sizes.size()) != outputs || sum != dim) {
      return InvalidArgumentError(node.Describe() + ": split " + ShapeToString(sizes) + " must " +
                                  "have one non-negative size per output (" +
                                  std::to_string(outputs) + ") summing to the axis size " +
                                  std::to_string(dim));
    }
    return sizes;
  }
  int64_t parts = outputs;
  if (node.opset >= 18 && node.HasAttribute("num_outputs")) {
    UH_ASSIGN_OR_RETURN(parts, node.GetInt("num_outputs"));
    if (parts != outputs) {
      return InvalidArgumentError(node.Describe() + ": num_outputs is " + std::to_string(parts) +
                                  " but the node has " + std::to_string(outputs) + " outputs");
    }
    // Uneven: ceil(dim / parts) each, the last chunk takes what is left.
    const int64_t chunk = parts > 0 ? (dim + parts - 1) / parts : 0;
    for (int64_t k = 0; k < parts; ++k)
      sizes.push_back(std::clamp(dim - k * chunk, int64_t{0}, chunk));
    return sizes;
  }
  if (parts <= 0 || dim % parts != 0) {
    return InvalidArgumentError(node.Describe() + ": the axis size " + std::to_string(dim) +
                                " does not split evenly into " + std::to_string(parts) +
                                " outputs; give split sizes");
  }
  sizes.assign(static_cast<size_t>(parts), dim / parts);
  return sizes;
}

Status ComputeSplit(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
  const Shape& s = data->shape();
  const size_t a = static_cast<size_t>(axis);
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> sizes, SplitSizes(context, s[a]));
  const int64_t outer = DimProduct(s, 0, a);
  const size_t inner_bytes =
      static_cast<size_t>(DimProduct(s, a + 1, s.size())) * DTypeSize(data->dtype());
  const size_t in_row = static_cast<size_t>(s[a]) * inner_bytes;
  const auto* src = static_cast<const std::byte*>(data->data());
  size_t column = 0;
  for (size_t k = 0; k < sizes.size(); ++k) {
    Shape out_shape = s;
    out_shape[a] = sizes[k];
    UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(k, data->dtype(), out_shape));
    const size_t block = static_cast<size_t>(sizes[k]) * inner_bytes;
    auto* dst = static_cast<std::byte*>(out->data());
    for (int64_t o = 0; block > 0 && o < outer; ++o) {
      std::memcpy(dst + static_cast<size_t>(o) * block,
                  src + static_cast<size_t>(o) * in_row + column, block);
    }
    column += block;
  }
  return Status::Ok();
}

// ---- Tile ----

Status ComputeTile(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts repeats, OptionalInt64Input(context, 1));
  const Shape& s = data->shape();
  if (!repeats.given || repeats.values.size() != s.size()) {
    return InvalidArgumentError(node.Describe() + ": repeats must have one entry per dim of " +
                                data->Describe());
  }
  // The output is the input broadcast to [r0, d0, r1, d1, ...] (stride 0 on each r).
  const std::vector<int64_t> in_strides = StridesOf(s);
  Shape view, out_shape;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < s.size(); ++d) {
    const int64_t r = repeats.values[d];
    if (r < 0) {
      return InvalidArgumentError(node.Describe() + ": repeats " + ShapeToString(repeats.values) +
                                  " has a negative entry");
    }
    view.insert(view.end(), {r, s[d]});
    strides.insert(strides.end(), {0, in_strides[d]});
    out_shape.push_back(r * s[d]);
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), out_shape));
  if (out->num_elements() == 0) return Status::Ok();
  CopyStrided(MakeIterationPlan<1>(view, {strides}), *data, *out);
  return Status::Ok();
}

// ---- Trilu / EyeLike ----

Status ComputeTrilu(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts k_input, OptionalInt64Input(context, 1));
  UH_ASSIGN_OR_RETURN(const int64_t upper, node.GetInt("upper", 1));
  if (data->rank() < 2) {
    return InvalidArgumentError(node.Describe() + ": input must have rank >= 2, got " +
                                data->Describe());
  }
  if (k_input.given && k_input.values.size() != 1) {
    return InvalidArgumentError(node.Describe() + ": k must be a scalar");
  }
  const int64_t rows = data->dim(data->rank() - 2);
  const int64_t cols = data->dim(data->rank() - 1);
  // Any |k| beyond rows + cols acts the same; clamping keeps i + k from overflowing.
  const int64_t k =
      std::clamp<int64_t>(k_input.given ? k_input.values[0] : 0, -rows - cols - 1, rows + cols + 1);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), data->shape()));
  if (out->nbytes() == 0) return Status::Ok();
  std::memset(out->data(), 0, out->nbytes());  // all-zero bytes are 0 in every dtype
  const size_t elem = DTypeSize(data->dtype());
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(out->data());
  const int64_t matrices = data->num_elements() / (rows * cols);
  for (int64_t m = 0; m < matrices * rows; ++m) {
    const int64_t i = m % rows;
    // Kept columns: j - i >= k (upper) or j - i <= k (lower).
    const int64_t begin = upper ? std::clamp(i + k, int64_t{0}, cols) : 0;
    const int64_t end = upper ? cols : std::clamp(i + k + 1, int64_t{0}, cols);
    if (end <= begin) continue;
    const size_t at = static_cast<size_t>(m * cols + begin) * elem;
    std::memcpy(dst + at, src + at, static_cast<size_t>(end - begin) * elem);
  }
  return Status::Ok();
}

Status ComputeEyeLike(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  if (data->rank() != 2) {
    return InvalidArgumentError(node.Describe() + ": input must be 2-D, got " + data->Describe());
  }
  DType dtype = data->dtype();
  if (node.HasAttribute("dtype")) {
    UH_ASSIGN_OR_RETURN(const int64_t onnx_type, node.GetInt("dtype"));
    const std::optional<DType> mapped = onnx_import::DTypeFromOnnx(static_cast<int32_t>(onnx_type));
    if (!mapped) {
      return UnimplementedError(node.Describe() + ": EyeLike " + OpsetText(node) + " dtype " +
                                std::to_string(onnx_type) + " has no unihal tensor type");
    }
    dtype = *mapped;
  }
  UH_ASSIGN_OR_RETURN(const int64_t k, node.GetInt("k", 0));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, dtype, data->shape()));
  if (out->nbytes() == 0) return Status::Ok();
  std::memset(out->data(), 0, out->nbytes());
  const int64_t rows = data->dim(0);
  const int64_t cols = data->dim(1);
  VisitDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* y = out->data_as<T>();
    for (int64_t i = std::max<int64_t>(0, -k); i < rows && i + k < cols; ++i) {
      y[i * cols + i + k] = FromDouble<T>(1.0);
    }
  });
  return Status::Ok();
}

// ---- OneHot / NonZero / Compress ----

// The elements of a numeric tensor as doubles.
std::vector<double> ValuesAsDouble(const Tensor& t) {
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  VisitDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = t.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(x[i]);
  });
  return values;
}

Status ComputeOneHot(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* depth_tensor, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* values, NeedInput(context, 2));
  if (depth_tensor->num_elements() != 1 || values->num_elements() != 2) {
    return InvalidArgumentError(node.Describe() + ": depth must have one element and values " +
                                "two ([off, on]); got " + depth_tensor->Describe() + " and " +
                                values->Describe());
  }
  const double depth_value = ValuesAsDouble(*depth_tensor)[0];
  if (!(depth_value >= 1.0 && depth_value < 1e12)) {
    return InvalidArgumentError(node.Describe() + ": depth must be positive");
  }
  const int64_t depth = static_cast<int64_t>(depth_value);
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", -1));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, indices->rank() + 1));
  Shape out_shape = indices->shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, values->dtype(), out_shape));
  const std::vector<double> index = ValuesAsDouble(*indices);
  const int64_t inner =
      DimProduct(indices->shape(), static_cast<size_t>(axis), indices->shape().size());
  VisitElementSize(DTypeSize(values->dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U off = static_cast<const U*>(values->data())[0];
    const U on = static_cast<const U*>(values->data())[1];
    U* y = static_cast<U*>(out->data());
    std::fill_n(y, out->num_elements(), off);
    for (size_t i = 0; i < index.size(); ++i) {
      // Indices in [-depth, depth) select a position; others leave the row all "off".
      const double v = std::trunc(index[i]);
      if (!(v >= -static_cast<double>(depth) && v < static_cast<double>(depth))) continue;
      const int64_t pos = static_cast<int64_t>(v) + (v < 0 ? depth : 0);
      const int64_t o = static_cast<int64_t>(i) / inner;
      const int64_t j = static_cast<int64_t>(i) % inner;
      y[(o * depth + pos) * inner + j] = on;
    }
  });
  return Status::Ok();
}

Status ComputeNonZero(KernelContext& context) {
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  std::vector<int64_t> hits;  // flat positions of the non-zero elements
  VisitDType(data->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = data->data_as<T>();
    for (int64_t i = 0; i < data->num_elements(); ++i) {
      if (AsDouble(x[i]) != 0.0) hits.push_back(i);
    }
  });
  // A scalar counts as a 1-D tensor of one element, as in NumPy.
  const Shape shape = data->rank() == 0 ? Shape{1} : data->shape();
  const int64_t rank = static_cast<int64_t>(shape.size());
  const int64_t count = static_cast<int64_t>(hits.size());
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kI64, {rank, count}));
  int64_t* y = out->data_as<int64_t>();
  for (int64_t n = 0; n < count; ++n) {
    int64_t rest = hits[static_cast<size_t>(n)];
    for (int64_t d = rank; d-- > 0;) {
      y[d * count + n] = rest % shape[static_cast<size_t>(d)];
      rest /= shape[static_cast<size_t>(d)];
    }
  }
  return Status::Ok();
}

Status ComputeCompress(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* condition, NeedInput(context, 1));
  if (condition->rank() != 1) {
    return InvalidArgumentError(node.Describe() + ": condition must be 1-D, got " +
                                condition->Describe());
  }
  const bool has_axis = node.HasAttribute("axis");
  Shape s = has_axis ? data->shape() : Shape{data->num_elements()};
  size_t a = 0;
  if (has_axis) {
    UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis"));
    UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
    a = static_cast<size_t>(axis);
  }
  const std::vector<double> keep = ValuesAsDouble(*condition);
  std::vector<int64_t> selected;
  for (size_t i = 0; i < keep.size(); ++i) {
    if (keep[i] == 0.0) continue;
    if (static_cast<int64_t>(i) >= s[a]) {
      return InvalidArgumentError(node.Describe() + ": condition selects index " +
                                  std::to_string(i) + " but the axis has size " +
                                  std::to_string(s[a]));
    }
    selected.push_back(static_cast<int64_t>(i));
  }
  const int64_t outer = DimProduct(s, 0, a);
  const size_t block =
      static_cast<size_t>(DimProduct(s, a + 1, s.size())) * DTypeSize(data->dtype());
  const int64_t dim = s[a];
  s[a] = static_cast<int64_t>(selected.size());
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), s));
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(out->data());
  for (int64_t o = 0; block > 0 && o < outer; ++o) {
    for (int64_t i : selected) {
      std::memcpy(dst, src + static_cast<size_t>(o * dim + i) * block, block);
      dst += block;
    }
  }
  return Status::Ok();
}

// ---- DepthToSpace / SpaceToDepth / ReverseSequence ----

// Copies `data` read as the 6-D `view` with element `strides` into a new output of `out_shape`.
Status RearrangeOutput(KernelContext& context, const Tensor& data, const Shape& view,
                       const std::vector<int64_t>& strides, Shape out_shape) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data.dtype(), std::move(out_shape)));
  if (out->num_elements() == 0) return Status::Ok();
  CopyStrided(MakeIterationPlan<1>(view, {strides}), data, *out);
  return Status::Ok();
}

Result<int64_t> BlockSize(const ir::Node& node, const Tensor& data) {
  if (data.rank() != 4) {
    return InvalidArgumentError(node.Describe() + ": input must be 4-D (NCHW), got " +
                                data.Describe());
  }
  UH_ASSIGN_OR_RETURN(const int64_t b, node.GetInt("blocksize"));
  if (b <= 0) return InvalidArgumentError(node.Describe() + ": blocksize must be positive");
  return b;
}

Status ComputeDepthToSpace(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t b, BlockSize(node, *data));
  UH_ASSIGN_OR_RETURN(const std::string mode, node.GetString("mode", "DCR"));
  if (mode != "DCR" && mode != "CRD") {
    return InvalidArgumentError(node.Describe() + ": mode '" + mode + "' is not DCR or CRD");
  }
  const Shape& s = data->shape();
  if (s[1] % (b * b) != 0) {
    return InvalidArgumentError(node.Describe() + ": channels " + std::to_string(s[1]) +
                                " are not divisible by blocksize^2 = " + std::to_string(b * b));
  }
  const int64_t c = s[1] / (b * b);
  const std::vector<int64_t> st = StridesOf(s);
  // Output viewed as [N, C', H, b, W, b]; the source channel depends on the mode.
  const Shape view = {s[0], c, s[2], b, s[3], b};
  const std::vector<int64_t> strides =
      mode == "DCR" ? std::vector<int64_t>{st[0], st[1], st[2], b * c * st[1], st[3], c * st[1]}
                    : std::vector<int64_t>{st[0], b * b * st[1], st[2], b * st[1], st[3], st[1]};
  return RearrangeOutput(context, *data, view, strides, {s[0], c, s[2] * b, s[3] * b});
}

Status ComputeSpaceToDepth(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const int64_t b, BlockSize(node, *data));
  const Shape& s = data->shape();
  if (s[2] % b != 0 || s[3] % b != 0) {
    return InvalidArgumentError(node.Describe() + ": H and W of " + data->Describe() +
                                " must be divisible by blocksize " + std::to_string(b));
  }
  const std::vector<int64_t> st = StridesOf(s);
  // Output viewed as [N, b, b, C, H/b, W/b].
  const Shape view = {s[0], b, b, s[1], s[2] / b, s[3] / b};
  const std::vector<int64_t> strides = {st[0], st[2], st[3], st[1], b * st[2], b * st[3]};
  return RearrangeOutput(context, *data, view, strides, {s[0], s[1] * b * b, s[2] / b, s[3] / b});
}

Status ComputeReverseSequence(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* lens_tensor, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const int64_t time_axis, node.GetInt("time_axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t batch_axis, node.GetInt("batch_axis", 1));
  if (data->rank() < 2 || time_axis == batch_axis || time_axis < 0 || time_axis > 1 ||
      batch_axis < 0 || batch_axis > 1) {
    return InvalidArgumentError(node.Describe() + ": needs rank >= 2 and time_axis/batch_axis " +
                                "0 and 1 (in either order); got " + data->Describe());
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> lens,
                      IndexValues(node, *lens_tensor, "sequence_lens"));
  const int64_t steps = data->dim(time_axis);
  const int64_t batch = data->dim(batch_axis);
  if (static_cast<int64_t>(lens.size()) != batch) {
    return InvalidArgumentError(node.Describe() + ": sequence_lens has " +
                                std::to_string(lens.size()) + " entries for a batch of " +
                                std::to_string(batch));
  }
  for (int64_t len : lens) {
    if (len < 0 || len > steps) {
      return InvalidArgumentError(node.Describe() + ": sequence length " + std::to_string(len) +
                                  " is outside [0, " + std::to_string(steps) + "]");
    }
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), data->shape()));
  const std::vector<int64_t> strides = StridesOf(data->shape());
  const size_t block = static_cast<size_t>(DimProduct(data->shape(), 2, data->shape().size())) *
                       DTypeSize(data->dtype());
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(out->data());
  const size_t elem = DTypeSize(data->dtype());
  for (int64_t t = 0; block > 0 && t < steps; ++t) {
    for (int64_t n = 0; n < batch; ++n) {
      const int64_t len = lens[static_cast<size_t>(n)];
      const int64_t from = t < len ? len - 1 - t : t;
      const int64_t b_off = n * strides[static_cast<size_t>(batch_axis)];
      const int64_t t_stride = strides[static_cast<size_t>(time_axis)];
      std::memcpy(dst + static_cast<size_t>(b_off + t * t_stride) * elem,
                  src + static_cast<size_t>(b_off + from * t_stride) * elem, block);
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterIndexingKernels(hal::KernelRegistry& registry) {
  RegisterIndexingOp(registry, "Range", 11, StatelessKernel(ComputeRange));
  RegisterIndexingOp(registry, "Split", 2, StatelessKernel(ComputeSplit));
  RegisterIndexingOp(registry, "Tile", 6, StatelessKernel(ComputeTile));
  RegisterIndexingOp(registry, "Trilu", 14, StatelessKernel(ComputeTrilu));
  RegisterIndexingOp(registry, "EyeLike", 9, StatelessKernel(ComputeEyeLike));
  RegisterIndexingOp(registry, "OneHot", 9, StatelessKernel(ComputeOneHot));
  RegisterIndexingOp(registry, "NonZero", 9, StatelessKernel(ComputeNonZero));
  RegisterIndexingOp(registry, "Compress", 9, StatelessKernel(ComputeCompress));
  RegisterIndexingOp(registry, "DepthToSpace", 1, StatelessKernel(ComputeDepthToSpace));
  RegisterIndexingOp(registry, "SpaceToDepth", 1, StatelessKernel(ComputeSpaceToDepth));
  RegisterIndexingOp(registry, "ReverseSequence", 10, StatelessKernel(ComputeReverseSequence));
  RegisterGatherScatterKernels(registry);
  RegisterPadUniqueKernels(registry);
}

}  // namespace unihal::cpu
