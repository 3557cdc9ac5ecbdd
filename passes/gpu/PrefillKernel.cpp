// The prefill kernel: what it reads from the tiled IR, its parameters, and
// the walk over the program.
#include "passes/gpu/PrefillKernel.h"
#include "passes/gpu/Wgmma.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult PrefillKernelEmitter::analyse() {
  bool loadsQ = false, splitStore = false, qk = false, pv = false;
  func.walk([&](Operation *op) {
    if (auto p = dyn_cast<scf::ParallelOp>(op))
      if (p->hasAttr(AttnDialect::GridAttrHelper::getNameStr()))
        grid = p;
    if (auto q = dyn_cast<LoadQRowsOp>(op)) {
      loadsQ = true;
      rows = q.getType().getDimSize(0);
      headDim = q.getType().getDimSize(1);
    }
    if (auto k = dyn_cast<KvTileOp>(op)) {
      auto type = cast<RankedTensorType>(k.getType());
      blockN = type.getDimSize(0);
      elementType = type.getElementType();
    }
    if (auto s = dyn_cast<StoreRowsOp>(op))
      splitStore |= static_cast<bool>(s.getSplit());
    qk |= isa<QKOp>(op);
    pv |= isa<PVOp, PVAccOp>(op);
  });
  for (BlockArgument arg : func.getArguments())
    if (func.getArgAttr(arg.getArgNumber(),
                        AttnDialect::NumSplitsAttrHelper::getNameStr()))
      splitsArg = arg;
  if (!grid || !loadsQ || !blockN || !splitStore || !qk || !pv || !splitsArg)
    return func.emitError("attn-lower-to-gpu expects a split, tiled, "
                          "online-softmax prefill program (run attn-gqa-"
                          "broadcast, attn-split-kv, attn-tile and "
                          "attn-online-softmax first)");
  if (failed(bindRoles(
          {{&qArg, ArgRole::Q},
           {&kArg, ArgRole::K},
           {&vArg, ArgRole::V},
           {&cuQArg, ArgRole::CuSeqlensQ},
           {&cuKArg, ArgRole::CuSeqlensK},
           {&outArg, ArgRole::Out},
           {&partOutArg, ArgRole::PartO},
           {&partLseArg, ArgRole::PartLse}},
          {{&tableArg, ArgRole::BlockTable}, {&lseArg, ArgRole::Lse}})))
    return failure();
  if (cast<ArrayAttr>(grid->getAttr(AttnDialect::GridAttrHelper::getNameStr()))
          .size() != 4)
    return grid.emitError("expected the grid (split, batch, q_block, head)");
  if (rows % 16 != 0 || blockN % 16 != 0 || headDim % 16 != 0)
    return func.emitError("attn-lower-to-gpu: prefill tiles must be multiples "
                          "of 16, got block_m ")
           << rows << ", block_n " << blockN << ", head_dim " << headDim;
  if (!elementType.isF16() && !elementType.isBF16())
    return func.emitError("attn-lower-to-gpu: prefill needs f16 or bf16 "
                          "K/V, got ")
           << elementType;
  if (warps < 1 || rows % (16 * warps) != 0)
    return func.emitError("attn-lower-to-gpu: prefill block_m (")
           << rows << ") must be a multiple of 16 x the " << warps << " warps";
  rowBlocks = rows / (16 * warps);
  if (wgmma)
    findDeferrablePV();
  if (wgmma &&
      (warps % 4 != 0 || blockN % 64 != 0 || blockN > 256 || headDim > 256))
    return func.emitError("attn-lower-to-gpu: wgmma prefill needs whole "
                          "warpgroups, block_n a multiple of 64 (at most "
                          "256) and head_dim at most 256, got ")
           << warps << " warps, block_n " << blockN << ", head_dim " << headDim;
  tileDim = wgmma ? llvm::alignTo(headDim, 64) : headDim;
  if (producer && !deferredAcc)
    return func.emitError("attn-lower-to-gpu: a producer warpgroup needs "
                          "the fused program's deferred PV (run "
                          "attn-fuse-tile-ops first)");
  // The K/V copies' threads: the producer's or every thread.
  int64_t kvThreads = producer ? kProducerThreads : 32 * warps;
  if (tableArg && blockN / 16 > kvThreads)
    return func.emitError("attn-lower-to-gpu: paged prefill locates a 16-key "
                          "granule per copying thread, so block_n / 16 (")
           << blockN / 16 << ") must not exceed the " << kvThreads
           << " threads";
  // Copies: every copying thread takes a chunk of a row per pass, passes of
  // whole rows that divide the tiles (Q is copied by the 32 x warps threads
  // that compute, K/V by kvThreads).
  int64_t copyChunks = static_cast<int64_t>(llvm::PowerOf2Ceil(headDim / 8));
  for (auto [threads, tileRows] :
       {std::pair(32 * warps, rows), std::pair(kvThreads, blockN)}) {
    int64_t rowsPerPass = threads / copyChunks;
    if (rowsPerPass == 0 || tileRows % rowsPerPass != 0)
      return func.emitError("attn-lower-to-gpu: ")
             << threads << " threads copy rows of " << copyChunks
             << " chunks (head_dim / 8 rounded up to a power of two) in "
                "passes of "
             << rowsPerPass << " rows, which must divide the " << tileRows
             << " rows of the tile (block_m " << rows << ", block_n " << blockN
             << ")";
  }
  return success();
}

void PrefillKernelEmitter::createKernel() {
  namespace P = abi::prefill;
  bool local = hasLocalOptions();
  Block &entry =
      createKernelFunc(func.getSymName(), P::kParams,
                       32 * warps + (producer ? kProducerThreads : 0),
                       sharedMemoryBytes(), local, tma);
  auto arg = [&](P::Param p) { return entry.getArgument(p); };
  if (tma) {
    // After the kind's parameters and the local ones.
    unsigned first = P::kCount + (local ? unsigned(abi::local::kCount) : 0u);
    kMap = entry.getArgument(first + abi::tma::k_map);
    vMap = entry.getArgument(first + abi::tma::v_map);
    tmaEnabled = cmp(arith::CmpIPredicate::ne,
                     entry.getArgument(first + abi::tma::tma), i32(0));
  }
  tensors[qArg] = {arg(P::q), {arg(P::q_stride_token), arg(P::q_stride_head)}};
  // A paged cache [blocks, rows, Hkv, D] takes all three strides, a packed
  // one [total_k, Hkv, D] the row and head ones.
  auto bindCache = [&](Value cache, P::Param ptr, P::Param outer) {
    auto row = P::Param(outer + 1), head = P::Param(outer + 2);
    if (cast<MemRefType>(cache.getType()).getRank() == 3)
      tensors[cache] = {arg(ptr), {arg(row), arg(head)}};
    else
      tensors[cache] = {arg(ptr), {arg(outer), arg(row), arg(head)}};
  };
  bindCache(kArg, P::k, P::k_stride_outer);
  bindCache(vArg, P::v, P::v_stride_outer);
  tensors[cuQArg] = {arg(P::cu_seqlens_q), {}};
  tensors[cuKArg] = {arg(P::cu_seqlens_k), {}};
  if (tableArg)
    tensors[tableArg] = {arg(P::block_table), {arg(P::block_table_stride)}};
  tensors[outArg] = {arg(P::out),
                     {arg(P::out_stride_token), arg(P::out_stride_head)}};
  if (lseArg)
    tensors[lseArg] = {arg(P::lse), {}};
  numKvHeads = toIndex(arg(P::num_kv_heads));
  pageSize = toIndex(arg(P::page_size));
  if (tableArg)
    pageReciprocal =
        arith::DivUIOp::create(b, loc, i32(0xFFFFFFFF), arg(P::page_size));
  totalQ = toIndex(arg(P::total_q));
  runtimeScale = arg(P::softmax_scale);
  tensors[partOutArg] = {arg(P::part_o), {}};
  tensors[partLseArg] = {arg(P::part_lse), {}};
  Value numSplits = toIndex(arg(P::num_splits));
  mapping.map(splitsArg, numSplits);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  groupRow = arith::DivUIOp::create(b, loc, lane, idx(4));
  quadLane = arith::RemUIOp::create(b, loc, lane, idx(4));
  copyThread = tid;
  copyThreads = 32 * warps;
  smemBase = LLVM::AddressOfOp::create(b, loc, smem);
  if (wgmma) {
    // wgmma's swizzle atoms start at multiples of 1024 bytes.
    Value address = sharedAddress(smemBase);
    Value aligned =
        arith::AndIOp::create(b, loc, add(address, i32(wgmma::kAtomBytes - 1)),
                              i32(-wgmma::kAtomBytes));
    smemBase = gep(smemBase, b.getI8Type(),
                   arith::SubIOp::create(b, loc, aligned, address));
  }
  stagesBase = gep(smemBase, elementType, idx(rows * tileDim));
  numHeads = toIndex(arg(P::num_heads));
  groupMagic = arg(P::group_magic);
  headShiftArg = arg(P::head_shift);
  callHeadDim = toIndex(arg(P::head_dim));
  callChunks =
      toIndex(arith::ShRUIOp::create(b, loc, arg(P::head_dim), i32(3)));
  mapGrid();
}

LogicalResult PrefillKernelEmitter::emit() {
  if (failed(analyse()))
    return failure();
  createKernel();
  // Before the grid: its bounds, which the launch provides, and constants.
  for (Operation &op : func.getBody().front()) {
    if (&op == grid.getOperation())
      break;
    if (isa<arith::ConstantOp>(op))
      b.clone(op, mapping);
    else if (!isa<arith::ArithDialect, memref::MemRefDialect>(op.getDialect()))
      return op.emitError("attn-lower-to-gpu: unexpected op before the grid");
  }
  // The CTAs past the last head of a split (Hq < 2^head_shift) have nothing
  // to do.
  auto body = [&] {
    auto ifHead = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::ult, head, numHeads));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifHead.thenBlock()->getTerminator());
    return emitBlock(*grid.getBody());
  };
  if (failed(producer ? emitWarpSpecialised(body) : body()))
    return failure();
  CombineOp combine;
  func.walk([&](CombineOp c) { combine = c; });
  if (!combine)
    return func.emitError("attn-lower-to-gpu: the split prefill program has "
                          "no attn.combine");
  emitCombineKernel(combine, elementType, headDim);
  return success();
}

LogicalResult mlir::attn::emitPrefillKernel(func::FuncOp func,
                                            gpu::GPUModuleOp module,
                                            LLVM::GlobalOp smem, int64_t stages,
                                            int64_t threads, bool wgmma,
                                            bool producer, bool tma,
                                            bool dependentLaunch) {
  if (stages < 2)
    return func.emitError("attn-lower-to-gpu: prefill needs at least 2 "
                          "stages, got ")
           << stages;
  if (producer && (!wgmma || threads <= PrefillKernelEmitter::kProducerThreads))
    return func.emitError("attn-lower-to-gpu: a producer warpgroup needs "
                          "wgmma and more than its 128 threads, got ")
           << threads << " threads";
  if (tma && !producer)
    return func.emitError("attn-lower-to-gpu: TMA copies are the producer "
                          "warpgroup's: tma needs producer");
  PrefillKernelEmitter emitter(func, module, smem, stages, threads, wgmma,
                               producer, tma);
  emitter.setDependentLaunch(dependentLaunch);
  return emitter.emit();
}
