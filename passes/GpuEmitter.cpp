// The helpers the decode and prefill kernel emitters share.
#include "passes/GpuEmitter.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult KernelEmitterBase::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(emitOp(&op)))
      return failure();
  return success();
}

LogicalResult KernelEmitterBase::emitIf(scf::IfOp ifOp,
                                        ArrayRef<unsigned> sizes) {
  unsigned total = 0;
  for (unsigned size : sizes)
    total += size;
  SmallVector<Type> types(total, b.getF32Type());
  auto newIf = scf::IfOp::create(b, loc, types, mapped(ifOp.getCondition()),
                                 /*withElseRegion=*/ifOp.elseBlock());
  for (auto [from, to] : {std::pair{ifOp.thenBlock(), newIf.thenBlock()},
                          {ifOp.elseBlock(), newIf.elseBlock()}}) {
    if (!from)
      continue;
    OpBuilder::InsertionGuard guard(b);
    if (to->empty() || !to->mightHaveTerminator())
      b.setInsertionPointToEnd(to);
    else
      b.setInsertionPoint(to->getTerminator());
    if (failed(emitBlock(*from)))
      return failure();
    yieldFlattened(from, to);
  }
  bindFlattened(ifOp.getResults(), newIf.getResults(), sizes);
  return success();
}

FailureOr<KernelEmitterBase::KvLoop>
KernelEmitterBase::mapKvLoop(scf::ForOp loop, int64_t blockN) {
  KvLoop kv;
  loop.getBody()->walk([&](KvTileOp load) { kv.loads.push_back(load); });
  if (kv.loads.size() != 2)
    return loop.emitError("attn-lower-to-gpu expects a K and a V tile load");
  kv.begin = mapped(loop.getLowerBound());
  kv.limit = mapped(kv.loads[0].getLimit());
  kv.batch = mapped(kv.loads[0].getBatch());
  kv.kvHead = mapped(kv.loads[0].getKvHead());
  Value span = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, mapped(loop.getUpperBound()),
                                    kv.begin),
      idx(0));
  kv.numTiles = arith::CeilDivUIOp::create(b, loc, span, idx(blockN));
  return kv;
}

LogicalResult KernelEmitterBase::emitTileLoop(
    scf::ForOp loop, Value begin, Value numTiles, int64_t blockN,
    function_ref<void(Value)> head, function_ref<void()> tail) {
  SmallVector<Value> inits;
  SmallVector<unsigned> sizes;
  for (Value init : loop.getInitArgs()) {
    Fragment f = lookup(init);
    sizes.push_back(f.values.size());
    llvm::append_range(inits, f.values);
  }
  auto newLoop = scf::ForOp::create(b, loc, idx(0), numTiles, idx(1), inits);
  {
    OpBuilder::InsertionGuard guard(b);
    Block *body = newLoop.getBody();
    b.setInsertionPointToStart(body);
    Value tile = newLoop.getInductionVar();
    head(tile);
    mapping.map(loop.getInductionVar(), add(begin, mul(tile, idx(blockN))));
    bindFlattened(loop.getRegionIterArgs(), newLoop.getRegionIterArgs(), sizes);
    for (Operation &op : loop.getBody()->without_terminator()) {
      if (isa<KvTileOp>(op))
        continue; // copied by `head`, read by qk / pv from shared memory
      if (failed(emitOp(&op)))
        return failure();
    }
    tail();
    yieldFlattened(loop.getBody(), body);
  }
  bindFlattened(loop.getResults(), newLoop.getResults(), sizes);
  return success();
}

Fragment KernelEmitterBase::emitElementwise(Operation *op) {
  Fragment lhs = lookup(op->getOperand(0)), rhs = lookup(op->getOperand(1));
  Fragment out;
  for (auto [x, y] : llvm::zip(lhs.values, rhs.values)) {
    if (isa<arith::MaximumFOp>(op))
      out.values.push_back(arith::MaximumFOp::create(b, loc, x, y));
    else if (isa<arith::AddFOp>(op))
      out.values.push_back(arith::AddFOp::create(b, loc, x, y));
    else
      out.values.push_back(arith::MulFOp::create(b, loc, x, y));
  }
  return out;
}

Block &KernelEmitterBase::createKernelFunc(StringRef name,
                                           ArrayRef<Type> params,
                                           int64_t threads) {
  b.setInsertionPointToEnd(module.getBody());
  auto kernel =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(params, {}));
  kernel->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
  kernel.setKnownBlockSizeAttr(
      b.getDenseI32ArrayAttr({static_cast<int32_t>(threads), 1, 1}));
  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);
  gpu::ReturnOp::create(b, loc);
  b.setInsertionPoint(entry.getTerminator());
  return entry;
}

Value KernelEmitterBase::toI64(Value v) {
  if (v.getType().isIndex())
    return arith::IndexCastOp::create(b, loc, b.getI64Type(), v);
  if (v.getType().isInteger(32))
    return arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
  return v;
}

Value KernelEmitterBase::elementOffset(const Tensor &t,
                                       ArrayRef<Value> indices) {
  Value offset = arith::ConstantIntOp::create(b, loc, b.getI64Type(), 0);
  for (auto [i, index] : llvm::enumerate(indices))
    offset = add(offset, mul(toI64(index), t.strides[i]));
  return offset;
}

KernelEmitterBase::KeyLocation
KernelEmitterBase::locateKey(KvTileOp load, Value batch, Value pos,
                             Value valid, Value pageSize) {
  Value safePos = select(valid, pos, idx(0));
  if (load.getPageSize() != 0) {
    Tensor &table = tensorFor(load.getBlockTable());
    // Positions and page sizes fit in 32 bits, whose division is far cheaper.
    Type i32t = b.getI32Type();
    Value pos32 = arith::IndexCastUIOp::create(b, loc, i32t, safePos);
    Value page32 = arith::IndexCastUIOp::create(b, loc, i32t, pageSize);
    Value entry = add(mul(toI64(batch), table.strides[0]),
                      toI64(arith::DivUIOp::create(b, loc, pos32, page32)));
    Value page = select(valid, toIndex(loadI32(table.ptr, entry)), idx(0));
    Value inPage = arith::RemUIOp::create(b, loc, pos32, page32);
    return {page, arith::IndexCastUIOp::create(b, loc, b.getIndexType(), inPage)};
  }
  if (cast<MemRefType>(load.getCache().getType()).getRank() == 3)
    return {Value(), safePos};
  return {batch, safePos};
}

std::pair<Value, Value> KernelEmitterBase::rowLse(Value max, Value sum) {
  Value noKey = arith::OrIOp::create(
      b, loc, isNegInf(max),
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, sum, f32(0.0)));
  Value lse = arith::MulFOp::create(
      b, loc, arith::AddFOp::create(b, loc, max, log2(sum)), f32(kLn2));
  return {select(noKey, f32(-std::numeric_limits<float>::infinity()), lse),
          noKey};
}

void KernelEmitterBase::yieldFlattened(Block *from, Block *to) {
  SmallVector<Value> yielded;
  for (Value v : from->getTerminator()->getOperands())
    llvm::append_range(yielded, lookup(v).values);
  if (to->mightHaveTerminator())
    to->getTerminator()->erase();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(to);
  scf::YieldOp::create(b, loc, yielded);
}

void KernelEmitterBase::bindFlattened(ValueRange values, ValueRange flat,
                                      ArrayRef<unsigned> sizes) {
  unsigned next = 0;
  for (auto [v, size] : llvm::zip(values, sizes)) {
    Fragment f;
    for (unsigned i = 0; i < size; ++i)
      f.values.push_back(flat[next++]);
    bind(v, f);
  }
}
