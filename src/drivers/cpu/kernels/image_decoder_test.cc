#include <gtest/gtest.h>

#include "drivers/cpu/kernels/image_codecs.h"
#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrString;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RunNode;

// A bottom-up 24-bit BMP of 2x2 pixels, written here: rows padded to 8 bytes.
std::vector<uint8_t> TinyBmp() {
  std::vector<uint8_t> b(54 + 16, 0);
  b[0] = 'B', b[1] = 'M', b[10] = 54, b[14] = 40, b[18] = 2, b[22] = 2, b[26] = 1, b[28] = 24;
  const uint8_t bottom[] = {10, 20, 30, 40, 50, 60};  // B G R, B G R
  const uint8_t top[] = {1, 2, 3, 4, 5, 6};
  std::copy(bottom, bottom + 6, b.begin() + 54);
  std::copy(top, top + 6, b.begin() + 62);
  return b;
}

Result<std::vector<Tensor>> Decode(const std::vector<uint8_t>& bytes, const std::string& format) {
  return RunNode(AllCpuKernels(),
                 MakeNode("ImageDecoder", {"x"}, {"y"}, {{"pixel_format", AttrString(format)}}, 20),
                 {Tensor::FromVector<uint8_t>({static_cast<int64_t>(bytes.size())}, bytes)});
}

TEST(ImageDecoderTest, BmpRowsFlipAndChannelsFollowThePixelFormat) {
  Result<std::vector<Tensor>> rgb = Decode(TinyBmp(), "RGB");
  ASSERT_TRUE(rgb.ok()) << rgb.status().ToString();
  ASSERT_EQ((*rgb)[0].shape(), (Shape{2, 2, 3}));
  const uint8_t* p = (*rgb)[0].data_as<uint8_t>();
  EXPECT_EQ(std::vector<uint8_t>(p, p + 12),
            (std::vector<uint8_t>{3, 2, 1, 6, 5, 4, 30, 20, 10, 60, 50, 40}));
  Result<std::vector<Tensor>> bgr = Decode(TinyBmp(), "BGR");
  ASSERT_TRUE(bgr.ok());
  EXPECT_EQ((*bgr)[0].data_as<uint8_t>()[0], 1);
  Result<std::vector<Tensor>> gray = Decode(TinyBmp(), "Grayscale");
  ASSERT_TRUE(gray.ok());
  ASSERT_EQ((*gray)[0].shape(), (Shape{2, 2, 1}));
  // 0.299 R + 0.587 G + 0.114 B of (3, 2, 1), rounded.
  EXPECT_EQ((*gray)[0].data_as<uint8_t>()[0], 2);
}

TEST(ImageDecoderTest, BadBytesAndAttributesAreClearErrors) {
  Result<std::vector<Tensor>> garbage = Decode({1, 2, 3, 4, 5}, "RGB");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("ImageDecoder"), std::string::npos);
  EXPECT_NE(garbage.status().message().find("not an image"), std::string::npos);

  std::vector<uint8_t> truncated = TinyBmp();
  truncated.resize(60);
  EXPECT_FALSE(Decode(truncated, "RGB").ok());

  std::vector<uint8_t> jpeg_header = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, 'J', 'F', 'I', 'F', 0};
  Result<std::vector<Tensor>> bad_jpeg = Decode(jpeg_header, "RGB");
  ASSERT_FALSE(bad_jpeg.ok());
  EXPECT_NE(bad_jpeg.status().message().find("JPEG image"), std::string::npos);

  EXPECT_FALSE(Decode(TinyBmp(), "CMYK").ok());
  EXPECT_EQ(ImageFormatOf(std::vector<uint8_t>{'P', '6', '\n'}), "pnm");
}

}  // namespace
}  // namespace unihal::cpu
