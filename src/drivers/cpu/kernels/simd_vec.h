// Vector operations for the cpu kernels written once per vector width (conv_blocked_simd.inc,
// conv_winograd_simd.inc): a namespace per instruction set with its vector type Vec, its lanes
// (kLanes floats, the channel block it serves: 8 for nChw8c, 16 for nChw16c) and the operations,
// each compiled for that instruction set only. A kernel file includes its .inc once inside a
// namespace per instruction set that uses one of these and defines SIMD_TARGET (the attribute of
// the .inc's functions), and calls the AVX-512 ones only where the CPU has AVX-512F.
#pragma once

#include <immintrin.h>

#define UH_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define UH_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace unihal::cpu::simd_avx2 {

#define UH_OP __attribute__((target("avx2,fma"), always_inline)) inline
using Vec = __m256;
constexpr int kLanes = 8;
UH_OP Vec Load(const float* p) { return _mm256_loadu_ps(p); }
UH_OP void Store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
UH_OP Vec Broadcast(const float* p) { return _mm256_broadcast_ss(p); }
UH_OP Vec Set1(float x) { return _mm256_set1_ps(x); }
UH_OP Vec Zero() { return _mm256_setzero_ps(); }
UH_OP Vec Add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
UH_OP Vec Sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
UH_OP Vec Mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
UH_OP Vec Max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
UH_OP Vec Fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
UH_OP Vec Fmsub(Vec a, Vec b, Vec c) { return _mm256_fmsub_ps(a, b, c); }
UH_OP Vec Fnmadd(Vec a, Vec b, Vec c) { return _mm256_fnmadd_ps(a, b, c); }
#undef UH_OP

}  // namespace unihal::cpu::simd_avx2

namespace unihal::cpu::simd_avx512 {

#define UH_OP __attribute__((target("avx512f,avx2,fma"), always_inline)) inline
using Vec = __m512;
constexpr int kLanes = 16;
UH_OP Vec Load(const float* p) { return _mm512_loadu_ps(p); }
UH_OP void Store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
UH_OP Vec Broadcast(const float* p) { return _mm512_set1_ps(*p); }
UH_OP Vec Set1(float x) { return _mm512_set1_ps(x); }
UH_OP Vec Zero() { return _mm512_setzero_ps(); }
UH_OP Vec Add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
UH_OP Vec Sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
UH_OP Vec Mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
// The zero-masked form: GCC 12 warns of _mm512_max_ps's undefined pass-through operand.
UH_OP Vec Max(Vec a, Vec b) { return _mm512_maskz_max_ps(static_cast<__mmask16>(-1), a, b); }
UH_OP Vec Fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
UH_OP Vec Fmsub(Vec a, Vec b, Vec c) { return _mm512_fmsub_ps(a, b, c); }
UH_OP Vec Fnmadd(Vec a, Vec b, Vec c) { return _mm512_fnmadd_ps(a, b, c); }
#undef UH_OP

}  // namespace unihal::cpu::simd_avx512
