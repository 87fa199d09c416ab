// Random numbers for the random and training ops. With a seed the streams are NumPy's legacy
// RandomState(seed) streams (MT19937 seeded by init_genrand, 53-bit uniform doubles, polar
// Box-Muller normals), so seeded results match the ONNX reference implementation; without one
// the generator is seeded from std::random_device.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <random>

namespace unihal::cpu {

class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::optional<uint32_t> seed)
      : engine_(seed ? *seed : std::random_device{}()) {}

  // Uniform in [0, 1): NumPy's random_sample (genrand_res53).
  double Uniform() {
    const uint64_t a = engine_() >> 5;
    const uint64_t b = engine_() >> 6;
    return (static_cast<double>(a) * 67108864.0 + static_cast<double>(b)) / 9007199254740992.0;
  }

  // Standard normal: NumPy's legacy gauss (polar method; the second value is cached).
  double Normal() {
    if (has_cached_normal_) {
      has_cached_normal_ = false;
      return cached_normal_;
    }
    double x1 = 0;
    double x2 = 0;
    double r2 = 0;
    do {
      x1 = 2.0 * Uniform() - 1.0;
      x2 = 2.0 * Uniform() - 1.0;
      r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = std::sqrt(-2.0 * std::log(r2) / r2);
    cached_normal_ = f * x1;
    has_cached_normal_ = true;
    return f * x2;
  }

 private:
  std::mt19937 engine_;
  bool has_cached_normal_ = false;
  double cached_normal_ = 0;
};

}  // namespace unihal::cpu
