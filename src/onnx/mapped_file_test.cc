// Loading models through a mapped file (mapped_file.h) with their large weights cut out of the
// protobuf parse (model_skeleton.h): same tensors as the plain parse, same errors, no crash.
#include "onnx/mapped_file.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "onnx/onnx_loader.h"
#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;
using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

fs::path TempPath(const std::string& name) { return fs::path(::testing::TempDir()) / name; }

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Large initializers of several types (above the loader's 64 KiB cut-out size) and a small
// one; `pad` shifts the raw_data offsets so both aligned and unaligned weights occur.
onnx::ModelProto LargeWeightsModel(const std::string& pad) {
  onnx::ModelProto model = NewModel();
  model.set_producer_version(pad);
  auto* g = model.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {1, 256});
  AddInitializer(g, "W", unihal::testing::RandomTensor(DType::kF32, {256, 128}, 1));
  AddInitializer(g, "W2", unihal::testing::RandomTensor(DType::kF32, {128, 129}, 2));
  AddInitializer(g, "B", unihal::testing::RandomTensor(DType::kF32, {129}, 3));
  AddInitializer(g, "Q", unihal::testing::RandomTensor(DType::kI8, {300, 300}, 4));
  AddInitializer(g, "I", unihal::testing::RandomTensor(DType::kI64, {9000}, 5, 0, 1000));
  // A bool weight whose raw bytes are not all 0/1: the loader normalises them.
  auto* mask = g->add_initializer();
  mask->set_name("M");
  mask->set_data_type(TensorProto::BOOL);
  mask->add_dims(70000);
  std::string bits(70000, '\0');
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = static_cast<char>(i % 3 == 0 ? 0 : i % 7);
  mask->set_raw_data(bits);
  AddNode(g, "MatMul", {"X", "W"}, {"H"});
  AddNode(g, "MatMul", {"H", "W2"}, {"H2"});
  AddNode(g, "Add", {"H2", "B"}, {"Y"});
  AddOutput(g, "Y", TensorProto::FLOAT, {1, 129});
  return model;
}

void ExpectSameWeights(const ir::Graph& actual, const onnx::ModelProto& proto) {
  for (const TensorProto& init : proto.graph().initializer()) {
    SCOPED_TRACE(init.name());
    ASSERT_TRUE(actual.initializers.count(init.name()));
    const Tensor& t = actual.initializers.at(init.name());
    ASSERT_EQ(t.nbytes(), init.raw_data().size());
    if (init.data_type() == TensorProto::BOOL) {
      const auto* values = static_cast<const uint8_t*>(t.data());
      for (size_t i = 0; i < init.raw_data().size(); ++i) {
        ASSERT_EQ(values[i], init.raw_data()[i] != 0 ? 1 : 0) << i;
      }
    } else {
      EXPECT_EQ(std::memcmp(t.data(), init.raw_data().data(), t.nbytes()), 0);
    }
  }
}

TEST(MappedFileTest, MapsTheBytesOfAFile) {
  const fs::path path = TempPath("unihal_mapped_bytes.bin");
  WriteFile(path, "hello, mapping");
  Result<std::unique_ptr<const MappedFile>> file = MappedFile::Open(path.string(), "test file");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->bytes(), "hello, mapping");

  WriteFile(path, "");
  Result<std::unique_ptr<const MappedFile>> empty = MappedFile::Open(path.string(), "test file");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE((*empty)->bytes().empty());
}

TEST(MappedFileTest, MissingFilesAndFoldersAreClearErrors) {
  Result<std::unique_ptr<const MappedFile>> missing = MappedFile::Open("/no/such/file", "x file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "x file '/no/such/file' does not exist; check the path");
  Result<std::unique_ptr<const MappedFile>> folder =
      MappedFile::Open(::testing::TempDir(), "x file");
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(folder.status().message().find("is a directory"), std::string::npos);
}

TEST(MappedFileTest, LargeWeightsLoadTheSameFromAFileAsFromBytes) {
  for (const std::string pad : {"", "a", "ab", "abc"}) {
    SCOPED_TRACE("pad '" + pad + "'");
    const onnx::ModelProto proto = LargeWeightsModel(pad);
    const fs::path path = TempPath("unihal_mapped_weights.onnx");
    WriteFile(path, Serialize(proto));
    Result<ir::Model> from_file = LoadModelFromFile(path.string());
    ASSERT_TRUE(from_file.ok()) << from_file.status().ToString();
    ExpectSameWeights(from_file->graph, proto);
    Result<ir::Model> from_bytes = LoadModelFromBytes(Serialize(proto), ".");
    ASSERT_TRUE(from_bytes.ok()) << from_bytes.status().ToString();
    ExpectSameWeights(from_bytes->graph, proto);
    // Each weight is copied into aligned memory of its own.
    for (const auto& [name, t] : from_file->graph.initializers) {
      const size_t align = std::max<size_t>(1, DTypeBits(t.dtype()) / 8);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % align, 0u) << name;
    }
    EXPECT_EQ(from_file->graph.outputs[0].Describe(), "Y: float32[1, 129]");
  }
}

TEST(MappedFileTest, WeightsOutliveTheFileAndWritingThemLeavesItAlone) {
  const onnx::ModelProto proto = LargeWeightsModel("");
  const fs::path path = TempPath("unihal_mapped_outlive.onnx");
  const std::string bytes = Serialize(proto);
  WriteFile(path, bytes);
  Result<ir::Model> model = LoadModelFromFile(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // Writing into every weight (a pass folding in place may) never reaches the file.
  for (auto& [name, t] : model->graph.initializers) std::memset(t.data(), 0x5a, t.nbytes());
  EXPECT_EQ(ReadAll(path), bytes);
  // Deleted, the file's bytes stay readable through the weights that hold them.
  Result<ir::Model> again = LoadModelFromFile(path.string());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  fs::remove(path);
  ExpectSameWeights(again->graph, proto);
}

TEST(MappedFileTest, EmptyTruncatedOrMisSizedModelFilesAreClearErrors) {
  const fs::path path = TempPath("unihal_mapped_bad.onnx");
  const std::string corrupt = "model '" + path.string() +
                              "' is not a valid ONNX model (truncated or corrupt protobuf); "
                              "re-export or re-download it";
  WriteFile(path, "");
  Result<ir::Model> empty = LoadModelFromFile(path.string());
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().message(), corrupt);

  // Cut inside a large weight, at its end, and a byte short of the end.
  const std::string bytes = Serialize(LargeWeightsModel(""));
  for (size_t keep : {bytes.size() / 2, bytes.size() / 3, bytes.size() - 1, size_t{1}}) {
    SCOPED_TRACE(keep);
    WriteFile(path, std::string_view(bytes).substr(0, keep));
    Result<ir::Model> truncated = LoadModelFromFile(path.string());
    ASSERT_FALSE(truncated.ok());
    EXPECT_EQ(truncated.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(truncated.status().message(), corrupt);
  }

  // A large weight whose raw_data is shorter than its shape: named, from a file or bytes.
  onnx::ModelProto mis_sized = LargeWeightsModel("");
  mis_sized.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(100000);
  WriteFile(path, Serialize(mis_sized));
  const std::string message =
      "initializer 'W': tensor 'W' is float32[256, 128] (131072 bytes) but its raw_data holds "
      "100000 bytes; the file is corrupt or was written incorrectly";
  Result<ir::Model> from_file = LoadModelFromFile(path.string());
  ASSERT_FALSE(from_file.ok());
  EXPECT_EQ(from_file.status().message(), "model '" + path.string() + "': " + message);
  Result<ir::Model> from_bytes = LoadModelFromBytes(Serialize(mis_sized), ".");
  ASSERT_FALSE(from_bytes.ok());
  EXPECT_EQ(from_bytes.status().message(), "the model bytes: " + message);
}

}  // namespace
}  // namespace unihal::onnx_import
