// attn-tile: the loop over KV tiles, masking only where needed.
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNTILE
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

/// An unbounded window side: more keys than any sequence has, small enough
/// that diagonal +- it does not overflow.
constexpr int64_t kUnboundedWindow = int64_t{1} << 40;

/// `cap > 0 ? attn.softcap(scores, cap) : scores`, the branch uniform.
Value softcapIfPositive(OpBuilder &b, Location loc, Value scores, Value cap) {
  Value positive = arith::CmpFOp::create(
      b, loc, arith::CmpFPredicate::OGT, cap,
      arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(0.0f)));
  auto ifCap = scf::IfOp::create(b, loc, TypeRange{scores.getType()}, positive,
                                 /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifCap.thenBlock());
  scf::YieldOp::create(
      b, loc,
      SoftcapOp::create(b, loc, scores.getType(), scores, cap).getResult());
  b.setInsertionPointToStart(ifCap.elseBlock());
  scf::YieldOp::create(b, loc, scores);
  return ifCap.getResult(0);
}

void tileAttend(AttendOp attend, int64_t blockN) {
  OpBuilder b(attend);
  Location loc = attend.getLoc();
  auto qType = cast<RankedTensorType>(attend.getQ().getType());
  int64_t rows = qType.getDimSize(0), headDim = qType.getDimSize(1);
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value begin = attend.getKeyBegin(), end = attend.getKeyEnd();
  Value diagonal = attend.getDiagonal();
  bool causal = attend.getCausal();
  int64_t rowsPerToken = attend.getRowsPerToken();

  // The first row sees keys below `maskFrom`, the last row below `visibleEnd`:
  // tiles ending at or before maskFrom need no mask; tiles starting at or
  // after visibleEnd are masked for every row and never visited.
  Value maskFrom = end, visibleEnd = end;
  if (causal) {
    Value firstRowEnd = arith::AddIOp::create(b, loc, diagonal, c(1));
    Value lastRowEnd = arith::AddIOp::create(b, loc, diagonal,
                                             c((rows - 1) / rowsPerToken + 1));
    maskFrom = arith::MinSIOp::create(b, loc, end, firstRowEnd);
    visibleEnd = arith::MinSIOp::create(b, loc, end, lastRowEnd);
  }
  // A window [left, right] (a negative bound unbounded) bounds the keys of
  // row i to diagonal_i - left .. diagonal_i + right: the loop starts at the
  // tile holding the first row's first key, tiles starting before the last
  // row's first key are masked, and the right bound moves maskFrom and
  // visibleEnd as causal does (causal is right = 0).
  Value maskUntil;
  SmallVector<Value> window;
  if (!attend.getWindow().empty()) {
    Value zero = c(0), unbounded = c(kUnboundedWindow);
    Value lastDiagonal =
        arith::AddIOp::create(b, loc, diagonal, c((rows - 1) / rowsPerToken));
    auto bound = [&](Value v) {
      Value negative =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, v, zero);
      return arith::SelectOp::create(b, loc, negative, unbounded, v)
          .getResult();
    };
    Value left = bound(attend.getWindow()[0]);
    Value right = causal ? zero : bound(attend.getWindow()[1]);
    window = {left, right};
    if (!causal) {
      Value one = c(1);
      Value firstRowEnd = arith::AddIOp::create(
          b, loc, arith::AddIOp::create(b, loc, diagonal, right), one);
      Value lastRowEnd = arith::AddIOp::create(
          b, loc, arith::AddIOp::create(b, loc, lastDiagonal, right), one);
      maskFrom = arith::MinSIOp::create(b, loc, end, firstRowEnd);
      visibleEnd = arith::MinSIOp::create(b, loc, end, lastRowEnd);
    }
    Value firstKey = arith::SubIOp::create(b, loc, diagonal, left);
    Value skipped = arith::MaxSIOp::create(
        b, loc, zero, arith::SubIOp::create(b, loc, firstKey, begin));
    Value skippedTiles = arith::DivSIOp::create(b, loc, skipped, c(blockN));
    begin = arith::AddIOp::create(
        b, loc, begin, arith::MulIOp::create(b, loc, skippedTiles, c(blockN)));
    maskUntil = arith::SubIOp::create(b, loc, lastDiagonal, left);
  }

  Type elt = cast<MemRefType>(attend.getKCache().getType()).getElementType();
  auto kvType = RankedTensorType::get({blockN, headDim}, elt);
  auto scoreType = RankedTensorType::get({rows, blockN}, b.getF32Type());
  auto stateType = SoftmaxStateType::get(b.getContext(), rows, headDim);
  Value init = SoftmaxInitOp::create(b, loc, stateType);
  auto loop = scf::ForOp::create(b, loc, begin, visibleEnd, c(blockN),
                                 ValueRange{init});
  loop->setAttr(AttnDialect::KvLoopAttrHelper::getNameStr(), b.getUnitAttr());
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value start = loop.getInductionVar();
    Value state = loop.getRegionIterArgs()[0];
    Value k = KvTileOp::create(b, loc, kvType, attend.getKCache(),
                               attend.getBlockTable(), attend.getBatch(),
                               attend.getKvHead(), start, visibleEnd,
                               attend.getPageSizeAttr());
    Value scores = QKOp::create(b, loc, scoreType, attend.getQ(), k,
                                attend.getScaleAttr());
    if (Value cap = attend.getSoftcap())
      scores = softcapIfPositive(b, loc, scores, cap);
    Value tileEnd = arith::AddIOp::create(b, loc, start, c(blockN));
    Value needsMask = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt,
                                            tileEnd, maskFrom);
    if (maskUntil)
      needsMask = arith::OrIOp::create(
          b, loc, needsMask,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, start,
                                maskUntil));
    auto maskIf = scf::IfOp::create(b, loc, TypeRange{scoreType}, needsMask,
                                    /*withElseRegion=*/true);
    b.setInsertionPointToStart(maskIf.thenBlock());
    Value masked =
        MaskOp::create(b, loc, scoreType, scores, start, end, diagonal, window,
                       attend.getCausalAttr(), attend.getRowsPerTokenAttr());
    scf::YieldOp::create(b, loc, masked);
    b.setInsertionPointToStart(maskIf.elseBlock());
    scf::YieldOp::create(b, loc, scores);
    b.setInsertionPointAfter(maskIf);
    Value v = KvTileOp::create(b, loc, kvType, attend.getVCache(),
                               attend.getBlockTable(), attend.getBatch(),
                               attend.getKvHead(), start, visibleEnd,
                               attend.getPageSizeAttr());
    Value updated = SoftmaxUpdateOp::create(b, loc, stateType, state,
                                            maskIf.getResult(0), v);
    scf::YieldOp::create(b, loc, updated);
  }
  auto finalize =
      SoftmaxFinalizeOp::create(b, loc, attend.getOut().getType(),
                                attend.getLse().getType(), loop.getResult(0));
  attend.replaceAllUsesWith(finalize.getResults());
  attend.erase();
}

struct AttnTilePass : public attn::impl::AttnTileBase<AttnTilePass> {
  using AttnTileBase::AttnTileBase;
  void runOnOperation() override {
    if (blockN <= 0 || blockN % 16 != 0) {
      getOperation().emitError("attn-tile: 'block-n' must be a positive "
                               "multiple of 16, got ")
          << static_cast<int64_t>(blockN);
      return signalPassFailure();
    }
    SmallVector<AttendOp> ops;
    getOperation().walk([&](AttendOp op) { ops.push_back(op); });
    for (AttendOp op : ops)
      tileAttend(op, blockN);
  }
};

} // namespace
