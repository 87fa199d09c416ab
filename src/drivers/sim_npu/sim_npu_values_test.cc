// sim-npu holds tensor values only: nodes that take or give sequences and optionals stay on the
// host, and its Supports says why.
#include <gtest/gtest.h>

#include "drivers/sim_npu/sim_npu_test_util.h"
#include "unihal/value.h"

namespace unihal::sim_npu {
namespace {

using testing::MakeDevice;

// y = Identity(s), s a sequence of float16 [2] tensors (the op and dtype edge-34 takes).
ir::Graph IdentityOnSequence(bool typed) {
  ir::Graph g;
  ir::ValueInfo s = testing::Value("s", DType::kF16, {2});
  if (typed) s.kind = ir::TypeKind::kSequence;
  g.inputs.push_back(s);
  g.outputs.push_back(testing::Value("y", DType::kF16, {2}));
  ir::Node node;
  node.name = "pass";
  node.op_type = "Identity";
  node.opset = 17;
  node.inputs = {"s"};
  node.outputs = {"y"};
  g.nodes.push_back(node);
  return g;
}

TEST(SimNpuValuesTest, SupportsRefusesSequencesWithTheReason) {
  auto device = MakeDevice();
  const ir::Graph typed = IdentityOnSequence(true);
  const hal::SupportResult r = device->Supports(typed.nodes[0], typed);
  EXPECT_FALSE(r.supported);
  EXPECT_EQ(r.reason,
            "sim-npu: the device holds tensor values only (no sequences or optionals); input s: "
            "sequence(float16[2])");
  // The same node on tensors runs there.
  const ir::Graph tensors = IdentityOnSequence(false);
  EXPECT_TRUE(device->Supports(tensors.nodes[0], tensors).supported);
}

TEST(SimNpuValuesTest, ASequenceArrivingAtRunTimeIsRefused) {
  auto device = MakeDevice();
  Result<std::shared_ptr<hal::Executable>> exe = device->Compile(IdentityOnSequence(false), {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  Result<Value> sequence = Value::Sequence(DType::kF16, {*Tensor::Allocate(DType::kF16, {2})});
  ASSERT_TRUE(sequence.ok());
  std::vector<Value> out;
  const Status status = (*exe)->RunValues(std::vector<Value>{*sequence}, out);
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented) << status.ToString();
  EXPECT_NE(status.message().find("takes tensor values only"), std::string::npos)
      << status.ToString();
}

}  // namespace
}  // namespace unihal::sim_npu
