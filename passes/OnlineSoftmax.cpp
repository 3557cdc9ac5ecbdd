// attn-online-softmax: the running (max, sum, acc) recurrence over KV tiles.
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

#include <cmath>
#include <limits>

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNONLINESOFTMAX
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr double kLog2e = 1.4426950408889634;

Value splat(OpBuilder &b, Location loc, ArrayRef<int64_t> shape, float value) {
  auto type = RankedTensorType::get(shape, b.getF32Type());
  return arith::ConstantOp::create(
      b, loc, type, DenseElementsAttr::get(type, b.getF32FloatAttr(value)));
}

LogicalResult rewriteAccumulation(SoftmaxInitOp init) {
  auto stateType = cast<SoftmaxStateType>(init.getType());
  if (!init->hasOneUse())
    return init.emitError("attn-online-softmax expects the state to feed one "
                          "KV tile loop");
  auto loop = dyn_cast<scf::ForOp>(*init->getUsers().begin());
  if (!loop || loop.getNumRegionIterArgs() != 1 || !loop->hasOneUse())
    return init.emitError("attn-online-softmax expects the state to be the "
                          "only value carried by an scf.for");
  auto finalize = dyn_cast<SoftmaxFinalizeOp>(*loop->getUsers().begin());
  auto yield = cast<scf::YieldOp>(loop.getBody()->getTerminator());
  auto update = yield.getOperand(0).getDefiningOp<SoftmaxUpdateOp>();
  if (!finalize || !update || update.getState() != loop.getRegionIterArgs()[0])
    return init.emitError("attn-online-softmax expects init -> scf.for "
                          "{softmax_update} -> softmax_finalize");

  int64_t rows = stateType.getRows(), cols = stateType.getCols();
  Location loc = init.getLoc();
  OpBuilder b(loop);
  Value m0 = splat(b, loc, {rows}, -std::numeric_limits<float>::infinity());
  Value l0 = splat(b, loc, {rows}, 0.0f);
  Value acc0 = splat(b, loc, {rows, cols}, 0.0f);
  auto newLoop =
      scf::ForOp::create(b, loc, loop.getLowerBound(), loop.getUpperBound(),
                         loop.getStep(), ValueRange{m0, l0, acc0});
  newLoop->setAttrs(loop->getAttrs());
  Block *body = newLoop.getBody();
  loop.getInductionVar().replaceAllUsesWith(newLoop.getInductionVar());
  body->getOperations().splice(body->end(), loop.getBody()->getOperations());
  Value m = newLoop.getRegionIterArgs()[0];
  Value l = newLoop.getRegionIterArgs()[1];
  Value acc = newLoop.getRegionIterArgs()[2];

  // Scores in log2 units: exp(scale * x) = exp2(scale * log2(e) * x).
  body->walk([&](QKOp qk) {
    qk.setScaleAttr(b.getF32FloatAttr(
        static_cast<float>(qk.getScale().convertToDouble() * kLog2e)));
  });
  // A softcap in log2 units: log2(e) * c * tanh(s / c) is c' tanh(s' / c')
  // for s' = log2(e) * s and c' = log2(e) * c.
  body->walk([&](SoftcapOp softcap) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(newLoop);
    Value log2e = arith::ConstantFloatOp::create(
        b, loc, b.getF32Type(), APFloat(static_cast<float>(kLog2e)));
    softcap.getCapMutable().assign(
        arith::MulFOp::create(b, loc, softcap.getCap(), log2e));
  });

  b.setInsertionPoint(update);
  Value s = update.getScores();
  Value tileMax = RowMaxOp::create(b, loc, m.getType(), s);
  Value newMax = arith::MaximumFOp::create(b, loc, m, tileMax);
  Value p = Exp2DiffOp::create(b, loc, s.getType(), s, newMax);
  Value alpha = Exp2DiffOp::create(b, loc, m.getType(), m, newMax);
  Value tileSum = RowSumOp::create(b, loc, l.getType(), p);
  Value newSum = arith::AddFOp::create(
      b, loc, arith::MulFOp::create(b, loc, l, alpha), tileSum);
  Value pv = PVOp::create(b, loc, acc.getType(), p, update.getV());
  Value newAcc = arith::AddFOp::create(
      b, loc, ScaleRowsOp::create(b, loc, acc.getType(), acc, alpha), pv);
  b.setInsertionPoint(yield);
  scf::YieldOp::create(b, loc, ValueRange{newMax, newSum, newAcc});
  yield.erase();
  update.erase();

  b.setInsertionPoint(finalize);
  auto normalize = NormalizeOp::create(
      b, loc, acc.getType(), m.getType(), newLoop.getResult(2),
      newLoop.getResult(0), newLoop.getResult(1));
  finalize.replaceAllUsesWith(normalize.getResults());
  finalize.erase();
  loop.erase();
  init.erase();
  return success();
}

struct AttnOnlineSoftmaxPass
    : public attn::impl::AttnOnlineSoftmaxBase<AttnOnlineSoftmaxPass> {
  void runOnOperation() override {
    SmallVector<SoftmaxInitOp> inits;
    getOperation().walk([&](SoftmaxInitOp op) { inits.push_back(op); });
    for (SoftmaxInitOp init : inits)
      if (failed(rewriteAccumulation(init)))
        return signalPassFailure();
  }
};

} // namespace
