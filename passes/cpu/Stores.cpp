// attn-lower-to-cpu: the output stores of a GQA group (attn.store) and of a
// packed sequence's rows (attn.store_rows), final or split-KV partial.
#include "passes/cpu/CpuEmitter.h"

#include "passes/Conventions.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

void CpuEmitter::storeRow(Value tile, Value row, Value out,
                          ArrayRef<Value> prefix, int64_t headDim) {
  Type elt = cast<MemRefType>(out.getType()).getElementType();
  loops({headDim}, [&](ValueRange d) {
    Value v = load(tile, {row, d[0]});
    if (elt != b.getF32Type())
      v = arith::TruncFOp::create(b, loc, elt, v);
    SmallVector<Value> indices(prefix);
    indices.push_back(d[0]);
    store(v, out, indices);
  });
}

LogicalResult CpuEmitter::lower(StoreOp op) {
  Value tile = buffer(op.getTile()), lseTile = buffer(op.getLseTile());
  Value out = mapped(op.getOut());
  Value bIdx = mapped(op.getBatch()), firstToken = mapped(op.getToken());
  auto shape = op.getTile().getType().getShape();
  Value posInf = conventions::callerNoKeyLse(b, loc);
  Value negInf = conventions::noKeyLse(b, loc);
  loops({shape[0]}, [&](ValueRange r) {
    OpBuilder::InsertionGuard guard(b);
    if (op.getCount()) {
      // Rows past the count repeat a real row and are not stored.
      auto ifRow = scf::IfOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, r[0],
                                mapped(op.getCount())));
      b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    }
    auto [token, head] = conventions::tokenAndHead(
        b, loc, op.getRowsPerToken(), firstToken, mapped(op.getHead()), r[0]);
    // Partial: [S, B, Lq, Hq, D] and [S, B, Lq, Hq], lse as is.
    SmallVector<Value> prefix;
    if (op.getSplit())
      prefix.push_back(mapped(op.getSplit()));
    prefix.append({bIdx, token, head});
    storeRow(tile, r[0], out, prefix, shape[1]);
    if (!op.getLse())
      return;
    Value lse = load(lseTile, {r[0]});
    if (op.getSplit()) {
      store(lse, mapped(op.getLse()), prefix);
      return;
    }
    store(conventions::callerLse(b, loc, lse, negInf, posInf),
          mapped(op.getLse()), {bIdx, head, token});
  });
  return success();
}

LogicalResult CpuEmitter::lower(StoreRowsOp op) {
  Value tile = buffer(op.getTile()), lseTile = buffer(op.getLseTile());
  Value out = mapped(op.getOut());
  auto shape = op.getTile().getType().getShape();
  Value posInf = conventions::callerNoKeyLse(b, loc);
  Value negInf = conventions::noKeyLse(b, loc);
  Value head = mapped(op.getHead());
  loops({shape[0]}, [&](ValueRange r) {
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r[0],
                                        mapped(op.getCount()));
    auto ifOp = scf::IfOp::create(b, loc, valid);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value row = arith::AddIOp::create(b, loc, mapped(op.getRow()), r[0]);
    // Partial: [S, total_q, Hq, D] and [S, total_q, Hq], lse as is.
    SmallVector<Value> prefix;
    if (op.getSplit())
      prefix.push_back(mapped(op.getSplit()));
    prefix.append({row, head});
    storeRow(tile, r[0], out, prefix, shape[1]);
    if (!op.getLse())
      return;
    Value lse = load(lseTile, {r[0]});
    if (op.getSplit()) {
      store(lse, mapped(op.getLse()), prefix);
      return;
    }
    store(conventions::callerLse(b, loc, lse, negInf, posInf),
          mapped(op.getLse()), {head, row});
  });
  return success();
}
