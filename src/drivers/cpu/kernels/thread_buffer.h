// How the cpu kernels get working memory per worker thread without allocating per run: the
// caller passes a function returning a buffer owned by the calling thread (dnnl_common.h's
// ThreadScratch).
#pragma once

#include <cstdint>

namespace unihal::cpu {

// A buffer of at least `floats` floats owned by the calling thread, or null when there is no
// memory for it.
using ThreadBufferFn = float* (*)(int64_t floats);

}  // namespace unihal::cpu
