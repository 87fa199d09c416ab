// ImageDecoder (ai.onnx opset 20): encoded image bytes (uint8, 1-D) to an [H, W, C] uint8
// tensor in RGB, BGR or Grayscale. Decoding is in image_codecs_*.cc.
#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/image_codecs.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

enum class PixelFormat { kRgb, kBgr, kGrayscale };

// ITU-R 601 luma in 16-bit fixed point, rounded, as Pillow's convert("L") computes it (the
// reference), so gray outputs match it exactly.
uint8_t Luma(const uint8_t* rgb) {
  return static_cast<uint8_t>((rgb[0] * 19595 + rgb[1] * 38470 + rgb[2] * 7471 + 0x8000) >> 16);
}

Status ComputeImageDecoder(PixelFormat format, hal::KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* encoded, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *encoded, "encoded_stream", {DType::kU8}));
  if (encoded->rank() != 1) {
    return InvalidArgumentError(node.Describe() + ": encoded_stream must be 1-D, got " +
                                encoded->Describe());
  }
  const std::span<const uint8_t> bytes(encoded->data_as<uint8_t>(),
                                       static_cast<size_t>(encoded->num_elements()));
  Result<RgbImage> image = DecodeImage(bytes);
  if (!image.ok()) return image.status().WithContext(node.Describe());
  const int64_t pixels = image->height * image->width;
  const int64_t channels = format == PixelFormat::kGrayscale ? 1 : 3;
  UH_ASSIGN_OR_RETURN(
      Tensor * out, context.AllocateOutput(0, DType::kU8, {image->height, image->width, channels}));
  uint8_t* dst = out->data_as<uint8_t>();
  const uint8_t* src = image->pixels.data();
  for (int64_t i = 0; i < pixels; ++i, src += 3) {
    switch (format) {
      case PixelFormat::kRgb:
        for (int c = 0; c < 3; ++c) dst[i * 3 + c] = src[c];
        break;
      case PixelFormat::kBgr:
        for (int c = 0; c < 3; ++c) dst[i * 3 + c] = src[2 - c];
        break;
      case PixelFormat::kGrayscale:
        dst[i] = Luma(src);
        break;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateImageDecoder(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(std::string name, info.node.GetString("pixel_format", "RGB"));
  PixelFormat format;
  if (name == "RGB") {
    format = PixelFormat::kRgb;
  } else if (name == "BGR") {
    format = PixelFormat::kBgr;
  } else if (name == "Grayscale") {
    format = PixelFormat::kGrayscale;
  } else {
    return InvalidArgumentError(info.node.Describe() +
                                ": pixel_format must be RGB, BGR or Grayscale, got '" + name + "'");
  }
  return MakeFunctionKernel(
      [format](hal::KernelContext& context) { return ComputeImageDecoder(format, context); });
}

}  // namespace

void RegisterImageDecoderKernel(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("ImageDecoder", 20, INT_MAX, CreateImageDecoder));
}

}  // namespace unihal::cpu
