#include "cli/model_inputs.h"

#include <algorithm>
#include <iterator>

namespace unihal::cli {
namespace {

// `info` with its symbolic dims set from `dims` by name, or by `batch` for the first one.
ir::ValueInfo WithDimsSet(ir::ValueInfo info, const std::map<std::string, int64_t>& dims,
                          int batch) {
  if (!info.shape) return info;
  for (size_t i = 0; i < info.shape->size(); ++i) {
    ir::Dim& dim = (*info.shape)[i];
    if (dim.is_static()) continue;
    if (auto it = dims.find(dim.symbol); !dim.symbol.empty() && it != dims.end()) {
      dim = ir::Dim::Static(it->second);
    } else if (i == 0 && batch > 0) {
      dim = ir::Dim::Static(batch);
    }
  }
  return info;
}

Result<Value> LoadTensorFile(const std::string& file) {
  UH_ASSIGN_OR_RETURN(Tensor tensor, LoadInputFile(file));
  return Value(std::move(tensor));
}

// A sequence input's elements, one file each: "a.npy,b.npy".
Result<Value> LoadSequenceFiles(DType element_dtype, const std::string& files) {
  std::vector<Tensor> elements;
  for (size_t start = 0; start <= files.size();) {
    const size_t comma = std::min(files.find(',', start), files.size());
    UH_ASSIGN_OR_RETURN(Tensor element, LoadInputFile(files.substr(start, comma - start)));
    elements.push_back(std::move(element));
    start = comma + 1;
  }
  return Value::Sequence(element_dtype, std::move(elements));
}

// Random values for an input not given (`info`'s dims set as far as they can be).
Result<Value> RandomValue(const ir::ValueInfo& info, uint64_t seed, SymbolicDims symbolic) {
  if (IsOptionalType(info.kind) &&
      (!info.shape || (symbolic == SymbolicDims::kReject && !info.StaticShape()))) {
    return Value::None();
  }
  if (!IsSequenceType(info.kind)) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, RandomInput(info, seed, symbolic));
    return Value(std::move(tensor));
  }
  std::vector<Tensor> elements;
  for (int i = 0; i < kRandomSequenceLength; ++i) {
    UH_ASSIGN_OR_RETURN(Tensor element, RandomInput(info, seed + i, symbolic));
    elements.push_back(std::move(element));
  }
  return Value::Sequence(info.dtype, std::move(elements));
}

Status MissingInputsError(const Session& session, const std::vector<std::string>& missing) {
  return InvalidArgumentError(
      "missing input" + std::string(missing.size() > 1 ? "s " : " ") + QuotedNames(missing) +
      "; the model expects:\n" + DescribeInputs(session.inputs()) +
      "\npass each with --input NAME=FILE (.npy or .pb), or add --random-inputs");
}

}  // namespace

Result<ModelInputs> MakeModelInputs(const Session& session, const InputOptions& options) {
  UH_ASSIGN_OR_RETURN(auto files, ParseInputSpecs(options.specs));
  ModelInputs inputs;
  for (const auto* values : {&session.inputs(), &session.outputs()}) {
    for (const ir::ValueInfo& info : *values) inputs.tensors_only &= info.is_tensor();
  }
  for (const auto& [name, file] : files) {  // a name the model lacks: Session's run says so
    const auto declared =
        std::find_if(session.inputs().begin(), session.inputs().end(),
                     [&](const ir::ValueInfo& info) { return info.name == name; });
    const bool sequence = declared != session.inputs().end() && IsSequenceType(declared->kind);
    Result<Value> value =
        sequence ? LoadSequenceFiles(declared->dtype, file) : LoadTensorFile(file);
    if (!value.ok()) return value.status().WithContext("input '" + name + "'");
    inputs.values.emplace(name, *std::move(value));
  }
  for (const ir::ValueInfo& info : session.inputs()) {
    if (!files.contains(info.name)) inputs.random.push_back(info.name);
  }
  if (!inputs.random.empty() && !options.random_missing) {
    return MissingInputsError(session, inputs.random);
  }
  for (const ir::ValueInfo& info : session.inputs()) {
    if (files.contains(info.name)) continue;
    UH_ASSIGN_OR_RETURN(Value value, RandomValue(WithDimsSet(info, options.dims, options.batch),
                                                 options.seed, options.symbolic));
    inputs.values.emplace(info.name, std::move(value));
  }
  if (inputs.tensors_only) {
    for (const auto& [name, value] : inputs.values) inputs.tensors.emplace(name, value.tensor());
  }
  return inputs;
}

Result<std::vector<Value>> RunOnce(const Session& session, const ModelInputs& inputs) {
  if (!inputs.tensors_only) return session.RunValues(inputs.values);
  UH_ASSIGN_OR_RETURN(std::vector<Tensor> tensors, session.Run(inputs.tensors));
  return std::vector<Value>(std::make_move_iterator(tensors.begin()),
                            std::make_move_iterator(tensors.end()));
}

Status RunDroppingOutputs(const Session& session, const ModelInputs& inputs) {
  return inputs.tensors_only ? session.Run(inputs.tensors).status()
                             : session.RunValues(inputs.values).status();
}

std::string QuotedNames(const std::vector<std::string>& names) {
  std::string quoted;
  for (const std::string& name : names) quoted += (quoted.empty() ? "'" : ", '") + name + "'";
  return quoted;
}

}  // namespace unihal::cli
