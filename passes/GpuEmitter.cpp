// The helpers the decode and prefill kernel emitters share.
#include "passes/GpuEmitter.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult KernelEmitterBase::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator()) {
    if (auto range = dyn_cast<SplitRangeOp>(op)) {
      // One split owns every key. Branching keeps the division by the split
      // count (a sequence of non-uniform instructions) off the unsplit path,
      // so the key range stays in uniform registers there.
      Value length = mapped(range.getLength());
      Value numSplits = mapped(range.getNumSplits());
      auto ifOp = scf::IfOp::create(
          b, loc, TypeRange{b.getIndexType(), b.getIndexType()},
          cmp(arith::CmpIPredicate::eq, numSplits, idx(1)),
          /*withElseRegion=*/true);
      {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(ifOp.thenBlock());
        scf::YieldOp::create(b, loc, ValueRange{idx(0), length});
        b.setInsertionPointToStart(ifOp.elseBlock());
        auto [begin, end] =
            SplitRangeOp::expand(b, loc, length, mapped(range.getSplit()),
                                 numSplits, range.getAlign());
        scf::YieldOp::create(b, loc, ValueRange{begin, end});
      }
      mapping.map(range.getBegin(), ifOp.getResult(0));
      mapping.map(range.getEnd(), ifOp.getResult(1));
      continue;
    }
    if (failed(emitOp(&op)))
      return failure();
  }
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
                                           ArrayRef<abi::ParamInfo> params,
                                           int64_t threads) {
  SmallVector<Type> types;
  for (const abi::ParamInfo &param : params) {
    switch (param.type) {
    case abi::ParamType::Ptr:
      types.push_back(LLVM::LLVMPointerType::get(b.getContext(), kGlobalSpace));
      break;
    case abi::ParamType::I64:
      types.push_back(b.getI64Type());
      break;
    case abi::ParamType::I32:
      types.push_back(b.getI32Type());
      break;
    case abi::ParamType::F32:
      types.push_back(b.getF32Type());
      break;
    }
  }
  b.setInsertionPointToEnd(module.getBody());
  auto kernel =
      gpu::GPUFuncOp::create(b, loc, name, b.getFunctionType(types, {}));
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
                             Value valid, Value pageSize,
                             Value pageReciprocal) {
  Value safePos = select(valid, pos, idx(0));
  if (load.getPageSize() != 0) {
    PageLookup at =
        lookupPage(load, batch, safePos, pageSize, pageReciprocal);
    return {select(valid, toIndex(at.entry), idx(0)), at.inPage};
  }
  if (cast<MemRefType>(load.getCache().getType()).getRank() == 3)
    return {Value(), safePos};
  return {batch, safePos};
}

KernelEmitterBase::PageLookup
KernelEmitterBase::lookupPage(KvTileOp load, Value batch, Value pos,
                              Value pageSize, Value pageReciprocal) {
  Tensor &table = tensorFor(load.getBlockTable());
  // Positions and page sizes fit in 32 bits, whose division is far cheaper.
  Type i32t = b.getI32Type();
  Value pos32 = arith::IndexCastUIOp::create(b, loc, i32t, pos);
  Value page32 = arith::IndexCastUIOp::create(b, loc, i32t, pageSize);
  Value quotient, inPage;
  if (pageReciprocal) {
    // q0 = floor(pos m / 2^32) with m = floor((2^32 - 1) / page) is within
    // pos / 2^32 < 1/2 below pos / page (pos < 2^31): q or q - 1.
    Value q0 =
        arith::MulUIExtendedOp::create(b, loc, pos32, pageReciprocal).getHigh();
    Value r0 = arith::SubIOp::create(b, loc, pos32,
                                     arith::MulIOp::create(b, loc, q0, page32));
    Value over = cmp(arith::CmpIPredicate::uge, r0, page32);
    quotient = select(over, arith::AddIOp::create(b, loc, q0, i32(1)), q0);
    inPage = select(over, arith::SubIOp::create(b, loc, r0, page32), r0);
  } else {
    quotient = arith::DivUIOp::create(b, loc, pos32, page32);
    inPage = arith::RemUIOp::create(b, loc, pos32, page32);
  }
  Value entry = add(mul(toI64(batch), table.strides[0]), toI64(quotient));
  return {loadI32(table.ptr, entry),
          arith::IndexCastUIOp::create(b, loc, b.getIndexType(), inPage)};
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

void KernelEmitterBase::emitCombineKernel(CombineOp combine, Type elementType,
                                          int64_t headDim) {
  Type gptr = LLVM::LLVMPointerType::get(b.getContext(), kGlobalSpace);
  Type f32t = b.getF32Type(), i32t = b.getI32Type();
  // abi/kernel_params.h, combine. Prefill launches it as decode of one
  // sequence of total_q tokens: its partials [S, total_q, Hq] index the same
  // way, and its lse [Hq, total_q] is decode's [B, Hq, Lq] with B = 1.
  namespace P = abi::combine;
  Block &entry = createKernelFunc((func.getSymName() + "_combine").str(),
                                  P::kParams, headDim);
  auto arg = [&](P::Param p) { return entry.getArgument(p); };
  Value d = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value h = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value t = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value bIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value hq = gpu::GridDimOp::create(b, loc, gpu::Dimension::x);
  Value lq = gpu::GridDimOp::create(b, loc, gpu::Dimension::y);
  Value batches = gpu::GridDimOp::create(b, loc, gpu::Dimension::z);
  Value splits = toIndex(arg(P::num_splits));
  auto rowOf = [&](Value s) {
    return add(mul(add(mul(add(mul(s, batches), bIdx), lq), t), hq), h);
  };
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  // Every warp computes the split weights on its own, without shared memory
  // or barriers: lane l holds the lse of splits l and l + 32 (at most 64
  // splits, the runtime's limit), and butterfly shuffles give every lane
  // their max and the weights' sum.
  Value lane = arith::RemUIOp::create(b, loc, d, idx(32));
  SmallVector<Value, 2> lse;
  for (int64_t half = 0; half < 2; ++half) {
    Value s = add(lane, idx(32 * half));
    Value has = cmp(arith::CmpIPredicate::ult, s, splits);
    auto ifHas = scf::IfOp::create(b, loc, f32t, has, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifHas.thenBlock());
      Value v = LLVM::LoadOp::create(b, loc, f32t, gep(arg(P::part_lse), f32t, rowOf(s)));
      scf::YieldOp::create(b, loc, v);
      b.setInsertionPointToStart(ifHas.elseBlock());
      scf::YieldOp::create(b, loc, negInf);
    }
    lse.push_back(ifHas.getResult(0));
  }
  Value maxLse = arith::MaximumFOp::create(b, loc, lse[0], lse[1]);
  for (int64_t off = 16; off > 0; off /= 2)
    maxLse = arith::MaximumFOp::create(b, loc, maxLse, shflXor(maxLse, off));
  // Weights exp(lse_s - max) (natural log units, via exp2); 0 for a split
  // without keys or past the last.
  SmallVector<Value, 2> weight;
  for (Value l : lse)
    weight.push_back(select(
        isNegInf(l), f32(0.0),
        exp2(arith::MulFOp::create(b, loc,
                                   arith::SubFOp::create(b, loc, l, maxLse),
                                   f32(1.4426950408889634)))));
  Value sum = arith::AddFOp::create(b, loc, weight[0], weight[1]);
  for (int64_t off = 16; off > 0; off /= 2)
    sum = arith::AddFOp::create(b, loc, sum, shflXor(sum, off));
  // Thread d accumulates column d over the splits, kUnroll independent loads
  // in flight per step; split s's weight comes from lane s % 32.
  constexpr int64_t kUnroll = 8;
  auto loop = scf::ForOp::create(b, loc, idx(0), splits, idx(kUnroll),
                                 ValueRange{f32(0.0)});
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value acc = loop.getRegionIterArgs()[0];
    for (int64_t j = 0; j < kUnroll; ++j) {
      Value s = add(loop.getInductionVar(), idx(j));
      Value valid = cmp(arith::CmpIPredicate::ult, s, splits);
      s = select(valid, s, idx(0)); // split 0 always exists
      Value fromLane = arith::IndexCastOp::create(
          b, loc, i32t, arith::RemUIOp::create(b, loc, s, idx(32)));
      Value w = NVVM::ShflOp::create(
          b, loc, f32t, i32(-1),
          select(cmp(arith::CmpIPredicate::ult, s, idx(32)), weight[0],
                 weight[1]),
          fromLane, i32(31), NVVM::ShflKind::idx, UnitAttr());
      w = select(valid, w, f32(0.0));
      Value o = LLVM::LoadOp::create(
          b, loc, f32t, gep(arg(P::part_o), f32t, add(mul(rowOf(s), idx(headDim)), d)));
      acc = math::FmaOp::create(b, loc, w, o, acc);
    }
    scf::YieldOp::create(b, loc, ValueRange{acc});
  }
  Value acc = loop.getResult(0);
  Value empty = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, sum,
                                      f32(0.0));
  Value result = select(empty, f32(0.0), arith::DivFOp::create(b, loc, acc, sum));
  Tensor out{arg(P::out),
             {arg(P::out_stride_batch), arg(P::out_stride_token),
              arg(P::out_stride_head)}};
  Value outOffset = add(elementOffset(out, {bIdx, t, h}), toI64(d));
  Value narrowed = arith::TruncFOp::create(b, loc, elementType, result);
  LLVM::StoreOp::create(b, loc, narrowed, gep(arg(P::out), elementType, outOffset));
  if (combine.getLse()) {
    Value nonNull = LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne,
                                         arg(P::lse),
                                         LLVM::ZeroOp::create(b, loc, gptr));
    Value first = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, d,
                                        idx(0));
    auto ifLse = scf::IfOp::create(
        b, loc, arith::AndIOp::create(b, loc, nonNull, first));
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    Value lse = arith::AddFOp::create(
        b, loc, maxLse, arith::MulFOp::create(b, loc, log2(sum), f32(kLn2)));
    lse = select(empty, f32(std::numeric_limits<float>::infinity()), lse);
    Value index = add(mul(add(mul(bIdx, hq), h), lq), t);
    LLVM::StoreOp::create(b, loc, lse, gep(arg(P::lse), f32t, index));
  }
}
