#include "drivers/cpu/kernels/fft.h"

#include <cmath>
#include <cstddef>
#include <numbers>
#include <utility>

namespace unihal::cpu {
namespace {

// Plain (re, im) pairs so every operation and its order is explicit: the butterflies below are
// written so a float32 transform rounds the way common FFT libraries do.
template <typename R>
struct Cx {
  R r, i;
};
template <typename R>
Cx<R> operator+(Cx<R> a, Cx<R> b) {
  return {a.r + b.r, a.i + b.i};
}
template <typename R>
Cx<R> operator-(Cx<R> a, Cx<R> b) {
  return {a.r - b.r, a.i - b.i};
}

// a * w for the inverse transform, a * conj(w) for the forward one (w = e^(+2 pi i x / N)).
template <typename R>
Cx<R> Twiddle(Cx<R> a, Cx<R> w, bool inverse) {
  if (inverse) return {a.r * w.r - a.i * w.i, a.r * w.i + a.i * w.r};
  return {a.r * w.r + a.i * w.i, a.i * w.r - a.r * w.i};
}

// Factors of n: 4s, then one 2 moved to the front, then odd factors ascending.
std::vector<size_t> Factorize(size_t n) {
  std::vector<size_t> factors;
  while (n % 4 == 0) {
    factors.push_back(4);
    n /= 4;
  }
  if (n % 2 == 0) {
    n /= 2;
    factors.push_back(2);
    std::swap(factors.front(), factors.back());
  }
  for (size_t d = 3; d * d <= n; d += 2) {
    while (n % d == 0) {
      factors.push_back(d);
      n /= d;
    }
  }
  if (n > 1) factors.push_back(n);
  return factors;
}

template <typename R>
void Butterfly3(Cx<R>* a, bool inverse) {
  const R tw1r = R(-0.5);
  const R tw1i = (inverse ? R(1) : R(-1)) * R(0.866025403784438646763723170752936183L);
  const Cx<R> t0 = a[0], t1 = a[1] + a[2], t2 = a[1] - a[2];
  a[0] = {t0.r + t1.r, t0.i + t1.i};
  const Cx<R> ca{t0.r + tw1r * t1.r, t0.i + tw1r * t1.i};
  const Cx<R> cb{-(tw1i * t2.i), tw1i * t2.r};
  a[1] = ca + cb;
  a[2] = ca - cb;
}

template <typename R>
void Butterfly4(Cx<R>* a, bool inverse) {
  const Cx<R> t2 = a[0] + a[2], t1 = a[0] - a[2], t3 = a[1] + a[3];
  Cx<R> t4 = a[1] - a[3];
  t4 = inverse ? Cx<R>{-t4.i, t4.r} : Cx<R>{t4.i, -t4.r};  // times +-i
  a[0] = t2 + t3;
  a[2] = t2 - t3;
  a[1] = t1 + t4;
  a[3] = t1 - t4;
}

template <typename R>
void Butterfly5(Cx<R>* a, bool inverse) {
  const R sign = inverse ? R(1) : R(-1);
  const R tw1r = R(0.3090169943749474241022934171828191L);
  const R tw1i = sign * R(0.9510565162951535721164393333793821L);
  const R tw2r = R(-0.8090169943749474241022934171828191L);
  const R tw2i = sign * R(0.5877852522924731291687059546390728L);
  const Cx<R> t0 = a[0], t1 = a[1] + a[4], t4 = a[1] - a[4], t2 = a[2] + a[3], t3 = a[2] - a[3];
  a[0] = {t0.r + t1.r + t2.r, t0.i + t1.i + t2.i};
  // Outputs u and 5 - u share ca and differ in the sign of cb.
  auto pair = [&](size_t u1, size_t u2, R twar, R twbr, R twai, R twbi) {
    const Cx<R> ca{t0.r + twar * t1.r + twbr * t2.r, t0.i + twar * t1.i + twbr * t2.i};
    const Cx<R> cb{-(twai * t4.i + twbi * t3.i), twai * t4.r + twbi * t3.r};
    a[u1] = ca + cb;
    a[u2] = ca - cb;
  };
  pair(1, 4, tw1r, tw2r, tw1i, tw2i);
  pair(2, 3, tw2r, tw1r, tw2i, -tw1i);
}

// A direct p-point DFT for the primes without a dedicated butterfly.
template <typename R>
void ButterflyDirect(Cx<R>* a, size_t p, bool inverse) {
  std::vector<Cx<R>> out(p);
  const double sign = inverse ? 1.0 : -1.0;
  for (size_t u = 0; u < p; ++u) {
    double re = 0, im = 0;
    for (size_t m = 0; m < p; ++m) {
      const double angle =
          sign * 2.0 * std::numbers::pi * static_cast<double>((u * m) % p) / static_cast<double>(p);
      re += static_cast<double>(a[m].r) * std::cos(angle) -
            static_cast<double>(a[m].i) * std::sin(angle);
      im += static_cast<double>(a[m].r) * std::sin(angle) +
            static_cast<double>(a[m].i) * std::cos(angle);
    }
    out[u] = {static_cast<R>(re), static_cast<R>(im)};
  }
  std::copy(out.begin(), out.end(), a);
}

template <typename R>
void Butterfly(Cx<R>* a, size_t p, bool inverse) {
  switch (p) {
    case 2: {
      const Cx<R> t = a[0];
      a[0] = t + a[1];
      a[1] = t - a[1];
      return;
    }
    case 3:
      return Butterfly3(a, inverse);
    case 4:
      return Butterfly4(a, inverse);
    case 5:
      return Butterfly5(a, inverse);
    default:
      return ButterflyDirect(a, p, inverse);
  }
}

// One pass: in is [l1][ip][ido], out is [ip][l1][ido]; out(u) of each butterfly is then turned
// by w^(u * l1 * i) (w the N-th root of unity).
template <typename R>
void Pass(size_t ip, size_t l1, size_t ido, bool inverse, const std::vector<Cx<R>>& roots,
          const Cx<R>* in, Cx<R>* out) {
  std::vector<Cx<R>> a(ip);
  const size_t n = roots.size();
  for (size_t k = 0; k < l1; ++k) {
    for (size_t i = 0; i < ido; ++i) {
      for (size_t m = 0; m < ip; ++m) a[m] = in[i + ido * (m + ip * k)];
      Butterfly(a.data(), ip, inverse);
      for (size_t u = 0; u < ip; ++u) {
        Cx<R>& dst = out[i + ido * (k + l1 * u)];
        dst = (u == 0 || i == 0) ? a[u] : Twiddle(a[u], roots[(u * l1 * i) % n], inverse);
      }
    }
  }
}

}  // namespace

template <typename R>
void Fft(std::vector<std::complex<R>>& data, bool inverse) {
  const size_t n = data.size();
  if (n <= 1) return;
  std::vector<Cx<R>> roots(n);  // e^(+2 pi i j / n), rounded once from double
  for (size_t j = 0; j < n; ++j) {
    const double angle = 2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(n);
    roots[j] = {static_cast<R>(std::cos(angle)), static_cast<R>(std::sin(angle))};
  }
  std::vector<Cx<R>> buffer(n), scratch(n);
  for (size_t j = 0; j < n; ++j) buffer[j] = {data[j].real(), data[j].imag()};
  size_t l1 = 1;
  for (size_t ip : Factorize(n)) {
    const size_t ido = n / (l1 * ip);
    Pass(ip, l1, ido, inverse, roots, buffer.data(), scratch.data());
    std::swap(buffer, scratch);
    l1 *= ip;
  }
  const R scale = inverse ? R(1) / static_cast<R>(n) : R(1);
  for (size_t j = 0; j < n; ++j) {
    data[j] = inverse ? std::complex<R>(buffer[j].r * scale, buffer[j].i * scale)
                      : std::complex<R>(buffer[j].r, buffer[j].i);
  }
}

template void Fft<float>(std::vector<std::complex<float>>&, bool);
template void Fft<double>(std::vector<std::complex<double>>&, bool);

}  // namespace unihal::cpu
