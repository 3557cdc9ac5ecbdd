// The combine kernel: the log-sum-exp merge of split-KV partials, for decode
// and prefill (abi/kernel_params.h, combine).
#include "passes/gpu/KernelBuilder.h"

using namespace mlir;
using namespace mlir::attn;

void KernelEmitterBase::emitCombineKernel(CombineOp combine, Type elementType,
                                          int64_t headDim) {
  Type gptr = LLVM::LLVMPointerType::get(b.getContext(), kGlobalSpace);
  Type f32t = b.getF32Type(), i32t = b.getI32Type();
  // abi/kernel_params.h, combine. Prefill launches it as decode of one
  // sequence of total_q tokens: its partials [S, total_q, Hq] index the same
  // way, and its lse [Hq, total_q] is decode's [B, Hq, Lq] with B = 1.
  namespace P = abi::combine;
  // Its dynamic shared memory is the launch's (abi::combineSharedBytes).
  Block &entry = createKernelFunc((func.getSymName() + "_combine").str(),
                                  P::kParams, abi::combineThreads(headDim),
                                  /*sharedMemoryBytes=*/0);
  auto arg = [&](P::Param p) { return entry.getArgument(p); };
  // Launched as a programmatic dependent of the split kernel, it may start
  // before that kernel's partials are written: nothing is read before the
  // wait (a no-op in any other launch).
  if (dependentLaunch)
    NVVM::GriddepcontrolOp::create(b, loc, NVVM::GridDepActionKind::wait);
  // abi::combineGroups: groups of `width` threads, as many as the launch's
  // (derived from num_splits alike); thread d of group r.
  const int64_t width = abi::combineWidth(headDim);
  Value thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value d = arith::RemUIOp::create(b, loc, thread, idx(width));
  Value group = arith::DivUIOp::create(b, loc, thread, idx(width));
  Value h = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value t = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value bIdx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value hq = gpu::GridDimOp::create(b, loc, gpu::Dimension::x);
  Value lq = gpu::GridDimOp::create(b, loc, gpu::Dimension::y);
  Value batches = gpu::GridDimOp::create(b, loc, gpu::Dimension::z);
  Value splits = toIndex(arg(P::num_splits));
  Value groups = arith::MinUIOp::create(
      b, loc,
      arith::MaxUIOp::create(
          b, loc,
          arith::DivUIOp::create(b, loc,
                                 add(splits, idx(abi::kCombineUnroll - 1)),
                                 idx(abi::kCombineUnroll)),
          idx(1)),
      idx(abi::kCombineMaxGroups));
  auto rowOf = [&](Value s) {
    return add(mul(add(mul(add(mul(s, batches), bIdx), lq), t), hq), h);
  };
  auto loadLse = [&](Value s) -> Value {
    return LLVM::LoadOp::create(b, loc, f32t,
                                gep(arg(P::part_lse), f32t, rowOf(s)));
  };
  // Weights exp(lse_s - max) (natural log units, via exp2); 0 for a split
  // without keys or past the last.
  auto weightOf = [&](Value l, Value maxLse) -> Value {
    return select(isNegInf(l), f32(0.0),
                  exp2(arith::MulFOp::create(
                      b, loc, arith::SubFOp::create(b, loc, l, maxLse),
                      f32(1.4426950408889634))));
  };
  // A block of whole warps (abi::combineThreads): every warp computes the
  // split weights on its own, without shared memory or barriers: lane l
  // holds the lse of splits l and l + 32 (at most 64 splits, the runtime's
  // limit), and butterfly shuffles give every lane their max and the
  // weights' sum.
  SplitWeights weights = emitSplitWeights(thread, splits, loadLse, weightOf);
  Value maxLse = weights.maxLse, sum = weights.sum;
  // Thread d of group r accumulates column d over the runs of kUnroll splits
  // r, r + groups, ..., kUnroll independent loads in flight per run; split
  // s's weight comes from lane s % 32. The threads past the kernel's head_dim
  // (the last warp's 16 at D 80) read column head_dim - 1, in bounds, and
  // store nothing.
  Value column = d;
  if (width != headDim)
    column = arith::MinUIOp::create(b, loc, d, idx(headDim - 1));
  constexpr int64_t kUnroll = abi::kCombineUnroll;
  auto loop =
      scf::ForOp::create(b, loc, mul(group, idx(kUnroll)), splits,
                         mul(groups, idx(kUnroll)), ValueRange{f32(0.0)});
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
          select(cmp(arith::CmpIPredicate::ult, s, idx(32)), weights.weight[0],
                 weights.weight[1]),
          fromLane, i32(31), NVVM::ShflKind::idx, UnitAttr());
      w = select(valid, w, f32(0.0));
      Value o = LLVM::LoadOp::create(
          b, loc, f32t,
          gep(arg(P::part_o), f32t, add(mul(rowOf(s), idx(headDim)), column)));
      acc = math::FmaOp::create(b, loc, w, o, acc);
    }
    scf::YieldOp::create(b, loc, ValueRange{acc});
  }
  // More than one group (the same for the whole block): the groups' sums meet
  // in shared memory, each thread's at its thread index, and every thread
  // adds up its column's in group order (only group 0's are stored).
  auto ifGroups = scf::IfOp::create(
      b, loc, f32t, cmp(arith::CmpIPredicate::ugt, groups, idx(1)),
      /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifGroups.thenBlock());
    Value sums = LLVM::AddressOfOp::create(b, loc, smem);
    LLVM::StoreOp::create(b, loc, loop.getResult(0), gep(sums, f32t, thread));
    gpu::BarrierOp::create(b, loc);
    auto total = scf::ForOp::create(b, loc, idx(0), groups, idx(1),
                                    ValueRange{f32(0.0)});
    b.setInsertionPointToStart(total.getBody());
    Value part = LLVM::LoadOp::create(
        b, loc, f32t,
        gep(sums, f32t, add(mul(total.getInductionVar(), idx(width)), d)));
    scf::YieldOp::create(b, loc,
                         ValueRange{arith::AddFOp::create(
                             b, loc, total.getRegionIterArgs()[0], part)});
    b.setInsertionPointAfter(total);
    scf::YieldOp::create(b, loc, total.getResult(0));
    b.setInsertionPointToStart(ifGroups.elseBlock());
    scf::YieldOp::create(b, loc, loop.getResult(0));
  }
  Value acc = ifGroups.getResult(0);
  Value first = cmp(arith::CmpIPredicate::eq, group, idx(0));
  Value empty =
      arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, sum, f32(0.0));
  Value result =
      select(empty, f32(0.0), arith::DivFOp::create(b, loc, acc, sum));
  Tensor out{arg(P::out),
             {arg(P::out_stride_batch), arg(P::out_stride_token),
              arg(P::out_stride_head)}};
  Value outOffset = add(elementOffset(out, {bIdx, t, h}), toI64(d));
  Value narrowed = arith::TruncFOp::create(b, loc, elementType, result);
  {
    // out has the call's head_dim, at most the kernel's (the partials').
    OpBuilder::InsertionGuard guard(b);
    auto ifColumn = scf::IfOp::create(
        b, loc,
        arith::AndIOp::create(
            b, loc, first,
            cmp(arith::CmpIPredicate::ult, d, toIndex(arg(P::head_dim)))));
    b.setInsertionPoint(ifColumn.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, narrowed,
                          gep(arg(P::out), elementType, outOffset));
  }
  if (combine.getLse()) {
    Value nonNull =
        LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, arg(P::lse),
                             LLVM::ZeroOp::create(b, loc, gptr));
    auto ifLse = scf::IfOp::create(
        b, loc,
        arith::AndIOp::create(b, loc, nonNull,
                              cmp(arith::CmpIPredicate::eq, thread, idx(0))));
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    Value lse = arith::AddFOp::create(
        b, loc, maxLse,
        arith::MulFOp::create(b, loc, log2(sum), f32(conventions::kLn2)));
    lse = conventions::lseOrNoKey(b, loc, empty,
                                  conventions::callerNoKeyLse(b, loc), lse);
    Value index = add(mul(add(mul(bIdx, hq), h), lq), t);
    LLVM::StoreOp::create(b, loc, lse, gep(arg(P::lse), f32t, index));
  }
}

KernelEmitterBase::SplitWeights KernelEmitterBase::emitSplitWeights(
    Value thread, Value splits, function_ref<Value(Value)> loadLse,
    function_ref<Value(Value, Value)> weightOf) {
  Type f32t = b.getF32Type();
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  SplitWeights w;
  Value lane = arith::RemUIOp::create(b, loc, thread, idx(32));
  SmallVector<Value, 2> lse;
  for (int64_t half = 0; half < 2; ++half) {
    Value s = add(lane, idx(32 * half));
    Value has = cmp(arith::CmpIPredicate::ult, s, splits);
    auto ifHas = scf::IfOp::create(b, loc, f32t, has, /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifHas.thenBlock());
      scf::YieldOp::create(b, loc, loadLse(s));
      b.setInsertionPointToStart(ifHas.elseBlock());
      scf::YieldOp::create(b, loc, negInf);
    }
    lse.push_back(ifHas.getResult(0));
  }
  w.maxLse = arith::MaximumFOp::create(b, loc, lse[0], lse[1]);
  for (int64_t off = 16; off > 0; off /= 2)
    w.maxLse =
        arith::MaximumFOp::create(b, loc, w.maxLse, shflXor(w.maxLse, off));
  for (Value l : lse)
    w.weight.push_back(weightOf(l, w.maxLse));
  w.sum = arith::AddFOp::create(b, loc, w.weight[0], w.weight[1]);
  for (int64_t off = 16; off > 0; off /= 2)
    w.sum = arith::AddFOp::create(b, loc, w.sum, shflXor(w.sum, off));
  return w;
}
