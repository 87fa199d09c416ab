// Uncompressed image formats read directly: BMP (24/32-bit BI_RGB) and binary PNM (P5, P6).
#include <cctype>
#include <cstring>

#include "drivers/cpu/kernels/image_codecs.h"

namespace unihal::cpu {
namespace {

uint32_t Le32(std::span<const uint8_t> b, size_t at) {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (static_cast<uint32_t>(b[at + 3]) << 24);
}
uint16_t Le16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>(b[at] | (b[at + 1] << 8));
}

constexpr int64_t kMaxSide = 1 << 16;  // refuse absurd headers before allocating

Status CheckSize(const char* format, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || width > kMaxSide || height > kMaxSide) {
    return InvalidArgumentError(std::string(format) + " image has an invalid size " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  return Status::Ok();
}

// PNM header token: skips whitespace and '#' comments; advances `at`.
Result<int64_t> PnmNumber(std::span<const uint8_t> b, size_t& at) {
  while (at < b.size() && (std::isspace(b[at]) || b[at] == '#')) {
    if (b[at] == '#') {
      while (at < b.size() && b[at] != '\n') ++at;
    } else {
      ++at;
    }
  }
  int64_t value = 0;
  const size_t start = at;
  while (at < b.size() && std::isdigit(b[at]) && value < (1 << 20))
    value = value * 10 + (b[at++] - '0');
  if (at == start) return InvalidArgumentError("PNM image: truncated or malformed header");
  return value;
}

}  // namespace

Result<RgbImage> DecodeBmp(std::span<const uint8_t> b) {
  if (b.size() < 54) return InvalidArgumentError("BMP image: truncated header");
  const uint32_t data_offset = Le32(b, 10);
  const int64_t width = static_cast<int32_t>(Le32(b, 18));
  const int64_t signed_height = static_cast<int32_t>(Le32(b, 22));
  const uint16_t bits = Le16(b, 28);
  const uint32_t compression = Le32(b, 30);
  if ((bits != 24 && bits != 32) || compression != 0) {
    return UnimplementedError(
        "BMP image: only uncompressed 24- and 32-bit BMPs are supported, got " +
        std::to_string(bits) + "-bit with compression " + std::to_string(compression));
  }
  const int64_t height = signed_height < 0 ? -signed_height : signed_height;
  UH_RETURN_IF_ERROR(CheckSize("BMP", width, height));
  const int64_t pixel_bytes = bits / 8;
  const int64_t stride = (width * pixel_bytes + 3) / 4 * 4;  // rows are 4-byte aligned
  if (data_offset + static_cast<uint64_t>(stride * height) > b.size()) {
    return InvalidArgumentError("BMP image: pixel data is truncated");
  }
  RgbImage image{height, width, std::vector<uint8_t>(static_cast<size_t>(height * width * 3))};
  for (int64_t y = 0; y < height; ++y) {
    // Positive heights are stored bottom-up.
    const int64_t source_row = signed_height > 0 ? height - 1 - y : y;
    const uint8_t* src = b.data() + data_offset + source_row * stride;
    uint8_t* dst = image.pixels.data() + y * width * 3;
    for (int64_t x = 0; x < width; ++x, src += pixel_bytes, dst += 3) {
      dst[0] = src[2];  // stored B G R
      dst[1] = src[1];
      dst[2] = src[0];
    }
  }
  return image;
}

Result<RgbImage> DecodePnm(std::span<const uint8_t> b) {
  if (b.size() < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) {
    return UnimplementedError("PNM image: only binary P5 (gray) and P6 (RGB) are supported");
  }
  const bool rgb = b[1] == '6';
  size_t at = 2;
  UH_ASSIGN_OR_RETURN(int64_t width, PnmNumber(b, at));
  UH_ASSIGN_OR_RETURN(int64_t height, PnmNumber(b, at));
  UH_ASSIGN_OR_RETURN(int64_t max_value, PnmNumber(b, at));
  UH_RETURN_IF_ERROR(CheckSize("PNM", width, height));
  if (max_value != 255) {
    return UnimplementedError("PNM image: only 8-bit samples (maxval 255) are supported, got " +
                              std::to_string(max_value));
  }
  ++at;  // the single whitespace after maxval
  const int64_t channels = rgb ? 3 : 1;
  if (at + static_cast<uint64_t>(width * height * channels) > b.size()) {
    return InvalidArgumentError("PNM image: pixel data is truncated");
  }
  RgbImage image{height, width, std::vector<uint8_t>(static_cast<size_t>(height * width * 3))};
  const uint8_t* src = b.data() + at;
  for (int64_t i = 0; i < width * height; ++i) {
    for (int64_t c = 0; c < 3; ++c) image.pixels[i * 3 + c] = src[i * channels + (rgb ? c : 0)];
  }
  return image;
}

std::string ImageFormatOf(std::span<const uint8_t> b) {
  auto starts = [&](const char* magic, size_t n, size_t at = 0) {
    return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
  };
  if (starts("\xFF\xD8\xFF", 3)) return "jpeg";
  if (starts("\x89PNG\r\n\x1A\n", 8)) return "png";
  if (starts("II*\0", 4) || starts("MM\0*", 4)) return "tiff";
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return "webp";
  if (starts("\0\0\0\x0CjP  ", 8) || starts("\xFF\x4F\xFF\x51", 4)) return "jpeg2000";
  if (starts("BM", 2)) return "bmp";
  if (b.size() >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return "pnm";
  return "";
}

Result<RgbImage> DecodeImage(std::span<const uint8_t> bytes) {
  const std::string format = ImageFormatOf(bytes);
  if (format == "jpeg") return DecodeJpeg(bytes);
  if (format == "png") return DecodePng(bytes);
  if (format == "tiff") return DecodeTiff(bytes);
  if (format == "webp") return DecodeWebp(bytes);
  if (format == "jpeg2000") return DecodeJpeg2000(bytes);
  if (format == "bmp") return DecodeBmp(bytes);
  if (format == "pnm") return DecodePnm(bytes);
  return InvalidArgumentError(
      "the bytes are not an image unihal can decode (known: JPEG, PNG, TIFF, WebP, JPEG 2000, "
      "BMP, PNM; checked by the file's magic bytes)");
}

}  // namespace unihal::cpu
