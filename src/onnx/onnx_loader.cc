// SCAFFOLD: filled in by its owner this session.
#include "onnx/onnx_loader.h"

namespace unihal::onnx_import {

Result<ir::Model> LoadModelFromFile(const std::string&) { return UnimplementedError("loader"); }
Result<ir::Model> LoadModelFromBytes(std::string_view, const std::string&) {
  return UnimplementedError("loader");
}
Result<Tensor> LoadTensorProtoFile(const std::string&) { return UnimplementedError("loader"); }

}  // namespace unihal::onnx_import
