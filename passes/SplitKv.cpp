// attn-split-kv: a split dimension over each sequence's keys, partial results
// in a workspace, and the log-sum-exp merge (attn.combine).
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNSPLITKV
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

struct Workspace {
  Value partialOut, partialLse, numSplits;
};

/// Appends the workspace arguments for a grid whose store writes `out`
/// ([B, Lq, Hq, D] for decode, [total_q, Hq, D] for prefill): partial
/// outputs with a leading split dimension, [S, ..., Hq, D], and their lse,
/// [S, ..., Hq].
Workspace addWorkspaceArguments(func::FuncOp func, MemRefType outType) {
  MLIRContext *ctx = func.getContext();
  Type f32 = Float32Type::get(ctx);
  ArrayRef<int64_t> shape = outType.getShape();
  SmallVector<int64_t> partialShape(shape.size() - 1, ShapedType::kDynamic);
  llvm::append_range(partialShape, shape.take_back(2));
  auto partialOutType = MemRefType::get(partialShape, f32);
  auto partialLseType =
      MemRefType::get(ArrayRef<int64_t>(partialShape).drop_back(), f32);
  unsigned first = func.getNumArguments();
  Location loc = func.getLoc();
  auto marked = [&](StringRef name) {
    return NamedAttribute(StringAttr::get(ctx, name), UnitAttr::get(ctx));
  };
  // The workspace buffers, with their roles (attn.role).
  auto workspace = [&](ArgRole role) {
    return DictionaryAttr::get(
        ctx,
        {marked(AttnDialect::WorkspaceAttrHelper::getNameStr()),
         NamedAttribute(
             StringAttr::get(ctx, AttnDialect::RoleAttrHelper::getNameStr()),
             StringAttr::get(ctx, stringifyArgRole(role)))});
  };
  (void)func.insertArguments(
      {first, first, first},
      {partialOutType, partialLseType, IndexType::get(ctx)},
      {workspace(ArgRole::PartO), workspace(ArgRole::PartLse),
       DictionaryAttr::get(
           ctx, {marked(AttnDialect::NumSplitsAttrHelper::getNameStr())})},
      {loc, loc, loc});
  return {func.getArgument(first), func.getArgument(first + 1),
          func.getArgument(first + 2)};
}

/// The end of the keys some row of `attend` can see: under the causal mask,
/// its last row sees none past diagonal + (rows - 1) / rows_per_token, so
/// the splits share the visible keys instead of leaving the last ones empty.
/// A window's right bound (when not causal and non-negative) moves that end
/// by the bound, as causal moves it by 0.
Value visibleEnd(OpBuilder &b, Location loc, AttendOp attend) {
  bool rightBound = !attend.getCausal() && !attend.getWindow().empty();
  if (!attend.getCausal() && !rightBound)
    return attend.getKeyEnd();
  int64_t rows = attend.getQ().getType().getDimSize(0);
  Value lastRowEnd = arith::AddIOp::create(
      b, loc, attend.getDiagonal(),
      arith::ConstantIndexOp::create(
          b, loc, (rows - 1) / attend.getRowsPerToken() + 1));
  if (rightBound) {
    // right < 0 is unbounded: the end stays the key range's.
    Value right = attend.getWindow()[1];
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value bounded =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, right, zero);
    lastRowEnd = arith::SelectOp::create(
        b, loc, bounded, arith::AddIOp::create(b, loc, lastRowEnd, right),
        attend.getKeyEnd());
  }
  return arith::MinSIOp::create(b, loc, attend.getKeyEnd(), lastRowEnd);
}

/// The first key some row of `attend` can see: with a window's left bound,
/// the first row sees none before diagonal - left, so the splits share the
/// window's keys instead of leaving the first ones empty. Kept a multiple of
/// `align` keys past the key range's begin, as the split ranges are.
Value visibleBegin(OpBuilder &b, Location loc, AttendOp attend, int64_t align) {
  Value begin = attend.getKeyBegin();
  if (attend.getWindow().empty())
    return begin;
  Value left = attend.getWindow()[0];
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value skipped = arith::MaxSIOp::create(
      b, loc, zero,
      arith::SubIOp::create(
          b, loc, arith::SubIOp::create(b, loc, attend.getDiagonal(), left),
          begin));
  // left < 0 is unbounded: nothing is skipped.
  Value bounded =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, left, zero);
  skipped = arith::SelectOp::create(b, loc, bounded, skipped, zero);
  Value alignValue = arith::ConstantIndexOp::create(b, loc, align);
  Value chunks = arith::DivSIOp::create(b, loc, skipped, alignValue);
  return arith::AddIOp::create(
      b, loc, begin, arith::MulIOp::create(b, loc, chunks, alignValue));
}

/// The same store into the workspace, indexed by `split` first.
void storePartial(OpBuilder &b, Operation *store, const Workspace &ws,
                  Value split) {
  Location loc = store->getLoc();
  if (auto s = dyn_cast<StoreOp>(store)) {
    StoreOp::create(b, loc, s.getTile(), s.getLseTile(), ws.partialOut,
                    ws.partialLse, split, s.getBatch(), s.getToken(),
                    s.getHead(), s.getCount(), s.getRowsPerTokenAttr());
    return;
  }
  auto s = cast<StoreRowsOp>(store);
  StoreRowsOp::create(b, loc, s.getTile(), s.getLseTile(), ws.partialOut,
                      ws.partialLse, split, s.getRow(), s.getHead(),
                      s.getCount());
}

LogicalResult splitGrid(scf::ParallelOp grid, int64_t chunkAlign) {
  AttendOp attend;
  Operation *store = nullptr;
  Value out, lse;
  bool split = false;
  grid.getBody()->walk([&](Operation *op) {
    if (auto a = dyn_cast<AttendOp>(op))
      attend = a;
    if (auto s = dyn_cast<StoreOp>(op)) {
      store = s;
      out = s.getOut();
      lse = s.getLse();
      split |= static_cast<bool>(s.getSplit());
    }
    if (auto s = dyn_cast<StoreRowsOp>(op)) {
      store = s;
      out = s.getOut();
      lse = s.getLse();
      split |= static_cast<bool>(s.getSplit());
    }
  });
  if (!attend || !store || split)
    return grid.emitError("attn-split-kv expects a grid with one attn.attend "
                          "and one unsplit attn.store or attn.store_rows");
  auto func = grid->getParentOfType<func::FuncOp>();
  Workspace ws = addWorkspaceArguments(func, cast<MemRefType>(out.getType()));

  OpBuilder b(grid);
  Location loc = grid.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> lbs{zero}, ubs{ws.numSplits}, steps{one};
  llvm::append_range(lbs, grid.getLowerBound());
  llvm::append_range(ubs, grid.getUpperBound());
  llvm::append_range(steps, grid.getStep());
  auto splitGrid = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
  SmallVector<Attribute> names{b.getStringAttr("split")};
  llvm::append_range(names, cast<ArrayAttr>(grid->getAttr(
                                AttnDialect::GridAttrHelper::getNameStr())));
  splitGrid->setAttr(AttnDialect::GridAttrHelper::getNameStr(),
                     b.getArrayAttr(names));

  // Move the body over, the old induction variables becoming the new ones
  // after the split index.
  Block *oldBody = grid.getBody();
  Block *newBody = splitGrid.getBody();
  for (auto [oldIv, newIv] :
       llvm::zip(grid.getInductionVars(),
                 llvm::drop_begin(splitGrid.getInductionVars())))
    oldIv.replaceAllUsesWith(newIv);
  newBody->getOperations().splice(newBody->begin(), oldBody->getOperations(),
                                  oldBody->begin(), std::prev(oldBody->end()));
  Value splitIdx = splitGrid.getInductionVars().front();

  // Restrict the attention to this split's share of the visible keys.
  b.setInsertionPoint(attend);
  // The visible count, 0 when the causal diagonal is before the first key
  // (Lk < Lq: the first rows see nothing).
  Value begin = visibleBegin(b, loc, attend, chunkAlign);
  Value visible = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, visibleEnd(b, loc, attend), begin),
      zero);
  auto range = SplitRangeOp::create(b, loc, b.getIndexType(), b.getIndexType(),
                                    visible, splitIdx, ws.numSplits,
                                    b.getI64IntegerAttr(chunkAlign));
  attend.getKeyBeginMutable().assign(
      arith::AddIOp::create(b, loc, begin, range.getBegin()));
  attend.getKeyEndMutable().assign(
      arith::AddIOp::create(b, loc, begin, range.getEnd()));

  // One split stores the result directly; several store partials.
  b.setInsertionPoint(store);
  Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       ws.numSplits, one);
  auto ifOp = scf::IfOp::create(b, loc, single, /*withElseRegion=*/true);
  store->moveBefore(ifOp.thenBlock()->getTerminator());
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  storePartial(b, store, ws, splitIdx);

  b.setInsertionPointAfter(splitGrid);
  Value several = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                        ws.numSplits, one);
  auto combineIf = scf::IfOp::create(b, loc, several);
  b.setInsertionPoint(combineIf.thenBlock()->getTerminator());
  CombineOp::create(b, loc, ws.partialOut, ws.partialLse, ws.numSplits, out,
                    lse);
  grid.erase();
  return success();
}

struct AttnSplitKvPass : public attn::impl::AttnSplitKvBase<AttnSplitKvPass> {
  using AttnSplitKvBase::AttnSplitKvBase;
  void runOnOperation() override {
    if (chunkAlign <= 0) {
      getOperation().emitError("attn-split-kv: 'chunk-align' must be "
                               "positive, got ")
          << static_cast<int64_t>(chunkAlign);
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> grids;
    getOperation().walk([&](scf::ParallelOp op) {
      auto names = op->getAttrOfType<ArrayAttr>(
          AttnDialect::GridAttrHelper::getNameStr());
      auto has = [&](StringRef name) {
        return llvm::is_contained(names,
                                  StringAttr::get(op.getContext(), name));
      };
      if (names && !has("split"))
        grids.push_back(op);
    });
    for (scf::ParallelOp grid : grids)
      if (failed(splitGrid(grid, chunkAlign)))
        return signalPassFailure();
  }
};

} // namespace
