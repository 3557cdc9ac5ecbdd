// attn-lower-to-cpu: the tile arithmetic of the online softmax (QK^T, mask,
// row reductions, exp2, PV, rescale, normalize) as loops over buffers.
#include "passes/cpu/CpuEmitter.h"

#include "passes/Conventions.h"

#include <limits>

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::lower(QKOp op) {
  if (op->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr()))
    return op.emitError("attn-lower-to-cpu: attn.deferred_scale "
                        "(attn-fuse-tile-ops) is for the GPU lowering");
  Value q = buffer(op.getQ()), k = buffer(op.getK());
  Value out = allocate(op.getType());
  int64_t headDim = op.getQ().getType().getDimSize(1);
  Value scale = f32(op.getScale().convertToFloat());
  loops(op.getType().getShape(), [&](ValueRange mn) {
    Value dot = accumulate(headDim, f32(0.0), [&](Value d, Value acc) {
      Value prod = arith::MulFOp::create(b, loc, load(q, {mn[0], d}),
                                         toF32(load(k, {mn[1], d})));
      return arith::AddFOp::create(b, loc, acc, prod).getResult();
    });
    store(arith::MulFOp::create(b, loc, dot, scale), out, mn);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(MaskOp op) {
  Value in = buffer(op.getScores());
  Value out = allocate(op.getType());
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  loops(op.getType().getShape(), [&](ValueRange mn) {
    Value key = arith::AddIOp::create(b, loc, mapped(op.getStart()), mn[1]);
    Value keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, key,
                                       mapped(op.getEnd()));
    Value rowDiagonal = arith::AddIOp::create(
        b, loc, mapped(op.getDiagonal()),
        arith::DivUIOp::create(b, loc, mn[0], idx(op.getRowsPerToken())));
    auto keepIf = [&](arith::CmpIPredicate predicate, Value bound) {
      keep = arith::AndIOp::create(
          b, loc, keep, arith::CmpIOp::create(b, loc, predicate, key, bound));
    };
    if (op.getCausal())
      keepIf(arith::CmpIPredicate::sle, rowDiagonal);
    if (!op.getWindow().empty()) {
      keepIf(arith::CmpIPredicate::sge,
             arith::SubIOp::create(b, loc, rowDiagonal,
                                   mapped(op.getWindow()[0])));
      keepIf(arith::CmpIPredicate::sle,
             arith::AddIOp::create(b, loc, rowDiagonal,
                                   mapped(op.getWindow()[1])));
    }
    store(arith::SelectOp::create(b, loc, keep, load(in, mn), negInf), out, mn);
  });
  buffers[op] = out;
  return success();
}

// cap * tanh(s / cap), tanh(x) = sign(x) (1 - e) / (1 + e) for
// e = exp(-2 |x|), which neither overflows nor loses the sign.
LogicalResult CpuEmitter::lower(SoftcapOp op) {
  Value in = buffer(op.getScores());
  Value out = allocate(op.getType());
  Value cap = mapped(op.getCap());
  loops(op.getType().getShape(), [&](ValueRange mn) {
    Value x = arith::DivFOp::create(b, loc, load(in, mn), cap);
    Value e = math::ExpOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, f32(-2.0f),
                              math::AbsFOp::create(b, loc, x)));
    Value magnitude = arith::DivFOp::create(
        b, loc, arith::SubFOp::create(b, loc, f32(1.0f), e),
        arith::AddFOp::create(b, loc, f32(1.0f), e));
    Value tanh = math::CopySignOp::create(b, loc, magnitude, x);
    store(arith::MulFOp::create(b, loc, cap, tanh), out, mn);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(RowMaxOp op) {
  buffers[op] = reduceRows(
      buffer(op.getTile()), op.getType(),
      -std::numeric_limits<float>::infinity(), [&](Value a, Value x) {
        return arith::MaximumFOp::create(b, loc, a, x).getResult();
      });
  return success();
}

LogicalResult CpuEmitter::lower(RowSumOp op) {
  buffers[op] = reduceRows(
      buffer(op.getTile()), op.getType(), 0.0, [&](Value a, Value x) {
        return arith::AddFOp::create(b, loc, a, x).getResult();
      });
  return success();
}

LogicalResult CpuEmitter::lower(Exp2DiffOp op) {
  Value x = buffer(op.getX()), m = buffer(op.getM());
  Value out = allocate(op.getType());
  Value negInf = conventions::noKeyLse(b, loc);
  loops(op.getType().getShape(), [&](ValueRange ivs) {
    Value mi = load(m, {ivs[0]});
    Value e = math::Exp2Op::create(
        b, loc, arith::SubFOp::create(b, loc, load(x, ivs), mi));
    store(conventions::zeroIfNoKey(b, loc, mi, e, negInf), out, ivs);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(PVOp op) {
  Value p = buffer(op.getP()), v = buffer(op.getV());
  Value out = allocate(op.getType());
  int64_t keys = op.getP().getType().getDimSize(1);
  loops(op.getType().getShape(), [&](ValueRange md) {
    Value dot = accumulate(keys, f32(0.0), [&](Value n, Value acc) {
      Value prod = arith::MulFOp::create(b, loc, load(p, {md[0], n}),
                                         toF32(load(v, {n, md[1]})));
      return arith::AddFOp::create(b, loc, acc, prod).getResult();
    });
    store(dot, out, md);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(ScaleRowsOp op) {
  Value t = buffer(op.getTile()), f = buffer(op.getFactor());
  Value out = allocate(op.getType());
  loops(op.getType().getShape(), [&](ValueRange ivs) {
    store(arith::MulFOp::create(b, loc, load(t, ivs), load(f, {ivs[0]})), out,
          ivs);
  });
  buffers[op] = out;
  return success();
}

LogicalResult CpuEmitter::lower(NormalizeOp op) {
  Value acc = buffer(op.getAcc()), m = buffer(op.getMax());
  Value l = buffer(op.getSum());
  Value out = allocate(op.getOut().getType());
  Value lse = allocate(op.getLse().getType());
  Value negInf = conventions::noKeyLse(b, loc);
  loops(op.getOut().getType().getShape(), [&](ValueRange ivs) {
    Value li = load(l, {ivs[0]});
    Value empty = conventions::isEmptyRow(b, loc, li);
    store(conventions::rowOutput(b, loc, empty, load(acc, ivs), li), out, ivs);
    Value logSum = conventions::naturalLse(
        b, loc, [&] { return load(m, {ivs[0]}); },
        [&] { return math::Log2Op::create(b, loc, li).getResult(); });
    store(conventions::lseOrNoKey(b, loc, empty, negInf, logSum), lse,
          {ivs[0]});
  });
  buffers[op.getOut()] = out;
  buffers[op.getLse()] = lse;
  return success();
}
