// A mixed-radix complex FFT (self-sorting passes of radix 4, 2, 3, 5 and a direct DFT for other
// primes) in float or double, for the DFT and STFT kernels. The float version rounds like
// NumPy's float32 transforms (same pass order and butterflies for radix 2, 3, 4 and 5).
#pragma once

#include <complex>
#include <vector>

namespace unihal::cpu {

// Transforms `data` in place: X[k] = sum_n x[n] e^(-2 pi i k n / N), or with +i and divided by
// N when `inverse`. Any length >= 1.
template <typename R>
void Fft(std::vector<std::complex<R>>& data, bool inverse);

extern template void Fft<float>(std::vector<std::complex<float>>&, bool);
extern template void Fft<double>(std::vector<std::complex<double>>&, bool);

}  // namespace unihal::cpu
