// attn-lower-to-cpu: tile constants, element-wise tile arithmetic, and the
// scf ops whose tiles (loop-carried, if results) become buffers.
#include "passes/cpu/CpuEmitter.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::lowerConstant(arith::ConstantOp op) {
  Value buf = allocate(op.getType());
  float value = cast<DenseElementsAttr>(op.getValue())
                    .getSplatValue<APFloat>()
                    .convertToFloat();
  Value v = f32(value);
  loops(cast<RankedTensorType>(op.getType()).getShape(),
        [&](ValueRange ivs) { store(v, buf, ivs); });
  buffers[op] = buf;
  return success();
}

LogicalResult CpuEmitter::lowerElementwise(Operation *op) {
  Value lhs = buffer(op->getOperand(0)), rhs = buffer(op->getOperand(1));
  Value out = allocate(op->getResult(0).getType());
  loops(cast<RankedTensorType>(op->getResult(0).getType()).getShape(),
        [&](ValueRange ivs) {
          Value x = load(lhs, ivs), y = load(rhs, ivs), r;
          if (isa<arith::MaximumFOp>(op))
            r = arith::MaximumFOp::create(b, loc, x, y);
          else if (isa<arith::AddFOp>(op))
            r = arith::AddFOp::create(b, loc, x, y);
          else
            r = arith::MulFOp::create(b, loc, x, y);
          store(r, out, ivs);
        });
  buffers[op->getResult(0)] = out;
  return success();
}

LogicalResult CpuEmitter::lowerFor(scf::ForOp op) {
  // Loop-carried tiles live in buffers copied at the yield.
  SmallVector<Value> carried;
  for (Value init : op.getInitArgs()) {
    Value buf = allocate(init.getType());
    copy(buffer(init), buf);
    carried.push_back(buf);
  }
  auto loop =
      scf::ForOp::create(b, loc, mapped(op.getLowerBound()),
                         mapped(op.getUpperBound()), mapped(op.getStep()));
  mapping.map(op.getInductionVar(), loop.getInductionVar());
  for (auto [arg, buf] : llvm::zip(op.getRegionIterArgs(), carried))
    buffers[arg] = buf;
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    if (failed(emitBlock(*op.getBody())))
      return failure();
    for (auto [v, buf] :
         llvm::zip(op.getBody()->getTerminator()->getOperands(), carried))
      copy(buffer(v), buf);
  }
  for (auto [result, buf] : llvm::zip(op.getResults(), carried))
    buffers[result] = buf;
  return success();
}

LogicalResult CpuEmitter::lowerIf(scf::IfOp op) {
  SmallVector<Value> results;
  for (Value r : op.getResults())
    results.push_back(allocate(r.getType()));
  auto ifOp = scf::IfOp::create(b, loc, mapped(op.getCondition()),
                                /*withElseRegion=*/op.elseBlock());
  for (auto [from, to] : {std::pair{op.thenBlock(), ifOp.thenBlock()},
                          {op.elseBlock(), ifOp.elseBlock()}}) {
    if (!from)
      continue;
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(to->getTerminator());
    if (failed(emitBlock(*from)))
      return failure();
    for (auto [v, buf] :
         llvm::zip(from->getTerminator()->getOperands(), results))
      copy(buffer(v), buf);
  }
  for (auto [r, buf] : llvm::zip(op.getResults(), results))
    buffers[r] = buf;
  return success();
}

LogicalResult CpuEmitter::lowerParallel(scf::ParallelOp op) {
  // The grid runs as sequential loops on the host.
  SmallVector<Value> lbs, ubs, steps;
  for (Value v : op.getLowerBound())
    lbs.push_back(mapped(v));
  for (Value v : op.getUpperBound())
    ubs.push_back(mapped(v));
  for (Value v : op.getStep())
    steps.push_back(mapped(v));
  auto grid = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
  for (auto [from, to] :
       llvm::zip(op.getInductionVars(), grid.getInductionVars()))
    mapping.map(from, to);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(grid.getBody()->getTerminator());
  return emitBlock(*op.getBody());
}
