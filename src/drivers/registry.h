// The explicit list of drivers built into this binary. The only file that names drivers.
#pragma once

#include <memory>
#include <vector>

#include "unihal/hal/driver.h"

namespace unihal::drivers {

std::vector<std::unique_ptr<hal::Driver>> CreateBuiltinDrivers();

}  // namespace unihal::drivers
