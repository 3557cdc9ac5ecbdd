// The decode kernel: what it reads from the tiled IR, its parameters and
// thread layout, and the walk over the program.
#include "passes/gpu/DecodeKernel.h"
#include "passes/gpu/DecodeLayout.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult DecodeKernelEmitter::analyse() {
  bool loadsQ = false, splitStore = false, qk = false, pv = false;
  func.walk([&](Operation *op) {
    if (auto p = dyn_cast<scf::ParallelOp>(op))
      if (p->hasAttr(AttnDialect::GridAttrHelper::getNameStr()))
        grid = p;
    if (auto q = dyn_cast<LoadQOp>(op)) {
      loadsQ = true;
      auto t = cast<RankedTensorType>(q.getType());
      rows = t.getDimSize(0);
      headDim = t.getDimSize(1);
      if (std::optional<uint64_t> r = q.getRowsPerToken())
        tokensPerCta = rows / static_cast<int64_t>(*r);
    }
    if (auto k = dyn_cast<KvTileOp>(op)) {
      blockN = cast<RankedTensorType>(k.getType()).getDimSize(0);
      elementType = cast<RankedTensorType>(k.getType()).getElementType();
    }
    if (auto s = dyn_cast<StoreOp>(op))
      splitStore |= static_cast<bool>(s.getSplit());
    qk |= isa<QKOp>(op);
    pv |= isa<PVOp>(op);
  });
  for (BlockArgument arg : func.getArguments())
    if (func.getArgAttr(arg.getArgNumber(),
                        AttnDialect::NumSplitsAttrHelper::getNameStr()))
      splitsArg = arg;
  if (!grid || !loadsQ || !blockN || !splitStore || !qk || !pv || !splitsArg)
    return func.emitError("attn-lower-to-gpu expects a split, tiled, "
                          "online-softmax decode program (run attn-gqa-"
                          "broadcast, attn-split-kv, attn-tile and "
                          "attn-online-softmax first)");
  if (failed(bindRoles(
          {{&qArg, ArgRole::Q},
           {&kArg, ArgRole::K},
           {&vArg, ArgRole::V},
           {&lensArg, ArgRole::CacheSeqlens},
           {&outArg, ArgRole::Out},
           {&partOutArg, ArgRole::PartO},
           {&partLseArg, ArgRole::PartLse}},
          {{&tableArg, ArgRole::BlockTable}, {&lseArg, ArgRole::Lse}})))
    return failure();
  auto names =
      cast<ArrayAttr>(grid->getAttr(AttnDialect::GridAttrHelper::getNameStr()));
  if (names.size() != 4)
    return grid.emitError("expected the grid (split, batch, token, kv_head)");
  specialisedOnGroup = cast<StringAttr>(names[3]).getValue() == "kv_head";
  if (headDim % 8 != 0 || headDim < 8 || headDim > 256)
    return func.emitError("attn-lower-to-gpu: head_dim must be a multiple of "
                          "8 up to 256, got ")
           << headDim;
  return analyseLayout();
}

LogicalResult DecodeKernelEmitter::analyseLayout() {
  if (!::attn::decodeLanesValid(headDim, lanesOption))
    return func.emitError("attn-lower-to-gpu: decode-lanes must be 0 or a "
                          "power of two up to head_dim / 8 rounded up to one (")
           << ::attn::decodePowerOf2Ceil(headDim / 8) << "), got "
           << lanesOption;
  ::attn::DecodeLayout layout =
      ::attn::decodeLayout(headDim, rows, lanesOption);
  threadsPerRow = layout.lanes;
  chunks = layout.chunks;
  if (failed(checkKvHeads()))
    return failure();
  if (threads % (threadsPerRow * kvHeads) != 0)
    return func.emitError("attn-lower-to-gpu: the threads (")
           << threads << ") must be a multiple of the lanes of a row ("
           << threadsPerRow << ") times the KV heads a CTA (" << kvHeads << ")";
  rowGroups = threads / (threadsPerRow * kvHeads);
  if (blockN % rowGroups != 0)
    return func.emitError("attn-lower-to-gpu: block-n (")
           << blockN << ") must be a multiple of the row groups (" << rowGroups
           << ")";
  keysPerThread = blockN / rowGroups;
  // The KV loop twice, one for tiles inside one page (emitKvLoop), in the
  // kernels specialised on G of at most 4 rows (G x tokens) up to D 128. With
  // one loop copying either way, the any-group kernels of D 80-192 (at 255)
  // spilled 24-44 bytes more, D 256 G 1 and D 160 G 1 (f16) 12 bytes, D 192
  // G 2 and D 256 G 4 grew to 230-236 registers, and sm_80/sm_89's 8-row
  // kernels of D 64-128 (G 8 and the folds) spilled up to 228 bytes more;
  // those keep a 32-bit division a key. With two loops they still spilled:
  // sm_90's any-group kernels of D 80/96 148-152 bytes more, sm_80's 8-row
  // kernels of D 80-128 88-120 bytes more.
  pagePath = specialisedOnGroup && headDim <= 128 && rows <= 4
                 ? PagePath::twoLoops
                 : PagePath::perKey;
  return success();
}

LogicalResult DecodeKernelEmitter::checkKvHeads() {
  if (!::attn::decodeKvHeadsValid(kvHeads))
    return func.emitError("attn-lower-to-gpu: decode-kv-heads must be a "
                          "power of two, got ")
           << kvHeads;
  if (kvHeads > 1 && (!specialisedOnGroup || tokensPerCta != 1))
    return func.emitError("attn-lower-to-gpu: decode-kv-heads above 1 "
                          "needs a kernel specialised on G with one token "
                          "a CTA (attn-gqa-broadcast's heads-per-cta 0, "
                          "tokens-per-cta 1)");
  return success();
}

SmallVector<Value> DecodeKernelEmitter::load8(Value ptr, Type elt) {
  auto vecType = VectorType::get({8}, elt);
  Value vec = LLVM::LoadOp::create(b, loc, vecType, ptr, /*alignment=*/16);
  SmallVector<Value> out;
  if (!elt.isF32())
    vec = arith::ExtFOp::create(b, loc, VectorType::get({8}, b.getF32Type()),
                                vec);
  for (int64_t i = 0; i < 8; ++i)
    out.push_back(vector::ExtractOp::create(b, loc, vec, i));
  return out;
}

void DecodeKernelEmitter::store8(Value ptr, Type elt, ArrayRef<Value> values) {
  auto f32Vec = VectorType::get({8}, b.getF32Type());
  Value vec = LLVM::PoisonOp::create(b, loc, f32Vec);
  for (auto [i, v] : llvm::enumerate(values))
    vec = vector::InsertOp::create(b, loc, v, vec, static_cast<int64_t>(i));
  if (!elt.isF32())
    vec = arith::TruncFOp::create(b, loc, VectorType::get({8}, elt), vec);
  LLVM::StoreOp::create(b, loc, vec, ptr, /*alignment=*/16);
}

int64_t DecodeKernelEmitter::sharedMemoryBytes() const {
  int64_t stageRing = stages * 2 * blockN * stageRowElements() *
                      elementType.getIntOrFloatBitWidth() / 8;
  // acc [NG][rows][H x D], m [NG][rows][H] and l [NG][rows][H], f32.
  int64_t merge = rowGroups * rows * kvHeads * (headDim + 2) * 4;
  return std::max(stageRing, merge);
}

void DecodeKernelEmitter::createKernel() {
  namespace P = abi::decode;
  kernelEntry = &createKernelFunc(func.getSymName(), P::kParams, threads,
                                  sharedMemoryBytes(), hasLocalOptions());
  auto arg = [&](P::Param p) { return kernelEntry->getArgument(p); };
  // A [batch, token, head, D] tensor: its pointer and three strides.
  auto bind3 = [&](Value memref, P::Param ptr, P::Param firstStride) {
    if (memref)
      tensors[memref] = {arg(ptr),
                         {arg(firstStride), arg(P::Param(firstStride + 1)),
                          arg(P::Param(firstStride + 2))}};
  };
  bind3(qArg, P::q, P::q_stride_batch);
  bind3(kArg, P::k_cache, P::k_stride_outer);
  bind3(vArg, P::v_cache, P::v_stride_outer);
  tensors[lensArg] = {arg(P::cache_seqlens), {}};
  if (tableArg)
    tensors[tableArg] = {arg(P::block_table), {arg(P::block_table_stride)}};
  bind3(outArg, P::out, P::out_stride_batch);
  if (lseArg)
    tensors[lseArg] = {arg(P::lse), {}};
  tensors[partOutArg] = {arg(P::part_o), {}};
  tensors[partLseArg] = {arg(P::part_lse), {}};
  seqlenQ = toIndex(arg(P::seqlen_q));
  pageSize = toIndex(arg(P::page_size));
  if (tableArg && pagePath != PagePath::perKey)
    pageReciprocal =
        arith::DivUIOp::create(b, loc, i32(0xFFFFFFFF), arg(P::page_size));
  numSplits = toIndex(arg(P::num_splits));
  runtimeScale = arg(P::softmax_scale);
  numHeads = toIndex(arg(P::num_heads));
  numKvHeads = toIndex(arg(P::num_kv_heads));
  mapping.map(splitsArg, numSplits);
  setUpThreads();
  smemBase = LLVM::AddressOfOp::create(b, loc, smem);
  batchCount = gpu::GridDimOp::create(b, loc, gpu::Dimension::z);
  mapGrid();
}

void DecodeKernelEmitter::setUpThreads() {
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  rowGroup = arith::DivUIOp::create(b, loc, tid, idx(threadsPerRow * kvHeads));
  lane = arith::RemUIOp::create(b, loc, tid, idx(threadsPerRow));
  rowLane = lane;
  if (kvHeads > 1) {
    headLane = arith::RemUIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, tid, idx(threadsPerRow)),
        idx(kvHeads));
    // The slot-major stage's lane (several chunks a lane).
    if (chunks > 1)
      rowLane = add(mul(headLane, idx(threadsPerRow)), lane);
  }
  // The call's head_dim may be less than the kernel's (a multiple of 8): the
  // chunks past it read their global rows at the call's last chunk, take
  // zeros and store nothing.
  Value callChunks = toIndex(
      arith::ShRUIOp::create(b, loc, param(abi::decode::head_dim), i32(3)));
  int64_t rowChunks = headDim / 8;
  laneChunks.clear();
  for (int64_t c = 0; c < chunks; ++c) {
    LaneChunk chunk;
    chunk.index = c ? add(lane, idx(c * threadsPerRow)) : lane;
    if ((c + 1) * threadsPerRow > rowChunks) {
      chunk.active = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                           chunk.index, idx(rowChunks));
      chunk.index =
          arith::MinUIOp::create(b, loc, chunk.index, idx(rowChunks - 1));
    }
    chunk.slot = headLane ? add(mul(headLane, idx(rowChunks)), chunk.index)
                          : chunk.index;
    chunk.inCall = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         chunk.index, callChunks);
    chunk.bytes = select(chunk.inCall, i32(16), i32(0));
    chunk.callOffset = mul(
        arith::MinUIOp::create(b, loc, chunk.index, sub(callChunks, idx(1))),
        idx(8));
    laneChunks.push_back(chunk);
  }
}

LogicalResult DecodeKernelEmitter::emit() {
  if (failed(analyse()))
    return failure();
  createKernel();
  // Values computed before the grid that the kernel needs: the dims of q.
  for (Operation &op : func.getBody().front()) {
    if (&op == grid.getOperation())
      break;
    if (auto dim = dyn_cast<memref::DimOp>(op)) {
      std::optional<int64_t> index = dim.getConstantIndex();
      if (dim.getSource() != qArg || !index || *index > 1)
        return dim.emitError("attn-lower-to-gpu: unexpected memref.dim");
      mapping.map(dim.getResult(), *index == 0 ? batchCount : seqlenQ);
      continue;
    }
    if (failed(emitOp(&op)))
      return failure();
  }
  if (failed(emitBlock(*grid.getBody())))
    return failure();
  CombineOp combine;
  func.walk([&](CombineOp c) { combine = c; });
  if (combine)
    emitCombineKernel(combine, elementType, headDim);
  return success();
}

LogicalResult mlir::attn::emitDecodeKernel(func::FuncOp func,
                                           gpu::GPUModuleOp module,
                                           LLVM::GlobalOp smem, int64_t stages,
                                           int64_t threads, int64_t lanes,
                                           int64_t kvHeads, bool mma,
                                           bool dependentLaunch) {
  if (mma) {
    if (lanes != 0)
      return func.emitError("attn-lower-to-gpu: decode-mma does not take "
                            "decode-lanes");
    DecodeMmaKernelEmitter emitter(func, module, smem, stages, threads,
                                   kvHeads);
    emitter.setDependentLaunch(dependentLaunch);
    return emitter.emit();
  }
  DecodeKernelEmitter emitter(func, module, smem, stages, threads, lanes,
                              kvHeads);
  emitter.setDependentLaunch(dependentLaunch);
  return emitter.emit();
}
