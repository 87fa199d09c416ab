// Reference signal kernels: DFT (opset 17: axis attribute; 20+: axis input) and STFT. Complex
// values are a trailing dim of 2 (real, imaginary); a trailing dim of 1 is a real signal. The
// transforms are mixed-radix FFTs. Precision follows NumPy, which produced ONNX's expected data:
// forward transforms run in float64 (float32 results are the rounded float64 ones), inverse
// transforms of float inputs run in float32 and carry float32 rounding (e.g. about 2e-7 where
// the exact value is 0, which a float64 inverse would not reproduce within the tolerance).
#include <algorithm>
#include <complex>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/fft.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {

void RegisterSpectralWindowKernels(hal::KernelRegistry& registry);

namespace {

using hal::KernelContext;
using Complex = std::complex<double>;

// The DFT of `line` (its full length), computed in float32 when `single` (inputs of float32 or
// a 16-bit float) and in float64 otherwise.
std::vector<Complex> Transform(const std::vector<Complex>& line, bool inverse, bool single) {
  if (!single) {
    std::vector<Complex> data = line;
    Fft(data, inverse);
    return data;
  }
  std::vector<std::complex<float>> data(line.size());
  for (size_t i = 0; i < line.size(); ++i) {
    data[i] = {static_cast<float>(line[i].real()), static_cast<float>(line[i].imag())};
  }
  Fft(data, inverse);
  std::vector<Complex> out(data.size());
  for (size_t i = 0; i < data.size(); ++i) out[i] = {data[i].real(), data[i].imag()};
  return out;
}

// A one-sided spectrum (first bins of a Hermitian one) extended to all `n` bins, with the
// imaginary parts NumPy's irfft ignores (DC, and Nyquist for even n) dropped.
std::vector<Complex> HermitianSpectrum(const std::vector<Complex>& one_sided, int64_t n) {
  std::vector<Complex> full(static_cast<size_t>(n));
  const int64_t given = static_cast<int64_t>(one_sided.size());
  for (int64_t k = 0; k <= n / 2; ++k) {
    full[static_cast<size_t>(k)] = k < given ? one_sided[static_cast<size_t>(k)] : Complex(0.0);
  }
  full[0] = Complex(full[0].real(), 0.0);
  if (n % 2 == 0)
    full[static_cast<size_t>(n / 2)] = Complex(full[static_cast<size_t>(n / 2)].real(), 0.0);
  for (int64_t k = n / 2 + 1; k < n; ++k)
    full[static_cast<size_t>(k)] = std::conj(full[static_cast<size_t>(n - k)]);
  return full;
}

// x viewed as [outer, length, inner, components].
struct SignalView {
  int64_t outer = 1, length = 1, inner = 1, components = 1;
};

std::vector<double> ElementsAsDoubles(const Tensor& t) {
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  VisitFloatDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* data = t.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

Result<std::optional<int64_t>> OptionalScalarInput(const KernelContext& context, size_t i,
                                                   const std::string& what) {
  UH_ASSIGN_OR_RETURN(const OptionalInts values, OptionalInt64Input(context, i));
  if (!values.given) return std::optional<int64_t>();
  if (values.values.size() != 1) {
    return InvalidArgumentError(context.node().Describe() + ": " + what +
                                " must be a scalar, got " + context.input(i)->Describe());
  }
  return std::optional<int64_t>(values.values[0]);
}

struct DftOptions {
  int64_t axis = 0;
  int64_t length = 0;  // dft_length
  bool inverse = false;
  bool onesided = false;
  bool single_precision = false;  // transform in float32 (inverse of a non-float64 input)
};

Result<DftOptions> ReadDftOptions(const KernelContext& context, const Tensor& x) {
  const ir::Node& node = context.node();
  DftOptions options;
  UH_ASSIGN_OR_RETURN(const int64_t inverse, node.GetInt("inverse", 0));
  UH_ASSIGN_OR_RETURN(const int64_t onesided, node.GetInt("onesided", 0));
  options.inverse = inverse != 0;
  options.onesided = onesided != 0;
  options.single_precision = options.inverse && x.dtype() != DType::kF64;
  int64_t axis = 1;
  if (node.opset >= 20) {
    UH_ASSIGN_OR_RETURN(const std::optional<int64_t> given,
                        OptionalScalarInput(context, 2, "axis"));
    axis = given.value_or(-2);
  } else {
    UH_ASSIGN_OR_RETURN(axis, node.GetInt("axis", 1));
  }
  UH_ASSIGN_OR_RETURN(options.axis, NormalizeAxis(node, axis, x.rank()));
  if (options.axis == x.rank() - 1) {
    return InvalidArgumentError(node.Describe() + ": axis " + std::to_string(axis) +
                                " is the complex dim of " + x.Describe());
  }
  UH_ASSIGN_OR_RETURN(const std::optional<int64_t> length,
                      OptionalScalarInput(context, 1, "dft_length"));
  const int64_t axis_dim = x.dim(options.axis);
  options.length =
      length.value_or(options.inverse && options.onesided ? 2 * (axis_dim - 1) : axis_dim);
  if (options.length < 1) {
    return InvalidArgumentError(node.Describe() + ": dft_length must be positive, got " +
                                std::to_string(options.length));
  }
  return options;
}

// Transforms one line of `view` (at outer o, inner i) into `out` at the same place.
void TransformLine(const std::vector<double>& x, const SignalView& in_view, const DftOptions& o,
                   int64_t outer, int64_t inner, const SignalView& out_view,
                   std::vector<double>& out) {
  const int64_t read = o.inverse && o.onesided ? std::min(in_view.length, o.length / 2 + 1)
                                               : std::min(in_view.length, o.length);
  std::vector<Complex> line(static_cast<size_t>(read));
  for (int64_t n = 0; n < read; ++n) {
    const double* v =
        x.data() + ((outer * in_view.length + n) * in_view.inner + inner) * in_view.components;
    line[static_cast<size_t>(n)] = Complex(v[0], in_view.components == 2 ? v[1] : 0.0);
  }
  if (o.inverse && o.onesided) {
    line = HermitianSpectrum(line, o.length);
  } else {
    line.resize(static_cast<size_t>(o.length), Complex(0.0));
  }
  const std::vector<Complex> result = Transform(line, o.inverse, o.single_precision);
  for (int64_t k = 0; k < out_view.length; ++k) {
    double* v =
        out.data() + ((outer * out_view.length + k) * out_view.inner + inner) * out_view.components;
    v[0] = result[static_cast<size_t>(k)].real();
    if (out_view.components == 2) v[1] = result[static_cast<size_t>(k)].imag();
  }
}

Status WriteFloats(KernelContext& context, size_t i, DType dtype, const Shape& shape,
                   const std::vector<double>& values) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(i, dtype, shape));
  VisitFloatDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = out->data_as<T>();
    for (size_t k = 0; k < values.size(); ++k) data[k] = FromDouble<T>(values[k]);
  });
  return Status::Ok();
}

Status CheckSignal(const ir::Node& node, const Tensor& x, int64_t min_rank) {
  UH_RETURN_IF_ERROR(CheckDType(node, x, "input", FloatDTypes()));
  if (x.rank() < min_rank || (x.dim(x.rank() - 1) != 1 && x.dim(x.rank() - 1) != 2)) {
    return InvalidArgumentError(node.Describe() +
                                ": signal must have rank >= " + std::to_string(min_rank) +
                                " and a last dim of 1 (real) or 2 (complex), got " + x.Describe());
  }
  return Status::Ok();
}

Status ComputeDft(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckSignal(node, *x, 2));
  UH_ASSIGN_OR_RETURN(const DftOptions options, ReadDftOptions(context, *x));
  SignalView in_view;
  for (int64_t d = 0; d < x->rank() - 1; ++d) {
    if (d < options.axis) in_view.outer *= x->dim(d);
    if (d > options.axis) in_view.inner *= x->dim(d);
  }
  in_view.length = x->dim(options.axis);
  in_view.components = x->dim(x->rank() - 1);
  SignalView out_view = in_view;
  out_view.components = options.inverse && options.onesided ? 1 : 2;
  out_view.length = !options.inverse && options.onesided ? options.length / 2 + 1 : options.length;
  Shape out_shape = x->shape();
  out_shape[static_cast<size_t>(options.axis)] = out_view.length;
  out_shape.back() = out_view.components;
  const std::vector<double> xs = ElementsAsDoubles(*x);
  std::vector<double> out(static_cast<size_t>(NumElements(out_shape)));
  // Lines are independent; each costs about length * dft_length complex products.
  const int64_t grain =
      std::max<int64_t>(1, 65536 / std::max<int64_t>(1, options.length * out_view.length));
  context.thread_pool().ParallelFor(in_view.outer * in_view.inner, grain,
                                    [&](int64_t begin, int64_t end) {
                                      for (int64_t line = begin; line < end; ++line) {
                                        TransformLine(xs, in_view, options, line / in_view.inner,
                                                      line % in_view.inner, out_view, out);
                                      }
                                    });
  return WriteFloats(context, 0, x->dtype(), out_shape, out);
}

// STFT: frames of the signal [batch, length, components] weighted by the window, each
// transformed with a DFT of frame_length; output [batch, frames, bins, 2].
Status ComputeStft(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckSignal(node, *x, 3));
  if (x->rank() != 3) {
    return InvalidArgumentError(node.Describe() + ": signal must be [batch, length, 1 or 2], got " +
                                x->Describe());
  }
  UH_ASSIGN_OR_RETURN(const std::optional<int64_t> step,
                      OptionalScalarInput(context, 1, "frame_step"));
  const Tensor* window = context.input(2);
  UH_ASSIGN_OR_RETURN(const std::optional<int64_t> frame_length,
                      OptionalScalarInput(context, 3, "frame_length"));
  UH_ASSIGN_OR_RETURN(const int64_t onesided, node.GetInt("onesided", 1));
  if (window) UH_RETURN_IF_ERROR(CheckDType(node, *window, "window", {x->dtype()}));
  if (window && window->rank() != 1) {
    return InvalidArgumentError(node.Describe() + ": window must be 1-D, got " +
                                window->Describe());
  }
  const int64_t batch = x->dim(0), length = x->dim(1), components = x->dim(2);
  const int64_t dft_size = frame_length.value_or(window ? window->dim(0) : length);
  const int64_t window_size = window ? window->dim(0) : dft_size;
  if (!step || *step < 1 || dft_size < 1 || window_size > length) {
    return InvalidArgumentError(node.Describe() + ": needs frame_step >= 1 and a frame of 1.." +
                                std::to_string(length) + " samples");
  }
  const int64_t frames = 1 + (length - window_size) / *step;
  const int64_t bins = onesided ? dft_size / 2 + 1 : dft_size;
  const std::vector<double> xs = ElementsAsDoubles(*x);
  const std::vector<double> weights =
      window ? ElementsAsDoubles(*window)
             : std::vector<double>(static_cast<size_t>(window_size), 1.0);
  std::vector<double> out(static_cast<size_t>(batch * frames * bins * 2));
  std::vector<Complex> frame(static_cast<size_t>(dft_size));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      std::fill(frame.begin(), frame.end(), Complex(0.0));
      for (int64_t n = 0; n < std::min(window_size, dft_size); ++n) {
        const double* v = xs.data() + (b * length + f * *step + n) * components;
        frame[static_cast<size_t>(n)] =
            weights[static_cast<size_t>(n)] * Complex(v[0], components == 2 ? v[1] : 0.0);
      }
      const std::vector<Complex> spectrum = Transform(frame, /*inverse=*/false, /*single=*/false);
      double* o = out.data() + (b * frames + f) * bins * 2;
      for (int64_t k = 0; k < bins; ++k) {
        o[2 * k] = spectrum[static_cast<size_t>(k)].real();
        o[2 * k + 1] = spectrum[static_cast<size_t>(k)].imag();
      }
    }
  }
  return WriteFloats(context, 0, x->dtype(), {batch, frames, bins, 2}, out);
}

}  // namespace

void RegisterSignalKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("DFT", 17, INT_MAX, StatelessKernel(ComputeDft),
                                       AcceptInputDTypes({0}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("STFT", 17, INT_MAX, StatelessKernel(ComputeStft),
                                       AcceptInputDTypes({0}, FloatDTypes())));
  RegisterSpectralWindowKernels(registry);
}

}  // namespace unihal::cpu
