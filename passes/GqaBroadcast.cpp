// attn-gqa-broadcast: a grid over (batch, token, KV head) whose tiles pack the
// query heads of one KV head.
#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNGQABROADCAST
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

void broadcastDecode(PagedDecodeOp op) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  int64_t group = op.getNumHeads() / op.getNumKvHeads();
  int64_t headDim = op.getHeadDim();
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  Value zero = c(0), one = c(1);
  Value batch = memref::DimOp::create(b, loc, op.getQ(), 0);
  Value tokens = memref::DimOp::create(b, loc, op.getQ(), 1);
  auto grid = scf::ParallelOp::create(
      b, loc, ValueRange{zero, zero, zero},
      ValueRange{batch, tokens, c(op.getNumKvHeads())},
      ValueRange{one, one, one});
  grid->setAttr("attn.grid", b.getStrArrayAttr({"batch", "token", "kv_head"}));

  b.setInsertionPoint(grid.getBody()->getTerminator());
  Value bIdx = grid.getInductionVars()[0];
  Value token = grid.getInductionVars()[1];
  Value kvHead = grid.getInductionVars()[2];
  Value len = SeqLenOp::create(b, loc, b.getIndexType(),
                               op.getCacheSeqlens(), bIdx, UnitAttr());
  Value head = arith::MulIOp::create(b, loc, kvHead, c(group));
  auto tileType = RankedTensorType::get({group, headDim}, b.getF32Type());
  auto lseType = RankedTensorType::get({group}, b.getF32Type());
  Value q = LoadQOp::create(b, loc, tileType, op.getQ(), bIdx, token, head);
  // Bottom-right causal alignment: query token t of Lq sees keys
  // j <= t + len - Lq.
  Value diagonal = arith::AddIOp::create(
      b, loc, arith::SubIOp::create(b, loc, len, tokens), token);
  auto attend = AttendOp::create(
      b, loc, tileType, lseType, q, op.getKCache(), op.getVCache(),
      op.getBlockTable(), bIdx, kvHead, zero, len, diagonal, op.getScaleAttr(),
      op.getCausalAttr(), b.getI64IntegerAttr(group), op.getPageSizeAttr());
  StoreOp::create(b, loc, attend.getOut(), attend.getLse(), op.getOut(),
                  op.getLse(), /*split=*/Value(), bIdx, token, head);
  op.erase();
}

struct AttnGqaBroadcastPass
    : public attn::impl::AttnGqaBroadcastBase<AttnGqaBroadcastPass> {
  void runOnOperation() override {
    SmallVector<PagedDecodeOp> ops;
    getOperation().walk([&](PagedDecodeOp op) { ops.push_back(op); });
    for (PagedDecodeOp op : ops)
      broadcastDecode(op);
  }
};

} // namespace
