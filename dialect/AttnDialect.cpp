// Registration of the attn dialect's ops.
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"

using namespace mlir;
using namespace mlir::attn;

#include "dialect/AttnOpsDialect.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/AttnOps.cpp.inc"
      >();
}
