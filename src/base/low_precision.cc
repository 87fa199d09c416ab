#include "unihal/low_precision.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace unihal {
namespace {

// How a small float format spends its top codes.
enum class Specials {
  kIeee,  // e5m2: the top exponent holds inf (mantissa 0) and NaN
  kFn,    // e4m3fn: only S.1111.111 is NaN; no inf
  kFnuz,  // e4m3fnuz, e5m2fnuz: 0x80 is NaN; no inf, no -0
  kNone,  // e2m1fn: every code is a finite number
};

struct FloatFormat {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  Specials specials;
  // Codes of the largest finite magnitude.
  uint8_t max_code;
};

std::optional<FloatFormat> FormatOf(DType dtype) {
  switch (dtype) {
    case DType::kF8E4M3FN:
      return FloatFormat{4, 3, 7, Specials::kFn, 0x7e};
    case DType::kF8E4M3FNUZ:
      return FloatFormat{4, 3, 8, Specials::kFnuz, 0x7f};
    case DType::kF8E5M2:
      return FloatFormat{5, 2, 15, Specials::kIeee, 0x7b};
    case DType::kF8E5M2FNUZ:
      return FloatFormat{5, 2, 16, Specials::kFnuz, 0x7f};
    case DType::kF4E2M1:
      return FloatFormat{2, 1, 1, Specials::kNone, 0x7};
    default:
      return std::nullopt;
  }
}

int SignShift(const FloatFormat& f) { return f.exponent_bits + f.mantissa_bits; }

double DecodeFloat(const FloatFormat& f, uint8_t code) {
  const int sign_shift = SignShift(f);
  const bool negative = (code >> sign_shift) & 1;
  const int exponent = (code >> f.mantissa_bits) & ((1 << f.exponent_bits) - 1);
  const int mantissa = code & ((1 << f.mantissa_bits) - 1);
  const int max_exponent = (1 << f.exponent_bits) - 1;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (f.specials) {
    case Specials::kIeee:
      if (exponent == max_exponent) {
        if (mantissa != 0) return nan;
        return negative ? -std::numeric_limits<double>::infinity()
                        : std::numeric_limits<double>::infinity();
      }
      break;
    case Specials::kFn:
      if (exponent == max_exponent && mantissa == (1 << f.mantissa_bits) - 1) return nan;
      break;
    case Specials::kFnuz:
      if (code == 0x80) return nan;
      break;
    case Specials::kNone:
      break;
  }
  const int min_exponent = 1 - f.bias;  // of the smallest normal
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, min_exponent - f.mantissa_bits)
                                         : std::ldexp((1 << f.mantissa_bits) + mantissa,
                                                      exponent - f.bias - f.mantissa_bits);
  return negative ? -magnitude : magnitude;
}

// The code for an out-of-range or infinite value.
uint8_t OverflowCode(const FloatFormat& f, uint8_t sign, bool saturate) {
  if (saturate || f.specials == Specials::kNone) return sign | f.max_code;
  switch (f.specials) {
    case Specials::kIeee:
      return sign | 0x7c;
    case Specials::kFn:
      return sign | 0x7f;
    default:
      return 0x80;
  }
}

uint8_t NanCode(const FloatFormat& f, uint8_t sign) {
  switch (f.specials) {
    case Specials::kIeee:
      return sign | 0x7e;
    case Specials::kFn:
      return sign | 0x7f;
    case Specials::kFnuz:
      return 0x80;
    case Specials::kNone:
      // The format has no NaN; ml_dtypes (ONNX's reference) gives -0 for NaN and +0 for -NaN.
      return sign ? 0x0 : 0x8;
  }
  return 0;
}

// Rounds |value| to the format's grid (to nearest even) and builds the code.
uint8_t EncodeFloat(const FloatFormat& f, double value, bool saturate) {
  const uint8_t sign = std::signbit(value) ? static_cast<uint8_t>(1u << SignShift(f)) : 0;
  if (std::isnan(value)) return NanCode(f, sign);
  if (std::isinf(value)) return OverflowCode(f, sign, saturate);
  const double magnitude = std::fabs(value);
  const int min_exponent = 1 - f.bias;
  int frexp_exponent = 0;
  std::frexp(magnitude, &frexp_exponent);  // magnitude = m * 2^e, m in [0.5, 1)
  int exponent = std::max(frexp_exponent - 1, min_exponent);
  // Steps of 2^(exponent - mantissa_bits): the quotient is exact, nearbyint rounds half even.
  auto steps =
      static_cast<int64_t>(std::nearbyint(std::ldexp(magnitude, f.mantissa_bits - exponent)));
  const int64_t implicit_one = int64_t{1} << f.mantissa_bits;
  if (steps == 2 * implicit_one) {  // rounded up into the next binade
    steps = implicit_one;
    ++exponent;
  }
  const double rounded = std::ldexp(static_cast<double>(steps), exponent - f.mantissa_bits);
  if (rounded > DecodeFloat(f, f.max_code)) return OverflowCode(f, sign, saturate);
  if (steps == 0) return f.specials == Specials::kFnuz ? 0 : sign;
  const int exponent_field = steps < implicit_one ? 0 : exponent + f.bias;
  const int64_t mantissa = steps < implicit_one ? steps : steps - implicit_one;
  return static_cast<uint8_t>(sign | (exponent_field << f.mantissa_bits) | mantissa);
}

// onnx.numpy_helper.to_float8e8m0, bit for bit.
uint8_t EncodeE8M0(float value, bool saturate, E8M0Rounding rounding) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  uint32_t exponent = (bits >> 23) & 0xffu;
  if (exponent == 0xffu) return 0xff;  // NaN and inf
  bool round_up = false;
  switch (rounding) {
    case E8M0Rounding::kNearest: {
      const bool guard = bits & 0x400000u;
      const bool round = bits & 0x200000u;
      const bool sticky = bits & 0x1fffffu;
      const bool lsb = exponent > 0;
      round_up = guard && (round || sticky || lsb);
      break;
    }
    case E8M0Rounding::kUp:
      round_up = (bits & 0x7fffffu) != 0;
      break;
    case E8M0Rounding::kDown:
      break;
  }
  if (saturate && exponent == 0xfeu) round_up = false;
  exponent += round_up ? 1 : 0;
  return static_cast<uint8_t>(exponent);
}

struct IntFormat {
  int bits;
  bool is_signed;
};

std::optional<IntFormat> IntFormatOf(DType dtype) {
  switch (dtype) {
    case DType::kI4:
      return IntFormat{4, true};
    case DType::kU4:
      return IntFormat{4, false};
    case DType::kI2:
      return IntFormat{2, true};
    case DType::kU2:
      return IntFormat{2, false};
    default:
      return std::nullopt;
  }
}

uint8_t Mask(int bits) { return static_cast<uint8_t>((1u << bits) - 1u); }

}  // namespace

uint8_t LoadCode(const void* data, DType dtype, int64_t index) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  const int bits = static_cast<int>(DTypeBits(dtype));
  if (bits >= 8) return bytes[index];
  const int per_byte = 8 / bits;
  const int shift = static_cast<int>(index % per_byte) * bits;
  return static_cast<uint8_t>((bytes[index / per_byte] >> shift) & Mask(bits));
}

void StoreCode(void* data, DType dtype, int64_t index, uint8_t code) {
  auto* bytes = static_cast<uint8_t*>(data);
  const int bits = static_cast<int>(DTypeBits(dtype));
  if (bits >= 8) {
    bytes[index] = code;
    return;
  }
  const int per_byte = 8 / bits;
  const int shift = static_cast<int>(index % per_byte) * bits;
  uint8_t& byte = bytes[index / per_byte];
  byte = static_cast<uint8_t>((byte & ~(Mask(bits) << shift)) | ((code & Mask(bits)) << shift));
}

double DecodeLowPrecision(DType dtype, uint8_t code) {
  if (std::optional<FloatFormat> f = FormatOf(dtype)) {
    return DecodeFloat(*f, static_cast<uint8_t>(code & Mask(SignShift(*f) + 1)));
  }
  if (dtype == DType::kF8E8M0) {
    return code == 0xff ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(1.0, code - 127);
  }
  if (std::optional<IntFormat> f = IntFormatOf(dtype)) {
    const int value = code & Mask(f->bits);
    const bool negative = f->is_signed && (value >> (f->bits - 1)) != 0;
    return negative ? value - (1 << f->bits) : value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

std::optional<E8M0Rounding> ParseE8M0Rounding(std::string_view name) {
  if (name == "up") return E8M0Rounding::kUp;
  if (name == "down") return E8M0Rounding::kDown;
  if (name == "nearest") return E8M0Rounding::kNearest;
  return std::nullopt;
}

uint8_t EncodeFloatCode(DType dtype, double value, bool saturate, E8M0Rounding rounding) {
  if (std::optional<FloatFormat> f = FormatOf(dtype)) return EncodeFloat(*f, value, saturate);
  if (dtype == DType::kF8E8M0) return EncodeE8M0(static_cast<float>(value), saturate, rounding);
  return 0;
}

uint8_t CastToIntCode(DType dtype, int64_t value) {
  std::optional<IntFormat> f = IntFormatOf(dtype);
  if (!f) return 0;
  return static_cast<uint8_t>(static_cast<uint64_t>(value) & Mask(f->bits));
}

uint8_t CastToIntCode(DType dtype, double value) {
  // Beyond int64 the low bits of the truncated value are all zero.
  if (!std::isfinite(value) || std::fabs(value) >= 9.2233720368547758e18) return 0;
  return CastToIntCode(dtype, static_cast<int64_t>(std::trunc(value)));
}

std::optional<IntRange> LowPrecisionIntRange(DType dtype) {
  std::optional<IntFormat> f = IntFormatOf(dtype);
  if (!f) return std::nullopt;
  if (f->is_signed) {
    return IntRange{-(int64_t{1} << (f->bits - 1)), (int64_t{1} << (f->bits - 1)) - 1};
  }
  return IntRange{0, (int64_t{1} << f->bits) - 1};
}

uint8_t SaturateToIntCode(DType dtype, double value) {
  std::optional<IntRange> range = LowPrecisionIntRange(dtype);
  if (!range || std::isnan(value)) return 0;
  const double rounded = std::nearbyint(value);
  const double clamped =
      std::clamp(rounded, static_cast<double>(range->min), static_cast<double>(range->max));
  return CastToIntCode(dtype, static_cast<int64_t>(clamped));
}

uint8_t CastToCode(DType dtype, double value, bool saturate, E8M0Rounding rounding) {
  if (IntFormatOf(dtype)) return CastToIntCode(dtype, value);
  return EncodeFloatCode(dtype, value, saturate, rounding);
}

}  // namespace unihal
