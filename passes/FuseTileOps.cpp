// attn-fuse-tile-ops: the prefill program's P V accumulation and deferred
// score scale, made explicit for the GPU lowering.
#include "dialect/AttnOps.h"
#include "dialect/ScoreWeb.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNFUSETILEOPS
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

/// acc + P V, with the P V used only there, as one attn.pv_acc at the addf.
void fusePVAccumulation(PVOp pv) {
  if (!pv->hasOneUse())
    return;
  auto add = dyn_cast<arith::AddFOp>(*pv->getUsers().begin());
  if (!add)
    return;
  Value acc = add.getLhs() == pv.getResult() ? add.getRhs() : add.getLhs();
  OpBuilder b(add);
  auto fused = PVAccOp::create(b, add.getLoc(), add.getType(), acc, pv.getP(),
                               pv.getV());
  add.replaceAllUsesWith(fused.getResult());
  add.erase();
  pv.erase();
}

/// Marks the qk and the consumers of its scores attn.deferred_scale when the
/// whole web of the scores can take the scale at its consumers.
void deferScoreScale(QKOp qk) {
  if (qk->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr()))
    return;
  ScoreWeb web = findScoreWeb(qk.getResult());
  if (web.offender || web.consumers.empty())
    return;
  UnitAttr unit = UnitAttr::get(qk.getContext());
  StringRef name = AttnDialect::DeferredScaleAttrHelper::getNameStr();
  for (QKOp source : web.sources)
    source->setAttr(name, unit);
  for (Operation *consumer : web.consumers)
    consumer->setAttr(name, unit);
}

struct AttnFuseTileOpsPass
    : public mlir::attn::impl::AttnFuseTileOpsBase<AttnFuseTileOpsPass> {
  void runOnOperation() override {
    getOperation().walk([](func::FuncOp func) {
      bool prefill = false;
      func.walk([&](LoadQRowsOp) { prefill = true; });
      if (!prefill)
        return;
      SmallVector<PVOp> pvs;
      func.walk([&](PVOp pv) { pvs.push_back(pv); });
      for (PVOp pv : pvs)
        fusePVAccumulation(pv);
      func.walk([](QKOp qk) { deferScoreScale(qk); });
    });
  }
};

} // namespace
