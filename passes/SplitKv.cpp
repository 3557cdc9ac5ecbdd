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
/// ([B, Lq, Hq, D]).
Workspace addWorkspaceArguments(func::FuncOp func, MemRefType outType) {
  MLIRContext *ctx = func.getContext();
  Type f32 = Float32Type::get(ctx);
  int64_t dyn = ShapedType::kDynamic;
  ArrayRef<int64_t> shape = outType.getShape();
  auto partialOutType =
      MemRefType::get({dyn, dyn, dyn, shape[2], shape[3]}, f32);
  auto partialLseType = MemRefType::get({dyn, dyn, dyn, shape[2]}, f32);
  unsigned first = func.getNumArguments();
  Location loc = func.getLoc();
  auto workspace = UnitAttr::get(ctx);
  (void)func.insertArguments({first, first, first},
                             {partialOutType, partialLseType,
                              IndexType::get(ctx)},
                             {DictionaryAttr::get(ctx, {NamedAttribute(
                                  StringAttr::get(ctx, "attn.workspace"),
                                  workspace)}),
                              DictionaryAttr::get(ctx, {NamedAttribute(
                                  StringAttr::get(ctx, "attn.workspace"),
                                  workspace)}),
                              DictionaryAttr::get(ctx, {NamedAttribute(
                                  StringAttr::get(ctx, "attn.num_splits"),
                                  workspace)})},
                             {loc, loc, loc});
  return {func.getArgument(first), func.getArgument(first + 1),
          func.getArgument(first + 2)};
}

LogicalResult splitGrid(scf::ParallelOp grid, int64_t chunkAlign) {
  AttendOp attend;
  StoreOp store;
  grid.getBody()->walk([&](Operation *op) {
    if (auto a = dyn_cast<AttendOp>(op))
      attend = a;
    if (auto s = dyn_cast<StoreOp>(op))
      store = s;
  });
  if (!attend || !store || store.getSplit())
    return grid.emitError("attn-split-kv expects a grid with one attn.attend "
                          "and one unsplit attn.store");
  auto func = grid->getParentOfType<func::FuncOp>();
  Workspace ws = addWorkspaceArguments(
      func, cast<MemRefType>(store.getOut().getType()));

  OpBuilder b(grid);
  Location loc = grid.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> lbs{zero}, ubs{ws.numSplits}, steps{one};
  llvm::append_range(lbs, grid.getLowerBound());
  llvm::append_range(ubs, grid.getUpperBound());
  llvm::append_range(steps, grid.getStep());
  auto split = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
  SmallVector<Attribute> names{b.getStringAttr("split")};
  llvm::append_range(names, cast<ArrayAttr>(grid->getAttr("attn.grid")));
  split->setAttr("attn.grid", b.getArrayAttr(names));

  // Move the body over, the old induction variables becoming the new ones
  // after the split index.
  Block *oldBody = grid.getBody();
  Block *newBody = split.getBody();
  for (auto [oldIv, newIv] : llvm::zip(
           grid.getInductionVars(), llvm::drop_begin(split.getInductionVars())))
    oldIv.replaceAllUsesWith(newIv);
  newBody->getOperations().splice(newBody->begin(), oldBody->getOperations(),
                                  oldBody->begin(),
                                  std::prev(oldBody->end()));
  Value splitIdx = split.getInductionVars().front();

  // Restrict the attention to this split's keys.
  b.setInsertionPoint(attend);
  auto range = SplitRangeOp::create(b, loc, b.getIndexType(),
                                    b.getIndexType(), attend.getKeyEnd(), splitIdx,
                                    ws.numSplits,
                                    b.getI64IntegerAttr(chunkAlign));
  attend.getKeyBeginMutable().assign(range.getBegin());
  attend.getKeyEndMutable().assign(range.getEnd());

  // One split stores the result directly; several store partials.
  b.setInsertionPoint(store);
  Value single = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                       ws.numSplits, one);
  auto ifOp = scf::IfOp::create(b, loc, single, /*withElseRegion=*/true);
  store->moveBefore(ifOp.thenBlock()->getTerminator());
  b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
  StoreOp::create(b, loc, store.getTile(), store.getLseTile(), ws.partialOut,
                  ws.partialLse, splitIdx, store.getBatch(), store.getToken(),
                  store.getHead(), store.getCount());

  b.setInsertionPointAfter(split);
  Value several = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                        ws.numSplits, one);
  auto combineIf = scf::IfOp::create(b, loc, several);
  b.setInsertionPoint(combineIf.thenBlock()->getTerminator());
  CombineOp::create(b, loc, ws.partialOut, ws.partialLse, ws.numSplits,
                    store.getOut(), store.getLse());
  grid.erase();
  return success();
}

struct AttnSplitKvPass : public attn::impl::AttnSplitKvBase<AttnSplitKvPass> {
  using AttnSplitKvBase::AttnSplitKvBase;
  void runOnOperation() override {
    if (chunkAlign <= 0) {
      getOperation().emitError("attn-split-kv: 'chunk-align' must be "
                               "positive, got ")
          << chunkAlign;
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> grids;
    getOperation().walk([&](scf::ParallelOp op) {
      auto names = op->getAttrOfType<ArrayAttr>("attn.grid");
      auto has = [&](StringRef name) {
        return llvm::is_contained(names, StringAttr::get(op.getContext(), name));
      };
      // Prefill grids (over query row tiles) are not split.
      if (names && !has("split") && !has("q_block"))
        grids.push_back(op);
    });
    for (scf::ParallelOp grid : grids)
      if (failed(splitGrid(grid, chunkAlign)))
        return signalPassFailure();
  }
};

} // namespace
