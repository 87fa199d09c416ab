// Attribute parsing and the per-step equations of the ONNX RNN, GRU and LSTM cells.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/recurrent_util.h"

namespace unihal::cpu {
namespace {

std::string Lowercase(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

struct ActivationInfo {
  const char* name;
  Activation::Kind kind;
  bool uses_alpha;
  bool uses_beta;
  double default_alpha;
  double default_beta;
};

constexpr ActivationInfo kActivations[] = {
    {"relu", Activation::Kind::kRelu, false, false, 0, 0},
    {"tanh", Activation::Kind::kTanh, false, false, 0, 0},
    {"sigmoid", Activation::Kind::kSigmoid, false, false, 0, 0},
    {"affine", Activation::Kind::kAffine, true, true, 1.0, 0.0},
    {"leakyrelu", Activation::Kind::kLeakyRelu, true, false, 0.01, 0},
    {"thresholdedrelu", Activation::Kind::kThresholdedRelu, true, false, 1.0, 0},
    {"scaledtanh", Activation::Kind::kScaledTanh, true, true, 1.0, 1.0},
    {"hardsigmoid", Activation::Kind::kHardSigmoid, true, true, 0.2, 0.5},
    {"elu", Activation::Kind::kElu, true, false, 1.0, 0},
    {"softsign", Activation::Kind::kSoftsign, false, false, 0, 0},
    {"softplus", Activation::Kind::kSoftplus, false, false, 0, 0},
};

// Builds the activations from their names; alphas and betas are consumed in order by the
// activations that take them (as ONNX Runtime does), defaults when the lists run out.
Result<std::vector<Activation>> ParseActivations(const ir::Node& node,
                                                 const std::vector<std::string>& names) {
  UH_ASSIGN_OR_RETURN(const std::vector<float> alphas,
                      node.GetFloats("activation_alpha", std::vector<float>{}));
  UH_ASSIGN_OR_RETURN(const std::vector<float> betas,
                      node.GetFloats("activation_beta", std::vector<float>{}));
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> out;
  for (const std::string& name : names) {
    const std::string key = Lowercase(name);
    const auto* info = std::find_if(std::begin(kActivations), std::end(kActivations),
                                    [&](const ActivationInfo& a) { return key == a.name; });
    if (info == std::end(kActivations)) {
      return UnimplementedError(node.Describe() + " opset " + std::to_string(node.opset) +
                                ": activation '" + name + "' is not supported");
    }
    Activation a;
    a.kind = info->kind;
    a.alpha = info->default_alpha;
    a.beta = info->default_beta;
    if (info->uses_alpha && next_alpha < alphas.size()) a.alpha = alphas[next_alpha++];
    if (info->uses_beta && next_beta < betas.size()) a.beta = betas[next_beta++];
    out.push_back(a);
  }
  return out;
}

Result<std::vector<std::string>> ActivationNames(const ir::Node& node, const RecurrentSpec& spec) {
  std::vector<std::string> defaults;
  if (spec.cell == CellKind::kRnn) defaults = {"Tanh"};
  if (spec.cell == CellKind::kGru) defaults = {"Sigmoid", "Tanh"};
  if (spec.cell == CellKind::kLstm) defaults = {"Sigmoid", "Tanh", "Tanh"};
  std::vector<std::string> names;
  if (node.HasAttribute("activations")) {
    const auto* given = node.attributes.at("activations").get<std::vector<std::string>>();
    if (!given) {
      return InvalidArgumentError(node.Describe() + ": activations must be a list of strings");
    }
    names = *given;
  } else {
    names = defaults;
  }
  const size_t per_direction = static_cast<size_t>(spec.ActivationsPerDirection());
  const size_t wanted = per_direction * static_cast<size_t>(spec.directions);
  // One set given for a bidirectional node is used for both directions.
  if (names.size() == per_direction && wanted == 2 * per_direction) {
    const std::vector<std::string> forward = names;
    names.insert(names.end(), forward.begin(), forward.end());
  }
  if (names.size() != wanted) {
    return InvalidArgumentError(node.Describe() + ": expected " + std::to_string(wanted) +
                                " activations, got " + std::to_string(names.size()));
  }
  return names;
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// y[i] += M[i, :] . v for M of shape [rows, cols].
void AddProduct(const double* m, int64_t rows, int64_t cols, const double* v, double* y) {
  for (int64_t i = 0; i < rows; ++i) {
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += m[i * cols + j] * v[j];
    y[i] += sum;
  }
}

// Gate pre-activations W x + R h + Wb + Rb for all gates (R h left out when `with_r` is false).
std::vector<double> GateInputs(const CellWeights& w, int64_t gates, const double* x,
                               const double* h, bool with_r) {
  const int64_t rows = gates * w.hidden;
  std::vector<double> g(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) g[i] = w.wb[i] + (with_r ? w.rb[i] : 0.0);
  AddProduct(w.w, rows, w.input, x, g.data());
  if (with_r) AddProduct(w.r, rows, w.hidden, h, g.data());
  return g;
}

double Clip(const RecurrentSpec& spec, double x) {
  return spec.clip > 0.0 ? std::clamp(x, -spec.clip, spec.clip) : x;
}

void StepRnn(const RecurrentSpec& spec, const Activation* f, const CellWeights& w, const double* x,
             double* h) {
  const std::vector<double> g = GateInputs(w, 1, x, h, true);
  for (int64_t j = 0; j < w.hidden; ++j) h[j] = f[0](Clip(spec, g[j]));
}

// Gates z, r, h. The candidate uses R_h (r . h) + Rb_h, or r . (R_h h + Rb_h) with
// linear_before_reset.
void StepGru(const RecurrentSpec& spec, const Activation* f, const CellWeights& w, const double* x,
             double* h) {
  const int64_t n = w.hidden;
  std::vector<double> xw = GateInputs(w, 3, x, h, false);  // W x + Wb
  std::vector<double> rh(static_cast<size_t>(3 * n), 0.0);
  AddProduct(w.r, 2 * n, n, h, rh.data());  // z and r rows
  std::vector<double> z(static_cast<size_t>(n)), r(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    z[j] = f[0](Clip(spec, xw[j] + rh[j] + w.rb[j]));
    r[j] = f[0](Clip(spec, xw[n + j] + rh[n + j] + w.rb[n + j]));
  }
  std::vector<double> candidate(static_cast<size_t>(n), 0.0);
  if (spec.linear_before_reset) {
    AddProduct(w.r + 2 * n * n, n, n, h, candidate.data());
    for (int64_t j = 0; j < n; ++j) candidate[j] = r[j] * (candidate[j] + w.rb[2 * n + j]);
  } else {
    std::vector<double> reset_h(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) reset_h[j] = r[j] * h[j];
    AddProduct(w.r + 2 * n * n, n, n, reset_h.data(), candidate.data());
    for (int64_t j = 0; j < n; ++j) candidate[j] += w.rb[2 * n + j];
  }
  for (int64_t j = 0; j < n; ++j) {
    const double hh = f[1](Clip(spec, xw[2 * n + j] + candidate[j]));
    h[j] = (1.0 - z[j]) * hh + z[j] * h[j];
  }
}

// Gates i, o, f, c; peepholes P = [Pi, Po, Pf].
void StepLstm(const RecurrentSpec& spec, const Activation* f, const CellWeights& w, const double* x,
              double* h, double* c) {
  const int64_t n = w.hidden;
  const std::vector<double> g = GateInputs(w, 4, x, h, true);
  for (int64_t j = 0; j < n; ++j) {
    const double pi = w.p ? w.p[j] : 0.0;
    const double po = w.p ? w.p[n + j] : 0.0;
    const double pf = w.p ? w.p[2 * n + j] : 0.0;
    const double i_gate = f[0](Clip(spec, g[j] + pi * c[j]));
    const double f_gate =
        spec.input_forget ? 1.0 - i_gate : f[0](Clip(spec, g[2 * n + j] + pf * c[j]));
    const double candidate = f[1](Clip(spec, g[3 * n + j]));
    c[j] = f_gate * c[j] + i_gate * candidate;
    const double o_gate = f[0](Clip(spec, g[n + j] + po * c[j]));
    h[j] = o_gate * f[2](c[j]);
  }
}

}  // namespace

double Activation::operator()(double x) const {
  switch (kind) {
    case Kind::kRelu:
      return std::max(x, 0.0);
    case Kind::kTanh:
      return std::tanh(x);
    case Kind::kSigmoid:
      return Sigmoid(x);
    case Kind::kAffine:
      return alpha * x + beta;
    case Kind::kLeakyRelu:
      return x >= 0 ? x : alpha * x;
    case Kind::kThresholdedRelu:
      return x > alpha ? x : 0.0;
    case Kind::kScaledTanh:
      return alpha * std::tanh(beta * x);
    case Kind::kHardSigmoid:
      return std::clamp(alpha * x + beta, 0.0, 1.0);
    case Kind::kElu:
      return x >= 0 ? x : alpha * (std::exp(x) - 1.0);
    case Kind::kSoftsign:
      return x / (1.0 + std::fabs(x));
    case Kind::kSoftplus:
      return std::log1p(std::exp(x));
  }
  return x;
}

Result<RecurrentSpec> ParseRecurrentSpec(const ir::Node& node, CellKind cell) {
  RecurrentSpec spec;
  spec.cell = cell;
  spec.gates = cell == CellKind::kRnn ? 1 : cell == CellKind::kGru ? 3 : 4;
  UH_ASSIGN_OR_RETURN(spec.hidden, node.GetInt("hidden_size", 0));
  UH_ASSIGN_OR_RETURN(const std::string direction, node.GetString("direction", "forward"));
  if (direction == "bidirectional") {
    spec.directions = 2;
  } else if (direction == "reverse") {
    spec.reverse_only = true;
  } else if (direction != "forward") {
    return InvalidArgumentError(node.Describe() + ": direction must be forward, reverse or " +
                                "bidirectional, got '" + direction + "'");
  }
  if (node.opset >= 14) {
    UH_ASSIGN_OR_RETURN(const int64_t layout, node.GetInt("layout", 0));
    if (layout != 0 && layout != 1) {
      return InvalidArgumentError(node.Describe() + ": layout must be 0 or 1, got " +
                                  std::to_string(layout));
    }
    spec.batch_major = layout == 1;
  }
  UH_ASSIGN_OR_RETURN(const float clip, node.GetFloat("clip", 0.0f));
  spec.clip = clip;
  if (cell == CellKind::kGru) {
    UH_ASSIGN_OR_RETURN(const int64_t lbr, node.GetInt("linear_before_reset", 0));
    spec.linear_before_reset = lbr != 0;
  }
  if (cell == CellKind::kLstm) {
    UH_ASSIGN_OR_RETURN(const int64_t input_forget, node.GetInt("input_forget", 0));
    spec.input_forget = input_forget != 0;
  }
  UH_ASSIGN_OR_RETURN(const std::vector<std::string> names, ActivationNames(node, spec));
  UH_ASSIGN_OR_RETURN(spec.activations, ParseActivations(node, names));
  return spec;
}

void StepCell(const RecurrentSpec& spec, const Activation* activations, const CellWeights& weights,
              const double* x, double* h, double* c) {
  switch (spec.cell) {
    case CellKind::kRnn:
      StepRnn(spec, activations, weights, x, h);
      break;
    case CellKind::kGru:
      StepGru(spec, activations, weights, x, h);
      break;
    case CellKind::kLstm:
      StepLstm(spec, activations, weights, x, h, c);
      break;
  }
}

std::vector<double> FloatsOf(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.num_elements()));
  VisitFloatDType(tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* data = tensor.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

}  // namespace unihal::cpu
