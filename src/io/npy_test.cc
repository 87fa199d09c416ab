#include "io/npy.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace unihal::io {
namespace {

namespace fs = std::filesystem;

// Exact header bytes numpy.save (numpy 1.26/2.x) writes for these arrays.
std::string NumpyHeader(std::string_view dict) {
  std::string header = std::string("\x93NUMPY\x01\x00", 8) + "v" + std::string(1, '\0');
  header += dict;
  header.append(128 - header.size() - 1, ' ');
  return header + "\n";
}

std::string DataBytes(const Tensor& t) {
  return std::string(static_cast<const char*>(t.data()), t.nbytes());
}

std::string Header(std::string_view dict, int major = 1) {
  std::string out = std::string("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  const size_t len = dict.size();
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  if (major > 1) out.append(2, '\0');
  return out + std::string(dict);
}

TEST(NpyTest, WritesTheSameBytesAsNumpySave) {
  struct Case {
    Tensor tensor;
    std::string dict;
  };
  const std::vector<Case> cases = {
      {Tensor::FromVector<float>({2, 3}, {0, 1, 2, 3, 4, 5}),
       "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"},
      {Tensor::Scalar(Float16(3.5f)), "{'descr': '<f2', 'fortran_order': False, 'shape': (), }"},
      {Tensor::FromVector<bool>({3}, {true, false, true}),
       "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }"},
      {*Tensor::Allocate(DType::kI64, {0, 4}),
       "{'descr': '<i8', 'fortran_order': False, 'shape': (0, 4), }"},
      {Tensor::FromVector<uint8_t>({3}, {0, 1, 2}),
       "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }"},
  };
  for (const Case& c : cases) {
    Result<std::string> bytes = SerializeNpy(c.tensor);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(*bytes, NumpyHeader(c.dict) + DataBytes(c.tensor)) << c.dict;
  }
}

template <typename T>
void ExpectRoundTrip(const std::vector<T>& values, Shape shape) {
  const Tensor original = Tensor::FromVector<T>(shape, values);
  Result<std::string> bytes = SerializeNpy(original);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<Tensor> back = ParseNpy(*bytes, "mem.npy");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->dtype(), original.dtype());
  EXPECT_EQ(back->shape(), original.shape());
  EXPECT_EQ(DataBytes(*back), DataBytes(original)) << DTypeName(original.dtype());
}

TEST(NpyTest, RoundTripsEveryNumpyDtype) {
  ExpectRoundTrip<float>({1.5f, -2.f, 3.25f, 0.f}, {2, 2});
  ExpectRoundTrip<double>({1e300, -1e-300}, {2});
  ExpectRoundTrip<Float16>({Float16(1.f), Float16(-0.5f), Float16(65504.f)}, {3, 1});
  ExpectRoundTrip<int8_t>({-128, 127}, {2});
  ExpectRoundTrip<uint8_t>({0, 255}, {1, 2});
  ExpectRoundTrip<int16_t>({-32768, 32767}, {2});
  ExpectRoundTrip<uint16_t>({0, 65535}, {2});
  ExpectRoundTrip<int32_t>({-7, 1 << 30}, {2});
  ExpectRoundTrip<uint32_t>({0xffffffffu, 1}, {2});
  ExpectRoundTrip<int64_t>({-1, int64_t{1} << 62}, {1, 1, 2});
  ExpectRoundTrip<uint64_t>({~uint64_t{0}, 0}, {2});
  ExpectRoundTrip<bool>({true, false, false, true}, {4});
  ExpectRoundTrip<float>({42.f}, {});
}

TEST(NpyTest, ReadsFormatVersionsTwoAndThree) {
  const std::string data("\x01\x00\x02\x00", 4);
  for (int major : {2, 3}) {
    const std::string dict = "{\"descr\": \"<i2\", \"fortran_order\": False, \"shape\": (2,)}\n";
    Result<Tensor> t = ParseNpy(Header(dict, major) + data, "v.npy");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->Describe(), "int16[2]");
    EXPECT_EQ(t->data_as<int16_t>()[1], 2);
  }
}

TEST(NpyTest, WritesVersionTwoWhenTheHeaderIsHuge) {
  Result<Tensor> t = Tensor::Allocate(DType::kU8, Shape(25000, 1));
  ASSERT_TRUE(t.ok());
  Result<std::string> bytes = SerializeNpy(*t);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ((*bytes)[6], 2);
  Result<Tensor> back = ParseNpy(*bytes, "big.npy");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->rank(), 25000);
}

void ExpectError(const std::string& bytes, const std::string& expected) {
  Result<Tensor> t = ParseNpy(bytes, "in/x.npy");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), expected);
}

TEST(NpyTest, RejectsWhatItCannotReadAndSaysWhy) {
  ExpectError(
      Header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }") + std::string(16, '\0'),
      "'in/x.npy' is in Fortran (column-major) order, which unihal does not read; save "
      "np.ascontiguousarray(arr) instead");
  ExpectError(
      Header("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }") + std::string(4, '\0'),
      "'in/x.npy' holds big-endian data ('>f4'), which unihal does not read; convert it "
      "with arr.astype(arr.dtype.newbyteorder('<'))");
  ExpectError(
      Header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, '\0'),
      "'in/x.npy' has dtype '<c8', which unihal does not support; it reads bool, int8, "
      "uint8, int16, uint16, int32, uint32, int64, uint64, float16, float32, float64");
  ExpectError(
      Header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }") + std::string(10, '\0'),
      "'in/x.npy' is truncated: its header declares float32[2, 3] (24 bytes of data) but "
      "10 bytes follow the header");
  ExpectError("PK\x03\x04 not numpy",
              "'in/x.npy' is not a .npy file (it does not start with \\x93NUMPY); save arrays "
              "with numpy.save");
  ExpectError(Header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
              "'in/x.npy' holds a structured (record) array, which unihal does not read; save "
              "each field as its own array");
  ExpectError(Header("{'descr': '<f4', 'shape': (1,), }"),
              "'in/x.npy' has a malformed .npy header (\"{'descr': '<f4', 'shape': (1,), }\"): "
              "it needs the keys 'descr', 'fortran_order' and 'shape'; rewrite it with "
              "numpy.save");
  ExpectError(Header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }"),
              "'in/x.npy' has a malformed .npy header (expected a non-negative integer dimension "
              "at offset 54 of \"{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }\"); "
              "rewrite it with numpy.save");
  // Big-endian single bytes are the same as little-endian ones.
  EXPECT_TRUE(ParseNpy(Header("{'descr': '>u1', 'fortran_order': False, 'shape': (1,), }") +
                           std::string(1, '\x07'),
                       "ok.npy")
                  .ok());
}

TEST(NpyTest, Bfloat16HasNoNumpyDtype) {
  const Tensor t = Tensor::FromVector<BFloat16>({1}, {BFloat16(1.f)});
  Result<std::string> bytes = SerializeNpy(t);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(),
            "a bfloat16 tensor cannot be saved as .npy: NumPy has no such dtype; convert it to "
            "one of bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, "
            "float32, float64 first");
}

class NpyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("unihal_npy_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(NpyFileTest, MissingFileIsNotFound) {
  const std::string path = (dir_ / "absent.npy").string();
  Result<Tensor> t = ReadNpyFile(path);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(t.status().message(), "file '" + path + "' does not exist; check the path");
}

TEST_F(NpyFileTest, WritingIntoAMissingFolderFails) {
  const std::string path = (dir_ / "no" / "such" / "x.npy").string();
  Status s = WriteNpyFile(path, Tensor::Scalar(1.f));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "cannot open '" + path + "' for writing; check that its folder exists and is writable");
}

// NumPy itself reads what unihal writes and unihal reads what NumPy writes.
TEST_F(NpyFileTest, InteroperatesWithNumpy) {
  const fs::path python = fs::path(UNIHAL_SOURCE_DIR) / ".venv" / "bin" / "python";
  if (!fs::exists(python)) GTEST_SKIP() << "no .venv with numpy at " << python;
  const Tensor ours = Tensor::FromVector<Float16>({2}, {Float16(0.25f), Float16(-3.f)});
  ASSERT_TRUE(WriteNpyFile((dir_ / "ours.npy").string(), ours).ok());
  const std::string script =
      "import numpy as np, sys; d = sys.argv[1]; a = np.load(d + '/ours.npy'); "
      "assert a.dtype == np.float16 and a.tolist() == [0.25, -3.0], a; "
      "np.save(d + '/theirs.npy', np.arange(6, dtype=np.int32).reshape(3, 2) * 7); "
      "np.save(d + '/flags.npy', np.array([[True], [False]]))";
  const std::string command = python.string() + " -c \"" + script + "\" " + dir_.string() + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  Result<Tensor> theirs = ReadNpyFile((dir_ / "theirs.npy").string());
  ASSERT_TRUE(theirs.ok()) << theirs.status().ToString();
  EXPECT_EQ(theirs->Describe(), "int32[3, 2]");
  EXPECT_EQ(theirs->data_as<int32_t>()[5], 35);
  Result<Tensor> flags = ReadNpyFile((dir_ / "flags.npy").string());
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->Describe(), "bool[2, 1]");
  EXPECT_TRUE(flags->data_as<bool>()[0]);
  EXPECT_FALSE(flags->data_as<bool>()[1]);
}

}  // namespace
}  // namespace unihal::io
