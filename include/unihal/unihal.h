// unihal: one runtime for every AI accelerator. Include this for the whole C++ API.
#pragma once

#include "unihal/dtype.h"
#include "unihal/runtime.h"
#include "unihal/session.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal {
inline constexpr const char* kVersion = "0.1.0";
}
