// How far unihal's outputs are from a reference run's (ONNX Runtime's, in `bench --compare`).
#pragma once

#include <string>

#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cli {

// Floating-point outputs: max |actual - expected| / max |expected| over the elements (the
// denominator is 1 when expected is all zeros); a NaN on one side only counts as infinite
// error. Other dtypes must be equal element for element (0 when they are). An InvalidArgument
// error when dtypes or shapes differ, or integer or bool elements do.
Result<double> RelativeError(const std::string& name, const Tensor& actual, const Tensor& expected);

}  // namespace unihal::cli
