// The reference Softmax / LogSoftmax and LayerNormalization, for the oneDNN kernels to fall
// back on where oneDNN has no fast path (other dtypes, softmax over a non-innermost axis, the
// optional statistics outputs).
#pragma once

#include "unihal/hal/kernel.h"
#include "unihal/status.h"

namespace unihal::cpu {

Status ReferenceSoftmax(hal::KernelContext& context, bool log);
Status ReferenceLayerNormalization(hal::KernelContext& context);

}  // namespace unihal::cpu
