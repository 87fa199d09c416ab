// Image decoding for ImageDecoder: the format is told by the file's magic bytes; every codec
// gives 8-bit RGB. JPEG, PNG, TIFF, WebP and JPEG 2000 go through Debian's libraries (libjpeg-
// turbo, libpng, libtiff, libwebp, OpenJPEG), the ones Pillow, ONNX's reference, uses; BMP and
// PNM are read here (uncompressed formats, a few lines each).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "unihal/status.h"

namespace unihal::cpu {

struct RgbImage {
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;  // height * width * 3, row-major, R G B
};

// "jpeg", "png", "tiff", "webp", "jpeg2000", "bmp", "pnm", or "" when not recognised.
std::string ImageFormatOf(std::span<const uint8_t> bytes);

// Decodes any of the formats above; errors say which format and what went wrong.
Result<RgbImage> DecodeImage(std::span<const uint8_t> bytes);

// The library-backed codecs (image_codecs_lib.cc) and the ones read here (image_codecs_raw.cc).
Result<RgbImage> DecodeJpeg(std::span<const uint8_t> bytes);
Result<RgbImage> DecodePng(std::span<const uint8_t> bytes);
Result<RgbImage> DecodeTiff(std::span<const uint8_t> bytes);
Result<RgbImage> DecodeWebp(std::span<const uint8_t> bytes);
Result<RgbImage> DecodeJpeg2000(std::span<const uint8_t> bytes);
Result<RgbImage> DecodeBmp(std::span<const uint8_t> bytes);
Result<RgbImage> DecodePnm(std::span<const uint8_t> bytes);

}  // namespace unihal::cpu
