// attn-lower-to-cpu: the tile loads (query rows of a GQA group or of a
// packed sequence, K/V tiles of a contiguous, packed or paged cache).
#include "passes/cpu/CpuEmitter.h"

#include "passes/Conventions.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::lower(LoadQOp op) {
  Value out = allocate(op.getType());
  Value q = mapped(op.getQ());
  loops(op.getType().getShape(), [&](ValueRange ivs) {
    // With a count, rows past it repeat row count - 1.
    Value row = ivs[0];
    if (op.getCount())
      row = arith::MinUIOp::create(
          b, loc, row,
          arith::SubIOp::create(b, loc, mapped(op.getCount()), idx(1)));
    auto [token, head] = conventions::tokenAndHead(b, loc, op.getRowsPerToken(),
                                                   mapped(op.getToken()),
                                                   mapped(op.getHead()), row);
    store(toF32(load(q, {mapped(op.getBatch()), token, head, ivs[1]})), out,
          ivs);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(LoadQRowsOp op) {
  Value out = allocate(op.getType());
  Value q = mapped(op.getQ());
  auto shape = op.getType().getShape();
  loops({shape[0]}, [&](ValueRange r) {
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, r[0],
                                        mapped(op.getCount()));
    auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value row = arith::AddIOp::create(b, loc, mapped(op.getRow()), r[0]);
    loops({shape[1]}, [&](ValueRange d) {
      store(toF32(load(q, {row, mapped(op.getHead()), d[0]})), out,
            {r[0], d[0]});
    });
    // Rows past the count are zero; their addresses are never read.
    b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
    loops({shape[1]}, [&](ValueRange d) {
      store(f32(0.0), out, {r[0], d[0]});
    });
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(KvTileOp op) {
  auto type = cast<RankedTensorType>(op.getType());
  Value out = allocate(type);
  Value cache = mapped(op.getCache());
  Value zero =
      arith::ConstantOp::create(b, loc, type.getElementType(),
                                b.getFloatAttr(type.getElementType(), 0.0));
  loops({type.getDimSize(0)}, [&](ValueRange n) {
    Value pos = arith::AddIOp::create(b, loc, mapped(op.getStart()), n[0]);
    Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, pos,
                                        mapped(op.getLimit()));
    auto ifOp = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    Value block = mapped(op.getBatch()), row = pos;
    SmallVector<Value> at;
    if (cast<MemRefType>(cache.getType()).getRank() == 3) {
      at = {pos}; // packed: positions are rows
    } else if (op.getPageSize() != 0) {
      Value page = memref::DimOp::create(b, loc, cache, 1);
      Value entryIdx = arith::DivUIOp::create(b, loc, pos, page);
      Value id = load(mapped(op.getBlockTable()), {block, entryIdx});
      block = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
      row = arith::RemUIOp::create(b, loc, pos, page);
    }
    if (at.empty())
      at = {block, row};
    at.push_back(mapped(op.getKvHead()));
    loops({type.getDimSize(1)}, [&](ValueRange d) {
      SmallVector<Value> indices(at);
      indices.push_back(d[0]);
      store(load(cache, indices), out, {n[0], d[0]});
    });
    // Rows at or past the limit are zero and never read.
    b.setInsertionPoint(ifOp.elseBlock()->getTerminator());
    loops({type.getDimSize(1)}, [&](ValueRange d) {
      store(zero, out, {n[0], d[0]});
    });
  });
  buffers[op] = out;
  return success();
}
