#include "unihal/session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::AttributeProto;
using onnx::TensorProto;
using unihal::testing::AllClose;
using unihal::testing::RandomTensor;

std::shared_ptr<Runtime> TheRuntime() {
  static const std::shared_ptr<Runtime> runtime = *Runtime::Create();
  return runtime;
}

Result<std::unique_ptr<Session>> SessionFor(const onnx::ModelProto& model,
                                            SessionOptions options = {}) {
  if (options.device == "auto") options.device = "cpu";
  return Session::LoadFromBytes(TheRuntime(), Serialize(model), options);
}

// Y = Relu(X @ W + B), X [batch, 3], W [3, 4], B [4].
struct MlpModel {
  Tensor w = RandomTensor(DType::kF32, {3, 4}, 1);
  Tensor b = RandomTensor(DType::kF32, {4}, 2);
  onnx::ModelProto proto = NewModel(13);

  MlpModel() {
    auto* g = proto.mutable_graph();
    AddInput(g, "X", TensorProto::FLOAT, {-1, 3}, {"batch"});
    AddInitializer(g, "W", w);
    AddInitializer(g, "B", b);
    AddNode(g, "MatMul", {"X", "W"}, {"XW"}, "matmul");
    AddNode(g, "Add", {"XW", "B"}, {"Z"}, "add");
    AddNode(g, "Relu", {"Z"}, {"Y"}, "relu");
    AddOutput(g, "Y", TensorProto::FLOAT, {-1, 4}, {"batch"});
  }

  // The same in float64.
  Tensor Reference(const Tensor& x) const {
    const int64_t batch = x.dim(0);
    std::vector<float> y(static_cast<size_t>(batch * 4));
    for (int64_t i = 0; i < batch; ++i) {
      for (int64_t j = 0; j < 4; ++j) {
        double acc = b.data_as<float>()[j];
        for (int64_t k = 0; k < 3; ++k) {
          acc += static_cast<double>(x.data_as<float>()[i * 3 + k]) * w.data_as<float>()[k * 4 + j];
        }
        y[static_cast<size_t>(i * 4 + j)] = static_cast<float>(std::max(acc, 0.0));
      }
    }
    return Tensor::FromVector<float>({batch, 4}, y);
  }
};

TEST(SessionTest, RunsMatMulAddReluLikeAFloat64Reference) {
  MlpModel mlp;
  Result<std::unique_ptr<Session>> session = SessionFor(mlp.proto);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->device_id(), "cpu:0");
  ASSERT_EQ((*session)->inputs().size(), 1u);
  EXPECT_EQ((*session)->inputs()[0].Describe(), "X: float32[batch, 3]");
  EXPECT_EQ((*session)->outputs()[0].Describe(), "Y: float32[batch, 4]");
  for (int64_t batch : {1, 2, 7}) {
    const Tensor x = RandomTensor(DType::kF32, {batch, 3}, 100 + static_cast<uint64_t>(batch));
    Result<std::vector<Tensor>> y = (*session)->Run({{"X", x}});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    ASSERT_EQ(y->size(), 1u);
    EXPECT_TRUE(AllClose((*y)[0], mlp.Reference(x), 1e-5, 1e-6)) << "batch " << batch;
  }
}

TEST(SessionTest, ReshapeWithAConstantShapeAndFoldedConstants) {
  // Y = Reshape(X, shape) + (C1 * C2), with `shape` from a Constant node and C1 * C2 folded.
  onnx::ModelProto proto = NewModel(14);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2, 6});
  auto* shape = AddNode(g, "Constant", {}, {"shape"}, "shape_const");
  SetTensorAttr(shape, "value", Tensor::FromVector<int64_t>({3}, {3, -1, 2}));
  const Tensor c1 = RandomTensor(DType::kF32, {3, 2, 2}, 3);
  const Tensor c2 = RandomTensor(DType::kF32, {3, 2, 2}, 4);
  AddInitializer(g, "C1", c1);
  AddInitializer(g, "C2", c2);
  AddNode(g, "Mul", {"C1", "C2"}, {"C"}, "mul_consts");
  AddNode(g, "Reshape", {"X", "shape"}, {"R"}, "reshape");
  AddNode(g, "Add", {"R", "C"}, {"Y"}, "add");
  AddUntypedOutput(g, "Y");

  const Tensor x = RandomTensor(DType::kF32, {2, 6}, 5);
  std::vector<float> expected(12);
  for (size_t i = 0; i < 12; ++i) {
    expected[i] =
        static_cast<float>(static_cast<double>(x.data_as<float>()[i]) +
                           static_cast<double>(c1.data_as<float>()[i]) * c2.data_as<float>()[i]);
  }
  const Tensor reference = Tensor::FromVector<float>({3, 2, 2}, expected);
  for (bool optimize : {true, false}) {
    SCOPED_TRACE(optimize ? "optimized" : "unoptimized");
    SessionOptions options;
    options.optimize = optimize;
    Result<std::unique_ptr<Session>> session = SessionFor(proto, options);
    ASSERT_TRUE(session.ok()) << session.status().ToString();
    // Folding leaves only the Reshape and the Add.
    EXPECT_EQ((*session)->model().graph.nodes.size(), optimize ? 2u : 4u);
    EXPECT_EQ((*session)->outputs()[0].Describe(), "Y: float32[3, 2, 2]");
    Result<std::vector<Tensor>> y = (*session)->Run({{"X", x}});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_TRUE(AllClose((*y)[0], reference, 1e-6, 1e-7));
  }
}

TEST(SessionTest, AnOutputThatIsFoldedToAConstantIsReturned) {
  onnx::ModelProto proto = NewModel(13);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddInitializer(g, "A", Tensor::FromVector<float>({2}, {1.5f, -2.f}));
  AddNode(g, "Relu", {"A"}, {"relu_a"}, "relu_const");
  AddNode(g, "Add", {"X", "A"}, {"Y"}, "add");
  AddOutput(g, "relu_a", TensorProto::FLOAT, {2});
  AddOutput(g, "Y", TensorProto::FLOAT, {2});
  Result<std::unique_ptr<Session>> session = SessionFor(proto);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ((*session)->model().graph.nodes.size(), 1u);
  Result<std::vector<Tensor>> y = (*session)->Run({{"X", Tensor::FromVector<float>({2}, {1, 1})}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ASSERT_EQ(y->size(), 2u);
  EXPECT_TRUE(AllClose((*y)[0], Tensor::FromVector<float>({2}, {1.5f, 0.f})));
  EXPECT_TRUE(AllClose((*y)[1], Tensor::FromVector<float>({2}, {2.5f, -1.f})));
}

void ExpectRunError(const Session& session, const std::map<std::string, Tensor>& inputs,
                    const std::string& message) {
  Result<std::vector<Tensor>> y = session.Run(inputs);
  ASSERT_FALSE(y.ok()) << "expected: " << message;
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(y.status().message(), message);
}

TEST(SessionTest, BadInputsGiveClearErrors) {
  MlpModel mlp;
  Result<std::unique_ptr<Session>> session = SessionFor(mlp.proto);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  const Session& s = **session;
  ExpectRunError(s, {{"X", RandomTensor(DType::kF64, {2, 3}, 1)}},
                 "input 'X' has dtype float64 but the model expects X: float32[batch, 3]");
  ExpectRunError(s, {{"X", RandomTensor(DType::kF32, {2, 5}, 1)}},
                 "input 'X' has shape [2, 5] but the model expects X: float32[batch, 3]");
  ExpectRunError(s, {{"X", RandomTensor(DType::kF32, {6}, 1)}},
                 "input 'X' has shape [6] but the model expects X: float32[batch, 3]");
  ExpectRunError(s, {}, "input 'X' is missing; the model expects:\n  X: float32[batch, 3]");
  ExpectRunError(s, {{"X", RandomTensor(DType::kF32, {2, 3}, 1)}, {"x", Tensor()}},
                 "the model has no input named 'x'; its inputs are:\n  X: float32[batch, 3]");
}

TEST(SessionTest, UnknownDeviceIsNotFound) {
  MlpModel mlp;
  SessionOptions options;
  options.device = "tpu:7";
  Result<std::unique_ptr<Session>> session = SessionFor(mlp.proto, options);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(session.status().message().rfind("unknown device 'tpu:7'", 0), 0u)
      << session.status().message();
  EXPECT_NE(session.status().message().find("cpu:0"), std::string::npos);
}

TEST(SessionTest, UnknownOpIsReportedWithItsNode) {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddNode(g, "Relu", {"X"}, {"R"}, "relu");
  AddNode(g, "FrobnicateV2", {"R"}, {"Y"}, "mystery");
  AddUntypedOutput(g, "Y");
  Result<std::unique_ptr<Session>> session = SessionFor(proto);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(session.status().message().rfind("cpu:0 cannot run ", 0), 0u)
      << session.status().message();
  EXPECT_NE(session.status().message().find("\n  node 'mystery' (FrobnicateV2), opset 17: "),
            std::string::npos)
      << session.status().message();
}

TEST(SessionTest, WrongAttributeTypeNamesTheNodeAndAttribute) {
  // Transpose's perm must be ints; here it is a float.
  onnx::ModelProto proto = NewModel(13);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2, 3});
  auto* node = AddNode(g, "Transpose", {"X"}, {"Y"}, "transpose");
  AddAttr(node, "perm", AttributeProto::FLOAT)->set_f(1.f);
  AddUntypedOutput(g, "Y");
  Result<std::unique_ptr<Session>> session = SessionFor(proto);
  Status status = session.status();
  if (session.ok())
    status = (*session)->Run({{"X", RandomTensor(DType::kF32, {2, 3}, 1)}}).status();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("node 'transpose' (Transpose)"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("'perm'"), std::string::npos) << status.message();
}

TEST(SessionTest, MalformedModelBytesAreRejected) {
  Result<std::unique_ptr<Session>> session =
      Session::LoadFromBytes(TheRuntime(), "definitely not a model");
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(session.status().message(),
            "the model bytes is not a valid ONNX model (truncated or corrupt protobuf); "
            "re-export or re-download it");
  Result<std::unique_ptr<Session>> missing = Session::Load(TheRuntime(), "/nope/model.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(SessionTest, ConcurrentRunsGiveIdenticalResults) {
  MlpModel mlp;
  Result<std::unique_ptr<Session>> session = SessionFor(mlp.proto);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  std::vector<Tensor> inputs;
  std::vector<Tensor> expected;
  for (uint64_t i = 0; i < 4; ++i) {
    inputs.push_back(RandomTensor(DType::kF32, {16, 3}, 1000 + i));
    Result<std::vector<Tensor>> y = (*session)->Run({{"X", inputs.back()}});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    expected.push_back((*y)[0]);
  }
  std::vector<std::string> failures(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int iteration = 0; iteration < 200; ++iteration) {
        Result<std::vector<Tensor>> y = (*session)->Run({{"X", inputs[t]}});
        if (!y.ok()) {
          failures[t] = y.status().ToString();
          return;
        }
        if (std::memcmp((*y)[0].data(), expected[t].data(), expected[t].nbytes()) != 0) {
          failures[t] = "iteration " + std::to_string(iteration) + " differs";
          return;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < 4; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
}  // namespace unihal
