// The parsed attributes and one time step of the RNN / GRU / LSTM cells (recurrent_cell.cc),
// used by the recurrent kernels in recurrent.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

enum class CellKind { kRnn, kGru, kLstm };

// One of the activation functions the recurrent ops name in `activations`.
struct Activation {
  enum class Kind {
    kRelu,
    kTanh,
    kSigmoid,
    kAffine,
    kLeakyRelu,
    kThresholdedRelu,
    kScaledTanh,
    kHardSigmoid,
    kElu,
    kSoftsign,
    kSoftplus
  };
  Kind kind = Kind::kTanh;
  double alpha = 0.0;
  double beta = 0.0;
  double operator()(double x) const;
};

struct RecurrentSpec {
  CellKind cell = CellKind::kRnn;
  int64_t gates = 1;   // weight blocks per direction: 1, 3 or 4
  int64_t hidden = 0;  // hidden_size, 0 when not given (taken from R)
  int64_t directions = 1;
  bool reverse_only = false;
  bool batch_major = false;  // layout = 1
  double clip = 0.0;         // 0: no clip
  bool linear_before_reset = false;
  bool input_forget = false;
  std::vector<Activation> activations;  // ActivationsPerDirection() per direction

  int64_t ActivationsPerDirection() const {
    return cell == CellKind::kRnn ? 1 : cell == CellKind::kGru ? 2 : 3;
  }
};

// Reads the attributes; unknown activations or directions are errors naming the node.
Result<RecurrentSpec> ParseRecurrentSpec(const ir::Node& node, CellKind cell);

// One direction's weights, float64: w [gates*hidden, input], r [gates*hidden, hidden], the two
// bias halves [gates*hidden] and the peepholes [3*hidden] (LSTM, may be null).
struct CellWeights {
  const double* w = nullptr;
  const double* r = nullptr;
  const double* wb = nullptr;
  const double* rb = nullptr;
  const double* p = nullptr;
  int64_t input = 0;
  int64_t hidden = 0;
};

// Advances hidden state h (and cell state c for LSTM) by one input row x.
void StepCell(const RecurrentSpec& spec, const Activation* activations, const CellWeights& weights,
              const double* x, double* h, double* c);

// The elements of a float tensor as doubles.
std::vector<double> FloatsOf(const Tensor& tensor);

}  // namespace unihal::cpu
