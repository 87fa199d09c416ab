// SCAFFOLD: filled in by its owner this session.
#include "ir/passes.h"

namespace unihal::ir {

Status FoldConstants(Graph&, const NodeEvaluator&) { return Status::Ok(); }
Status RemoveDeadNodes(Graph&) { return Status::Ok(); }

}  // namespace unihal::ir
