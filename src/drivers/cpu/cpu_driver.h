// The cpu driver: always present; oneDNN kernels where they are faster, reference C++ kernels
// for every supported op.
#pragma once

#include <memory>

#include "unihal/hal/driver.h"

namespace unihal::cpu {

std::unique_ptr<hal::Driver> CreateCpuDriver();

}  // namespace unihal::cpu
