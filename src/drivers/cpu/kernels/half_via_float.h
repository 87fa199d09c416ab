// Runs a float32-only kernel on float16/bfloat16 tensors: half inputs are widened to float32,
// the kernel computes, and its float32 outputs are rounded once back to the half type of the
// node's first half input (ONNX Runtime's CPU provider does the same for most such ops).
#pragma once

#include "unihal/hal/kernel.h"

namespace unihal::cpu {

hal::KernelFactory HalfViaFloat(hal::KernelFactory float_kernel);

}  // namespace unihal::cpu
