// Cast and CastLike (kernels/cast.cc), registered by RegisterMathKernels.
#pragma once

#include "unihal/hal/kernel_registry.h"

namespace unihal::cpu {

void RegisterCastKernels(hal::KernelRegistry& registry);

}  // namespace unihal::cpu
