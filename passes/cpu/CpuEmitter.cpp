// attn-lower-to-cpu's walk over a function and the helpers its lowerings
// share: buffers, loop nests and row reductions.
#include "passes/cpu/CpuEmitter.h"

#include "passes/Conventions.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::attn;
using namespace mlir::attn::cpu;

LogicalResult CpuEmitter::run() {
  loc = func.getLoc();
  Block &old = func.getBody().front();
  entry = new Block();
  func.getBody().push_front(entry);
  for (BlockArgument arg : old.getArguments())
    mapping.map(arg, entry->addArgument(arg.getType(), arg.getLoc()));
  b.setInsertionPointToEnd(entry);
  if (failed(emitBlock(old)))
    return failure();
  func::ReturnOp::create(b, loc);
  old.erase();
  return success();
}

LogicalResult CpuEmitter::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(emitOp(&op)))
      return failure();
  return success();
}

LogicalResult CpuEmitter::emitOp(Operation *op) {
  auto isTile = [](Operation *op) {
    return op->getNumResults() &&
           isa<RankedTensorType>(op->getResult(0).getType());
  };
  // Every tile operand must have a buffer by now: a tile that enters as a
  // function argument (or from an op cloned as is) has none.
  for (OpOperand &operand : op->getOpOperands())
    if (isa<RankedTensorType>(operand.get().getType()) &&
        !buffers.count(operand.get()))
      return op->emitError("attn-lower-to-cpu: tile operand #")
             << operand.getOperandNumber()
             << " has no buffer; tiles must be made by attn ops or tile "
                "constants in the function, got "
             << operand.get().getType();
  if (auto c = dyn_cast<arith::ConstantOp>(op); c && isTile(c))
    return lowerConstant(c);
  if (isa<arith::MaximumFOp, arith::AddFOp, arith::MulFOp>(op) && isTile(op))
    return lowerElementwise(op);
  std::optional<LogicalResult> lowered =
      llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
          .Case<SeqLenOp, SeqStartOp, GroupSizeOp, KvHeadOp, SplitRangeOp,
                LoadQOp, LoadQRowsOp, KvTileOp, QKOp, MaskOp, SoftcapOp,
                RowMaxOp, RowSumOp, Exp2DiffOp, PVOp, ScaleRowsOp, NormalizeOp,
                StoreOp, StoreRowsOp, CombineOp>(
              [&](auto op) { return lower(op); })
          .Case([&](scf::ForOp op) { return lowerFor(op); })
          .Case([&](scf::IfOp op) { return lowerIf(op); })
          .Case([&](scf::ParallelOp op) { return lowerParallel(op); })
          .Default([](Operation *) { return std::nullopt; });
  if (lowered)
    return *lowered;
  if (isTile(op))
    return op->emitError("attn-lower-to-cpu: unsupported tile op");
  b.clone(*op, mapping);
  return success();
}

Value CpuEmitter::idx(int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value CpuEmitter::f32(double v) { return conventions::f32Constant(b, loc, v); }

Value CpuEmitter::allocate(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  return memref::AllocaOp::create(
      b, loc, MemRefType::get(tensor.getShape(), tensor.getElementType()));
}

Value CpuEmitter::load(Value memref, ValueRange indices) {
  return memref::LoadOp::create(b, loc, memref, indices);
}

void CpuEmitter::store(Value value, Value memref, ValueRange indices) {
  memref::StoreOp::create(b, loc, value, memref, indices);
}

Value CpuEmitter::toF32(Value v) {
  return v.getType().isF32() ? v
                             : arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

void CpuEmitter::loops(ArrayRef<int64_t> shape,
                       function_ref<void(ValueRange)> body) {
  SmallVector<Value> ubs;
  for (int64_t d : shape)
    ubs.push_back(idx(d));
  loopsTo(ubs, body);
}

void CpuEmitter::loopsTo(ArrayRef<Value> ubs,
                         function_ref<void(ValueRange)> body) {
  SmallVector<Value> ivs;
  std::function<void(unsigned)> nest = [&](unsigned d) {
    if (d == ubs.size()) {
      body(ivs);
      return;
    }
    auto loop = scf::ForOp::create(b, loc, idx(0), ubs[d], idx(1));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    ivs.push_back(loop.getInductionVar());
    nest(d + 1);
    ivs.pop_back();
  };
  nest(0);
}

Value CpuEmitter::accumulate(Value ub, Value init,
                             function_ref<Value(Value, Value)> step) {
  Value one = idx(1);
  auto loop = scf::ForOp::create(b, loc, idx(0), ub, one, ValueRange{init});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  scf::YieldOp::create(
      b, loc,
      ValueRange{step(loop.getInductionVar(), loop.getRegionIterArgs()[0])});
  return loop.getResult(0);
}

Value CpuEmitter::accumulate(int64_t ub, Value init,
                             function_ref<Value(Value, Value)> step) {
  Value one = idx(1);
  Value upper = idx(ub);
  auto loop = scf::ForOp::create(b, loc, idx(0), upper, one, ValueRange{init});
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  scf::YieldOp::create(
      b, loc,
      ValueRange{step(loop.getInductionVar(), loop.getRegionIterArgs()[0])});
  return loop.getResult(0);
}

void CpuEmitter::copy(Value from, Value to) {
  memref::CopyOp::create(b, loc, from, to);
}

Value CpuEmitter::reduceRows(Value tile, Type resultType, double init,
                             function_ref<Value(Value, Value)> combine) {
  Value out = allocate(resultType);
  auto shape = cast<MemRefType>(tile.getType()).getShape();
  loops({shape[0]}, [&](ValueRange r) {
    Value sum = accumulate(shape[1], f32(init), [&](Value n, Value acc) {
      Value x = load(tile, {r[0], n});
      return combine(acc, x);
    });
    store(sum, out, {r[0]});
  });
  return out;
}
