// The attn dialect class.
#ifndef ATTN_DIALECT_ATTNDIALECT_H
#define ATTN_DIALECT_ATTNDIALECT_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"

#include "dialect/AttnOpsDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/AttnOpsTypes.h.inc"

#endif // ATTN_DIALECT_ATTNDIALECT_H
