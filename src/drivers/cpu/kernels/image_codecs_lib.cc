// The library-backed codecs of ImageDecoder. Each reads from memory, reports the library's own
// error message, and never lets a library abort or print on its own.
// jpeglib.h needs size_t and FILE declared before it.
#include <cstddef>
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on
#include <openjpeg.h>
#include <png.h>
#include <setjmp.h>
#include <tiffio.h>
#include <webp/decode.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <memory>

#include "drivers/cpu/kernels/image_codecs.h"

namespace unihal::cpu {
namespace {

constexpr int64_t kMaxPixels = int64_t{1} << 28;  // 256 Mpixel: refuse before allocating

Status CheckSize(const char* format, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || width * height > kMaxPixels) {
    return InvalidArgumentError(std::string(format) + " image has an invalid size " +
                                std::to_string(width) + "x" + std::to_string(height));
  }
  return Status::Ok();
}

// ---- JPEG (libjpeg-turbo): errors longjmp back here instead of exit() ----

struct JpegError {
  jpeg_error_mgr manager;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void OnJpegError(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  longjmp(error->jump, 1);
}

void IgnoreJpegMessage(j_common_ptr, int) {}

// Decodes into `image`; false with error.message set on failure. Only trivially destructible
// locals live in this frame, so a longjmp from libjpeg skips no destructor.
bool ReadJpeg(jpeg_decompress_struct& info, JpegError& error, std::span<const uint8_t> bytes,
              RgbImage& image) {
  if (setjmp(error.jump)) return false;
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  const int64_t width = info.output_width, height = info.output_height;
  if (width <= 0 || height <= 0 || width * height > kMaxPixels) {
    std::snprintf(error.message, sizeof(error.message), "invalid size %ldx%ld",
                  static_cast<long>(width), static_cast<long>(height));
    return false;
  }
  image.width = width;
  image.height = height;
  image.pixels.resize(static_cast<size_t>(width * height * 3));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<size_t>(info.output_scanline) * width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  return true;
}

}  // namespace

Result<RgbImage> DecodeJpeg(std::span<const uint8_t> bytes) {
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = OnJpegError;
  error.manager.emit_message = IgnoreJpegMessage;
  RgbImage image;
  const bool ok = ReadJpeg(info, error, bytes, image);
  jpeg_destroy_decompress(&info);
  if (!ok) return InvalidArgumentError(std::string("JPEG image: ") + error.message);
  return image;
}

// ---- PNG (libpng's simplified API, which handles every bit depth and colour type) ----

Result<RgbImage> DecodePng(std::span<const uint8_t> bytes) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size())) {
    return InvalidArgumentError(std::string("PNG image: ") + png.message);
  }
  png.format = PNG_FORMAT_RGB;
  const Status size = CheckSize("PNG", png.width, png.height);
  if (!size.ok()) {
    png_image_free(&png);
    return size;
  }
  RgbImage image{png.height, png.width, std::vector<uint8_t>(PNG_IMAGE_SIZE(png))};
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
    return InvalidArgumentError(std::string("PNG image: ") + png.message);
  }
  return image;
}

// ---- TIFF (libtiff, reading from memory through client procs) ----

namespace {

struct MemoryFile {
  std::span<const uint8_t> bytes;
  toff_t at = 0;
  std::string error;
};

tmsize_t TiffRead(thandle_t handle, void* buffer, tmsize_t size) {
  auto* file = static_cast<MemoryFile*>(handle);
  const toff_t left = file->at < file->bytes.size() ? file->bytes.size() - file->at : 0;
  const toff_t n = std::min<toff_t>(left, static_cast<toff_t>(size));
  std::memcpy(buffer, file->bytes.data() + file->at, n);
  file->at += n;
  return static_cast<tmsize_t>(n);
}
tmsize_t TiffWrite(thandle_t, void*, tmsize_t) { return 0; }
toff_t TiffSeek(thandle_t handle, toff_t offset, int whence) {
  auto* file = static_cast<MemoryFile*>(handle);
  if (whence == SEEK_CUR) offset += file->at;
  if (whence == SEEK_END) offset += file->bytes.size();
  file->at = offset;
  return offset;
}
int TiffClose(thandle_t) { return 0; }
toff_t TiffSize(thandle_t handle) { return static_cast<MemoryFile*>(handle)->bytes.size(); }
int TiffMap(thandle_t, void**, toff_t*) { return 0; }
void TiffUnmap(thandle_t, void*, toff_t) {}

int OnTiffError(TIFF*, void* user_data, const char* module, const char* format, va_list args) {
  char message[512];
  std::vsnprintf(message, sizeof(message), format, args);
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->error.empty()) file->error = std::string(module ? module : "") + ": " + message;
  return 1;  // handled: libtiff prints nothing
}

}  // namespace

Result<RgbImage> DecodeTiff(std::span<const uint8_t> bytes) {
  MemoryFile file{bytes, 0, {}};
  std::unique_ptr<TIFFOpenOptions, decltype(&TIFFOpenOptionsFree)> options(TIFFOpenOptionsAlloc(),
                                                                           TIFFOpenOptionsFree);
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), OnTiffError, &file);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), OnTiffError, &file);
  std::unique_ptr<TIFF, decltype(&TIFFClose)> tiff(
      TIFFClientOpenExt("image", "rm", &file, TiffRead, TiffWrite, TiffSeek, TiffClose, TiffSize,
                        TiffMap, TiffUnmap, options.get()),
      TIFFClose);
  if (!tiff) return InvalidArgumentError("TIFF image: " + file.error);
  uint32_t width = 0, height = 0;
  TIFFGetField(tiff.get(), TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tiff.get(), TIFFTAG_IMAGELENGTH, &height);
  UH_RETURN_IF_ERROR(CheckSize("TIFF", width, height));
  std::vector<uint32_t> rgba(static_cast<size_t>(width) * height);
  if (!TIFFReadRGBAImageOriented(tiff.get(), width, height, rgba.data(), ORIENTATION_TOPLEFT, 0)) {
    return InvalidArgumentError("TIFF image: " + file.error);
  }
  RgbImage image{height, width, std::vector<uint8_t>(rgba.size() * 3)};
  for (size_t i = 0; i < rgba.size(); ++i) {
    image.pixels[i * 3] = static_cast<uint8_t>(TIFFGetR(rgba[i]));
    image.pixels[i * 3 + 1] = static_cast<uint8_t>(TIFFGetG(rgba[i]));
    image.pixels[i * 3 + 2] = static_cast<uint8_t>(TIFFGetB(rgba[i]));
  }
  return image;
}

// ---- WebP (libwebp) ----

Result<RgbImage> DecodeWebp(std::span<const uint8_t> bytes) {
  int width = 0, height = 0;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &width, &height)) {
    return InvalidArgumentError("WebP image: not a valid WebP bitstream");
  }
  UH_RETURN_IF_ERROR(CheckSize("WebP", width, height));
  RgbImage image{height, width, std::vector<uint8_t>(static_cast<size_t>(width) * height * 3)};
  if (!WebPDecodeRGBInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(),
                         width * 3)) {
    return InvalidArgumentError("WebP image: decoding failed (corrupt or truncated data)");
  }
  return image;
}

// ---- JPEG 2000 (OpenJPEG, JP2 container or raw codestream) ----

namespace {

OPJ_SIZE_T Jp2Read(void* buffer, OPJ_SIZE_T size, void* user_data) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->at >= file->bytes.size()) return static_cast<OPJ_SIZE_T>(-1);
  const OPJ_SIZE_T n = std::min<OPJ_SIZE_T>(size, file->bytes.size() - file->at);
  std::memcpy(buffer, file->bytes.data() + file->at, n);
  file->at += n;
  return n;
}
OPJ_OFF_T Jp2Skip(OPJ_OFF_T n, void* user_data) {
  auto* file = static_cast<MemoryFile*>(user_data);
  file->at += static_cast<toff_t>(n);
  return n;
}
OPJ_BOOL Jp2Seek(OPJ_OFF_T at, void* user_data) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (at < 0 || static_cast<toff_t>(at) > file->bytes.size()) return OPJ_FALSE;
  file->at = static_cast<toff_t>(at);
  return OPJ_TRUE;
}
void OnJp2Error(const char* message, void* user_data) {
  auto* file = static_cast<MemoryFile*>(user_data);
  if (file->error.empty()) file->error = message;
  while (!file->error.empty() && file->error.back() == '\n') file->error.pop_back();
}
void IgnoreJp2Message(const char*, void*) {}

// 8-bit RGB (or gray) from the decoded components; other layouts are refused.
Result<RgbImage> Jp2ToRgb(const opj_image_t& decoded) {
  const uint32_t channels = decoded.numcomps;
  if (channels != 1 && channels != 3 && channels != 4) {
    return UnimplementedError("JPEG 2000 image: " + std::to_string(channels) +
                              " components (only gray, RGB and RGBA are supported)");
  }
  const opj_image_comp_t& first = decoded.comps[0];
  for (uint32_t c = 0; c < channels; ++c) {
    const opj_image_comp_t& comp = decoded.comps[c];
    if (comp.w != first.w || comp.h != first.h || comp.prec != 8) {
      return UnimplementedError("JPEG 2000 image: subsampled or non-8-bit components");
    }
  }
  UH_RETURN_IF_ERROR(CheckSize("JPEG 2000", first.w, first.h));
  RgbImage image{first.h, first.w, std::vector<uint8_t>(size_t{first.w} * first.h * 3)};
  for (size_t i = 0; i < size_t{first.w} * first.h; ++i) {
    for (uint32_t c = 0; c < 3; ++c) {
      const int value = decoded.comps[channels == 1 ? 0 : c].data[i];
      image.pixels[i * 3 + c] = static_cast<uint8_t>(std::clamp(value, 0, 255));
    }
  }
  return image;
}

}  // namespace

Result<RgbImage> DecodeJpeg2000(std::span<const uint8_t> bytes) {
  MemoryFile file{bytes, 0, {}};
  const bool raw_codestream = ImageFormatOf(bytes) == "jpeg2000" && bytes[0] == 0xFF;
  std::unique_ptr<opj_codec_t, decltype(&opj_destroy_codec)> codec(
      opj_create_decompress(raw_codestream ? OPJ_CODEC_J2K : OPJ_CODEC_JP2), opj_destroy_codec);
  std::unique_ptr<opj_stream_t, decltype(&opj_stream_destroy)> stream(
      opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE), opj_stream_destroy);
  if (!codec || !stream) return ResourceExhaustedError("JPEG 2000 image: out of memory");
  opj_set_error_handler(codec.get(), OnJp2Error, &file);
  opj_set_warning_handler(codec.get(), IgnoreJp2Message, nullptr);
  opj_set_info_handler(codec.get(), IgnoreJp2Message, nullptr);
  opj_stream_set_user_data(stream.get(), &file, nullptr);
  opj_stream_set_user_data_length(stream.get(), bytes.size());
  opj_stream_set_read_function(stream.get(), Jp2Read);
  opj_stream_set_skip_function(stream.get(), Jp2Skip);
  opj_stream_set_seek_function(stream.get(), Jp2Seek);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  opj_image_t* raw_image = nullptr;
  const bool ok = opj_setup_decoder(codec.get(), &parameters) &&
                  opj_read_header(stream.get(), codec.get(), &raw_image);
  std::unique_ptr<opj_image_t, decltype(&opj_image_destroy)> decoded(raw_image, opj_image_destroy);
  if (!ok || !opj_decode(codec.get(), stream.get(), decoded.get()) ||
      !opj_end_decompress(codec.get(), stream.get())) {
    return InvalidArgumentError("JPEG 2000 image: " +
                                (file.error.empty() ? std::string("decoding failed") : file.error));
  }
  return Jp2ToRgb(*decoded);
}

}  // namespace unihal::cpu
