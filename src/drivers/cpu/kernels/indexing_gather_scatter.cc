// Reference gather/scatter kernels: GatherElements GatherND ScatterElements Scatter (the
// deprecated opset 9-10 form of ScatterElements) ScatterND TensorScatter. Every index is checked
// before any element moves: out-of-range indices are InvalidArgument errors naming the node.
#include <algorithm>
#include <cstring>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/indexing_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

// The `reduction` attribute (opset 16 on; "none" before).
Result<Reduction> ParseReduction(const ir::Node& node) {
  if (node.opset < 16) return Reduction::kNone;
  UH_ASSIGN_OR_RETURN(const std::string name, node.GetString("reduction", "none"));
  if (name == "none") return Reduction::kNone;
  if (name == "add") return Reduction::kAdd;
  if (name == "mul") return Reduction::kMul;
  if (name == "max") return Reduction::kMax;
  if (name == "min") return Reduction::kMin;
  return InvalidArgumentError(node.Describe() + ": reduction '" + name +
                              "' is not one of none, add, mul, max, min");
}

template <typename T>
void Combine(T& dst, T update, Reduction reduction) {
  if (reduction == Reduction::kNone) {
    dst = update;
    return;
  }
  const ComputeType<T> a = ToCompute(dst);
  const ComputeType<T> b = ToCompute(update);
  switch (reduction) {
    case Reduction::kAdd:
      dst = FromCompute<T>(a + b);
      break;
    case Reduction::kMul:
      dst = FromCompute<T>(a * b);
      break;
    case Reduction::kMax:
      dst = FromCompute<T>(b > a ? b : a);
      break;
    default:
      dst = FromCompute<T>(b < a ? b : a);
      break;
  }
}

// Calls fn(T{}) for the data dtype; bool only without a reduction.
template <typename Fn>
Status VisitScatterDType(const ir::Node& node, DType dtype, Reduction reduction, Fn&& fn) {
  if (dtype == DType::kBool && reduction != Reduction::kNone) {
    return UnimplementedError(node.Describe() + ": " + node.op_type + " opset " +
                              std::to_string(node.opset) +
                              " with a reduction does not take bool data");
  }
  VisitDType(dtype, fn);
  return Status::Ok();
}

Status CopyInputToOutput(KernelContext& context, const Tensor& data, Tensor** out) {
  UH_ASSIGN_OR_RETURN(*out, context.AllocateOutput(0, data.dtype(), data.shape()));
  if (data.nbytes()) std::memcpy((*out)->data(), data.data(), data.nbytes());
  return Status::Ok();
}

// ---- GatherElements / ScatterElements ----

// For element-wise gather/scatter: the data offset of every indices element, validated.
Result<std::vector<int64_t>> ElementOffsets(const ir::Node& node, const Tensor& data,
                                            const Tensor& indices, int64_t axis) {
  if (indices.rank() != data.rank()) {
    return InvalidArgumentError(node.Describe() + ": indices " + indices.Describe() +
                                " must have the rank of data " + data.Describe());
  }
  for (int64_t d = 0; d < data.rank(); ++d) {
    if (d != axis && indices.dim(d) > data.dim(d)) {
      return InvalidArgumentError(node.Describe() + ": indices " + indices.Describe() +
                                  " is larger than data " + data.Describe() + " in dim " +
                                  std::to_string(d));
    }
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> index, IndexValues(node, indices, "indices"));
  const std::vector<int64_t> strides = StridesOf(data.shape());
  const size_t a = static_cast<size_t>(axis);
  std::vector<int64_t> offsets(index.size());
  IndexOdometer at(indices.shape());
  for (size_t i = 0; i < index.size(); ++i, at.Next()) {
    UH_ASSIGN_OR_RETURN(const int64_t k, ResolveIndex(node, index[i], data.dim(axis), "indices"));
    int64_t offset = k * strides[a];
    for (size_t d = 0; d < strides.size(); ++d) {
      if (d != a) offset += at.index()[d] * strides[d];
    }
    offsets[i] = offset;
  }
  return offsets;
}

Status ComputeGatherElements(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> offsets,
                      ElementOffsets(node, *data, *indices, axis));
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), indices->shape()));
  VisitElementSize(DTypeSize(data->dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* x = static_cast<const U*>(data->data());
    U* y = static_cast<U*>(out->data());
    for (size_t i = 0; i < offsets.size(); ++i) y[i] = x[offsets[i]];
  });
  return Status::Ok();
}

Status ComputeScatterElements(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* updates, NeedInput(context, 2));
  UH_ASSIGN_OR_RETURN(const Reduction reduction, ParseReduction(node));
  if (updates->shape() != indices->shape() || updates->dtype() != data->dtype()) {
    return InvalidArgumentError(node.Describe() + ": updates " + updates->Describe() +
                                " must have the shape of indices " + indices->Describe() +
                                " and the dtype of data " + data->Describe());
  }
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", 0));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, data->rank()));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> offsets,
                      ElementOffsets(node, *data, *indices, axis));
  Tensor* out = nullptr;
  UH_RETURN_IF_ERROR(CopyInputToOutput(context, *data, &out));
  return VisitScatterDType(node, data->dtype(), reduction, [&](auto tag) {
    using T = decltype(tag);
    const T* u = updates->data_as<T>();
    T* y = out->data_as<T>();
    for (size_t i = 0; i < offsets.size(); ++i) Combine(y[offsets[i]], u[i], reduction);
  });
}

// ---- GatherND / ScatterND ----

// Offsets (in elements, within one batch of `data_shape` from dim `first`) of the index tuples
// in `index`, `tuples` rows of k values (k may be 0: each tuple selects everything).
Result<std::vector<int64_t>> TupleOffsets(const ir::Node& node, const Shape& data_shape,
                                          size_t first, const std::vector<int64_t>& index, size_t k,
                                          int64_t tuple_count) {
  const std::vector<int64_t> strides = StridesOf(data_shape);
  const size_t tuples = static_cast<size_t>(tuple_count);
  std::vector<int64_t> offsets(tuples, 0);
  for (size_t t = 0; t < tuples; ++t) {
    for (size_t j = 0; j < k; ++j) {
      UH_ASSIGN_OR_RETURN(const int64_t v,
                          ResolveIndex(node, index[t * k + j], data_shape[first + j], "indices"));
      offsets[t] += v * strides[first + j];
    }
  }
  return offsets;
}

Status ComputeGatherND(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const int64_t batch_dims, node.GetInt("batch_dims", 0));
  const Shape& ds = data->shape();
  const Shape& is = indices->shape();
  const int64_t k = is.empty() ? -1 : is.back();
  bool valid = !is.empty() && batch_dims >= 0 && batch_dims < indices->rank() && k >= 0 &&
               batch_dims + k <= data->rank();
  for (int64_t d = 0; valid && d < batch_dims; ++d) valid = is[d] == ds[d];
  if (!valid) {
    return InvalidArgumentError(node.Describe() + ": indices " + indices->Describe() +
                                " do not fit data " + data->Describe() + " with batch_dims " +
                                std::to_string(batch_dims));
  }
  const size_t b = static_cast<size_t>(batch_dims);
  const size_t kk = static_cast<size_t>(k);
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> index, IndexValues(node, *indices, "indices"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> offsets,
                      TupleOffsets(node, ds, b, index, kk, DimProduct(is, 0, is.size() - 1)));
  Shape out_shape(is.begin(), is.end() - 1);
  out_shape.insert(out_shape.end(), ds.begin() + static_cast<int64_t>(b + kk), ds.end());
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, data->dtype(), out_shape));
  const size_t elem = DTypeSize(data->dtype());
  const size_t slice = static_cast<size_t>(DimProduct(ds, b + kk, ds.size())) * elem;
  const int64_t batches = DimProduct(ds, 0, b);
  const size_t batch_bytes = static_cast<size_t>(DimProduct(ds, b, ds.size())) * elem;
  const size_t per_batch = offsets.size() / static_cast<size_t>(std::max<int64_t>(batches, 1));
  const auto* src = static_cast<const std::byte*>(data->data());
  auto* dst = static_cast<std::byte*>(out->data());
  for (size_t t = 0; slice > 0 && t < offsets.size(); ++t) {
    const size_t batch = per_batch ? t / per_batch : 0;
    std::memcpy(dst + t * slice, src + batch * batch_bytes + static_cast<size_t>(offsets[t]) * elem,
                slice);
  }
  return Status::Ok();
}

Status ComputeScatterND(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* data, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* updates, NeedInput(context, 2));
  UH_ASSIGN_OR_RETURN(const Reduction reduction, ParseReduction(node));
  const Shape& ds = data->shape();
  const Shape& is = indices->shape();
  const int64_t k = is.empty() ? -1 : is.back();
  Shape expected(is.begin(), is.end() - (is.empty() ? 0 : 1));
  if (k >= 0 && k <= data->rank()) expected.insert(expected.end(), ds.begin() + k, ds.end());
  if (k < 0 || k > data->rank() || updates->shape() != expected ||
      updates->dtype() != data->dtype()) {
    return InvalidArgumentError(node.Describe() + ": indices " + indices->Describe() +
                                " and updates " + updates->Describe() + " do not fit data " +
                                data->Describe() + " (updates must be " + ShapeToString(expected) +
                                ")");
  }
  const size_t kk = static_cast<size_t>(k);
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> index, IndexValues(node, *indices, "indices"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> offsets,
                      TupleOffsets(node, ds, 0, index, kk, DimProduct(is, 0, is.size() - 1)));
  Tensor* out = nullptr;
  UH_RETURN_IF_ERROR(CopyInputToOutput(context, *data, &out));
  const int64_t slice = DimProduct(ds, kk, ds.size());
  return VisitScatterDType(node, data->dtype(), reduction, [&](auto tag) {
    using T = decltype(tag);
    const T* u = updates->data_as<T>();
    T* y = out->data_as<T>();
    for (size_t t = 0; t < offsets.size(); ++t) {
      for (int64_t e = 0; e < slice; ++e) {
        Combine(y[offsets[t] + e], u[static_cast<int64_t>(t) * slice + e], reduction);
      }
    }
  });
}

// ---- TensorScatter (opset 24): KV-cache update along `axis` ----

Status ComputeTensorScatter(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* past, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* update, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const std::string mode, node.GetString("mode", "linear"));
  if (mode != "linear" && mode != "circular") {
    return InvalidArgumentError(node.Describe() + ": mode '" + mode +
                                "' is not linear or circular");
  }
  UH_ASSIGN_OR_RETURN(const int64_t axis_attr, node.GetInt("axis", -2));
  UH_ASSIGN_OR_RETURN(const int64_t axis, NormalizeAxis(node, axis_attr, past->rank()));
  bool fits = axis >= 1 && update->rank() == past->rank() && update->dtype() == past->dtype();
  for (int64_t d = 0; fits && d < past->rank(); ++d) {
    fits = d == axis ? update->dim(d) <= past->dim(d) : update->dim(d) == past->dim(d);
  }
  if (!fits) {
    return InvalidArgumentError(node.Describe() + ": update " + update->Describe() +
                                " does not fit past_cache " + past->Describe() + " along axis " +
                                std::to_string(axis) + " (axis must not be 0)");
  }
  const int64_t batch = past->dim(0);
  std::vector<int64_t> write(static_cast<size_t>(batch), 0);
  if (const Tensor* w = context.input(2)) {
    UH_ASSIGN_OR_RETURN(write, IndexValues(node, *w, "write_indices"));
    if (static_cast<int64_t>(write.size()) != batch) {
      return InvalidArgumentError(node.Describe() + ": write_indices has " +
                                  std::to_string(write.size()) + " entries for a batch of " +
                                  std::to_string(batch));
    }
  }
  const int64_t max_len = past->dim(axis);
  const int64_t len = update->dim(axis);
  const bool circular = mode == "circular";
  for (int64_t w : write) {
    if (w < 0 || (!circular && w + len > max_len)) {
      return InvalidArgumentError(node.Describe() + ": write index " + std::to_string(w) +
                                  " plus " + std::to_string(len) + " updates does not fit " +
                                  std::to_string(max_len) + " cache slots");
    }
  }
  Tensor* out = nullptr;
  UH_RETURN_IF_ERROR(CopyInputToOutput(context, *past, &out));
  const size_t a = static_cast<size_t>(axis);
  const size_t row = static_cast<size_t>(DimProduct(past->shape(), a + 1, past->shape().size())) *
                     DTypeSize(past->dtype());
  const int64_t prefixes = DimProduct(past->shape(), 0, a);
  const int64_t per_batch = DimProduct(past->shape(), 1, a);
  const auto* src = static_cast<const std::byte*>(update->data());
  auto* dst = static_cast<std::byte*>(out->data());
  for (int64_t p = 0; row > 0 && p < prefixes; ++p) {
    const int64_t start = write[static_cast<size_t>(p / per_batch)];
    for (int64_t s = 0; s < len; ++s) {
      const int64_t slot = circular ? (start + s) % max_len : start + s;
      std::memcpy(dst + static_cast<size_t>(p * max_len + slot) * row,
                  src + static_cast<size_t>(p * len + s) * row, row);
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterGatherScatterKernels(hal::KernelRegistry& registry) {
  RegisterIndexingOp(registry, "GatherElements", 11, StatelessKernel(ComputeGatherElements));
  RegisterIndexingOp(registry, "ScatterElements", 11, StatelessKernel(ComputeScatterElements));
  // Scatter (opsets 9-10) is ScatterElements without reductions.
  registry.Register(ReferenceKernelDef("Scatter", 9, 10, StatelessKernel(ComputeScatterElements)));
  RegisterIndexingOp(registry, "GatherND", 11, StatelessKernel(ComputeGatherND));
  RegisterIndexingOp(registry, "ScatterND", 11, StatelessKernel(ComputeScatterND));
  RegisterIndexingOp(registry, "TensorScatter", 24, StatelessKernel(ComputeTensorScatter));
}

}  // namespace unihal::cpu
