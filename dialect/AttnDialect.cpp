// Registration of the attn dialect's ops.
#include "dialect/AttnDialect.h"
#include "dialect/AttnOps.h"
#include "dialect/ScoreWeb.h"

using namespace mlir;
using namespace mlir::attn;

#include "mlir/IR/DialectImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include "dialect/AttnOpsDialect.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialect/AttnOpsTypes.cpp.inc"

void AttnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/AttnOps.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/AttnOpsTypes.cpp.inc"
      >();
}

// attn.deferred_scale: on a qk, a row_max or an exp2_diff whose score web
// can defer its scale, and on every qk and consumer of that web.
static LogicalResult verifyDeferredScale(Operation *op,
                                         NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  if (!isa<UnitAttr>(attribute.getValue()) ||
      !isa<QKOp, RowMaxOp, Exp2DiffOp>(op))
    return op->emitError("'") << name
                              << "' must be a unit attribute on attn.qk, "
                                 "attn.row_max or attn.exp2_diff";
  ScoreWeb web =
      findScoreWeb(isa<QKOp>(op) ? op->getResult(0) : op->getOperand(0));
  if (web.offender)
    return op->emitError("'")
           << name << "': the scores cannot defer their scale through '"
           << web.offender->getName() << "'";
  if (web.sources.empty())
    return op->emitError("'") << name << "': the scores come from no attn.qk";
  auto lacks = [&](Operation *other) { return !other->hasAttr(name); };
  for (QKOp qk : web.sources)
    if (lacks(qk))
      return op->emitError("'") << name << "': the attn.qk of its scores "
                                << "lacks it";
  for (Operation *consumer : web.consumers)
    if (lacks(consumer))
      return op->emitError("'") << name << "': a consumer of its scores, '"
                                << consumer->getName() << "', lacks it";
  return success();
}

static constexpr StringLiteral kArgRoleNames[] = {"q",
                                                  "k",
                                                  "v",
                                                  "cache_seqlens",
                                                  "cu_seqlens_q",
                                                  "cu_seqlens_k",
                                                  "block_table",
                                                  "out",
                                                  "lse",
                                                  "part_o",
                                                  "part_lse"};

StringRef mlir::attn::stringifyArgRole(ArgRole role) {
  return kArgRoleNames[static_cast<size_t>(role)];
}

std::optional<ArgRole> mlir::attn::symbolizeArgRole(StringRef name) {
  for (auto [i, known] : llvm::enumerate(kArgRoleNames))
    if (name == known)
      return static_cast<ArgRole>(i);
  return std::nullopt;
}

BlockArgument mlir::attn::getArgWithRole(FunctionOpInterface func,
                                         ArgRole role) {
  StringRef name = AttnDialect::RoleAttrHelper::getNameStr();
  for (BlockArgument arg : func.getArguments())
    if (auto has = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), name))
      if (has.getValue() == stringifyArgRole(role))
        return arg;
  return {};
}

// The attributes the passes hand each other (AttnDialect.td,
// discardableAttrs): where each may appear and what it holds.
LogicalResult AttnDialect::verifyOperationAttribute(Operation *op,
                                                    NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  StringRef opName = op->getName().getStringRef();
  bool kernel = opName == "gpu.func" || opName == "llvm.func";
  if (name == GridAttrHelper::getNameStr()) {
    auto roles = dyn_cast<ArrayAttr>(attribute.getValue());
    if (opName != "scf.parallel" || !roles)
      return op->emitError("'") << name << "' must be an array on scf.parallel";
    unsigned loops = op->getRegion(0).front().getNumArguments();
    if (roles.size() != loops ||
        !llvm::all_of(roles, [](Attribute a) { return isa<StringAttr>(a); }))
      return op->emitError("'")
             << name << "' must name each of the " << loops
             << " induction variables with a string, got " << roles;
    return success();
  }
  if (name == KvLoopAttrHelper::getNameStr()) {
    if (opName != "scf.for" || !isa<UnitAttr>(attribute.getValue()))
      return op->emitError("'")
             << name << "' must be a unit attribute on scf.for";
    return success();
  }
  if (name == DeferredScaleAttrHelper::getNameStr())
    return verifyDeferredScale(op, attribute);
  if (name == SharedMemoryBytesAttrHelper::getNameStr()) {
    auto bytes = dyn_cast<IntegerAttr>(attribute.getValue());
    if (!kernel || !bytes || !bytes.getType().isInteger(64) ||
        bytes.getInt() < 0)
      return op->emitError("'") << name
                                << "' must be a non-negative i64 on a kernel "
                                   "(gpu.func or llvm.func)";
    return success();
  }
  if (name == TensorMapArgsAttrHelper::getNameStr()) {
    auto indices = dyn_cast<DenseI64ArrayAttr>(attribute.getValue());
    auto function = dyn_cast<FunctionOpInterface>(op);
    unsigned inputs = function ? function.getNumArguments() : 0;
    if (!kernel || !indices ||
        !llvm::all_of(indices.asArrayRef(), [&](int64_t i) {
          return i >= 0 && i < static_cast<int64_t>(inputs);
        }))
      return op->emitError("'") << name
                                << "' must list parameter indices of a kernel "
                                   "(gpu.func or llvm.func)";
    return success();
  }
  if (name == NumSplitsAttrHelper::getNameStr() ||
      name == WorkspaceAttrHelper::getNameStr() ||
      name == WindowLeftAttrHelper::getNameStr() ||
      name == WindowRightAttrHelper::getNameStr() ||
      name == SoftcapAttrHelper::getNameStr() ||
      name == RoleAttrHelper::getNameStr())
    return op->emitError("'") << name << "' belongs on a function argument";
  return op->emitError("unknown attn attribute '") << name << "'";
}

LogicalResult AttnDialect::verifyRegionArgAttribute(Operation *op,
                                                    unsigned regionIndex,
                                                    unsigned argIndex,
                                                    NamedAttribute attribute) {
  StringRef name = attribute.getName().getValue();
  Type type = op->getRegion(regionIndex).getArgument(argIndex).getType();
  bool unit = isa<UnitAttr>(attribute.getValue());
  if (name == NumSplitsAttrHelper::getNameStr()) {
    if (!unit || !type.isIndex())
      return op->emitError("'")
             << name << "' must be a unit attribute on an index argument, "
             << "got argument #" << argIndex << " of type " << type;
    return success();
  }
  if (name == RoleAttrHelper::getNameStr()) {
    auto role = dyn_cast<StringAttr>(attribute.getValue());
    if (!role || !symbolizeArgRole(role.getValue()))
      return op->emitError("'") << name << "' must be one of "
                                << llvm::join(std::begin(kArgRoleNames),
                                              std::end(kArgRoleNames), ", ")
                                << ", got " << attribute.getValue();
    if (!isa<MemRefType>(type))
      return op->emitError("'")
             << name << "' must be on a memref argument, "
             << "got argument #" << argIndex << " of type " << type;
    return success();
  }
  if (name == WorkspaceAttrHelper::getNameStr()) {
    auto memref = dyn_cast<MemRefType>(type);
    if (!unit || !memref || !memref.getElementType().isF32())
      return op->emitError("'")
             << name << "' must be a unit attribute on an f32 memref "
             << "argument, got argument #" << argIndex << " of type " << type;
    return success();
  }
  if (name == WindowLeftAttrHelper::getNameStr() ||
      name == WindowRightAttrHelper::getNameStr()) {
    if (!unit || !type.isIntOrIndex())
      return op->emitError("'")
             << name << "' must be a unit attribute on an index or integer "
             << "argument, got argument #" << argIndex << " of type " << type;
    return success();
  }
  if (name == SoftcapAttrHelper::getNameStr()) {
    if (!unit || !type.isF32())
      return op->emitError("'")
             << name << "' must be a unit attribute on an f32 argument, got "
             << "argument #" << argIndex << " of type " << type;
    return success();
  }
  return op->emitError("'")
         << name << "' does not belong on a function argument";
}
