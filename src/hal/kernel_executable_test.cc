#include "unihal/hal/kernel_executable.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "hal/memory_plan.h"

namespace unihal::hal {
namespace {

// A tiny kernel set of its own, so the executor is tested apart from the real kernels:
// "AddOne" (f32, allocates), "View" (aliases its input), "Fail" (always errors).
KernelRegistry TestKernels(std::set<const void*>* addresses = nullptr) {
  KernelRegistry r;
  r.Register(KernelDef{"AddOne", "", 1, INT_MAX, "test", 0, nullptr,
                       [addresses](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                         return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(
                             [addresses](KernelContext& ctx) -> Status {
                               const Tensor* x = ctx.input(0);
                               UH_ASSIGN_OR_RETURN(Tensor * y,
                                                   ctx.AllocateOutput(0, x->dtype(), x->shape()));
                               if (addresses) addresses->insert(y->buffer().get());
                               for (int64_t i = 0; i < x->num_elements(); ++i) {
                                 y->data_as<float>()[i] = x->data_as<float>()[i] + 1;
                               }
                               return Status::Ok();
                             }));
                       }});
  r.Register(KernelDef{"View", "", 1, INT_MAX, "test", 0, nullptr,
                       [](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                         return std::unique_ptr<Kernel>(std::make_unique<FunctionKernel>(
                             [](KernelContext& ctx) { return ctx.SetOutput(0, *ctx.input(0)); }));
                       }});
  r.Register(KernelDef{"Fail", "", 1, INT_MAX, "test", 0, nullptr,
                       [](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                         return std::unique_ptr<Kernel>(
                             std::make_unique<FunctionKernel>([](KernelContext&) {
                               return InvalidArgumentError("deliberate failure");
                             }));
                       }});
  return r;
}

ir::Graph Chain(const std::vector<std::string>& ops) {
  ir::Graph g;
  g.name = "chain";
  g.inputs.push_back(ir::ValueInfo{"v0", DType::kF32, ir::SymbolicShape{ir::Dim::Static(4)}});
  for (size_t i = 0; i < ops.size(); ++i) {
    ir::Node n;
    n.name = "n" + std::to_string(i);
    n.op_type = ops[i];
    n.opset = 17;
    n.inputs = {"v" + std::to_string(i)};
    n.outputs = {"v" + std::to_string(i + 1)};
    g.nodes.push_back(n);
  }
  g.outputs.push_back(ir::ValueInfo{"v" + std::to_string(ops.size()), DType::kF32, {}});
  return g;
}

TEST(MemoryPlanTest, IntermediatesAreReleasedAfterTheirLastReader) {
  ir::Graph g = Chain({"AddOne", "AddOne", "AddOne"});
  Result<MemoryPlan> plan = PlanMemory(g);
  ASSERT_TRUE(plan.ok());
  // v1 dies at n1, v2 at n2, v3 is the output and never released.
  EXPECT_EQ(plan->release_after[0].size(), 0u);
  EXPECT_EQ(plan->release_after[1], std::vector<int>{plan->slot_of.at("v1")});
  EXPECT_EQ(plan->release_after[2], std::vector<int>{plan->slot_of.at("v2")});
}

TEST(KernelExecutableTest, RunsAChainAndReusesBuffers) {
  std::set<const void*> addresses;
  KernelRegistry kernels = TestKernels(&addresses);
  ir::Graph g = Chain(std::vector<std::string>(8, "AddOne"));
  Result<std::shared_ptr<Executable>> exe = CompileWithKernels(g, kernels, ThreadPool::Process());
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  Tensor x = Tensor::FromVector<float>({4}, {0, 1, 2, 3});
  std::vector<Tensor> outputs;
  ASSERT_TRUE((*exe)->Run({&x, 1}, outputs).ok());
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].data_as<float>()[3], 11.0f);
  // 8 values were produced; with reuse, far fewer distinct buffers were needed.
  EXPECT_LE(addresses.size(), 3u);
  // A second run reuses the pooled buffers (only the handed-out output is new).
  const size_t before = addresses.size();
  ASSERT_TRUE((*exe)->Run({&x, 1}, outputs).ok());
  EXPECT_LE(addresses.size(), before + 1);
}

TEST(KernelExecutableTest, ViewsKeepTheirStorageAlive) {
  KernelRegistry kernels = TestKernels();
  // v1 = AddOne(v0); v2 = View(v1); v3 = AddOne(v2): v1's buffer must not be reused for v3
  // while v2 still aliases it.
  ir::Graph g = Chain({"AddOne", "View", "AddOne", "AddOne"});
  auto exe = CompileWithKernels(g, kernels, ThreadPool::Process());
  ASSERT_TRUE(exe.ok());
  Tensor x = Tensor::FromVector<float>({4}, {1, 2, 3, 4});
  std::vector<Tensor> outputs;
  ASSERT_TRUE((*exe)->Run({&x, 1}, outputs).ok());
  EXPECT_EQ(outputs[0].data_as<float>()[0], 4.0f);
  EXPECT_EQ(x.data_as<float>()[0], 1.0f);  // inputs are never written
}

TEST(KernelExecutableTest, ErrorsNameTheNodeAndLeaveTheExecutableUsable) {
  KernelRegistry kernels = TestKernels();
  auto exe = CompileWithKernels(Chain({"AddOne", "Fail"}), kernels, ThreadPool::Process());
  ASSERT_TRUE(exe.ok());
  Tensor x = Tensor::FromVector<float>({4}, {1, 2, 3, 4});
  std::vector<Tensor> outputs;
  Status s = (*exe)->Run({&x, 1}, outputs);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node 'n1' (Fail)"), std::string::npos) << s.message();
  EXPECT_EQ((*exe)->Run({&x, 1}, outputs).code(), StatusCode::kInvalidArgument);
}

TEST(KernelExecutableTest, UnknownOpFailsAtCompileNamingTheNode) {
  KernelRegistry kernels = TestKernels();
  auto exe = CompileWithKernels(Chain({"AddOne", "Frobnicate"}), kernels, ThreadPool::Process());
  ASSERT_FALSE(exe.ok());
  EXPECT_EQ(exe.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(exe.status().message().find("node 'n1' (Frobnicate)"), std::string::npos);
}

TEST(KernelExecutableTest, WrongInputCountIsAnError) {
  KernelRegistry kernels = TestKernels();
  auto exe = CompileWithKernels(Chain({"AddOne"}), kernels, ThreadPool::Process());
  ASSERT_TRUE(exe.ok());
  std::vector<Tensor> outputs;
  EXPECT_EQ((*exe)->Run({}, outputs).code(), StatusCode::kInvalidArgument);
}

TEST(KernelExecutableTest, ConcurrentRunsAreIndependent) {
  KernelRegistry kernels = TestKernels();
  auto exe = CompileWithKernels(Chain(std::vector<std::string>(5, "AddOne")), kernels,
                                ThreadPool::Process());
  ASSERT_TRUE(exe.ok());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const float base = static_cast<float>(t * 1000 + i);
        Tensor x = Tensor::FromVector<float>({4}, {base, base, base, base});
        std::vector<Tensor> outputs;
        if (!(*exe)->Run({&x, 1}, outputs).ok() || outputs[0].data_as<float>()[2] != base + 5) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(KernelExecutableTest, OutputViewOfAWeightIsACopy) {
  KernelRegistry kernels = TestKernels();
  ir::Graph g = Chain({"View"});
  g.inputs.clear();
  g.initializers["v0"] = Tensor::FromVector<float>({4}, {1, 2, 3, 4});
  Result<std::shared_ptr<Executable>> exe = CompileWithKernels(g, kernels, ThreadPool::Process());
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> out;
  ASSERT_TRUE((*exe)->Run({}, out).ok());
  out[0].data_as<float>()[0] = 100;  // the caller scribbles on its output
  ASSERT_TRUE((*exe)->Run({}, out).ok());
  EXPECT_EQ(out[0].data_as<float>()[0], 1);
}

}  // namespace
}  // namespace unihal::hal
