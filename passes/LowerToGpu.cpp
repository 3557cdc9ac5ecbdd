// attn-lower-to-gpu: maps the tiled online-softmax programs onto CTAs. This
// file has the pass and the decode kernel (row groups of threads, cp.async
// shared-memory stages, warp shuffles); LowerPrefillToGpu.cpp the prefill
// kernel (warps of mma.sync tensor-core tiles).
//
// Decode thread layout (docs/runtime_abi.md has the kernel parameters): a row
// of head_dim elements is covered by TPR threads holding 16 bytes each, TPR =
// head_dim / 8 rounded up to a power of two (the butterflies need one); when
// rounded (head_dim 80, 96, 160, 192) the lanes past head_dim / 8 address
// the last chunk, hold zeros of q, copy and store nothing. The CTA's threads
// form NG = threads / TPR row groups. Key n of a KV
// tile belongs to row group n % NG, which copies it into its own slots of the
// shared-memory stage with cp.async and later reads only those slots, so the
// pipeline needs no CTA barrier. Each row group runs the online-softmax
// recurrence of the IR on its share of every tile (the recurrence is
// associative), and attn.normalize merges the NG partial states through
// shared memory, like attn.combine merges splits.
#include "passes/GpuEmitter.h"

#include "llvm/Support/MathExtras.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNLOWERTOGPU
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

/// Decode fragments: for a [M, D] tile each thread holds rows x 8 columns
/// (its 16-byte chunk); for a [M, N] score tile rows x keysPerThread; for a
/// [M] tile one value per row. `merged` tiles (after attn.normalize) hold the
/// rows `rowGroup + NG * j` only.
class DecodeKernelEmitter : public KernelEmitterBase {
public:
  DecodeKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                      LLVM::GlobalOp smem, int64_t stages, int64_t threads)
      : KernelEmitterBase(func, module, smem), stages(stages),
        threads(threads) {}

  LogicalResult emit();

private:
  // Kernel construction.
  LogicalResult analyse();
  void createKernel();

  /// Loads 8 consecutive elements (16 bytes) and widens them to f32.
  SmallVector<Value> load8(Value ptr, Type elt);
  void store8(Value ptr, Type elt, ArrayRef<Value> values);

  // IR walking.
  LogicalResult emitOp(Operation *op) override;
  LogicalResult emitKvLoop(scf::ForOp loop);
  void issueTileCopies(Value tileStart, Value limit, Value stage,
                       ArrayRef<KvTileOp> loads, Value batch, Value kvHead);

  int64_t stages, threads;

  // Problem facts read from the tiled IR.
  int64_t rows = 0, headDim = 0, blockN = 0;
  int64_t threadsPerRow = 0, rowGroups = 0, keysPerThread = 0;
  Type elementType;
  Value qArg, kArg, vArg, lensArg, tableArg, outArg, lseArg, partOutArg,
      partLseArg, splitsArg;
  scf::ParallelOp grid;

  // Emission state.
  /// `lane`: the thread's 16-byte chunk of a row (clamped to the last one);
  /// `laneActive`: whether the chunk is its own, null when every lane's is.
  Value rowGroup, lane, laneActive, smemBase, seqlenQ, pageSize, numSplits,
      batchCount;
  Value currentStage; // stage of the tile being computed
  Value numHeads, numKvHeads; // Hq, Hkv as indices
  Value runtimeScale; // softmax_scale kernel parameter
};

LogicalResult DecodeKernelEmitter::analyse() {
  func.walk([&](Operation *op) {
    if (auto p = dyn_cast<scf::ParallelOp>(op))
      if (p->hasAttr("attn.grid"))
        grid = p;
    if (auto q = dyn_cast<LoadQOp>(op)) {
      qArg = q.getQ();
      auto t = cast<RankedTensorType>(q.getType());
      rows = t.getDimSize(0);
      headDim = t.getDimSize(1);
    }
    if (auto k = dyn_cast<KvTileOp>(op)) {
      blockN = cast<RankedTensorType>(k.getType()).getDimSize(0);
      elementType = cast<RankedTensorType>(k.getType()).getElementType();
      tableArg = k.getBlockTable();
    }
    if (auto s = dyn_cast<SeqLenOp>(op))
      lensArg = s.getLengths();
    if (auto s = dyn_cast<StoreOp>(op)) {
      if (s.getSplit()) {
        partOutArg = s.getOut();
        partLseArg = s.getLse();
      } else {
        outArg = s.getOut();
        lseArg = s.getLse();
      }
    }
    if (auto q = dyn_cast<QKOp>(op))
      kArg = q.getK().getDefiningOp<KvTileOp>().getCache();
    if (auto pv = dyn_cast<PVOp>(op))
      vArg = pv.getV().getDefiningOp<KvTileOp>().getCache();
  });
  for (BlockArgument arg : func.getArguments())
    if (func.getArgAttr(arg.getArgNumber(), "attn.num_splits"))
      splitsArg = arg;
  if (!grid || !qArg || !kArg || !vArg || !lensArg || !outArg || !partOutArg ||
      !splitsArg)
    return func.emitError("attn-lower-to-gpu expects a split, tiled, "
                          "online-softmax decode program (run attn-gqa-"
                          "broadcast, attn-split-kv, attn-tile and "
                          "attn-online-softmax first)");
  auto names = cast<ArrayAttr>(grid->getAttr("attn.grid"));
  if (names.size() != 4)
    return grid.emitError("expected the grid (split, batch, token, kv_head)");
  threadsPerRow = static_cast<int64_t>(llvm::PowerOf2Ceil(headDim / 8));
  rowGroups = threadsPerRow ? threads / threadsPerRow : 0;
  if (headDim % 8 != 0 || headDim < 8 || threadsPerRow > 32 ||
      threads % threadsPerRow != 0)
    return func.emitError("attn-lower-to-gpu: head_dim must be a multiple of "
                          "8 up to 256 and head_dim / 8, rounded up to a "
                          "power of two, must divide the thread count, got "
                          "head_dim ")
           << headDim << ", threads " << threads;
  if (blockN % rowGroups != 0)
    return func.emitError("attn-lower-to-gpu: block-n (")
           << blockN << ") must be a multiple of the row groups (" << rowGroups
           << ")";
  keysPerThread = blockN / rowGroups;
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

void DecodeKernelEmitter::createKernel() {
  MLIRContext *ctx = func.getContext();
  Type gptr = LLVM::LLVMPointerType::get(ctx, kGlobalSpace);
  Type i64 = b.getI64Type(), i32t = b.getI32Type();
  // docs/runtime_abi.md, "Decode kernel".
  SmallVector<Type> params(9, gptr);
  params.append(13, i64);
  params.append(3, i32t);
  params.push_back(b.getF32Type());
  params.append(2, i32t);
  Block &entry = createKernelFunc(func.getSymName(), params, threads);
  auto arg = [&](unsigned i) { return entry.getArgument(i); };
  auto bind3 = [&](Value memref, Value ptr, unsigned first) {
    if (memref)
      tensors[memref] = {ptr, {arg(first), arg(first + 1), arg(first + 2)}};
  };
  bind3(qArg, arg(0), 9);
  bind3(kArg, arg(1), 12);
  bind3(vArg, arg(2), 15);
  tensors[lensArg] = {arg(3), {}};
  if (tableArg)
    tensors[tableArg] = {arg(4), {arg(18)}};
  bind3(outArg, arg(5), 19);
  if (lseArg)
    tensors[lseArg] = {arg(6), {}};
  tensors[partOutArg] = {arg(7), {}};
  tensors[partLseArg] = {arg(8), {}};
  seqlenQ = toIndex(arg(22));
  pageSize = toIndex(arg(23));
  numSplits = toIndex(arg(24));
  runtimeScale = arg(25);
  numHeads = toIndex(arg(26));
  numKvHeads = toIndex(arg(27));
  mapping.map(splitsArg, numSplits);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  rowGroup = arith::DivUIOp::create(b, loc, tid, idx(threadsPerRow));
  lane = arith::RemUIOp::create(b, loc, tid, idx(threadsPerRow));
  if (threadsPerRow != headDim / 8) {
    laneActive = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, lane,
                                       idx(headDim / 8));
    lane = arith::MinUIOp::create(b, loc, lane, idx(headDim / 8 - 1));
  }
  smemBase = LLVM::AddressOfOp::create(b, loc, smem);
  batchCount = gpu::GridDimOp::create(b, loc, gpu::Dimension::z);

  // Grid: x = split, y = token * blocks + head block, z = batch, with
  // blocks = Hkv (one KV head per CTA) or Hkv * ceil(G / rows). The head
  // counts are launch parameters, so one kernel serves every head count.
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value bz = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value blocks = arith::DivUIOp::create(
      b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::y), seqlenQ);
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], bx);
  mapping.map(ivs[1], bz);
  mapping.map(ivs[2], arith::DivUIOp::create(b, loc, by, blocks));
  mapping.map(ivs[3], arith::RemUIOp::create(b, loc, by, blocks));
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

LogicalResult DecodeKernelEmitter::emitOp(Operation *op) {
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      auto type = cast<RankedTensorType>(c.getType());
      int64_t count = type.getRank() == 1 ? rows : rows * 8;
      Value v = f32(dense.getSplatValue<APFloat>().convertToFloat());
      bind(c, Fragment{SmallVector<Value>(count, v)});
      return success();
    }
    b.clone(*op, mapping);
    return success();
  }
  if (isElementwise(op)) {
    bind(op->getResult(0), emitElementwise(op));
    return success();
  }
  if (isa<arith::ArithDialect>(op->getDialect())) {
    b.clone(*op, mapping);
    return success();
  }
  if (auto seqLen = dyn_cast<SeqLenOp>(op)) {
    Value ptr = gep(tensorFor(lensArg).ptr, b.getI32Type(),
                    mapped(seqLen.getBatch()));
    Value len = LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr);
    mapping.map(seqLen.getResult(), toIndex(len));
    return success();
  }
  if (auto size = dyn_cast<GroupSizeOp>(op)) {
    mapping.map(size.getSize(),
                arith::DivUIOp::create(b, loc, numHeads, numKvHeads));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQOp>(op)) {
    Tensor &q = tensorFor(qArg);
    Fragment frag;
    // With a count, rows past it repeat row count - 1 (never stored).
    Value lastRow =
        loadQ.getCount() ? sub(mapped(loadQ.getCount()), idx(1)) : Value();
    for (int64_t r = 0; r < rows; ++r) {
      Value row = idx(r);
      if (lastRow && r > 0)
        row = arith::MinUIOp::create(b, loc, row, lastRow);
      Value head = add(mapped(loadQ.getHead()), row);
      Value offset = add(elementOffset(q, {mapped(loadQ.getBatch()),
                                           mapped(loadQ.getToken()), head}),
                         toI64(mul(lane, idx(8))));
      llvm::append_range(frag.values,
                         load8(gep(q.ptr, elementType, offset), elementType));
    }
    // Lanes past head_dim / 8 add nothing to the dot products.
    if (laneActive)
      for (Value &v : frag.values)
        v = select(laneActive, v, f32(0.0));
    bind(loadQ, frag);
    return success();
  }
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    if (!loop->hasAttr("attn.kv_loop"))
      return loop.emitError("attn-lower-to-gpu: unexpected scf.for");
    return emitKvLoop(loop);
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
    // Results are fragments (the masked scores) or nothing (the stores).
    return emitIf(ifOp, SmallVector<unsigned>(ifOp.getNumResults(),
                                              rows * keysPerThread));
  }
  if (auto qk = dyn_cast<QKOp>(op)) {
    Fragment q = lookup(qk.getQ());
    Fragment scores;
    scores.values.resize(rows * keysPerThread);
    // The op's scale (log2(e) folded in) times the launch's softmax_scale.
    Value scale = arith::MulFOp::create(
        b, loc, f32(qk.getScale().convertToFloat()), runtimeScale);
    Value kStage = gep(smemBase, elementType,
                       mul(currentStage, idx(2 * blockN * headDim)));
    for (int64_t i = 0; i < keysPerThread; ++i) {
      Value key = add(rowGroup, idx(rowGroups * i));
      Value offset = add(mul(key, idx(headDim)), mul(lane, idx(8)));
      SmallVector<Value> k = load8(gep(kStage, elementType, offset),
                                   elementType);
      for (int64_t r = 0; r < rows; ++r) {
        Value dot = arith::MulFOp::create(b, loc, q.values[r * 8], k[0]);
        for (int64_t j = 1; j < 8; ++j)
          dot = math::FmaOp::create(b, loc, q.values[r * 8 + j], k[j], dot);
        // Butterfly over the threads of the row: every lane gets the sum.
        for (int64_t off = threadsPerRow / 2; off > 0; off /= 2)
          dot = arith::AddFOp::create(b, loc, dot, shflXor(dot, off));
        scores.values[r * keysPerThread + i] =
            arith::MulFOp::create(b, loc, dot, scale);
      }
    }
    bind(qk, scores);
    return success();
  }
  if (auto mask = dyn_cast<MaskOp>(op)) {
    Fragment in = lookup(mask.getScores()), out;
    Value start = mapped(mask.getStart()), end = mapped(mask.getEnd());
    Value diagonal = mapped(mask.getDiagonal());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < keysPerThread; ++i) {
        Value key = add(start, add(rowGroup, idx(rowGroups * i)));
        Value keep = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                           key, end);
        if (mask.getCausal()) {
          Value last = add(diagonal, idx(r / mask.getRowsPerToken()));
          keep = arith::AndIOp::create(
              b, loc, keep,
              arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sle, key,
                                    last));
        }
        out.values.push_back(
            select(keep, in.values[r * keysPerThread + i], negInf));
      }
    bind(mask, out);
    return success();
  }
  if (auto rowMax = dyn_cast<RowMaxOp>(op)) {
    Fragment in = lookup(rowMax.getTile()), out;
    for (int64_t r = 0; r < rows; ++r) {
      Value m = in.values[r * keysPerThread];
      for (int64_t i = 1; i < keysPerThread; ++i)
        m = arith::MaximumFOp::create(b, loc, m,
                                      in.values[r * keysPerThread + i]);
      out.values.push_back(m);
    }
    bind(rowMax, out);
    return success();
  }
  if (auto rowSum = dyn_cast<RowSumOp>(op)) {
    Fragment in = lookup(rowSum.getTile()), out;
    for (int64_t r = 0; r < rows; ++r) {
      Value s = in.values[r * keysPerThread];
      for (int64_t i = 1; i < keysPerThread; ++i)
        s = arith::AddFOp::create(b, loc, s, in.values[r * keysPerThread + i]);
      out.values.push_back(s);
    }
    bind(rowSum, out);
    return success();
  }
  if (auto diff = dyn_cast<Exp2DiffOp>(op)) {
    Fragment x = lookup(diff.getX()), m = lookup(diff.getM()), out;
    int64_t perRow = x.values.size() / rows;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < perRow; ++i) {
        Value e = exp2(arith::SubFOp::create(b, loc, x.values[r * perRow + i],
                                             m.values[r]));
        out.values.push_back(select(isNegInf(m.values[r]), f32(0.0), e));
      }
    bind(diff, out);
    return success();
  }
  if (auto pv = dyn_cast<PVOp>(op)) {
    Fragment p = lookup(pv.getP()), out;
    out.values.assign(rows * 8, f32(0.0));
    Value vStage =
        gep(smemBase, elementType,
            add(mul(currentStage, idx(2 * blockN * headDim)),
                idx(blockN * headDim)));
    for (int64_t i = 0; i < keysPerThread; ++i) {
      Value key = add(rowGroup, idx(rowGroups * i));
      Value offset = add(mul(key, idx(headDim)), mul(lane, idx(8)));
      SmallVector<Value> v = load8(gep(vStage, elementType, offset),
                                   elementType);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < 8; ++j)
          out.values[r * 8 + j] =
              math::FmaOp::create(b, loc, p.values[r * keysPerThread + i],
                                  v[j], out.values[r * 8 + j]);
    }
    bind(pv, out);
    return success();
  }
  if (auto scale = dyn_cast<ScaleRowsOp>(op)) {
    Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor()), out;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < 8; ++j)
        out.values.push_back(
            arith::MulFOp::create(b, loc, t.values[r * 8 + j], f.values[r]));
    bind(scale, out);
    return success();
  }
  if (auto normalize = dyn_cast<NormalizeOp>(op)) {
    // Merge the row groups' (m, l, acc) through shared memory: every thread
    // writes its state, then thread (g, lane) merges rows g, g + NG, ...
    Fragment acc = lookup(normalize.getAcc()), m = lookup(normalize.getMax());
    Fragment l = lookup(normalize.getSum());
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
    gpu::BarrierOp::create(b, loc);
    Type f32Type = b.getF32Type();
    // Layout: acc [NG][rows][D] then m [NG][rows], l [NG][rows], all f32.
    Value accBase = smemBase;
    Value mBase = gep(smemBase, f32Type, idx(rowGroups * rows * headDim));
    Value lBase = gep(mBase, f32Type, idx(rowGroups * rows));
    for (int64_t r = 0; r < rows; ++r) {
      Value slot = add(mul(rowGroup, idx(rows)), idx(r));
      Value accOffset = add(mul(slot, idx(headDim)), mul(lane, idx(8)));
      store8(gep(accBase, f32Type, accOffset), f32Type,
             ArrayRef<Value>(acc.values).slice(r * 8, 8));
      LLVM::StoreOp::create(b, loc, m.values[r], gep(mBase, f32Type, slot));
      LLVM::StoreOp::create(b, loc, l.values[r], gep(lBase, f32Type, slot));
    }
    gpu::BarrierOp::create(b, loc);
    Fragment out, lse;
    int64_t rowsPerGroup = (rows + rowGroups - 1) / rowGroups;
    for (int64_t j = 0; j < rowsPerGroup; ++j) {
      // Row rowGroup + NG * j; rows past the end read row 0 and are never
      // stored.
      Value row = add(rowGroup, idx(rowGroups * j));
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            row, idx(rows));
      row = select(inRange, row, idx(0));
      Value maxAll = f32(-std::numeric_limits<float>::infinity());
      for (int64_t g = 0; g < rowGroups; ++g) {
        Value slot = add(idx(g * rows), row);
        maxAll = arith::MaximumFOp::create(
            b, loc, maxAll,
            LLVM::LoadOp::create(b, loc, f32Type, gep(mBase, f32Type, slot)));
      }
      Value sum = f32(0.0);
      SmallVector<Value> merged(8, f32(0.0));
      for (int64_t g = 0; g < rowGroups; ++g) {
        Value slot = add(idx(g * rows), row);
        Value mg =
            LLVM::LoadOp::create(b, loc, f32Type, gep(mBase, f32Type, slot));
        Value lg =
            LLVM::LoadOp::create(b, loc, f32Type, gep(lBase, f32Type, slot));
        Value w = select(isNegInf(mg), f32(0.0),
                         exp2(arith::SubFOp::create(b, loc, mg, maxAll)));
        sum = math::FmaOp::create(b, loc, w, lg, sum);
        Value accOffset = add(mul(slot, idx(headDim)), mul(lane, idx(8)));
        SmallVector<Value> a =
            load8(gep(accBase, f32Type, accOffset), f32Type);
        for (int64_t d = 0; d < 8; ++d)
          merged[d] = math::FmaOp::create(b, loc, w, a[d], merged[d]);
      }
      auto [rowLseValue, empty] = rowLse(maxAll, sum);
      Value inv = arith::DivFOp::create(b, loc, f32(1.0), sum);
      for (int64_t d = 0; d < 8; ++d)
        out.values.push_back(
            select(empty, f32(0.0), arith::MulFOp::create(b, loc, merged[d],
                                                          inv)));
      lse.values.push_back(rowLseValue);
    }
    bind(normalize.getOut(), out);
    bind(normalize.getLse(), lse);
    return success();
  }
  if (auto store = dyn_cast<StoreOp>(op)) {
    Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
    int64_t rowsPerGroup = (rows + rowGroups - 1) / rowGroups;
    Value bIdx = mapped(store.getBatch()), token = mapped(store.getToken());
    Value head0 = mapped(store.getHead());
    Value count = store.getCount() ? mapped(store.getCount()) : idx(rows);
    for (int64_t j = 0; j < rowsPerGroup; ++j) {
      Value row = add(rowGroup, idx(rowGroups * j));
      Value inRange = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                            row, count);
      if (laneActive)
        inRange = arith::AndIOp::create(b, loc, inRange, laneActive);
      auto ifRow = scf::IfOp::create(b, loc, inRange);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
      Value head = add(head0, row);
      ArrayRef<Value> values = ArrayRef<Value>(o.values).slice(j * 8, 8);
      Value isLane0 = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq,
                                            lane, idx(0));
      if (!store.getSplit()) {
        Tensor &out = tensorFor(outArg);
        Value offset = add(elementOffset(out, {bIdx, token, head}),
                           toI64(mul(lane, idx(8))));
        store8(gep(out.ptr, elementType, offset), elementType, values);
        if (lseArg) {
          // lse [B, Hq, Lq]; a row without keys gets +inf.
          Value lsePtr = tensorFor(lseArg).ptr;
          Value nonNull = LLVM::ICmpOp::create(
              b, loc, LLVM::ICmpPredicate::ne, lsePtr,
              LLVM::ZeroOp::create(b, loc, lsePtr.getType()));
          Value write = arith::AndIOp::create(b, loc, isLane0, nonNull);
          auto ifLse = scf::IfOp::create(b, loc, write);
          b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
          Value index = add(mul(add(mul(bIdx, numHeads), head), seqlenQ),
                            token);
          Value value = select(isNegInf(lse.values[j]),
                               f32(std::numeric_limits<float>::infinity()),
                               lse.values[j]);
          LLVM::StoreOp::create(b, loc, value,
                                gep(lsePtr, b.getF32Type(), index));
        }
        continue;
      }
      // Partial: [S, B, Lq, Hq, D] and [S, B, Lq, Hq].
      Value split = mapped(store.getSplit());
      Value rowIndex = add(
          mul(add(mul(add(mul(split, batchCount), bIdx), seqlenQ), token),
              numHeads),
          head);
      Value offset =
          add(mul(rowIndex, idx(headDim)), mul(lane, idx(8)));
      store8(gep(tensorFor(partOutArg).ptr, b.getF32Type(), offset),
             b.getF32Type(), values);
      auto ifLse = scf::IfOp::create(b, loc, isLane0);
      b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
      LLVM::StoreOp::create(
          b, loc, lse.values[j],
          gep(tensorFor(partLseArg).ptr, b.getF32Type(), rowIndex));
    }
    return success();
  }
  return op->emitError("attn-lower-to-gpu: unsupported op");
}

void DecodeKernelEmitter::issueTileCopies(Value tileStart, Value limit,
                                          Value stage,
                                          ArrayRef<KvTileOp> loads,
                                          Value batch, Value kvHead) {
  for (auto [which, constLoad] : llvm::enumerate(loads)) {
    KvTileOp load = constLoad;
    Tensor &cache = tensorFor(load.getCache());
    Value stageBase =
        gep(smemBase, elementType,
            add(mul(stage, idx(2 * blockN * headDim)),
                idx(static_cast<int64_t>(which) * blockN * headDim)));
    for (int64_t i = 0; i < keysPerThread; ++i) {
      Value key = add(rowGroup, idx(rowGroups * i));
      Value pos = add(tileStart, key);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt,
                                          pos, limit);
      Value rowOffset = keyRowOffset(
          load, locateKey(load, batch, pos, valid, pageSize), kvHead);
      Value src = gep(cache.ptr, elementType,
                      add(rowOffset, toI64(mul(lane, idx(8)))));
      Value dst = gep(stageBase, elementType,
                      add(mul(key, idx(headDim)), mul(lane, idx(8))));
      if (!laneActive) {
        copyAsync(dst, src, valid);
        continue;
      }
      // A lane past head_dim / 8 copies nothing (its zero fill would race
      // with the copy of the lane whose chunk it addresses).
      auto ifLane = scf::IfOp::create(b, loc, laneActive);
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifLane.thenBlock()->getTerminator());
      copyAsync(dst, src, valid);
    }
  }
}

LogicalResult DecodeKernelEmitter::emitKvLoop(scf::ForOp loop) {
  FailureOr<KvLoop> kv = mapKvLoop(loop, blockN);
  if (failed(kv))
    return failure();
  // Plain copies: lambdas below capture them.
  SmallVector<KvTileOp> loads = kv->loads;
  Value begin = kv->begin, limit = kv->limit, batch = kv->batch,
        kvHead = kv->kvHead, numTiles = kv->numTiles;
  Value bn = idx(blockN);
  auto issue = [&](Value tile) {
    Value has = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, tile,
                                      numTiles);
    auto ifOp = scf::IfOp::create(b, loc, has);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
      Value stage = arith::RemUIOp::create(b, loc, tile, idx(stages));
      issueTileCopies(add(begin, mul(tile, bn)), limit, stage, loads, batch,
                      kvHead);
    }
    // Commit a group per tile slot, empty or not, so that wait_group counts
    // tiles.
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
  };
  for (int64_t s = 0; s + 1 < stages; ++s)
    issue(idx(s));

  return emitTileLoop(
      loop, begin, numTiles, blockN,
      [&](Value tile) {
        issue(add(tile, idx(stages - 1)));
        NVVM::CpAsyncWaitGroupOp::create(b, loc, stages - 1);
        currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
      },
      [] {});
}

struct AttnLowerToGpuPass
    : public attn::impl::AttnLowerToGpuBase<AttnLowerToGpuPass> {
  using AttnLowerToGpuBase::AttnLowerToGpuBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp f) {
      bool hasGrid = false;
      f.walk([&](scf::ParallelOp p) { hasGrid |= p->hasAttr("attn.grid"); });
      if (hasGrid)
        funcs.push_back(f);
    });
    if (funcs.empty())
      return;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    auto gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), "attn_kernels");
    b.setInsertionPointToStart(gpuModule.getBody());
    // The dynamic shared memory of every kernel of the module.
    auto smemType = LLVM::LLVMArrayType::get(b.getI8Type(), 0);
    auto smem = LLVM::GlobalOp::create(
        b, module.getLoc(), smemType, /*isConstant=*/false,
        LLVM::Linkage::External, "attn_dynamic_smem", Attribute(),
        /*alignment=*/16, kSharedSpace);
    for (func::FuncOp func : funcs) {
      bool prefill = false;
      func.walk([&](StoreRowsOp) { prefill = true; });
      LogicalResult emitted =
          prefill ? emitPrefillKernel(func, gpuModule, smem, stages, threads)
                  : DecodeKernelEmitter(func, gpuModule, smem, stages, threads)
                        .emit();
      if (failed(emitted))
        return signalPassFailure();
      func.erase();
    }
  }
};

} // namespace
