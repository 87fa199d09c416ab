// The inputs `unihal run` and `unihal bench` feed a model: --input files, then deterministic
// random values, for tensors, sequences and optionals; and one run with them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "unihal/session.h"
#include "unihal/status.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::cli {

// A model whose inputs and outputs are all tensors runs through Session::Run, the path users'
// runs take; one with sequences or optionals through Session::RunValues.
struct ModelInputs {
  std::map<std::string, Value> values;
  bool tensors_only = true;
  std::map<std::string, Tensor> tensors;  // the same inputs, when tensors_only
  std::vector<std::string> random;        // the inputs no --input gave: made-up values
};

struct InputOptions {
  std::vector<std::string> specs;       // --input NAME=FILE; a sequence: NAME=FILE,FILE,...
  std::map<std::string, int64_t> dims;  // symbolic dim name -> size, for random values
  int batch = 0;                        // size of a symbolic first dim not in dims; 0: unset
  uint64_t seed = 0;
  bool random_missing = true;                     // false: an input not given is an error naming it
  SymbolicDims symbolic = SymbolicDims::kReject;  // a symbolic dim left after dims and batch
};

// The --input files, then random values for every other input: a tensor; a sequence of
// kRandomSequenceLength tensors; an optional holds its element, or none when its shape is not
// known.
inline constexpr int kRandomSequenceLength = 2;
Result<ModelInputs> MakeModelInputs(const Session& session, const InputOptions& options);

// One run, through Session::Run or Session::RunValues (see ModelInputs).
Result<std::vector<Value>> RunOnce(const Session& session, const ModelInputs& inputs);
// The same run with its outputs dropped, as a timing loop wants it (no copy into Values).
Status RunDroppingOutputs(const Session& session, const ModelInputs& inputs);

// "'a', 'b'": names as error messages list them.
std::string QuotedNames(const std::vector<std::string>& names);

}  // namespace unihal::cli
