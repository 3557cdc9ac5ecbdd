// The web of a score tile (ScoreWeb.h).
#include "dialect/ScoreWeb.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Adds the producers of `value` to `work`; false when one is not a qk, a
/// mask or a two-branch scf.if.
bool followProducer(Value value, ScoreWeb &web, SetVector<Value> &work) {
  Operation *def = value.getDefiningOp();
  if (auto qk = dyn_cast_or_null<QKOp>(def)) {
    web.sources.push_back(qk);
    return true;
  }
  if (auto mask = dyn_cast_or_null<MaskOp>(def)) {
    web.masks.push_back(mask);
    work.insert(mask.getScores());
    return true;
  }
  auto ifOp = dyn_cast_or_null<scf::IfOp>(def);
  if (!ifOp || !ifOp.elseBlock())
    return false;
  unsigned index = cast<OpResult>(value).getResultNumber();
  work.insert(ifOp.thenYield().getOperand(index));
  work.insert(ifOp.elseYield().getOperand(index));
  return true;
}

/// Adds the users of `value` to `work` (or to the consumers); the first user
/// that is neither, or null.
Operation *followUsers(Value value, ScoreWeb &web, SetVector<Value> &work) {
  for (OpOperand &use : value.getUses()) {
    Operation *user = use.getOwner();
    unsigned index = use.getOperandNumber();
    if (isa<MaskOp>(user) && index == 0) {
      work.insert(user->getResult(0));
    } else if (isa<scf::YieldOp>(user) && isa<scf::IfOp>(user->getParentOp())) {
      work.insert(user->getParentOp()->getResult(index));
    } else if (isa<RowMaxOp>(user) || (isa<Exp2DiffOp>(user) && index == 0)) {
      if (!llvm::is_contained(web.consumers, user))
        web.consumers.push_back(user);
    } else {
      return user;
    }
  }
  return nullptr;
}

} // namespace

ScoreWeb mlir::attn::findScoreWeb(Value scores) {
  ScoreWeb web;
  SetVector<Value> work;
  work.insert(scores);
  for (size_t i = 0; i < work.size() && !web.offender; ++i) {
    Value value = work[i];
    if (!followProducer(value, web, work))
      web.offender = value.getDefiningOp()
                         ? value.getDefiningOp()
                         : value.getParentBlock()->getParentOp();
    else
      web.offender = followUsers(value, web, work);
  }
  // Each value is visited once, so each producer is listed once.
  for (QKOp qk : web.sources)
    if (!web.offender && qk.getScale() != web.sources.front().getScale())
      web.offender = qk;
  return web;
}
