// Checks for Session::RunValues and Session::Run on models whose inputs or outputs are
// sequences or optionals (unihal/value.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/value.h"

namespace unihal::api {

// Fails naming the first input or output whose declared type is not a tensor: Session::Run
// carries tensors only, RunValues carries the rest.
Status RequireTensorInterface(const std::vector<ir::ValueInfo>& inputs,
                              const std::vector<ir::ValueInfo>& outputs);

// Every declared input is given, with a value of its declared kind (an optional takes its
// element or none) and element dtype; no unknown names. Tensor inputs' shapes are for
// Session::CheckInputs.
Status CheckValueInputs(const std::vector<ir::ValueInfo>& declared,
                        const std::map<std::string, Value>& inputs);

}  // namespace unihal::api
