// attn-lower-to-cpu: the index ops (sequence lengths and starts, GQA heads,
// split ranges) as scalar arithmetic.
#include "passes/cpu/CpuEmitter.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::lower(SeqLenOp op) {
  Value bIdx = mapped(op.getBatch());
  Value len = load(mapped(op.getLengths()), {bIdx});
  if (op.getCumulative())
    len = arith::SubIOp::create(
        b, loc,
        load(mapped(op.getLengths()),
             {arith::AddIOp::create(b, loc, bIdx, idx(1))}),
        len);
  mapping.map(op.getResult(),
              arith::IndexCastOp::create(b, loc, b.getIndexType(), len));
  return success();
}

LogicalResult CpuEmitter::lower(SeqStartOp op) {
  Value row = load(mapped(op.getCuSeqlens()), {mapped(op.getBatch())});
  mapping.map(op.getRow(),
              arith::IndexCastOp::create(b, loc, b.getIndexType(), row));
  return success();
}

LogicalResult CpuEmitter::lower(GroupSizeOp op) {
  mapping.map(op.getSize(), idx(op.getGroup()));
  return success();
}

LogicalResult CpuEmitter::lower(KvHeadOp op) {
  mapping.map(
      op.getKvHead(),
      arith::DivUIOp::create(b, loc, mapped(op.getHead()), idx(op.getGroup())));
  return success();
}

LogicalResult CpuEmitter::lower(SplitRangeOp op) {
  auto [begin, end] = SplitRangeOp::expand(
      b, loc, mapped(op.getLength()), mapped(op.getSplit()),
      mapped(op.getNumSplits()), op.getAlign());
  mapping.map(op.getBegin(), begin);
  mapping.map(op.getEnd(), end);
  return success();
}
