// KernelContext::AllocateOutputInPlace in compiled graphs: the output takes its input's storage
// only where nothing reads that input later and nothing else holds the storage (a graph input,
// a weight, the same value given twice); the results are those of fresh buffers either way.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/kernel_registry.h"

namespace unihal::hal {
namespace {

using ::unihal::testing::CompileAndRun;
using ::unihal::testing::F32Value;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;

const Shape kShape{2, 3, 4};

// "AddInPlace": Y = A + B, with Y asked for in B's storage; records whether it got it.
KernelRegistry ProbeRegistry(std::shared_ptr<std::vector<bool>> in_place) {
  KernelRegistry registry;
  registry.Register(
      KernelDef{"AddInPlace", "", 1, INT_MAX, "test", 0, nullptr,
                [in_place](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
                  return std::unique_ptr<Kernel>(
                      std::make_unique<FunctionKernel>([in_place](KernelContext& ctx) -> Status {
                        const Tensor* a = ctx.input(0);
                        const Tensor* b = ctx.input(1);
                        UH_ASSIGN_OR_RETURN(
                            Tensor * y, ctx.AllocateOutputInPlace(0, 1, DType::kF32, b->shape()));
                        in_place->push_back(y->data() == b->data());
                        const float* av = a->data_as<float>();
                        const float* bv = b->data_as<float>();
                        float* yv = y->data_as<float>();
                        for (int64_t i = 0; i < y->num_elements(); ++i) yv[i] = av[i] + bv[i];
                        return Status::Ok();
                      }));
                }});
  registry.Register(KernelDef{
      "Double", "", 1, INT_MAX, "test", 0, nullptr,
      [](const KernelCreateInfo&) -> Result<std::unique_ptr<Kernel>> {
        return std::unique_ptr<Kernel>(
            std::make_unique<FunctionKernel>([](KernelContext& ctx) -> Status {
              const Tensor* x = ctx.input(0);
              UH_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, DType::kF32, x->shape()));
              for (int64_t i = 0; i < x->num_elements(); ++i) {
                y->data_as<float>()[i] = 2.f * x->data_as<float>()[i];
              }
              return Status::Ok();
            }));
      }});
  return registry;
}

ir::Graph Graph(std::vector<ir::Node> nodes) {
  ir::Graph g;
  g.inputs.push_back(F32Value("X", kShape));
  for (const char* v : {"d", "s"}) g.value_info[v] = F32Value(v, kShape);
  g.outputs.push_back(F32Value("Y", kShape));
  g.nodes = std::move(nodes);
  int index = 0;
  for (ir::Node& node : g.nodes) node.name = std::string("n").append(std::to_string(index++));
  return g;
}

// Runs `graph` twice (the second run reuses pooled buffers) and checks Y against `expected`
// (a function of x); returns whether each AddInPlace call got its input's storage.
std::vector<bool> RunAndCheck(const ir::Graph& graph, float (*expected)(float)) {
  auto in_place = std::make_shared<std::vector<bool>>();
  const KernelRegistry registry = ProbeRegistry(in_place);
  const Tensor x = RandomTensor(DType::kF32, kShape, 3);
  for (int run = 0; run < 2; ++run) {
    Result<std::vector<Tensor>> out = CompileAndRun(graph, registry, {x});
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    if (!out.ok()) return {};
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      EXPECT_FLOAT_EQ((*out)[0].data_as<float>()[i], expected(x.data_as<float>()[i])) << i;
    }
  }
  return *in_place;
}

TEST(InPlaceOutputTest, TakesTheStorageOfAnInputThatDiesHere) {
  // d = 2X; Y = X + d, in d's storage.
  const ir::Graph g =
      Graph({MakeNode("Double", {"X"}, {"d"}), MakeNode("AddInPlace", {"X", "d"}, {"Y"})});
  EXPECT_EQ(RunAndCheck(g, [](float x) { return 3.f * x; }), (std::vector<bool>{true, true}));
}

TEST(InPlaceOutputTest, KeepsAnInputThatIsReadLater) {
  // d = 2X; s = X + d; Y = s + d: d is read after the first AddInPlace.
  const ir::Graph g =
      Graph({MakeNode("Double", {"X"}, {"d"}), MakeNode("AddInPlace", {"X", "d"}, {"s"}),
             MakeNode("AddInPlace", {"s", "d"}, {"Y"})});
  EXPECT_EQ(RunAndCheck(g, [](float x) { return 5.f * x; }),
            (std::vector<bool>{false, true, false, true}));
}

TEST(InPlaceOutputTest, NeverTakesAGraphInputAWeightOrAValueGivenTwice) {
  // Y = d + d, then the graph input itself.
  EXPECT_EQ(RunAndCheck(Graph({MakeNode("Double", {"X"}, {"d"}),
                               MakeNode("AddInPlace", {"d", "d"}, {"Y"})}),
                        [](float x) { return 4.f * x; }),
            (std::vector<bool>{false, false}));
  EXPECT_EQ(RunAndCheck(Graph({MakeNode("AddInPlace", {"X", "X"}, {"Y"})}),
                        [](float x) { return 2.f * x; }),
            (std::vector<bool>{false, false}));
  ir::Graph weighted = Graph({MakeNode("AddInPlace", {"X", "W"}, {"Y"})});
  weighted.initializers["W"] = Tensor::FromVector<float>(kShape, std::vector<float>(24, 1.f));
  EXPECT_EQ(RunAndCheck(weighted, [](float x) { return x + 1.f; }),
            (std::vector<bool>{false, false}));
}

}  // namespace
}  // namespace unihal::hal
