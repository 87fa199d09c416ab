// Session::RunValues, and Session::Run's refusal, on models whose inputs or outputs are
// sequences or optionals.
#include <gtest/gtest.h>

#include "onnx/test_model_builder.h"
#include "unihal/session.h"
#include "unihal/value.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

std::shared_ptr<Runtime> TheRuntime() {
  static const std::shared_ptr<Runtime> runtime = *Runtime::Create();
  return runtime;
}

Result<std::unique_ptr<Session>> CpuSession(const onnx::ModelProto& model) {
  SessionOptions options;
  options.device = "cpu";
  return Session::LoadFromBytes(TheRuntime(), Serialize(model), options);
}

void SetSequenceType(onnx::ValueInfoProto* info, int32_t elem_type) {
  info->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(elem_type);
}

Tensor F32(Shape shape, std::vector<float> values) {
  return Tensor::FromVector<float>(std::move(shape), values);
}

void ExpectError(const Status& status, StatusCode code, const std::string& fragment) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_NE(status.message().find(fragment), std::string::npos) << status.ToString();
}

// X [2, 3] -> rows = SplitToSequence(X) (two [1, 3] rows), n = SequenceLength(rows).
onnx::ModelProto SplitRowsModel() {
  onnx::ModelProto model = NewModel(17);
  auto* g = model.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2, 3});
  AddNode(g, "SplitToSequence", {"X"}, {"rows"}, "split");
  AddNode(g, "SequenceLength", {"rows"}, {"n"}, "length");
  auto* rows = g->add_output();
  rows->set_name("rows");
  SetSequenceType(rows, TensorProto::FLOAT);
  AddOutput(g, "n", TensorProto::INT64, {});
  return model;
}

TEST(SessionValuesTest, RunNamesTheSequenceOutputAndRunValuesReturnsIt) {
  Result<std::unique_ptr<Session>> session = CpuSession(SplitRowsModel());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->outputs()[0].kind, ir::TypeKind::kSequence);
  const Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Result<std::vector<Tensor>> tensors = (*session)->Run({{"X", x}});
  ASSERT_FALSE(tensors.ok());
  ExpectError(tensors.status(), StatusCode::kInvalidArgument,
              "the model's output 'rows' is sequence (rows: sequence(float32");
  ExpectError(tensors.status(), StatusCode::kInvalidArgument, "use Session::RunValues");

  Result<std::vector<Value>> values = (*session)->RunValues({{"X", x}});
  ASSERT_TRUE(values.ok()) << values.status().ToString();
  ASSERT_EQ(values->size(), 2u);
  const Value& rows = (*values)[0];
  ASSERT_TRUE(rows.is_sequence());
  ASSERT_EQ(rows.elements().size(), 2u);
  EXPECT_EQ(rows.elements()[1].shape(), (Shape{1, 3}));
  EXPECT_EQ(rows.elements()[1].data_as<float>()[2], 6.f);
  EXPECT_EQ(*(*values)[1].tensor().data_as<int64_t>(), 2);
}

// S: sequence(float32) -> Y = ConcatFromSequence(S, axis 0).
onnx::ModelProto ConcatModel() {
  onnx::ModelProto model = NewModel(17);
  auto* g = model.mutable_graph();
  SetSequenceType(g->add_input(), TensorProto::FLOAT);
  g->mutable_input(0)->set_name("S");
  SetIntAttr(AddNode(g, "ConcatFromSequence", {"S"}, {"Y"}, "concat"), "axis", 0);
  AddUntypedOutput(g, "Y");
  return model;
}

TEST(SessionValuesTest, SequenceInputsAreCheckedAndRun) {
  Result<std::unique_ptr<Session>> session = CpuSession(ConcatModel());
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Result<Value> s = Value::Sequence(DType::kF32, {F32({1}, {1}), F32({2}, {2, 3})});
  ASSERT_TRUE(s.ok());
  Result<std::vector<Value>> out = (*session)->RunValues({{"S", *s}});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const Tensor& y = (*out)[0].tensor();
  ASSERT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(y.data_as<float>()[0], 1.f);
  EXPECT_EQ(y.data_as<float>()[2], 3.f);

  ExpectError((*session)->RunValues({{"S", F32({1}, {1})}}).status(), StatusCode::kInvalidArgument,
              "input 'S' is float32[1] but the model expects S: sequence(float32");
  Result<Value> ints = Value::Sequence(DType::kI64, {});
  ExpectError((*session)->RunValues({{"S", *ints}}).status(), StatusCode::kInvalidArgument,
              "input 'S' holds int64 but the model expects S: sequence(float32");
  ExpectError((*session)->RunValues({}).status(), StatusCode::kInvalidArgument,
              "input 'S' is missing");
  ExpectError((*session)->Run({{"S", F32({1}, {1})}}).status(), StatusCode::kInvalidArgument,
              "the model's input 'S' is sequence");
}

TEST(SessionValuesTest, OptionalInputTakesNoneOrATensor) {
  onnx::ModelProto model = NewModel(18);
  auto* g = model.mutable_graph();
  auto* in = g->add_input();
  in->set_name("O");
  in->mutable_type()
      ->mutable_optional_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(TensorProto::FLOAT);
  AddNode(g, "OptionalHasElement", {"O"}, {"has"}, "has");
  AddOutput(g, "has", TensorProto::BOOL, {});
  Result<std::unique_ptr<Session>> session = CpuSession(model);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  for (const Value& given : {Value::None(), Value(F32({2}, {1, 2}))}) {
    Result<std::vector<Value>> out = (*session)->RunValues({{"O", given}});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*(*out)[0].tensor().data_as<bool>(), !given.is_none());
  }
  Result<Value> sequence = Value::Sequence(DType::kF32, {});
  ExpectError((*session)->RunValues({{"O", *sequence}}).status(), StatusCode::kInvalidArgument,
              "but the model expects O: optional(float32");
}

TEST(SessionValuesTest, TensorModelsRunThroughBothEntryPoints) {
  onnx::ModelProto model = NewModel(17);
  auto* g = model.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddNode(g, "Relu", {"X"}, {"Y"}, "relu");
  AddOutput(g, "Y", TensorProto::FLOAT, {2});
  Result<std::unique_ptr<Session>> session = CpuSession(model);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  const Tensor x = F32({2}, {-1, 2});
  Result<std::vector<Tensor>> tensors = (*session)->Run({{"X", x}});
  Result<std::vector<Value>> values = (*session)->RunValues({{"X", x}});
  ASSERT_TRUE(tensors.ok() && values.ok());
  EXPECT_EQ((*tensors)[0].data_as<float>()[1], 2.f);
  EXPECT_EQ((*values)[0].tensor().data_as<float>()[0], 0.f);
  // Tensor inputs of RunValues are checked as Run checks them.
  ExpectError((*session)->RunValues({{"X", F32({3}, {1, 2, 3})}}).status(),
              StatusCode::kInvalidArgument, "input 'X' has shape [3]");
}

}  // namespace
}  // namespace unihal
