// attn-lower-to-cpu: attn.combine, which merges the split-KV partial rows by
// their log-sum-exp.
#include "passes/cpu/CpuEmitter.h"

#include "passes/Conventions.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::lower(CombineOp op) {
  // out is [B, Lq, Hq, D] (decode) or [total_q, Hq, D] (prefill); the
  // partials put the split first, and lse is [B, Hq, Lq] or [Hq, total_q].
  Value out = mapped(op.getOut());
  int64_t outRank = cast<MemRefType>(out.getType()).getRank();
  SmallVector<Value> ubs;
  for (int64_t d = 0; d + 1 < outRank; ++d)
    ubs.push_back(memref::DimOp::create(b, loc, out, d));
  Value negInf = conventions::noKeyLse(b, loc);
  Value posInf = conventions::callerNoKeyLse(b, loc);
  loopsTo(ubs,
          [&](ValueRange rowIdx) { combineRow(op, rowIdx, negInf, posInf); });
  return success();
}

void CpuEmitter::combineRow(CombineOp op, ValueRange rowIdx, Value negInf,
                            Value posInf) {
  Value po = mapped(op.getPartialOut());
  Value pl = mapped(op.getPartialLse());
  Value out = mapped(op.getOut());
  Value splits = mapped(op.getNumSplits());
  int64_t outRank = cast<MemRefType>(out.getType()).getRank();
  int64_t headDim = cast<MemRefType>(po.getType()).getShape().back();
  Type elt = cast<MemRefType>(out.getType()).getElementType();
  auto at = [&](Value s) {
    SmallVector<Value> indices{s};
    llvm::append_range(indices, rowIdx);
    return indices;
  };
  Value mx = accumulate(splits, negInf, [&](Value s, Value acc) {
    Value lse = load(pl, at(s));
    return arith::MaximumFOp::create(b, loc, acc, lse).getResult();
  });
  // w_s = exp(lse_s - max), 0 for a split that saw no key.
  auto weight = [&](Value s) {
    Value lse = load(pl, at(s));
    Value w =
        math::ExpOp::create(b, loc, arith::SubFOp::create(b, loc, lse, mx));
    return conventions::zeroIfNoKey(b, loc, lse, w, negInf);
  };
  Value sum = accumulate(splits, f32(0.0), [&](Value s, Value acc) {
    return arith::AddFOp::create(b, loc, acc, weight(s)).getResult();
  });
  Value empty = conventions::isEmptyRow(b, loc, sum);
  loops({headDim}, [&](ValueRange d) {
    Value acc = accumulate(splits, f32(0.0), [&](Value s, Value acc) {
      SmallVector<Value> indices = at(s);
      indices.push_back(d[0]);
      Value o = load(po, indices);
      return arith::AddFOp::create(b, loc, acc,
                                   arith::MulFOp::create(b, loc, weight(s), o))
          .getResult();
    });
    Value v = conventions::rowOutput(b, loc, empty, acc, sum);
    if (elt != b.getF32Type())
      v = arith::TruncFOp::create(b, loc, elt, v);
    SmallVector<Value> indices(rowIdx);
    indices.push_back(d[0]);
    store(v, out, indices);
  });
  if (!op.getLse())
    return;
  // The partial lse are natural-log already.
  Value lse =
      arith::AddFOp::create(b, loc, mx, math::LogOp::create(b, loc, sum));
  SmallVector<Value> indices(rowIdx);
  std::swap(indices[outRank - 2], indices[outRank - 3]);
  store(conventions::lseOrNoKey(b, loc, empty, posInf, lse),
        mapped(op.getLse()), indices);
}
