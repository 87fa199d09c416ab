#include "onnx/value_proto.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "onnx/onnx_loader.h"
#include "onnx/tensor_proto.h"

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;

fs::path FreshDir() {
  fs::path dir = fs::path(::testing::TempDir()) / "unihal_value_proto";
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

template <typename Proto>
std::string Write(const fs::path& path, const Proto& proto) {
  std::ofstream out(path, std::ios::binary);
  const std::string bytes = proto.SerializeAsString();
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path.string();
}

ir::ValueInfo TypeOf(ir::TypeKind kind, DType dtype) {
  ir::ValueInfo info;
  info.kind = kind;
  info.dtype = dtype;
  return info;
}

onnx::SequenceProto TwoTensors() {
  onnx::SequenceProto sequence;
  sequence.set_name("seq");
  sequence.set_elem_type(onnx::SequenceProto::TENSOR);
  *sequence.add_tensor_values() = *TensorToProto(Tensor::FromVector<float>({2}, {1, 2}), "");
  *sequence.add_tensor_values() = *TensorToProto(Tensor::FromVector<float>({1}, {3}), "");
  return sequence;
}

TEST(ValueProtoTest, ReadsSequencesAndOptionalsAsTheGraphTypesThem) {
  const fs::path dir = FreshDir();
  Result<Value> sequence = LoadValueProtoFile(Write(dir / "seq.pb", TwoTensors()),
                                              TypeOf(ir::TypeKind::kSequence, DType::kF32));
  ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
  ASSERT_TRUE(sequence->is_sequence());
  ASSERT_EQ(sequence->elements().size(), 2u);
  EXPECT_EQ(sequence->elements()[0].data_as<float>()[1], 2.f);
  EXPECT_EQ(sequence->elements()[1].shape(), (Shape{1}));

  onnx::OptionalProto none;
  none.set_name("none");
  none.set_elem_type(onnx::OptionalProto::TENSOR);
  Result<Value> empty = LoadValueProtoFile(Write(dir / "none.pb", none),
                                           TypeOf(ir::TypeKind::kOptionalTensor, DType::kF32));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->is_none());

  onnx::OptionalProto holding;
  holding.set_elem_type(onnx::OptionalProto::SEQUENCE);
  *holding.mutable_sequence_value() = TwoTensors();
  Result<Value> held = LoadValueProtoFile(Write(dir / "held.pb", holding),
                                          TypeOf(ir::TypeKind::kOptionalSequence, DType::kF32));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->elements().size(), 2u);
}

TEST(ValueProtoTest, EmptySequencesTakeTheDeclaredDtype) {
  onnx::SequenceProto empty;
  empty.set_elem_type(onnx::SequenceProto::TENSOR);
  Result<Value> typed = ValueFromSequenceProto(empty, DType::kI32, ".");
  ASSERT_TRUE(typed.ok()) << typed.status().ToString();
  EXPECT_EQ(typed->element_dtype(), DType::kI32);
  EXPECT_FALSE(ValueFromSequenceProto(empty, DType::kUndefined, ".").ok());
}

TEST(ValueProtoTest, RefusesWhatUnihalHasNoValueFor) {
  onnx::SequenceProto of_maps;
  of_maps.set_name("maps");
  of_maps.set_elem_type(onnx::SequenceProto::MAP);
  of_maps.add_map_values();
  Result<Value> maps = ValueFromSequenceProto(of_maps, DType::kUndefined, ".");
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(maps.status().message().find("sequence 'maps' holds values other than dense tensors"),
            std::string::npos)
      << maps.status().ToString();
  const fs::path dir = FreshDir();
  {
    std::ofstream garbage(dir / "bad.pb", std::ios::binary);
    garbage << "\xff\xff\xff";
  }
  Result<Value> bad =
      LoadValueProtoFile((dir / "bad.pb").string(), TypeOf(ir::TypeKind::kSequence, DType::kF32));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("is not a valid ONNX SequenceProto"), std::string::npos)
      << bad.status().ToString();
}

}  // namespace
}  // namespace unihal::onnx_import
