// The kernel builder the decode and prefill emitters share: the walk over
// the tiled IR (blocks, ifs, the KV tile loop), kernel creation from the abi
// parameter table, and value helpers.
#include "passes/gpu/KernelBuilder.h"

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

std::optional<LogicalResult> KernelEmitterBase::emitTileOp(Operation *op) {
  if (auto qk = dyn_cast<QKOp>(op))
    return lowerQK(qk);
  if (auto mask = dyn_cast<MaskOp>(op))
    return lowerMask(mask);
  if (auto rowMax = dyn_cast<RowMaxOp>(op))
    return lowerRowMax(rowMax);
  if (auto rowSum = dyn_cast<RowSumOp>(op))
    return lowerRowSum(rowSum);
  if (auto diff = dyn_cast<Exp2DiffOp>(op))
    return lowerExp2Diff(diff);
  if (auto pv = dyn_cast<PVOp>(op))
    return lowerPV(pv);
  if (auto scale = dyn_cast<ScaleRowsOp>(op))
    return lowerScaleRows(scale);
  if (auto normalize = dyn_cast<NormalizeOp>(op))
    return lowerNormalize(normalize);
  if (auto softcap = dyn_cast<SoftcapOp>(op))
    return lowerSoftcap(softcap);
  return std::nullopt;
}

LogicalResult KernelEmitterBase::lowerSoftcap(SoftcapOp softcap) {
  Fragment in = lookup(softcap.getScores()), out;
  Value cap = mapped(softcap.getCap());
  Value reciprocal = arith::DivFOp::create(b, loc, f32(1.0), cap);
  auto fast =
      LLVM::FastmathFlagsAttr::get(b.getContext(), LLVM::FastmathFlags::afn);
  for (Value s : in.values) {
    Value t = LLVM::TanhOp::create(b, loc, s.getType(),
                                   arith::MulFOp::create(b, loc, s, reciprocal),
                                   fast);
    out.values.push_back(arith::MulFOp::create(b, loc, cap, t));
  }
  bind(softcap, out);
  return success();
}

Value KernelEmitterBase::insideWindow(Value key, Value rowDiagonal, Value left,
                                      Value right) {
  return arith::AndIOp::create(
      b, loc, cmp(arith::CmpIPredicate::sge, key, sub(rowDiagonal, left)),
      cmp(arith::CmpIPredicate::sle, key, add(rowDiagonal, right)));
}

bool KernelEmitterBase::hasLocalOptions() {
  for (unsigned i = 0; i < func.getNumArguments(); ++i)
    for (StringRef name : {AttnDialect::WindowLeftAttrHelper::getNameStr(),
                           AttnDialect::WindowRightAttrHelper::getNameStr(),
                           AttnDialect::SoftcapAttrHelper::getNameStr()})
      if (func.getArgAttr(i, name))
        return true;
  return false;
}

void KernelEmitterBase::bindLocalOptions(Block &entry, unsigned first) {
  namespace L = abi::local;
  for (unsigned i = 0; i < func.getNumArguments(); ++i) {
    BlockArgument arg = func.getArgument(i);
    Value param;
    if (func.getArgAttr(i, AttnDialect::WindowLeftAttrHelper::getNameStr()))
      param = entry.getArgument(first + L::window_left);
    else if (func.getArgAttr(i,
                             AttnDialect::WindowRightAttrHelper::getNameStr()))
      param = entry.getArgument(first + L::window_right);
    else if (func.getArgAttr(i, AttnDialect::SoftcapAttrHelper::getNameStr()))
      param = entry.getArgument(first + L::softcap);
    else
      continue;
    if (param.getType() != arg.getType())
      param = arg.getType().isIndex()
                  ? toIndex(param)
                  : arith::IndexCastOp::create(b, loc, arg.getType(), param)
                        .getResult();
    mapping.map(arg, param);
  }
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
      b, loc,
      arith::SubIOp::create(b, loc, mapped(loop.getUpperBound()), kv.begin),
      idx(0));
  kv.numTiles = arith::CeilDivUIOp::create(b, loc, span, idx(blockN));
  return kv;
}

SmallVector<Value>
KernelEmitterBase::flattenedInits(scf::ForOp loop,
                                  SmallVectorImpl<unsigned> &sizes) {
  SmallVector<Value> inits;
  for (Value init : loop.getInitArgs()) {
    Fragment f = lookup(init);
    sizes.push_back(f.values.size());
    llvm::append_range(inits, f.values);
  }
  return inits;
}

LogicalResult KernelEmitterBase::emitTileLoop(scf::ForOp loop, Value begin,
                                              Value numTiles, int64_t blockN,
                                              function_ref<void(Value)> head,
                                              function_ref<void()> tail) {
  SmallVector<unsigned> sizes;
  SmallVector<Value> inits = flattenedInits(loop, sizes);
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
  // What is left of the CTA is its epilogue: the combine may launch once
  // every CTA is here (the CTA's first thread to arrive signals for it).
  if (dependentLaunch)
    NVVM::GriddepcontrolOp::create(b, loc,
                                   NVVM::GridDepActionKind::launch_dependents);
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

LogicalResult KernelEmitterBase::bindRoles(ArrayRef<RoleBinding> required,
                                           ArrayRef<RoleBinding> optional) {
  for (auto [value, role] : required)
    if (!(*value = getArgWithRole(func, role)))
      return func.emitError("attn-lower-to-gpu: no argument has the role '")
             << stringifyArgRole(role)
             << "' (attn.role, which attn-gqa-broadcast and attn-split-kv "
                "give)";
  for (auto [value, role] : optional)
    *value = getArgWithRole(func, role);
  StringRef roleName = AttnDialect::RoleAttrHelper::getNameStr();
  WalkResult walk = func.walk([&](Operation *op) {
    for (auto [i, operand] : llvm::enumerate(op->getOperands())) {
      auto arg = dyn_cast<BlockArgument>(operand);
      if (!isa<MemRefType>(operand.getType()) ||
          (arg && arg.getOwner() == &func.getBody().front() &&
           func.getArgAttr(arg.getArgNumber(), roleName)))
        continue;
      op->emitError("attn-lower-to-gpu: operand #")
          << i << " is a memref but no function argument with an attn.role";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

Block &KernelEmitterBase::createKernelFunc(StringRef name,
                                           ArrayRef<abi::ParamInfo> kindParams,
                                           int64_t threads,
                                           int64_t sharedMemoryBytes,
                                           bool local, bool tensorMaps) {
  SmallVector<abi::ParamInfo> params(kindParams);
  if (local)
    llvm::append_range(params, abi::local::kParams);
  if (tensorMaps)
    llvm::append_range(params, abi::tma::kParams);
  SmallVector<Type> types;
  SmallVector<int64_t> mapArgs;
  for (const abi::ParamInfo &param : params) {
    switch (param.type) {
    case abi::ParamType::TensorMap:
      // By value in the launch; a pointer to it here (attn-tensor-map-params
      // makes it a grid constant).
      mapArgs.push_back(static_cast<int64_t>(types.size()));
      types.push_back(LLVM::LLVMPointerType::get(b.getContext()));
      break;
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
  AttnDialect::SharedMemoryBytesAttrHelper(b.getContext())
      .setAttr(kernel, b.getI64IntegerAttr(sharedMemoryBytes));
  if (!mapArgs.empty())
    AttnDialect::TensorMapArgsAttrHelper(b.getContext())
        .setAttr(kernel, b.getDenseI64ArrayAttr(mapArgs));
  Block &entry = kernel.getBody().front();
  b.setInsertionPointToStart(&entry);
  gpu::ReturnOp::create(b, loc);
  b.setInsertionPoint(entry.getTerminator());
  if (local)
    bindLocalOptions(entry, kindParams.size());
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

std::pair<Value, Value> KernelEmitterBase::rowLse(Value max, Value sum) {
  Value emptySum = conventions::isEmptyRow(b, loc, sum);
  Value noKey = arith::OrIOp::create(b, loc, isNegInf(max), emptySum);
  Value lse = conventions::naturalLse(
      b, loc, [&] { return max; }, [&] { return log2(sum); });
  return {conventions::lseOrNoKey(b, loc, noKey, conventions::noKeyLse(b, loc),
                                  lse),
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

Fragment KernelEmitterBase::reduceQuadRows(const Fragment &in, int64_t slots,
                                           function_ref<int64_t(size_t)> slotOf,
                                           bool max) {
  auto combine = [&](Value x, Value y) -> Value {
    if (max)
      return arith::MaximumFOp::create(b, loc, x, y);
    return arith::AddFOp::create(b, loc, x, y);
  };
  Fragment out;
  out.values.resize(slots);
  for (size_t k = 0; k < in.values.size(); ++k) {
    Value &r = out.values[slotOf(k)];
    r = r ? combine(r, in.values[k]) : in.values[k];
  }
  for (Value &r : out.values)
    for (int64_t off : {1, 2})
      r = combine(r, shflXor(r, off));
  return out;
}

Value KernelEmitterBase::mmaSwizzled(Value row, Value chunk, int64_t headDim) {
  int64_t chunksPerRow = headDim / 8;
  Value pattern = idx(std::min<int64_t>(chunksPerRow, 8) - 1);
  if (int64_t tail = chunksPerRow > 8 ? chunksPerRow % 8 : 0) {
    // The last `tail` chunks (2 or 4) swizzle among themselves.
    Value inTail =
        cmp(arith::CmpIPredicate::uge, chunk, idx(chunksPerRow - tail));
    pattern = select(inTail, idx(tail - 1), pattern);
  }
  Value xorred = arith::XOrIOp::create(
      b, loc, chunk, arith::AndIOp::create(b, loc, row, pattern));
  return add(mul(row, idx(headDim * 2)), mul(xorred, idx(16)));
}
