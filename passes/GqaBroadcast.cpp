// attn-gqa-broadcast: the CTA grid and the query tile of each CTA. Decode: a
// grid over (batch, token, KV head) whose tiles pack the query heads of one KV
// head. Prefill: a grid over (batch, query row tile, query head).
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/FunctionInterfaces.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNGQABROADCAST
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Gives each function argument among the problem op's `operands` its role
/// (attn.role), by which the lowerings tell them apart; fails on an argument
/// that would take two.
LogicalResult markRoles(Operation *op,
                        ArrayRef<std::pair<Value, ArgRole>> operands) {
  auto func = op->getParentOfType<func::FuncOp>();
  StringRef name = AttnDialect::RoleAttrHelper::getNameStr();
  for (auto [value, role] : operands) {
    auto arg = dyn_cast_or_null<BlockArgument>(value);
    if (!func || !arg || arg.getOwner() != &func.getBody().front())
      continue;
    StringAttr roleName =
        StringAttr::get(op->getContext(), stringifyArgRole(role));
    auto had = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), name);
    if (had && had != roleName)
      return op->emitError("attn-gqa-broadcast: argument #")
             << arg.getArgNumber() << " is both '" << had.getValue()
             << "' and '" << roleName.getValue() << "'";
    func.setArgAttr(arg.getArgNumber(), name, roleName);
  }
  return success();
}

LogicalResult markRoles(PagedDecodeOp op) {
  return markRoles(op, {{op.getQ(), ArgRole::Q},
                        {op.getKCache(), ArgRole::K},
                        {op.getVCache(), ArgRole::V},
                        {op.getCacheSeqlens(), ArgRole::CacheSeqlens},
                        {op.getBlockTable(), ArgRole::BlockTable},
                        {op.getOut(), ArgRole::Out},
                        {op.getLse(), ArgRole::Lse}});
}

LogicalResult markRoles(VarlenPrefillOp op) {
  return markRoles(op, {{op.getQ(), ArgRole::Q},
                        {op.getK(), ArgRole::K},
                        {op.getV(), ArgRole::V},
                        {op.getCuSeqlensQ(), ArgRole::CuSeqlensQ},
                        {op.getCuSeqlensK(), ArgRole::CuSeqlensK},
                        {op.getBlockTable(), ArgRole::BlockTable},
                        {op.getOut(), ArgRole::Out},
                        {op.getLse(), ArgRole::Lse}});
}

/// Decode: a grid over (batch, token, head block). Without `headsPerCta` a
/// head block is one KV head and its tile the G query heads that share it
/// (the kernel is specialised on G). With `headsPerCta = R`, the G heads of a
/// KV head are cut into ceil(G / R) tiles of R rows, G read at run time
/// through attn.group_size, so one kernel serves every group size; the last
/// tile of a KV head loads and stores only its `count` valid rows. With
/// `tokensPerCta = F > 1` (specialised on G), a tile holds the G heads of F
/// consecutive tokens, token-major; the grid's token dimension counts blocks
/// of F tokens and the last block's `count` covers the tokens it has.
void broadcastDecode(PagedDecodeOp op, int64_t headsPerCta,
                     int64_t tokensPerCta) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  int64_t group = op.getNumHeads() / op.getNumKvHeads();
  bool fold = tokensPerCta > 1;
  int64_t rows = headsPerCta ? headsPerCta : group * tokensPerCta;
  int64_t headDim = op.getHeadDim();
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value zero = c(0), one = c(1);
  Value batch = memref::DimOp::create(b, loc, op.getQ(), 0);
  Value tokens = memref::DimOp::create(b, loc, op.getQ(), 1);
  int64_t blocksPerKvHead = headsPerCta ? (group + rows - 1) / rows : 1;
  Value tokenBlocks =
      fold ? arith::CeilDivUIOp::create(b, loc, tokens, c(tokensPerCta))
                 .getResult()
           : tokens;
  auto grid = scf::ParallelOp::create(
      b, loc, ValueRange{zero, zero, zero},
      ValueRange{batch, tokenBlocks, c(op.getNumKvHeads() * blocksPerKvHead)},
      ValueRange{one, one, one});
  grid->setAttr(AttnDialect::GridAttrHelper::getNameStr(),
                b.getStrArrayAttr({"batch", fold ? "token_block" : "token",
                                   headsPerCta ? "head_block" : "kv_head"}));

  b.setInsertionPoint(grid.getBody()->getTerminator());
  Value bIdx = grid.getInductionVars()[0];
  Value token = grid.getInductionVars()[1];
  Value block = grid.getInductionVars()[2];
  IntegerAttr rowsPerToken;
  if (fold) {
    token = arith::MulIOp::create(b, loc, token, c(tokensPerCta));
    rowsPerToken = b.getI64IntegerAttr(group);
  }
  Value len = SeqLenOp::create(b, loc, b.getIndexType(), op.getCacheSeqlens(),
                               bIdx, UnitAttr());
  Value kvHead = block, head, count;
  if (!headsPerCta) {
    head = arith::MulIOp::create(b, loc, kvHead, c(group));
    if (fold)
      count = arith::MulIOp::create(
          b, loc,
          arith::MinUIOp::create(b, loc, c(tokensPerCta),
                                 arith::SubIOp::create(b, loc, tokens, token)),
          c(group));
  } else {
    // blocks = ceil(G / R) per KV head; block = kv_head * blocks + part.
    Value g = GroupSizeOp::create(b, loc, b.getIndexType(),
                                  b.getI64IntegerAttr(group));
    Value blocks = arith::CeilDivUIOp::create(b, loc, g, c(rows));
    kvHead = arith::DivUIOp::create(b, loc, block, blocks);
    Value first = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, block, blocks), c(rows));
    head = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, kvHead, g), first);
    count = arith::MinUIOp::create(b, loc, c(rows),
                                   arith::SubIOp::create(b, loc, g, first));
  }
  auto tileType = RankedTensorType::get({rows, headDim}, b.getF32Type());
  auto lseType = RankedTensorType::get({rows}, b.getF32Type());
  Value q = LoadQOp::create(b, loc, tileType, op.getQ(), bIdx, token, head,
                            count, rowsPerToken);
  // Bottom-right causal alignment: query token t of Lq sees keys
  // j <= t + len - Lq. The rows of a tile belong to one token, or with the
  // fold row i to token `token + i / G`.
  Value diagonal = arith::AddIOp::create(
      b, loc, arith::SubIOp::create(b, loc, len, tokens), token);
  auto attend = AttendOp::create(
      b, loc, tileType, lseType, q, op.getKCache(), op.getVCache(),
      op.getBlockTable(), bIdx, kvHead, zero, len, diagonal, op.getWindow(),
      op.getSoftcap(), op.getScaleAttr(), op.getCausalAttr(),
      b.getI64IntegerAttr(fold ? group : rows), op.getPageSizeAttr());
  StoreOp::create(b, loc, attend.getOut(), attend.getLse(), op.getOut(),
                  op.getLse(), /*split=*/Value(), bIdx, token, head, count,
                  rowsPerToken);
  op.erase();
}

/// Prefill: a grid over (batch, query row tile, query head); each CTA
/// attends `blockM` consecutive query rows of one head to the keys of the KV
/// head its group shares.
void broadcastPrefill(VarlenPrefillOp op, int64_t blockM) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  int64_t group = op.getNumHeads() / op.getNumKvHeads();
  int64_t headDim = op.getHeadDim();
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value zero = c(0), one = c(1);
  Value batch = arith::SubIOp::create(
      b, loc, memref::DimOp::create(b, loc, op.getCuSeqlensQ(), 0), one);
  // No sequence has more rows than q: a bound on the row tiles that needs no
  // device read (the launch uses max_seqlen_q instead).
  Value rowTiles = arith::CeilDivUIOp::create(
      b, loc, memref::DimOp::create(b, loc, op.getQ(), 0), c(blockM));
  auto grid =
      scf::ParallelOp::create(b, loc, ValueRange{zero, zero, zero},
                              ValueRange{batch, rowTiles, c(op.getNumHeads())},
                              ValueRange{one, one, one});
  grid->setAttr(AttnDialect::GridAttrHelper::getNameStr(),
                b.getStrArrayAttr({"batch", "q_block", "head"}));

  b.setInsertionPoint(grid.getBody()->getTerminator());
  Value bIdx = grid.getInductionVars()[0];
  Value first =
      arith::MulIOp::create(b, loc, grid.getInductionVars()[1], c(blockM));
  Value head = grid.getInductionVars()[2];
  Value lenQ = SeqLenOp::create(b, loc, b.getIndexType(), op.getCuSeqlensQ(),
                                bIdx, b.getUnitAttr());
  Value lenK = SeqLenOp::create(b, loc, b.getIndexType(), op.getCuSeqlensK(),
                                bIdx, b.getUnitAttr());
  Value hasRows =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, first, lenQ);
  auto ifRows = scf::IfOp::create(b, loc, hasRows);
  b.setInsertionPoint(ifRows.thenBlock()->getTerminator());
  Value row = arith::AddIOp::create(
      b, loc,
      SeqStartOp::create(b, loc, b.getIndexType(), op.getCuSeqlensQ(), bIdx),
      first);
  Value count = arith::SubIOp::create(b, loc, lenQ, first);
  Value kvHead = KvHeadOp::create(b, loc, b.getIndexType(), head,
                                  b.getI64IntegerAttr(group));
  auto tileType = RankedTensorType::get({blockM, headDim}, b.getF32Type());
  auto lseType = RankedTensorType::get({blockM}, b.getF32Type());
  Value q = LoadQRowsOp::create(b, loc, tileType, op.getQ(), row, head, count);
  // Packed K/V: key positions are rows of k and v; paged: positions within
  // the sequence.
  Value keyBegin = op.getPageSize() == 0
                       ? SeqStartOp::create(b, loc, b.getIndexType(),
                                            op.getCuSeqlensK(), bIdx)
                             .getResult()
                       : zero;
  Value keyEnd = arith::AddIOp::create(b, loc, keyBegin, lenK);
  // Bottom-right causal alignment: query row i sees key positions
  // j <= keyBegin + i + lenK - lenQ; the tile's first row is `first`.
  Value diagonal = arith::AddIOp::create(
      b, loc, arith::SubIOp::create(b, loc, keyEnd, lenQ), first);
  auto attend = AttendOp::create(
      b, loc, tileType, lseType, q, op.getK(), op.getV(), op.getBlockTable(),
      bIdx, kvHead, keyBegin, keyEnd, diagonal, op.getWindow(), op.getSoftcap(),
      op.getScaleAttr(), op.getCausalAttr(), b.getI64IntegerAttr(1),
      op.getPageSizeAttr());
  StoreRowsOp::create(b, loc, attend.getOut(), attend.getLse(), op.getOut(),
                      op.getLse(), /*split=*/Value(), row, head, count);
  op.erase();
}

/// Marks the function arguments a problem op's local-attention options come
/// from (attn.window_left, attn.window_right, attn.softcap), which a GPU
/// lowering binds to kernel parameters; options computed inside the function
/// are left unmarked (the GPU lowering rejects them, the CPU one takes them).
void markLocalArguments(Operation *op, ValueRange window, Value softcap) {
  auto func = op->getParentOfType<FunctionOpInterface>();
  auto mark = [&](Value value, StringRef name) {
    auto arg = dyn_cast<BlockArgument>(value);
    if (func && arg && arg.getOwner()->isEntryBlock() &&
        arg.getOwner()->getParentOp() == func.getOperation())
      func.setArgAttr(arg.getArgNumber(), name,
                      UnitAttr::get(op->getContext()));
  };
  if (!window.empty()) {
    mark(window[0], AttnDialect::WindowLeftAttrHelper::getNameStr());
    mark(window[1], AttnDialect::WindowRightAttrHelper::getNameStr());
  }
  if (softcap)
    mark(softcap, AttnDialect::SoftcapAttrHelper::getNameStr());
}

struct AttnGqaBroadcastPass
    : public attn::impl::AttnGqaBroadcastBase<AttnGqaBroadcastPass> {
  using AttnGqaBroadcastBase::AttnGqaBroadcastBase;
  void runOnOperation() override {
    if (blockM <= 0 || blockM % 16 != 0) {
      getOperation().emitError("attn-gqa-broadcast: 'block-m' must be a "
                               "positive multiple of 16, got ")
          << static_cast<int64_t>(blockM);
      return signalPassFailure();
    }
    if (headsPerCta < 0) {
      getOperation().emitError("attn-gqa-broadcast: 'heads-per-cta' must be "
                               "0 (all G heads) or positive, got ")
          << static_cast<int64_t>(headsPerCta);
      return signalPassFailure();
    }
    if (tokensPerCta < 1 || (tokensPerCta > 1 && headsPerCta != 0)) {
      getOperation().emitError("attn-gqa-broadcast: 'tokens-per-cta' must be "
                               "1, or above 1 with 'heads-per-cta' 0, got ")
          << static_cast<int64_t>(tokensPerCta) << " with 'heads-per-cta' "
          << static_cast<int64_t>(headsPerCta);
      return signalPassFailure();
    }
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<PagedDecodeOp, VarlenPrefillOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (auto decode = dyn_cast<PagedDecodeOp>(op)) {
        if (failed(markRoles(decode)))
          return signalPassFailure();
        markLocalArguments(op, decode.getWindow(), decode.getSoftcap());
        broadcastDecode(decode, headsPerCta, tokensPerCta);
      } else {
        auto prefill = cast<VarlenPrefillOp>(op);
        if (failed(markRoles(prefill)))
          return signalPassFailure();
        markLocalArguments(op, prefill.getWindow(), prefill.getSoftcap());
        broadcastPrefill(prefill, blockM);
      }
    }
  }
};

} // namespace
