#include "onnx/tensor_proto.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "onnx/onnx_loader.h"
#include "testing/op_test_util.h"

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;
using onnx::TensorProto;
using unihal::testing::AllClose;
using unihal::testing::RandomTensor;

const DType kAllDTypes[] = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI8,
                            DType::kU8,  DType::kI16, DType::kU16, DType::kI32,  DType::kU32,
                            DType::kI64, DType::kU64, DType::kBool};

fs::path FreshDir(const std::string& name) {
  fs::path dir = fs::path(::testing::TempDir()) / ("unihal_tensor_proto_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The same tensor written through the typed field ONNX specifies for its dtype.
TensorProto TypedProto(const Tensor& t, const std::string& name) {
  TensorProto p;
  p.set_name(name);
  p.set_data_type(OnnxTypeFromDType(t.dtype()));
  for (int64_t d : t.shape()) p.add_dims(d);
  VisitDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* v = t.data_as<T>();
    for (int64_t i = 0; i < t.num_elements(); ++i) {
      if constexpr (std::is_same_v<T, float>) {
        p.add_float_data(v[i]);
      } else if constexpr (std::is_same_v<T, double>) {
        p.add_double_data(v[i]);
      } else if constexpr (std::is_same_v<T, int64_t>) {
        p.add_int64_data(v[i]);
      } else if constexpr (std::is_same_v<T, uint32_t> || std::is_same_v<T, uint64_t>) {
        p.add_uint64_data(v[i]);
      } else if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
        p.add_int32_data(v[i].bits);
      } else {
        p.add_int32_data(static_cast<int32_t>(v[i]));
      }
    }
  });
  return p;
}

TEST(TensorProtoTest, RawDataRoundTripsEveryDType) {
  for (DType dtype : kAllDTypes) {
    SCOPED_TRACE(std::string(DTypeName(dtype)));
    Tensor original = RandomTensor(dtype, {2, 3, 4}, 7, -100, 100);
    Result<TensorProto> proto = TensorToProto(original, "w");
    ASSERT_TRUE(proto.ok()) << proto.status().ToString();
    EXPECT_EQ(proto->raw_data().size(), original.nbytes());
    Result<Tensor> back = TensorFromProto(*proto, ".");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(AllClose(*back, original, 0, 0));
  }
}

TEST(TensorProtoTest, TypedFieldsGiveTheSameValuesAsRawData) {
  for (DType dtype : kAllDTypes) {
    SCOPED_TRACE(std::string(DTypeName(dtype)));
    Tensor original = RandomTensor(dtype, {5, 2}, 11, -100, 100);
    Result<Tensor> back = TensorFromProto(TypedProto(original, "w"), ".");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(AllClose(*back, original, 0, 0));
  }
}

TEST(TensorProtoTest, ExtremeIntegerValuesSurviveTypedFields) {
  Tensor u64 = Tensor::FromVector<uint64_t>({2}, {0, UINT64_MAX});
  Tensor i8 = Tensor::FromVector<int8_t>({2}, {-128, 127});
  Tensor u16 = Tensor::FromVector<uint16_t>({2}, {0, 65535});
  for (const Tensor& t : {u64, i8, u16}) {
    Result<Tensor> back = TensorFromProto(TypedProto(t, "x"), ".");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(std::memcmp(back->data(), t.data(), t.nbytes()), 0) << t.Describe();
  }
}

TEST(TensorProtoTest, ScalarAndEmptyTensors) {
  TensorProto scalar;
  scalar.set_data_type(TensorProto::INT64);
  scalar.add_int64_data(42);
  Result<Tensor> s = TensorFromProto(scalar, ".");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->shape(), Shape{});
  EXPECT_EQ(s->data_as<int64_t>()[0], 42);

  TensorProto empty;
  empty.set_data_type(TensorProto::FLOAT);
  empty.add_dims(0);
  empty.add_dims(3);
  Result<Tensor> e = TensorFromProto(empty, ".");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->shape(), (Shape{0, 3}));
}

TEST(TensorProtoTest, BoolRawDataIsNormalisedToZeroAndOne) {
  TensorProto p;
  p.set_data_type(TensorProto::BOOL);
  p.add_dims(3);
  p.set_raw_data(std::string("\x00\x01\x07", 3));
  Result<Tensor> t = TensorFromProto(p, ".");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const auto* bytes = static_cast<const uint8_t*>(t->data());
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 1);
  EXPECT_EQ(bytes[2], 1);
}

TEST(TensorProtoTest, RawDataOfTheWrongSizeNamesTheTensor) {
  TensorProto p;
  p.set_name("conv1.weight");
  p.set_data_type(TensorProto::FLOAT);
  p.add_dims(2);
  p.add_dims(3);
  p.set_raw_data(std::string(20, '\0'));
  Result<Tensor> t = TensorFromProto(p, ".");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(),
            "tensor 'conv1.weight' is float32[2, 3] (24 bytes) but its raw_data holds 20 bytes; "
            "the file is corrupt or was written incorrectly");
}

TEST(TensorProtoTest, TypedFieldWithTheWrongCountNamesTheTensor) {
  TensorProto p;
  p.set_name("shape");
  p.set_data_type(TensorProto::INT64);
  p.add_dims(4);
  p.add_int64_data(1);
  p.add_int64_data(2);
  Result<Tensor> t = TensorFromProto(p, ".");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(),
            "tensor 'shape' is int64[4] (4 elements) but its int64_data holds 2; the file is "
            "corrupt or was written incorrectly");
}

TEST(TensorProtoTest, PackedSubByteAndFloat8Tensors) {
  // Five int4 values in three int32_data entries (one storage byte each, low nibble first).
  TensorProto p;
  p.set_name("q");
  p.set_data_type(kOnnxInt4);
  p.add_dims(5);
  for (int byte : {0x87, 0x21, 0x0f}) p.add_int32_data(byte);
  Result<Tensor> t = TensorFromProto(p, ".");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->dtype(), DType::kI4);
  EXPECT_EQ(t->nbytes(), 3u);
  EXPECT_EQ(static_cast<const uint8_t*>(t->data())[1], 0x21);
  p.add_int32_data(0);
  Result<Tensor> bad = TensorFromProto(p, ".");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("5 elements, packed in 3 values"), std::string::npos)
      << bad.status().message();
  // float8 in raw_data: one byte per value; the round trip keeps the type.
  TensorProto f;
  f.set_name("f");
  f.set_data_type(kOnnxFloat8E5M2);
  f.add_dims(2);
  f.set_raw_data(std::string("\x3c\xc0", 2));
  Result<Tensor> f8 = TensorFromProto(f, ".");
  ASSERT_TRUE(f8.ok()) << f8.status().message();
  EXPECT_EQ(f8->dtype(), DType::kF8E5M2);
  Result<TensorProto> back = TensorToProto(*f8, "f");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data_type(), kOnnxFloat8E5M2);
  EXPECT_EQ(back->raw_data(), f.raw_data());
}

TEST(TensorProtoTest, NegativeDimsAndHugeDimsAreRefused) {
  TensorProto negative;
  negative.set_name("n");
  negative.set_data_type(TensorProto::FLOAT);
  negative.add_dims(-2);
  Result<Tensor> n = TensorFromProto(negative, ".");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().message(), "tensor 'n' has a negative dimension -2");

  TensorProto huge;
  huge.set_name("h");
  huge.set_data_type(TensorProto::FLOAT);
  huge.add_dims(int64_t{1} << 40);
  huge.add_dims(int64_t{1} << 40);
  Result<Tensor> h = TensorFromProto(huge, ".");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(h.status().message().find("tensor 'h'"), std::string::npos);
}

TEST(TensorProtoTest, DeclaredSizeIsCheckedBeforeAllocating) {
  // 256 GB declared in a few bytes: refused from the sizes alone, nothing is allocated.
  TensorProto p;
  p.set_name("bomb");
  p.set_data_type(TensorProto::FLOAT);
  p.add_dims(int64_t{1} << 36);
  p.set_raw_data(std::string(4, '\0'));
  Result<Tensor> t = TensorFromProto(p, ".");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(),
            "tensor 'bomb' is float32[68719476736] (274877906944 bytes) but its raw_data holds 4 "
            "bytes; the file is corrupt or was written incorrectly");
  p.clear_raw_data();
  p.add_float_data(1.f);
  EXPECT_EQ(TensorFromProto(p, ".").status().message(),
            "tensor 'bomb' is float32[68719476736] (68719476736 elements) but its float_data "
            "holds 1; the file is corrupt or was written incorrectly");
}

TEST(TensorProtoTest, StringAndComplexTensorsAreUnimplemented) {
  TensorProto s;
  s.set_name("labels");
  s.set_data_type(TensorProto::STRING);
  s.add_dims(1);
  s.add_string_data("cat");
  Result<Tensor> t = TensorFromProto(s, ".");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(t.status().message(),
            "tensor 'labels' has element type STRING, which unihal does not support (supported: "
            "float, double, float16, bfloat16, int8-64, uint8-64, bool, float8*, float4e2m1, int4, "
            "uint4, int2, uint2)");
  s.set_data_type(TensorProto::COMPLEX64);
  EXPECT_EQ(TensorFromProto(s, ".").status().code(), StatusCode::kUnimplemented);
}

TensorProto ExternalProto(const std::string& location, int64_t offset, int64_t length) {
  TensorProto p;
  p.set_name("big");
  p.set_data_type(TensorProto::FLOAT);
  p.add_dims(2);
  p.add_dims(2);
  p.set_data_location(TensorProto::EXTERNAL);
  auto* loc = p.add_external_data();
  loc->set_key("location");
  loc->set_value(location);
  if (offset >= 0) {
    auto* off = p.add_external_data();
    off->set_key("offset");
    off->set_value(std::to_string(offset));
  }
  if (length >= 0) {
    auto* len = p.add_external_data();
    len->set_key("length");
    len->set_value(std::to_string(length));
  }
  return p;
}

TEST(TensorProtoTest, ReadsExternalDataAtAnOffset) {
  const fs::path dir = FreshDir("external");
  const std::vector<float> values = {1.5f, -2.f, 3.25f, 4.f};
  std::string bytes(8, 'x');  // 8 bytes of padding before the tensor
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  fs::create_directories(dir / "weights");
  WriteBytes(dir / "weights" / "data.bin", bytes);

  Result<Tensor> t = TensorFromProto(ExternalProto("weights/data.bin", 8, 16), dir.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(AllClose(*t, Tensor::FromVector<float>({2, 2}, values), 0, 0));

  // Without offset/length: the whole file from 0, which here is 24 bytes, not 16.
  Result<Tensor> whole = TensorFromProto(ExternalProto("weights/data.bin", -1, -1), dir.string());
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.status().message(),
            "tensor 'big': external data holds 24 bytes but its dtype and shape need 16");

  Result<Tensor> past = TensorFromProto(ExternalProto("weights/data.bin", 16, 16), dir.string());
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.status().message().find("is past the end of"), std::string::npos)
      << past.status().message();
}

TEST(TensorProtoTest, ExternalDataOutsideTheModelFolderIsRefused) {
  const fs::path dir = FreshDir("escape");
  fs::create_directories(dir / "model");
  WriteBytes(dir / "secret.bin", std::string(16, '\0'));
  const std::string model_dir = (dir / "model").string();

  Result<Tensor> dotdot = TensorFromProto(ExternalProto("../secret.bin", 0, 16), model_dir);
  ASSERT_FALSE(dotdot.ok());
  EXPECT_EQ(dotdot.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dotdot.status().message().find(
                "tensor 'big': external data location '../secret.bin' points outside the "
                "model's folder"),
            std::string::npos)
      << dotdot.status().message();

  Result<Tensor> absolute =
      TensorFromProto(ExternalProto((dir / "secret.bin").string(), 0, 16), model_dir);
  ASSERT_FALSE(absolute.ok());
  EXPECT_NE(absolute.status().message().find("is absolute"), std::string::npos);

  fs::create_symlink(dir / "secret.bin", dir / "model" / "link.bin");
  Result<Tensor> link = TensorFromProto(ExternalProto("link.bin", 0, 16), model_dir);
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.status().message().find("points outside"), std::string::npos);

  Result<Tensor> missing = TensorFromProto(ExternalProto("nope.bin", 0, 16), model_dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.bin"), std::string::npos);
}

TEST(TensorProtoTest, LoadsTensorProtoFilesFromTheOnnxTestData) {
  const fs::path file = fs::path(UNIHAL_SOURCE_DIR) /
                        ".venv/lib/python3.11/site-packages/onnx/backend/test/data/light/"
                        "light_squeezenet_output_0.pb";
  if (!fs::exists(file)) GTEST_SKIP() << file << " is not installed";
  Result<Tensor> t = LoadTensorProtoFile(file.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->dtype(), DType::kF32);
  EXPECT_EQ(t->shape(), (Shape{1, 1000, 1, 1}));
  // A softmax output: non-negative and summing to 1.
  double sum = 0;
  for (int64_t i = 0; i < t->num_elements(); ++i) {
    EXPECT_GE(t->data_as<float>()[i], 0.f);
    sum += t->data_as<float>()[i];
  }
  EXPECT_NEAR(sum, 1.0, 1e-3);

  Result<Tensor> missing = LoadTensorProtoFile("/nonexistent/x.pb");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/x.pb"), std::string::npos);
}

}  // namespace
}  // namespace unihal::onnx_import
