#include "unihal/hal/kernel_registry.h"

#include <gtest/gtest.h>

#include <cstring>

namespace unihal::hal {
namespace {

// "Copy" (copies its input byte for byte) registered twice: as an ordinary kernel, and
// opted in to the storage-only dtypes under the op name "Move".
KernelDef CopyDef(const std::string& op_type, bool accepts_storage_only) {
  KernelDef def{op_type,
                "",
                1,
                INT_MAX,
                "test",
                0,
                nullptr,
                [](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                  return std::unique_ptr<Kernel>(
                      std::make_unique<FunctionKernel>([](KernelContext& ctx) -> Status {
                        const Tensor* x = ctx.input(0);
                        UH_ASSIGN_OR_RETURN(Tensor * y,
                                            ctx.AllocateOutput(0, x->dtype(), x->shape()));
                        std::memcpy(y->data(), x->data(), x->nbytes());
                        return Status::Ok();
                      }));
                }};
  def.accepts_storage_only_dtypes = accepts_storage_only;
  return def;
}

KernelRegistry TestRegistry() {
  KernelRegistry r;
  r.Register(CopyDef("Copy", false));
  r.Register(CopyDef("Move", true));
  return r;
}

ir::Node OneNode(const std::string& op_type) {
  ir::Node n;
  n.name = "n0";
  n.op_type = op_type;
  n.opset = 21;
  n.inputs = {"x"};
  n.outputs = {"y"};
  return n;
}

ir::Graph GraphWithInput(DType dtype) {
  ir::Graph g;
  g.inputs.push_back(ir::ValueInfo{"x", dtype, ir::SymbolicShape{ir::Dim::Static(4)}});
  return g;
}

// Just enough context to call a kernel directly.
class TestContext final : public KernelContext {
 public:
  TestContext(const ir::Node& node, Tensor input) : node_(node), input_(std::move(input)) {}
  const ir::Node& node() const override { return node_; }
  size_t num_inputs() const override { return 1; }
  const Tensor* input(size_t) const override { return &input_; }
  size_t num_outputs() const override { return 1; }
  Result<Tensor*> AllocateOutput(size_t, DType dtype, Shape shape) override {
    UH_ASSIGN_OR_RETURN(output_, Tensor::Allocate(dtype, std::move(shape)));
    return &output_;
  }
  Status SetOutput(size_t, Tensor tensor) override {
    output_ = std::move(tensor);
    return Status::Ok();
  }
  ThreadPool& thread_pool() override { return ThreadPool::Process(); }
  const Tensor& output() const { return output_; }

 private:
  const ir::Node& node_;
  Tensor input_;
  Tensor output_;
};

TEST(KernelRegistryTest, RefusesStaticStorageOnlyDTypesWithoutOptIn) {
  const KernelRegistry r = TestRegistry();
  const ir::Node node = OneNode("Copy");
  const ir::Graph graph = GraphWithInput(DType::kF8E4M3FN);
  const KernelCreateInfo info{node, graph};
  const SupportResult support = r.Supports(info);
  EXPECT_FALSE(support.supported);
  EXPECT_NE(support.reason.find("Copy has no kernel for float8_e4m3fn"), std::string::npos)
      << support.reason;
  Result<std::unique_ptr<Kernel>> kernel = r.Create(info);
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(kernel.status().message().find("only Cast, CastLike"), std::string::npos);
}

TEST(KernelRegistryTest, RefusesStaticStorageOnlyOutputs) {
  const KernelRegistry r = TestRegistry();
  const ir::Node node = OneNode("Copy");
  ir::Graph graph = GraphWithInput(DType::kF32);
  graph.outputs.push_back(ir::ValueInfo{"y", DType::kI4, {}});
  EXPECT_FALSE(r.Supports(KernelCreateInfo{node, graph}).supported);
}

TEST(KernelRegistryTest, OptedInKernelTakesStorageOnlyDTypes) {
  const KernelRegistry r = TestRegistry();
  const ir::Node node = OneNode("Move");
  const ir::Graph graph = GraphWithInput(DType::kU4);
  Result<std::unique_ptr<Kernel>> kernel = r.Create(KernelCreateInfo{node, graph});
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  Result<Tensor> x = Tensor::Allocate(DType::kU4, {3});
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->nbytes(), 2u);  // packed: three 4-bit values in two bytes
  static_cast<uint8_t*>(x->data())[0] = 0x21;
  TestContext context(node, *x);
  ASSERT_TRUE((*kernel)->Compute(context).ok());
  EXPECT_EQ(static_cast<const uint8_t*>(context.output().data())[0], 0x21);
}

TEST(KernelRegistryTest, GuardRefusesStorageOnlyInputsAtComputeTime) {
  const KernelRegistry r = TestRegistry();
  const ir::Node node = OneNode("Copy");
  const ir::Graph graph = GraphWithInput(DType::kUndefined);  // dtype unknown statically
  Result<std::unique_ptr<Kernel>> kernel = r.Create(KernelCreateInfo{node, graph});
  ASSERT_TRUE(kernel.ok()) << kernel.status().message();
  Result<Tensor> x = Tensor::Allocate(DType::kF8E5M2, {4});
  ASSERT_TRUE(x.ok());
  TestContext context(node, *x);
  const Status status = (*kernel)->Compute(context);
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_NE(status.message().find("Copy has no kernel for float8_e5m2"), std::string::npos)
      << status.message();
  EXPECT_FALSE(context.output().defined());  // refused before the kernel ran

  // Ordinary dtypes pass through the guard.
  TestContext ok_context(node, Tensor::FromVector<float>({2}, {1.f, 2.f}));
  ASSERT_TRUE((*kernel)->Compute(ok_context).ok());
  EXPECT_EQ(ok_context.output().data_as<float>()[1], 2.f);
}

TEST(KernelRegistryTest, GuardRefusesStorageOnlyOutputsAtComputeTime) {
  KernelRegistry r;
  r.Register(KernelDef{"MakeInt4", "", 1, INT_MAX, "test", 0, nullptr,
                       [](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                         return std::unique_ptr<Kernel>(
                             std::make_unique<FunctionKernel>([](KernelContext& ctx) -> Status {
                               return ctx.AllocateOutput(0, DType::kI4, {2}).status();
                             }));
                       }});
  const ir::Node node = OneNode("MakeInt4");
  const ir::Graph graph = GraphWithInput(DType::kF32);
  Result<std::unique_ptr<Kernel>> kernel = r.Create(KernelCreateInfo{node, graph});
  ASSERT_TRUE(kernel.ok());
  TestContext context(node, Tensor::FromVector<float>({1}, {1.f}));
  EXPECT_EQ((*kernel)->Compute(context).code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace unihal::hal
