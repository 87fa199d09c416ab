// Factories of the reference (plain C++) NN kernels. The oneDNN kernels also use them as their
// fallback for the shapes oneDNN cannot take.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "unihal/hal/kernel.h"
#include "unihal/status.h"

namespace unihal::cpu {

Result<std::unique_ptr<hal::Kernel>> CreateReferenceConv(const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceGemm(const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceMatMul(const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceMaxPool(const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceAveragePool(const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceGlobalAveragePool(
    const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceBatchNormalization(
    const hal::KernelCreateInfo& info);
Result<std::unique_ptr<hal::Kernel>> CreateReferenceLrn(const hal::KernelCreateInfo& info);

// Input i of the node being computed, or an error naming the node and `name` when absent.
Result<const Tensor*> RequiredInput(const hal::KernelContext& context, size_t i,
                                    const std::string& name);
// An error unless `tensor` has one of the float dtypes (float32, float64).
Status CheckFloatInput(const ir::Node& node, const Tensor& tensor, const std::string& name);
// An error unless `tensor` has `dtype` (inputs that must match X).
Status CheckSameDType(const ir::Node& node, const Tensor& tensor, const std::string& name,
                      DType dtype);

// float16 and bfloat16, which the reference NN kernels compute in float32 and round once.
bool IsHalfFloat(DType dtype);
// A float16/bfloat16 tensor's elements as float32.
std::vector<float> WidenToFloat(const Tensor& t);
// Rounds float32 results into a float16/bfloat16 tensor of as many elements.
void NarrowFromFloat(const std::vector<float>& values, Tensor& t);

}  // namespace unihal::cpu
