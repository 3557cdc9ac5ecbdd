// The attn dialect class.
#ifndef ATTN_DIALECT_ATTNDIALECT_H
#define ATTN_DIALECT_ATTNDIALECT_H

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

#include <optional>

#include "dialect/AttnOpsDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/AttnOpsTypes.h.inc"

namespace mlir {
namespace attn {

/// The roles of the tiled program's function arguments (attn.role).
enum class ArgRole {
  Q,
  K,
  V,
  CacheSeqlens,
  CuSeqlensQ,
  CuSeqlensK,
  BlockTable,
  Out,
  Lse,
  PartO,
  PartLse
};
/// The role's name in attn.role, e.g. "cu_seqlens_q".
StringRef stringifyArgRole(ArgRole role);
/// The role named `name`, if there is one.
std::optional<ArgRole> symbolizeArgRole(StringRef name);
/// The argument of `func` whose attn.role is `role`; null when none is.
BlockArgument getArgWithRole(FunctionOpInterface func, ArgRole role);

} // namespace attn
} // namespace mlir

#endif // ATTN_DIALECT_ATTNDIALECT_H
