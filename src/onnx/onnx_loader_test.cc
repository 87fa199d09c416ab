#include "onnx/onnx_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;
using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::AttributeProto;
using onnx::TensorProto;

const fs::path kLightZoo =
    fs::path(UNIHAL_SOURCE_DIR) / ".venv/lib/python3.11/site-packages/onnx/backend/test/data/light";

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

Result<ir::Model> Load(const onnx::ModelProto& model) {
  return LoadModelFromBytes(Serialize(model), ".");
}

// X[batch,4] -> Relu -> Y
onnx::ModelProto ReluModel(int64_t opset = 17) {
  onnx::ModelProto model = NewModel(opset);
  auto* g = model.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {-1, 4}, {"batch"});
  AddNode(g, "Relu", {"X"}, {"Y"}, "relu");
  AddOutput(g, "Y", TensorProto::FLOAT, {-1, 4}, {"batch"});
  return model;
}

void ExpectError(const Result<ir::Model>& result, StatusCode code, const std::string& message) {
  ASSERT_FALSE(result.ok()) << "expected: " << message;
  EXPECT_EQ(result.status().code(), code) << result.status().ToString();
  EXPECT_EQ(result.status().message(), message);
}

struct ZooModel {
  std::string file;
  std::string input;
  Shape input_shape;
  std::string output;
  Shape output_shape;
  size_t num_nodes;
};

TEST(OnnxLoaderTest, EveryLightZooModelLoadsWithItsInterface) {
  const ZooModel models[] = {
      {"light_bvlc_alexnet", "data_0", {1, 3, 224, 224}, "prob_1", {1, 1000}, 40},
      {"light_densenet121", "data_0", {1, 3, 224, 224}, "fc6_1", {1, 1000, 1, 1}, 1746},
      {"light_inception_v1", "data_0", {1, 3, 224, 224}, "prob_1", {1, 1000}, 237},
      {"light_inception_v2", "data_0", {1, 3, 224, 224}, "prob_1", {1, 1000}, 916},
      {"light_resnet50", "gpu_0/data_0", {1, 3, 224, 224}, "gpu_0/softmax_1", {1, 1000}, 415},
      {"light_shufflenet", "gpu_0/data_0", {1, 3, 224, 224}, "gpu_0/softmax_1", {1, 1000}, 446},
      {"light_squeezenet", "data_0", {1, 3, 224, 224}, "softmaxout_1", {1, 1000, 1, 1}, 105},
      {"light_vgg19", "data_0", {1, 3, 224, 224}, "prob_1", {1, 1000}, 82},
      {"light_zfnet512", "gpu_0/data_0", {1, 3, 224, 224}, "gpu_0/softmax_1", {1, 1000}, 38},
  };
  for (const ZooModel& expected : models) {
    SCOPED_TRACE(expected.file);
    const fs::path path = kLightZoo / (expected.file + ".onnx");
    if (!fs::exists(path)) GTEST_SKIP() << path << " is not installed";
    Result<ir::Model> model = LoadModelFromFile(path.string());
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const ir::Graph& g = model->graph;
    EXPECT_EQ(model->ir_version, 3);
    EXPECT_EQ(model->path, path.string());
    EXPECT_EQ(g.opset_imports, (std::map<std::string, int>{{"", 9}}));
    // IR version 3 lists every initializer as an input too: only the image remains.
    ASSERT_EQ(g.inputs.size(), 1u);
    EXPECT_EQ(g.inputs[0].name, expected.input);
    EXPECT_EQ(g.inputs[0].dtype, DType::kF32);
    EXPECT_EQ(g.inputs[0].StaticShape(), expected.input_shape);
    ASSERT_EQ(g.outputs.size(), 1u);
    EXPECT_EQ(g.outputs[0].name, expected.output);
    EXPECT_EQ(g.outputs[0].StaticShape(), expected.output_shape);
    EXPECT_EQ(g.nodes.size(), expected.num_nodes);

    // Names unique, every node at opset 9, and sorted: each input defined before use.
    std::set<std::string> names, defined;
    for (const auto& in : g.inputs) defined.insert(in.name);
    for (const auto& [name, t] : g.initializers) defined.insert(name);
    for (const ir::Node& node : g.nodes) {
      EXPECT_TRUE(names.insert(node.name).second) << node.name;
      EXPECT_FALSE(node.name.empty());
      EXPECT_EQ(node.opset, 9);
      for (const auto& in : node.inputs) {
        EXPECT_TRUE(in.empty() || defined.count(in)) << node.Describe() << " reads " << in;
      }
      for (const auto& out : node.outputs) defined.insert(out);
    }
    // libonnx inferred the type of every node output.
    for (const ir::Node& node : g.nodes) {
      const ir::ValueInfo* info = g.FindValueInfo(node.outputs[0]);
      ASSERT_NE(info, nullptr) << node.Describe();
      EXPECT_NE(info->dtype, DType::kUndefined) << node.Describe();
    }
  }
}

TEST(OnnxLoaderTest, UnnamedNodesGetNamesFromTheirOpAndIndex) {
  const fs::path path = kLightZoo / "light_bvlc_alexnet.onnx";
  if (!fs::exists(path)) GTEST_SKIP();
  Result<ir::Model> model = LoadModelFromFile(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  // Node 0 is an unnamed ConstantOfShape producing conv1_b_0 from a shape initializer.
  const ir::Node* first = nullptr;
  for (const ir::Node& node : model->graph.nodes) {
    if (node.outputs[0] == "conv1_b_0") first = &node;
  }
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->name, "ConstantOfShape_0");
  EXPECT_EQ(first->op_type, "ConstantOfShape");
  Result<Tensor> value = first->GetTensor("value");
  ASSERT_TRUE(value.ok());
  EXPECT_FLOAT_EQ(value->data_as<float>()[0], 0.02f);
  const ir::ValueInfo* conv1 = model->graph.FindValueInfo("r0");  // conv1's output
  ASSERT_NE(conv1, nullptr);
  EXPECT_EQ(conv1->StaticShape(), (Shape{1, 96, 54, 54}));
}

TEST(OnnxLoaderTest, MissingFileIsNotFound) {
  Result<ir::Model> model = LoadModelFromFile("/no/such/dir/model.onnx");
  ExpectError(model, StatusCode::kNotFound,
              "model file '/no/such/dir/model.onnx' does not exist; check the path");
}

TEST(OnnxLoaderTest, TruncatedModelIsInvalid) {
  const fs::path path = kLightZoo / "light_squeezenet.onnx";
  if (!fs::exists(path)) GTEST_SKIP();
  const std::string bytes = ReadAll(path);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 1, size_t{3}}) {
    SCOPED_TRACE(keep);
    ExpectError(LoadModelFromBytes(std::string_view(bytes).substr(0, keep), "."),
                StatusCode::kInvalidArgument,
                "the model bytes is not a valid ONNX model (truncated or corrupt protobuf); "
                "re-export or re-download it");
  }
  // The same through a file: the message names it.
  const fs::path truncated = fs::path(::testing::TempDir()) / "unihal_truncated.onnx";
  {
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 3));
  }
  ExpectError(LoadModelFromFile(truncated.string()), StatusCode::kInvalidArgument,
              "model '" + truncated.string() +
                  "' is not a valid ONNX model (truncated or corrupt protobuf); re-export or "
                  "re-download it");
}

TEST(OnnxLoaderTest, GarbageNeverCrashesAndIsRejected) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes(static_cast<size_t>(rng() % 4096), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Result<ir::Model> model = LoadModelFromBytes(bytes, ".");
    EXPECT_FALSE(model.ok()) << "trial " << trial;
  }
  ExpectError(LoadModelFromBytes("this is a text file, not a model\n", "."),
              StatusCode::kInvalidArgument,
              "the model bytes is not a valid ONNX model (truncated or corrupt protobuf); "
              "re-export or re-download it");
  ExpectError(LoadModelFromBytes("", "."), StatusCode::kInvalidArgument,
              "the model bytes is not a valid ONNX model (truncated or corrupt protobuf); "
              "re-export or re-download it");
}

TEST(OnnxLoaderTest, FlippedBytesOfARealModelNeverCrash) {
  const fs::path path = kLightZoo / "light_zfnet512.onnx";
  if (!fs::exists(path)) GTEST_SKIP();
  const std::string original = ReadAll(path);
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = original;
    for (int k = 0; k < 4; ++k) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    Result<ir::Model> model = LoadModelFromBytes(bytes, ".");
    if (!model.ok()) {
      EXPECT_FALSE(model.status().message().empty());
    }
  }
}

TEST(OnnxLoaderTest, ModelWithoutGraph) {
  onnx::ModelProto model = NewModel();
  model.clear_graph();
  ExpectError(Load(model), StatusCode::kInvalidArgument,
              "the model bytes: the model has no graph; it is not a valid ONNX model (truncated "
              "or corrupt protobuf?)");
}

TEST(OnnxLoaderTest, ConvertsTheModelAndGraphInterface) {
  onnx::ModelProto proto = ReluModel();
  proto.set_producer_name("pytorch");
  proto.set_producer_version("2.3");
  proto.mutable_opset_import(0)->set_domain("ai.onnx");
  auto* unknown_dim = proto.mutable_graph()
                          ->mutable_input(0)
                          ->mutable_type()
                          ->mutable_tensor_type()
                          ->mutable_shape()
                          ->add_dim();
  (void)unknown_dim;  // a third dim with neither value nor param
  proto.mutable_graph()
      ->mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_value(4);
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->ir_version, 8);
  EXPECT_EQ(model->producer_name, "pytorch");
  EXPECT_EQ(model->producer_version, "2.3");
  EXPECT_EQ(model->graph.name, "test_graph");
  EXPECT_EQ(model->graph.opset_imports, (std::map<std::string, int>{{"", 17}}));
  ASSERT_EQ(model->graph.inputs.size(), 1u);
  const ir::ValueInfo& x = model->graph.inputs[0];
  EXPECT_EQ(x.Describe(), "X: float32[batch, 4, ?]");
  EXPECT_TRUE(x.shape->at(0) == ir::Dim::Symbolic("batch"));
  EXPECT_TRUE(x.shape->at(1) == ir::Dim::Static(4));
  EXPECT_TRUE(x.shape->at(2) == ir::Dim{});
  ASSERT_EQ(model->graph.nodes.size(), 1u);
  EXPECT_EQ(model->graph.nodes[0].domain, "");
  EXPECT_EQ(model->graph.nodes[0].opset, 17);
}

TEST(OnnxLoaderTest, ConvertsEveryAttributeType) {
  onnx::ModelProto proto = ReluModel();
  auto* node = proto.mutable_graph()->mutable_node(0);
  SetIntAttr(node, "i", -7);
  AddAttr(node, "f", AttributeProto::FLOAT)->set_f(2.5f);
  AddAttr(node, "s", AttributeProto::STRING)->set_s("NOTSET");
  SetTensorAttr(node, "t", Tensor::FromVector<int32_t>({2}, {3, 4}));
  SetIntsAttr(node, "is", {1, 2, 3});
  auto* floats = AddAttr(node, "fs", AttributeProto::FLOATS);
  floats->add_floats(0.5f);
  floats->add_floats(-1.f);
  auto* strings = AddAttr(node, "ss", AttributeProto::STRINGS);
  strings->add_strings("a");
  strings->add_strings("b");
  auto* tensors = AddAttr(node, "ts", AttributeProto::TENSORS);
  *tensors->add_tensors() = *TensorToProto(Tensor::Scalar<double>(1.25), "");
  // Writers before IR version 2 left the type unset.
  auto* legacy = node->add_attribute();
  legacy->set_name("legacy");
  legacy->set_i(5);
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const ir::Node& n = model->graph.nodes[0];
  EXPECT_EQ(*n.GetInt("i"), -7);
  EXPECT_EQ(*n.GetFloat("f"), 2.5f);
  EXPECT_EQ(*n.GetString("s"), "NOTSET");
  EXPECT_TRUE(
      unihal::testing::AllClose(*n.GetTensor("t"), Tensor::FromVector<int32_t>({2}, {3, 4})));
  EXPECT_EQ(*n.GetInts("is"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(*n.GetFloats("fs"), (std::vector<float>{0.5f, -1.f}));
  EXPECT_EQ(*n.attributes.at("ss").get<std::vector<std::string>>(),
            (std::vector<std::string>{"a", "b"}));
  const auto* ts = n.attributes.at("ts").get<std::vector<Tensor>>();
  ASSERT_NE(ts, nullptr);
  ASSERT_EQ(ts->size(), 1u);
  EXPECT_EQ((*ts)[0].data_as<double>()[0], 1.25);
  EXPECT_EQ(*n.GetInt("legacy"), 5);
}

TEST(OnnxLoaderTest, AttributeErrorsNameTheNodeAndAttribute) {
  onnx::ModelProto ref = ReluModel();
  auto* attr = AddAttr(ref.mutable_graph()->mutable_node(0), "alpha", AttributeProto::FLOAT);
  attr->set_ref_attr_name("outer_alpha");
  ExpectError(Load(ref), StatusCode::kUnimplemented,
              "the model bytes: node 'relu' (Relu), attribute 'alpha' refers to function "
              "attribute 'outer_alpha'; attribute references are only valid inside a function "
              "body");

  onnx::ModelProto sparse = ReluModel();
  AddAttr(sparse.mutable_graph()->mutable_node(0), "sp", AttributeProto::SPARSE_TENSOR);
  ExpectError(Load(sparse), StatusCode::kUnimplemented,
              "the model bytes: node 'relu' (Relu), attribute 'sp' has type SPARSE_TENSOR, which "
              "unihal does not support");

  onnx::ModelProto bad_tensor = ReluModel();
  auto* t = AddAttr(bad_tensor.mutable_graph()->mutable_node(0), "value", AttributeProto::TENSOR)
                ->mutable_t();
  t->set_data_type(TensorProto::FLOAT);
  t->add_dims(3);
  t->add_float_data(1.f);
  ExpectError(Load(bad_tensor), StatusCode::kInvalidArgument,
              "the model bytes: node 'relu' (Relu), attribute 'value': tensor '<unnamed>' is "
              "float32[3] (3 elements) but its float_data holds 1; the file is corrupt or was "
              "written incorrectly");
}

TEST(OnnxLoaderTest, InitializerWithTheWrongDataSize) {
  onnx::ModelProto proto = NewModel();
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(TensorProto::FLOAT);
  w->add_dims(2);
  w->set_raw_data(std::string(4, '\0'));
  AddNode(g, "Add", {"X", "W"}, {"Y"}, "add");
  AddOutput(g, "Y", TensorProto::FLOAT, {2});
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: initializer 'W': tensor 'W' is float32[2] (8 bytes) but its "
              "raw_data holds 4 bytes; the file is corrupt or was written incorrectly");
}

TEST(OnnxLoaderTest, SparseInitializersAreUnimplemented) {
  onnx::ModelProto proto = ReluModel();
  auto* sparse = proto.mutable_graph()->add_sparse_initializer();
  sparse->mutable_values()->set_name("S");
  ExpectError(Load(proto), StatusCode::kUnimplemented,
              "the model bytes: initializer 'S' is sparse, which unihal does not support; store "
              "it dense");
}

TEST(OnnxLoaderTest, UndefinedNodeInputNamesTheNodeAndValue) {
  onnx::ModelProto proto = ReluModel();
  AddNode(proto.mutable_graph(), "Add", {"Y", "ghost"}, {"Z"}, "add1");
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: node 'add1' (Add) reads 'ghost', which is not a graph input, an "
              "initializer or any node's output; fix the model so every input is defined");
}

TEST(OnnxLoaderTest, CycleIsRejected) {
  onnx::ModelProto proto = NewModel();
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddNode(g, "Add", {"X", "B"}, {"A"}, "first");
  AddNode(g, "Relu", {"A"}, {"B"}, "second");
  AddOutput(g, "B", TensorProto::FLOAT, {2});
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: the graph has a cycle through node 'first' (Add); ONNX graphs "
              "must be acyclic");
}

TEST(OnnxLoaderTest, NodesOutOfOrderAreSorted) {
  onnx::ModelProto proto = NewModel();
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddNode(g, "Relu", {"A"}, {"B"}, "second");
  AddNode(g, "Neg", {"X"}, {"A"}, "first");
  AddOutput(g, "B", TensorProto::FLOAT, {2});
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->graph.nodes.size(), 2u);
  EXPECT_EQ(model->graph.nodes[0].name, "first");
  EXPECT_EQ(model->graph.nodes[1].name, "second");
}

TEST(OnnxLoaderTest, DuplicateProducersAreRejected) {
  onnx::ModelProto proto = ReluModel();
  AddNode(proto.mutable_graph(), "Neg", {"X"}, {"Y"}, "neg");
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: node 'neg' (Neg) writes 'Y', which node 'relu' (Relu) also "
              "writes; every value must have one producer");
}

TEST(OnnxLoaderTest, OutputNobodyProducesIsRejected) {
  onnx::ModelProto proto = ReluModel();
  AddOutput(proto.mutable_graph(), "Nowhere", TensorProto::FLOAT, {1});
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: graph output 'Nowhere' is not produced by any node, input or "
              "initializer");
}

TEST(OnnxLoaderTest, OpsetsOutsideTheSupportedRange) {
  ExpectError(Load(ReluModel(99)), StatusCode::kUnimplemented,
              "the model bytes: the model uses ai.onnx opset 99; opset 99 is newer than unihal "
              "supports (max 27); convert it with onnx.version_converter");
  // Relu-1 (opset 5) is not Relu-6 (opset 7): refused, naming the node.
  Result<ir::Model> old_relu = Load(ReluModel(5));
  ASSERT_FALSE(old_relu.ok());
  EXPECT_EQ(old_relu.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(old_relu.status().message().find("the model uses ai.onnx opset 5, and its node"),
            std::string::npos)
      << old_relu.status().message();
  EXPECT_NE(old_relu.status().message().find("(Relu) changed between that opset and opset 7"),
            std::string::npos)
      << old_relu.status().message();
}

TEST(OnnxLoaderTest, OpsOlderThanOpset7LoadWhenUnchangedSince) {
  // Not has had one version since opset 1, so an opset 1 model runs as at opset 7.
  onnx::ModelProto proto = NewModel(1);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::BOOL, {3});
  AddNode(g, "Not", {"X"}, {"Y"}, "not");
  AddOutput(g, "Y", TensorProto::BOOL, {3});
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->graph.nodes[0].opset, 1);
}

TEST(OnnxLoaderTest, OpsetNewerThanLibonnxStillLoadsWithoutInference) {
  // libonnx 1.12 knows opsets up to 17; opset 21 models load, shapes come from declarations.
  onnx::ModelProto proto = ReluModel(21);
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->graph.nodes[0].opset, 21);
  EXPECT_EQ(model->graph.outputs[0].Describe(), "Y: float32[batch, 4]");
}

TEST(OnnxLoaderTest, UnknownOrUnimportedDomains) {
  onnx::ModelProto custom = ReluModel();
  auto* import = custom.add_opset_import();
  import->set_domain("org.example");
  import->set_version(1);
  custom.mutable_graph()->mutable_node(0)->set_domain("org.example");
  ExpectError(Load(custom), StatusCode::kUnimplemented,
              "the model bytes: node 'relu' (Relu) is in domain 'org.example', which unihal does "
              "not know (known: ai.onnx, ai.onnx.ml, ai.onnx.preview, ai.onnx.preview.training, "
              "com.microsoft)");

  onnx::ModelProto unimported = ReluModel();
  unimported.mutable_graph()->mutable_node(0)->set_domain("ai.onnx.ml");
  ExpectError(Load(unimported), StatusCode::kInvalidArgument,
              "the model bytes: node 'relu' (Relu) uses domain 'ai.onnx.ml', which the model's "
              "opset_import does not list (it imports: ai.onnx 17); add the domain to "
              "opset_import");
}

TEST(OnnxLoaderTest, CallsToModelLocalFunctionsAreUnimplemented) {
  onnx::ModelProto proto = ReluModel();
  auto* import = proto.add_opset_import();
  import->set_domain("local");
  import->set_version(1);
  auto* function = proto.add_functions();
  function->set_name("Double");
  function->set_domain("local");
  proto.mutable_graph()->mutable_node(0)->set_op_type("Double");
  proto.mutable_graph()->mutable_node(0)->set_domain("local");
  ExpectError(Load(proto), StatusCode::kUnimplemented,
              "the model bytes: node 'relu' (Double) calls the model-local function "
              "'local.Double'; unihal does not inline model-local functions, inline it with "
              "onnx.inliner first");
}

TEST(OnnxLoaderTest, DuplicateNodeNamesAreMadeUnique) {
  onnx::ModelProto proto = ReluModel();
  AddNode(proto.mutable_graph(), "Relu", {"Y"}, {"Z"}, "relu");
  AddNode(proto.mutable_graph(), "Neg", {"Z"}, {"W"});
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->graph.nodes.size(), 3u);
  EXPECT_EQ(model->graph.nodes[0].name, "relu");
  EXPECT_EQ(model->graph.nodes[1].name, "relu_1");
  EXPECT_EQ(model->graph.nodes[2].name, "Neg_2");
}

// cond ? (X + outer) : (X - outer), where `outer` comes from the main graph.
onnx::ModelProto IfModel(bool producer_after_if) {
  onnx::ModelProto proto = NewModel();
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2});
  AddInput(g, "cond", TensorProto::BOOL, {});
  onnx::GraphProto then_branch, else_branch;
  then_branch.set_name("then");
  AddNode(&then_branch, "Add", {"X", "outer"}, {"then_out"});
  AddOutput(&then_branch, "then_out", TensorProto::FLOAT, {2});
  else_branch.set_name("else");
  AddNode(&else_branch, "Sub", {"X", "outer"}, {"else_out"});
  AddOutput(&else_branch, "else_out", TensorProto::FLOAT, {2});
  auto add_if = [&] {
    auto* node = AddNode(g, "If", {"cond"}, {"Y"}, "if");
    *AddAttr(node, "then_branch", AttributeProto::GRAPH)->mutable_g() = then_branch;
    *AddAttr(node, "else_branch", AttributeProto::GRAPH)->mutable_g() = else_branch;
  };
  if (producer_after_if) add_if();
  AddNode(g, "Neg", {"X"}, {"outer"}, "make_outer");
  if (!producer_after_if) add_if();
  AddOutput(g, "Y", TensorProto::FLOAT, {2});
  return proto;
}

TEST(OnnxLoaderTest, SubgraphsReadOuterScopeValues) {
  for (bool producer_after_if : {false, true}) {
    Result<ir::Model> model = Load(IfModel(producer_after_if));
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    const ir::Graph& g = model->graph;
    ASSERT_EQ(g.nodes.size(), 2u);
    // The If reads `outer` only inside its branches, yet it is sorted after its producer.
    EXPECT_EQ(g.nodes[0].name, "make_outer");
    EXPECT_EQ(g.nodes[1].name, "if");
    // What the branches read from the main graph follows the If's own input (implicit inputs).
    EXPECT_EQ(g.nodes[1].inputs, (std::vector<std::string>{"cond", "X", "outer"}));
    const auto* then_branch =
        g.nodes[1].attributes.at("then_branch").get<std::shared_ptr<const ir::Graph>>();
    ASSERT_NE(then_branch, nullptr);
    EXPECT_EQ((*then_branch)->name, "then");
    ASSERT_EQ((*then_branch)->nodes.size(), 1u);
    EXPECT_EQ((*then_branch)->nodes[0].name, "Add_0");
    EXPECT_EQ((*then_branch)->nodes[0].inputs, (std::vector<std::string>{"X", "outer"}));
    EXPECT_EQ((*then_branch)->outputs[0].name, "then_out");
  }
}

TEST(OnnxLoaderTest, SubgraphReadingAnUndefinedValue) {
  onnx::ModelProto proto = IfModel(false);
  proto.mutable_graph()
      ->mutable_node(1)
      ->mutable_attribute(1)
      ->mutable_g()
      ->mutable_node(0)
      ->set_input(1, "nowhere");
  ExpectError(Load(proto), StatusCode::kInvalidArgument,
              "the model bytes: node 'if' (If), attribute 'else_branch': subgraph 'else': node "
              "'Sub_0' (Sub) reads 'nowhere', which is not a graph input, an initializer or any "
              "node's output; fix the model so every input is defined");
}

TEST(OnnxLoaderTest, ShapeInferenceFillsIntermediatesAndUntypedOutputs) {
  // Y = Relu(X @ W + B) with X [batch, 3], W [3, 4]; Y declares no type.
  onnx::ModelProto proto = NewModel(13);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {-1, 3}, {"batch"});
  AddInitializer(g, "W", unihal::testing::RandomTensor(DType::kF32, {3, 4}, 1));
  AddInitializer(g, "B", unihal::testing::RandomTensor(DType::kF32, {4}, 2));
  AddNode(g, "MatMul", {"X", "W"}, {"XW"});
  AddNode(g, "Add", {"XW", "B"}, {"Z"});
  AddNode(g, "Relu", {"Z"}, {"Y"});
  AddUntypedOutput(g, "Y");
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const ir::Graph& graph = model->graph;
  ASSERT_NE(graph.FindValueInfo("XW"), nullptr);
  EXPECT_EQ(graph.FindValueInfo("XW")->Describe(), "XW: float32[batch, 4]");
  EXPECT_EQ(graph.FindValueInfo("Z")->Describe(), "Z: float32[batch, 4]");
  EXPECT_EQ(graph.outputs[0].Describe(), "Y: float32[batch, 4]");
  EXPECT_EQ(graph.initializers.size(), 2u);
  EXPECT_TRUE(graph.inputs.size() == 1 && graph.inputs[0].name == "X");
}

// Before IR 4 every initializer should also be a graph input; models that skip that (ONNX
// Runtime runs them) must still get shapes past their weights.
TEST(OnnxLoaderTest, ShapeInferenceTypesIr3InitializersThatAreNoInputs) {
  onnx::ModelProto proto = NewModel(9, /*ir_version=*/3);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {1, 3});
  AddInitializer(g, "W", unihal::testing::RandomTensor(DType::kF32, {3, 4}, 1));
  AddNode(g, "MatMul", {"X", "W"}, {"XW"});
  AddNode(g, "Relu", {"XW"}, {"Y"});
  AddUntypedOutput(g, "Y");
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->ir_version, 3);
  ASSERT_NE(model->graph.FindValueInfo("XW"), nullptr);
  EXPECT_EQ(model->graph.FindValueInfo("XW")->Describe(), "XW: float32[1, 4]");
  EXPECT_EQ(model->graph.outputs[0].Describe(), "Y: float32[1, 4]");
}

TEST(OnnxLoaderTest, ShapeInferenceReadsSmallConstantShapes) {
  onnx::ModelProto proto = NewModel(13);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2, 6});
  AddInitializer(g, "shape", Tensor::FromVector<int64_t>({3}, {3, 2, 2}));
  AddNode(g, "Reshape", {"X", "shape"}, {"Y"});
  AddUntypedOutput(g, "Y");
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->graph.outputs[0].Describe(), "Y: float32[3, 2, 2]");
}

TEST(OnnxLoaderTest, UnknownOpsDoNotStopShapeInference) {
  onnx::ModelProto proto = ReluModel();
  AddNode(proto.mutable_graph(), "NoSuchOp", {"Y"}, {"Z"}, "mystery");
  AddNode(proto.mutable_graph(), "Relu", {"Y"}, {"R"}, "relu2");
  AddUntypedOutput(proto.mutable_graph(), "Z");
  AddUntypedOutput(proto.mutable_graph(), "R");
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->graph.outputs[1].dtype, DType::kUndefined);
  EXPECT_EQ(model->graph.outputs[2].Describe(), "R: float32[batch, 4]");
}

TEST(OnnxLoaderTest, NonTensorOrUnsupportedGraphInputs) {
  onnx::ModelProto strings = ReluModel();
  AddInput(strings.mutable_graph(), "names", TensorProto::STRING, {3});
  ExpectError(Load(strings), StatusCode::kUnimplemented,
              "the model bytes: graph input 'names' has element type STRING, which unihal does "
              "not support");
  onnx::ModelProto sequence = ReluModel();
  auto* seq = sequence.mutable_graph()->add_input();
  seq->set_name("seq");
  seq->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_tensor_type()
      ->set_elem_type(TensorProto::FLOAT);
  Result<ir::Model> with_sequence = Load(sequence);
  ASSERT_TRUE(with_sequence.ok()) << with_sequence.status().ToString();
  const ir::ValueInfo& seq_info = with_sequence->graph.inputs.back();
  EXPECT_EQ(seq_info.kind, ir::TypeKind::kSequence);
  EXPECT_EQ(seq_info.dtype, DType::kF32);
  EXPECT_EQ(seq_info.Describe(), "seq: sequence(float32[unknown rank])");

  onnx::ModelProto optional = ReluModel();
  auto* opt = optional.mutable_graph()->add_input();
  opt->set_name("opt");
  auto* element = opt->mutable_type()
                      ->mutable_optional_type()
                      ->mutable_elem_type()
                      ->mutable_sequence_type()
                      ->mutable_elem_type()
                      ->mutable_tensor_type();
  element->set_elem_type(TensorProto::INT64);
  element->mutable_shape()->add_dim()->set_dim_value(2);
  Result<ir::Model> with_optional = Load(optional);
  ASSERT_TRUE(with_optional.ok()) << with_optional.status().ToString();
  EXPECT_EQ(with_optional->graph.inputs.back().Describe(), "opt: optional(sequence(int64[2]))");

  onnx::ModelProto map = ReluModel();
  auto* map_input = map.mutable_graph()->add_input();
  map_input->set_name("lookup");
  map_input->mutable_type()->mutable_map_type()->set_key_type(TensorProto::INT64);
  ExpectError(Load(map), StatusCode::kUnimplemented,
              "the model bytes: graph input 'lookup' is a map value; unihal carries tensors, "
              "sequences of tensors and optionals");
  onnx::ModelProto nested = ReluModel();
  auto* nested_input = nested.mutable_graph()->add_input();
  nested_input->set_name("nested");
  nested_input->mutable_type()
      ->mutable_sequence_type()
      ->mutable_elem_type()
      ->mutable_sequence_type();
  ExpectError(Load(nested), StatusCode::kUnimplemented,
              "the model bytes: graph input 'nested' is a sequence of sequence values; unihal's "
              "sequences hold tensors");
}

TEST(OnnxLoaderTest, TypeAttributesBecomeValueInfos) {
  onnx::ModelProto proto = NewModel(18);
  auto* g = proto.mutable_graph();
  auto* node = AddNode(g, "Optional", {}, {"none"}, "empty");
  auto* attr = AddAttr(node, "type", onnx::AttributeProto::TYPE_PROTO);
  auto* tensor_type =
      attr->mutable_tp()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type();
  tensor_type->set_elem_type(TensorProto::FLOAT);
  AddUntypedOutput(g, "none");
  Result<ir::Model> model = Load(proto);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  const ir::ValueInfo* type = model->graph.nodes[0].attributes.at("type").get<ir::ValueInfo>();
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->kind, ir::TypeKind::kSequence);
  EXPECT_EQ(type->dtype, DType::kF32);
  EXPECT_EQ(model->graph.nodes[0].attributes.at("type").TypeName(), "type");
}

TEST(OnnxLoaderTest, ExternalDataIsReadRelativeToTheModelFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / "unihal_external_model";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const Tensor w = unihal::testing::RandomTensor(DType::kF32, {4, 4}, 5);
  {
    std::ofstream out(dir / "weights.bin", std::ios::binary);
    out.write(static_cast<const char*>(w.data()), static_cast<std::streamsize>(w.nbytes()));
  }
  onnx::ModelProto proto = NewModel();
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {1, 4});
  auto* init = g->add_initializer();
  init->set_name("W");
  init->set_data_type(TensorProto::FLOAT);
  init->add_dims(4);
  init->add_dims(4);
  init->set_data_location(TensorProto::EXTERNAL);
  auto* location = init->add_external_data();
  location->set_key("location");
  location->set_value("weights.bin");
  AddNode(g, "MatMul", {"X", "W"}, {"Y"});
  AddUntypedOutput(g, "Y");
  {
    std::ofstream out(dir / "model.onnx", std::ios::binary);
    out << Serialize(proto);
  }
  Result<ir::Model> model = LoadModelFromFile((dir / "model.onnx").string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE(unihal::testing::AllClose(model->graph.initializers.at("W"), w, 0, 0));
  EXPECT_EQ(model->graph.outputs[0].Describe(), "Y: float32[1, 4]");

  // From bytes, the base folder is the caller's choice.
  Result<ir::Model> from_bytes = LoadModelFromBytes(Serialize(proto), dir.string());
  ASSERT_TRUE(from_bytes.ok()) << from_bytes.status().ToString();
  Result<ir::Model> wrong_dir = LoadModelFromBytes(Serialize(proto), "/");
  ASSERT_FALSE(wrong_dir.ok());
  EXPECT_EQ(wrong_dir.status().code(), StatusCode::kNotFound);
  EXPECT_NE(wrong_dir.status().message().find("initializer 'W': tensor 'W': cannot open "
                                              "external data file /weights.bin"),
            std::string::npos)
      << wrong_dir.status().message();
}

}  // namespace
}  // namespace unihal::onnx_import
