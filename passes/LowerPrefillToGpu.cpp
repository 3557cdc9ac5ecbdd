// attn-lower-to-gpu, prefill: the tiled online-softmax program over a
// (split, batch, q_block, head) grid mapped onto tensor-core warps, and the
// combine kernel of its splits.
//
// A CTA of W warps owns block_m = 16 W R query rows of one head: warp w owns
// the R row blocks 16 (r W + w) .. + 15, each the M of an
// mma.sync.m16n8k16, so that every K or V fragment a warp loads from shared
// memory feeds R MMAs. Lane l = 4 g + t (g = l / 4, t = l % 4) holds, of
// every [M, X] f32 tile (scores, P, acc), the accumulator fragments of the
// R x X / 8 blocks: value 4 (r X / 8 + j) + e is row 16 (r W + w) + g +
// 8 (e / 2), column 8 j + 2 t + e % 2. A [M] tile (max, sum, lse) is 2 R
// values per lane: slot 2 r + h is row 16 (r W + w) + g + 8 h; the four
// owners of a row (a quad) reduce with two xor shuffles. P is repacked from
// its accumulator fragments into A fragments without leaving registers.
//
// Q, and the K and V tiles of a multi-stage ring, are copied by all threads
// with 16-byte cp.async into shared memory as rows of D elements whose
// 16-byte chunk c of row n lives at chunk c ^ (n % 8) (the XOR swizzle makes
// the 8 rows an ldmatrix reads hit distinct banks; with head_dim 80 or 160
// the chunks past the last multiple of 8, 2 or 4 of them, swizzle among
// themselves by n % 2 or n % 4). Rows of C = head_dim / 8 chunks are copied
// as rows of C rounded up to a power of two, the threads of the chunks past
// C copying nothing. Q feeds QK^T through
// ldmatrix (A fragments), K tiles through ldmatrix (B fragments), V tiles
// feed PV through ldmatrix.trans. One barrier per tile separates the readers
// of a stage from its next writers. Paged K/V: tiles start at multiples of 16
// keys and pages hold multiples of 16 rows, so each 16-key granule of a tile
// lies in one page; its first row is located through block_table once per
// tile, a stage ahead, into a small table of granule offsets in shared memory
// after the stages, and the copies add the row within the granule.
#include "passes/GpuEmitter.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

class PrefillKernelEmitter : public KernelEmitterBase {
public:
  PrefillKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                       LLVM::GlobalOp smem, int64_t stages, int64_t threads)
      : KernelEmitterBase(func, module, smem), stages(stages),
        warps(threads / 32) {}

  LogicalResult emit();

private:
  LogicalResult analyse();
  void createKernel();
  /// The row tile of sequence `batch` that the CTA at grid z takes.
  Value rankRowTile(Value batch);
  /// Sequence `batch`'s length in cumulative `cuSeqlens`, an i32.
  Value lengthOf(Value cuSeqlens, Value batch) {
    Value ptr = tensorFor(cuSeqlens).ptr;
    return arith::SubIOp::create(b, loc, loadI32(ptr, add(batch, idx(1))),
                                 loadI32(ptr, batch));
  }
  LogicalResult emitOp(Operation *op) override;
  LogicalResult emitKvLoop(scf::ForOp loop);
  /// Issues the cp.async copies of K/V tile `tile` into its stage.
  void issueTileCopies(Value tile, Value tileStart, Value limit,
                       ArrayRef<KvTileOp> loads, Value kvHead);
  /// Paged: where the first key of this thread's 16-key granule of `tile`
  /// lives: its block_table entry (a load still in flight), whether it is a
  /// key of the sequence, and its row in the page (threads past the tile's
  /// blockN / 16 granules get nothing to store).
  struct GranuleLookup {
    Value entry, valid, inPage;
  };
  GranuleLookup findTile(Value tile, Value numTiles, Value tileStart,
                         Value limit, ArrayRef<KvTileOp> loads, Value batch);
  /// Writes the K and V element offsets of what findTile returned into the
  /// location slot of `tile`: the first use of the block_table entry.
  void storeLocation(Value tile, const GranuleLookup &at,
                     ArrayRef<KvTileOp> loads);
  /// The (K, V) i64 offset pair of 16-key granule `granule` in the location
  /// slot of `tile`.
  Value locationSlot(Value tile, Value granule);

  /// The shared-memory address of 16-byte chunk `chunk` of row `row` of
  /// tile `which` (0 = K, 1 = V) of `stage`, swizzled.
  Value tileChunk(Value stage, int64_t which, Value row, Value chunk);
  /// The same for the Q tile, which precedes the stages.
  Value qChunk(Value row, Value chunk);
  /// The swizzled byte offset of a chunk in a tile of D-element rows.
  Value swizzled(Value row, Value chunk);
  /// Row of row block r (0 .. R-1) and half h of this lane, within the tile.
  Value fragmentRow(int64_t r, int64_t half) {
    return add(add(mul(warp, idx(16)), groupRow),
               idx(16 * warps * r + 8 * half));
  }
  /// The [M] slot (2 r + h) of value k of a [M, cols] fragment.
  int64_t rowSlot(size_t k, int64_t cols) const {
    return 2 * (k / (cols / 2)) + (k % 4) / 2;
  }
  /// ldmatrix .x4 (transposed with `trans`): four b32 registers.
  SmallVector<Value> loadMatrices(Value ptr, bool trans);
  /// D = A B + C for one m16n8k16 tile: A four, B two b32 registers, C and
  /// the result four f32 values.
  SmallVector<Value> mma(ArrayRef<Value> a, Value b0, Value b1,
                         ArrayRef<Value> c);
  /// a * b for a non-negative index or i32 and an i64 stride below 2^31, as
  /// a 32 x 32 -> 64-bit multiply.
  Value wideMul(Value a, Value stride) {
    Type i32t = b.getI32Type(), i64t = b.getI64Type();
    if (a.getType().isIndex())
      a = arith::IndexCastUIOp::create(b, loc, i32t, a);
    Value narrow = arith::TruncIOp::create(b, loc, i32t, stride);
    return arith::MulIOp::create(b, loc, arith::ExtUIOp::create(b, loc, i64t, a),
                                 arith::ExtUIOp::create(b, loc, i64t, narrow));
  }
  /// Two f32 values as one b32 register of two elements of elementType.
  Value pack(Value lo, Value hi);
  /// Row-wise reduction of a [M, X] fragment within each quad.
  Fragment reduceRows(const Fragment &in, bool max);
  /// Accumulates P V into `acc` (an [M, D] fragment).
  Fragment emitPV(PVOp pv, Fragment acc);
  /// attn.store_rows: this thread's rows of the tile into out (and lse), or
  /// with a split into the split-KV workspace.
  LogicalResult emitStore(StoreRowsOp store);

  int64_t stages, warps;

  // Problem facts read from the tiled IR.
  int64_t rows = 0, headDim = 0, blockN = 0, rowBlocks = 0;
  Type elementType;
  Value qArg, kArg, vArg, cuQArg, cuKArg, tableArg, outArg, lseArg,
      partOutArg, partLseArg, splitsArg;
  scf::ParallelOp grid;

  // Emission state.
  Value warp, groupRow, quadLane, lane;
  Value smemBase, stagesBase, pageSize, totalQ, numKvHeads, numHeads, head,
      groupMagic, runtimeScale;
  /// Paged: floor((2^32 - 1) / page_size), once per CTA (locateKey).
  Value pageReciprocal;
  Value currentStage;
  /// attn.pv ops whose product is accumulated by the attn.addf that uses it.
  llvm::DenseSet<Operation *> fusedPV;
  /// Score tiles whose fragments hold the raw QK^T accumulators, still to be
  /// multiplied by scoreScale (which row_max and exp2_diff fold in).
  llvm::DenseSet<Value> unscaledScores;
  Value scoreScale;
  bool isUnscaled(Value v) { return unscaledScores.contains(v); }
};

LogicalResult PrefillKernelEmitter::analyse() {
  func.walk([&](Operation *op) {
    if (auto p = dyn_cast<scf::ParallelOp>(op))
      if (p->hasAttr("attn.grid"))
        grid = p;
    if (auto q = dyn_cast<LoadQRowsOp>(op)) {
      qArg = q.getQ();
      rows = q.getType().getDimSize(0);
      headDim = q.getType().getDimSize(1);
    }
    if (auto k = dyn_cast<KvTileOp>(op)) {
      auto type = cast<RankedTensorType>(k.getType());
      blockN = type.getDimSize(0);
      elementType = type.getElementType();
      tableArg = k.getBlockTable();
    }
    if (auto s = dyn_cast<SeqLenOp>(op); s && !cuQArg)
      cuQArg = s.getLengths();
    else if (s && s.getLengths() != cuQArg)
      cuKArg = s.getLengths();
    if (auto s = dyn_cast<StoreRowsOp>(op)) {
      (s.getSplit() ? partOutArg : outArg) = s.getOut();
      (s.getSplit() ? partLseArg : lseArg) = s.getLse();
    }
    if (auto q = dyn_cast<QKOp>(op))
      kArg = q.getK().getDefiningOp<KvTileOp>().getCache();
    if (auto pv = dyn_cast<PVOp>(op))
      vArg = pv.getV().getDefiningOp<KvTileOp>().getCache();
  });
  for (BlockArgument arg : func.getArguments())
    if (func.getArgAttr(arg.getArgNumber(), "attn.num_splits"))
      splitsArg = arg;
  if (!grid || !qArg || !kArg || !vArg || !cuQArg || !cuKArg || !outArg ||
      !partOutArg || !splitsArg)
    return func.emitError("attn-lower-to-gpu expects a split, tiled, "
                          "online-softmax prefill program (run attn-gqa-"
                          "broadcast, attn-split-kv, attn-tile and "
                          "attn-online-softmax first)");
  if (cast<ArrayAttr>(grid->getAttr("attn.grid")).size() != 4)
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
  if (tableArg && blockN / 16 > 32 * warps)
    return func.emitError("attn-lower-to-gpu: paged prefill locates a 16-key "
                          "granule per thread, so block_n / 16 (")
           << blockN / 16 << ") must not exceed the " << 32 * warps
           << " threads";
  // Copies: every thread takes a chunk of a row per pass, passes of a
  // multiple of 8 rows (one swizzle pattern) that divide the tiles.
  int64_t copyChunks = static_cast<int64_t>(llvm::PowerOf2Ceil(headDim / 8));
  int64_t rowsPerPass = 32 * warps / copyChunks;
  if ((32 * warps) % copyChunks != 0 || rowsPerPass % 8 != 0 ||
      blockN % rowsPerPass != 0 || rows % rowsPerPass != 0)
    return func.emitError("attn-lower-to-gpu: ")
           << 32 * warps << " threads copy rows of " << copyChunks
           << " chunks (head_dim / 8 rounded up to a power of two) in passes "
              "of "
           << rowsPerPass
           << " rows, which must be a multiple of 8 that divides block_m ("
           << rows << ") and block_n (" << blockN << ")";
  return success();
}

void PrefillKernelEmitter::createKernel() {
  MLIRContext *ctx = func.getContext();
  Type gptr = LLVM::LLVMPointerType::get(ctx, kGlobalSpace);
  Type i64 = b.getI64Type(), i32t = b.getI32Type();
  // docs/runtime_abi.md, "Prefill kernel".
  SmallVector<Type> params(8, gptr);
  params.append(11, i64);
  params.append(3, i32t);
  params.append({b.getF32Type(), gptr, gptr, i32t, i32t, i32t, i64});
  Block &entry = createKernelFunc(func.getSymName(), params, 32 * warps);
  auto arg = [&](unsigned i) { return entry.getArgument(i); };
  tensors[qArg] = {arg(0), {arg(8), arg(9)}};
  auto bindCache = [&](Value cache, Value ptr, unsigned first) {
    if (cast<MemRefType>(cache.getType()).getRank() == 3)
      tensors[cache] = {ptr, {arg(first + 1), arg(first + 2)}};
    else
      tensors[cache] = {ptr, {arg(first), arg(first + 1), arg(first + 2)}};
  };
  bindCache(kArg, arg(1), 10);
  bindCache(vArg, arg(2), 13);
  tensors[cuQArg] = {arg(3), {}};
  tensors[cuKArg] = {arg(4), {}};
  if (tableArg)
    tensors[tableArg] = {arg(5), {arg(16)}};
  tensors[outArg] = {arg(6), {arg(17), arg(18)}};
  if (lseArg)
    tensors[lseArg] = {arg(7), {}};
  numKvHeads = toIndex(arg(19));
  pageSize = toIndex(arg(20));
  if (tableArg)
    pageReciprocal = arith::DivUIOp::create(b, loc, i32(0xFFFFFFFF), arg(20));
  totalQ = toIndex(arg(21));
  runtimeScale = arg(22);
  tensors[partOutArg] = {arg(23), {}};
  tensors[partLseArg] = {arg(24), {}};
  Value numSplits = toIndex(arg(25));
  mapping.map(splitsArg, numSplits);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  groupRow = arith::DivUIOp::create(b, loc, lane, idx(4));
  quadLane = arith::RemUIOp::create(b, loc, lane, idx(4));
  smemBase = LLVM::AddressOfOp::create(b, loc, smem);
  stagesBase = gep(smemBase, elementType, idx(rows * headDim));
  numHeads = toIndex(arg(26));
  groupMagic = arg(28);

  // Grid: x = split << head_shift | head (2^head_shift >= Hq, so that both
  // come out of shifts and masks, which keep the CTA's indices, and the
  // key range and loop bounds derived from them, in uniform registers; a
  // division by a launch value does not), y = batch, z = rank of the row
  // tile by its visible keys (rankRowTile). The hardware starts CTAs in x,
  // y, z order, so the row tiles with the most keys go first.
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value shift = toIndex(arg(27));
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], arith::ShRUIOp::create(b, loc, bx, shift));
  mapping.map(ivs[1], by);
  mapping.map(ivs[2], rankRowTile(by));
  head = arith::AndIOp::create(
      b, loc, bx, sub(arith::ShLIOp::create(b, loc, idx(1), shift), idx(1)));
  mapping.map(ivs[3], head);
}

Value PrefillKernelEmitter::rankRowTile(Value batch) {
  // Under a causal mask, row tile t of a sequence of Lq rows and Lk keys
  // sees Lk - Lq + min((t + 1) M, Lq) keys: its tiles count down from
  // Lk / M tiles' worth, and those of a sequence with a long cached prefix
  // see more than those of a shorter one. Grid z = Z (>= every sequence's
  // T = ceil(Lq / M) row tiles) ranks them all against Z M keys: sequence b
  // takes z = shift .. shift + T - 1 for its tiles T - 1 .. 0, with shift =
  // max(0, Z - max(ceil(Lk / M), T)), which puts a tile's z near (Z M -
  // its keys) / M; the other z have nothing to do (tile T). Without a mask
  // every tile of a sequence sees Lk keys, and longer sequences go first.
  Type i32t = b.getI32Type();
  auto ceilTiles = [&](Value len) {
    return arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, len, i32(rows - 1)), i32(rows));
  };
  auto asI32 = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, i32t, v);
  };
  Value tiles = ceilTiles(lengthOf(cuQArg, batch));
  Value keyTiles = arith::MaxUIOp::create(
      b, loc, ceilTiles(lengthOf(cuKArg, batch)), tiles);
  Value z = asI32(gpu::BlockIdOp::create(b, loc, gpu::Dimension::z));
  Value extent = asI32(gpu::GridDimOp::create(b, loc, gpu::Dimension::z));
  Value shift = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, extent, keyTiles), i32(0));
  Value fromLast = arith::SubIOp::create(b, loc, z, shift);
  Value tile = select(cmp(arith::CmpIPredicate::ult, fromLast, tiles),
                      arith::SubIOp::create(
                          b, loc, arith::SubIOp::create(b, loc, tiles, i32(1)),
                          fromLast),
                      tiles);
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), tile);
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
  auto ifHead = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::ult, head, numHeads));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifHead.thenBlock()->getTerminator());
    if (failed(emitBlock(*grid.getBody())))
      return failure();
  }
  CombineOp combine;
  func.walk([&](CombineOp c) { combine = c; });
  if (!combine)
    return func.emitError("attn-lower-to-gpu: the split prefill program has "
                          "no attn.combine");
  emitCombineKernel(combine, elementType, headDim);
  return success();
}

Value PrefillKernelEmitter::swizzled(Value row, Value chunk) {
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

Value PrefillKernelEmitter::tileChunk(Value stage, int64_t which, Value row,
                                      Value chunk) {
  Value tile = add(mul(stage, idx(2 * blockN * headDim * 2)),
                   idx(which * blockN * headDim * 2));
  return gep(stagesBase, b.getI8Type(), add(tile, swizzled(row, chunk)));
}

Value PrefillKernelEmitter::qChunk(Value row, Value chunk) {
  return gep(smemBase, b.getI8Type(), swizzled(row, chunk));
}

SmallVector<Value> PrefillKernelEmitter::loadMatrices(Value ptr, bool trans) {
  Type i32t = b.getI32Type();
  auto type = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                               {i32t, i32t, i32t, i32t});
  Value m = NVVM::LdMatrixOp::create(
      b, loc, type, ptr, 4,
      trans ? NVVM::MMALayout::col : NVVM::MMALayout::row,
      NVVM::LdStMatrixShapeAttr::get(b.getContext(), 8, 8),
      NVVM::LdStMatrixEltType::B16);
  SmallVector<Value> regs;
  for (int64_t i = 0; i < 4; ++i)
    regs.push_back(LLVM::ExtractValueOp::create(b, loc, m, i));
  return regs;
}

SmallVector<Value> PrefillKernelEmitter::mma(ArrayRef<Value> a, Value b0,
                                             Value b1, ArrayRef<Value> c) {
  Type f32t = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                     {f32t, f32t, f32t, f32t});
  SmallVector<Value> aRegs(a), bRegs{b0, b1};
  NVVM::MMATypes type = NVVM::MMATypes::bf16;
  if (elementType.isF16()) {
    // f16 operands are <2 x half> registers; bf16 ones stay i32.
    type = NVVM::MMATypes::f16;
    auto half2 = VectorType::get({2}, b.getF16Type());
    for (Value &r : aRegs)
      r = LLVM::BitcastOp::create(b, loc, half2, r);
    for (Value &r : bRegs)
      r = LLVM::BitcastOp::create(b, loc, half2, r);
  }
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, aRegs, bRegs, c, {16, 8, 16}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

Value PrefillKernelEmitter::pack(Value lo, Value hi) {
  auto f32x2 = VectorType::get({2}, b.getF32Type());
  Value v = LLVM::PoisonOp::create(b, loc, f32x2);
  v = vector::InsertOp::create(b, loc, lo, v, 0);
  v = vector::InsertOp::create(b, loc, hi, v, 1);
  v = arith::TruncFOp::create(b, loc, VectorType::get({2}, elementType), v);
  return LLVM::BitcastOp::create(b, loc, b.getI32Type(), v);
}

Fragment PrefillKernelEmitter::reduceRows(const Fragment &in, bool max) {
  auto combine = [&](Value x, Value y) -> Value {
    if (max)
      return arith::MaximumFOp::create(b, loc, x, y);
    return arith::AddFOp::create(b, loc, x, y);
  };
  int64_t cols = 2 * in.values.size() / rowBlocks;
  Fragment out;
  out.values.resize(2 * rowBlocks);
  for (size_t k = 0; k < in.values.size(); ++k) {
    Value &r = out.values[rowSlot(k, cols)];
    r = r ? combine(r, in.values[k]) : in.values[k];
  }
  for (Value &r : out.values)
    for (int64_t off : {1, 2})
      r = combine(r, shflXor(r, off));
  return out;
}

Fragment PrefillKernelEmitter::emitPV(PVOp pv, Fragment acc) {
  Fragment p = lookup(pv.getP());
  int64_t pPerBlock = blockN / 2, accPerBlock = headDim / 2;
  // Lanes 8 i .. 8 i + 7 address matrix i: keys 16 kk + 8 (i % 2) + r of
  // the d chunks 2 dp + i / 2.
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value keyOffset = add(mul(arith::RemUIOp::create(b, loc, matrix, idx(2)),
                            idx(8)),
                        arith::RemUIOp::create(b, loc, lane, idx(8)));
  Value chunkOffset = arith::DivUIOp::create(b, loc, matrix, idx(2));
  for (int64_t kk = 0; kk < blockN / 16; ++kk) {
    // A fragments of P for keys 16 kk .. 16 kk + 15, one per row block.
    SmallVector<SmallVector<Value>> a;
    for (int64_t r = 0; r < rowBlocks; ++r) {
      ArrayRef<Value> s =
          ArrayRef<Value>(p.values).slice(r * pPerBlock + 8 * kk, 8);
      a.push_back({pack(s[0], s[1]), pack(s[2], s[3]), pack(s[4], s[5]),
                   pack(s[6], s[7])});
    }
    Value key = add(idx(16 * kk), keyOffset);
    for (int64_t dp = 0; dp < headDim / 16; ++dp) {
      SmallVector<Value> v = loadMatrices(
          tileChunk(currentStage, 1, key, add(idx(2 * dp), chunkOffset)),
          /*trans=*/true);
      for (int64_t r = 0; r < rowBlocks; ++r)
        for (int64_t half = 0; half < 2; ++half) {
          int64_t first = r * accPerBlock + 4 * (2 * dp + half);
          SmallVector<Value> c(ArrayRef<Value>(acc.values).slice(first, 4));
          SmallVector<Value> d = mma(a[r], v[2 * half], v[2 * half + 1], c);
          std::copy(d.begin(), d.end(), acc.values.begin() + first);
        }
    }
  }
  return acc;
}

LogicalResult PrefillKernelEmitter::emitOp(Operation *op) {
  for (Value operand : op->getOperands())
    if (isUnscaled(operand) && !isa<MaskOp, RowMaxOp, Exp2DiffOp>(op))
      return op->emitError("attn-lower-to-gpu: the prefill lowering folds the "
                           "score scale into row_max and exp2_diff; this use "
                           "of the scores is not supported");
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      auto type = cast<RankedTensorType>(c.getType());
      int64_t count = rowBlocks * (type.getRank() == 1 ? 2 : type.getDimSize(1) / 2);
      Value v = f32(dense.getSplatValue<APFloat>().convertToFloat());
      bind(c, Fragment{SmallVector<Value>(count, v)});
      return success();
    }
    b.clone(*op, mapping);
    return success();
  }
  if (isElementwise(op)) {
    // acc * alpha + P V: the mma accumulates onto the rescaled acc.
    for (unsigned i = 0; i < 2 && isa<arith::AddFOp>(op); ++i)
      if (auto pv = op->getOperand(i).getDefiningOp<PVOp>();
          pv && fusedPV.contains(pv)) {
        bind(op->getResult(0), emitPV(pv, lookup(op->getOperand(1 - i))));
        return success();
      }
    bind(op->getResult(0), emitElementwise(op));
    return success();
  }
  if (isa<arith::ArithDialect>(op->getDialect())) {
    b.clone(*op, mapping);
    return success();
  }
  if (auto seqLen = dyn_cast<SeqLenOp>(op)) {
    if (!seqLen.getCumulative())
      return seqLen.emitError("attn-lower-to-gpu: prefill lengths come from "
                              "cu_seqlens");
    mapping.map(seqLen.getResult(),
                toIndex(lengthOf(seqLen.getLengths(),
                                 mapped(seqLen.getBatch()))));
    return success();
  }
  if (auto start = dyn_cast<SeqStartOp>(op)) {
    mapping.map(start.getRow(),
                toIndex(loadI32(tensorFor(start.getCuSeqlens()).ptr,
                                mapped(start.getBatch()))));
    return success();
  }
  if (auto kvHead = dyn_cast<KvHeadOp>(op)) {
    // head / G with G from the launch, one kernel for every G: the launch's
    // group_magic = ceil(2^32 / G) makes it (head x magic) >> 32, exact for
    // head < 2^16, without a division, which would take the CTA's indices
    // out of uniform registers.
    Value product = arith::MulIOp::create(
        b, loc, toI64(mapped(kvHead.getHead())), groupMagic);
    mapping.map(kvHead.getKvHead(),
                toIndex(arith::ShRUIOp::create(
                    b, loc, product,
                    arith::ConstantIntOp::create(b, loc, b.getI64Type(), 32))));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQRowsOp>(op)) {
    // Copied into shared memory as its own cp.async group (the K/V pipeline
    // waits for it with its first tile); qk reads it with ldmatrix. Rows past
    // `count` are zero-filled without being read.
    Tensor &q = tensorFor(qArg);
    Value head = mapped(loadQ.getHead()), count = mapped(loadQ.getCount());
    int64_t chunksPerRow = llvm::PowerOf2Ceil(headDim / 8),
            threads = 32 * warps;
    int64_t rowsPerPass = threads / chunksPerRow;
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    Value firstRow = arith::DivUIOp::create(b, loc, tid, idx(chunksPerRow));
    Value chunk = arith::RemUIOp::create(b, loc, tid, idx(chunksPerRow));
    // Threads of the chunks past head_dim / 8 copy nothing.
    std::optional<OpBuilder::InsertionGuard> guard;
    if (chunksPerRow != headDim / 8) {
      guard.emplace(b);
      auto ifChunk = scf::IfOp::create(
          b, loc, cmp(arith::CmpIPredicate::ult, chunk, idx(headDim / 8)));
      b.setInsertionPoint(ifChunk.thenBlock()->getTerminator());
    }
    Value base = add(add(wideMul(add(mapped(loadQ.getRow()), firstRow),
                                 q.strides[0]),
                         mul(toI64(head), q.strides[1])),
                     toI64(mul(chunk, idx(8))));
    for (int64_t i = 0; i < rows / rowsPerPass; ++i) {
      Value row = add(firstRow, idx(rowsPerPass * i));
      Value offset = add(base, mul(toI64(idx(rowsPerPass * i)), q.strides[0]));
      copyAsync(qChunk(row, chunk), gep(q.ptr, elementType, offset),
                cmp(arith::CmpIPredicate::slt, row, count));
    }
    guard.reset();
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
    bind(loadQ, Fragment{});
    return success();
  }
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    if (!loop->hasAttr("attn.kv_loop"))
      return loop.emitError("attn-lower-to-gpu: unexpected scf.for");
    return emitKvLoop(loop);
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
    // Results are score fragments (the masked scores) or nothing.
    SmallVector<unsigned> sizes;
    for (Type t : ifOp.getResultTypes())
      sizes.push_back(rowBlocks * cast<RankedTensorType>(t).getDimSize(1) / 2);
    if (failed(emitIf(ifOp, sizes)))
      return failure();
    for (auto [i, result] : llvm::enumerate(ifOp.getResults()))
      if (ifOp.elseBlock() &&
          isUnscaled(ifOp.thenYield().getOperand(i)) &&
          isUnscaled(ifOp.elseYield().getOperand(i)))
        unscaledScores.insert(result);
    return success();
  }
  if (auto qk = dyn_cast<QKOp>(op)) {
    int64_t perBlock = blockN / 2;
    SmallVector<Value> s(rowBlocks * perBlock, f32(0.0));
    // Lanes 8 i .. 8 i + 7 address matrix i. K (B fragments): keys
    // 16 jp + 8 (i / 2) + r of the d chunk 2 kk + i % 2. Q (A fragments):
    // rows 8 (i % 2) + r of the row block, d chunk 2 kk + i / 2.
    Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
    Value inMatrix = arith::RemUIOp::create(b, loc, lane, idx(8));
    Value kChunk = arith::RemUIOp::create(b, loc, matrix, idx(2));
    Value kKey = add(mul(arith::DivUIOp::create(b, loc, matrix, idx(2)),
                         idx(8)),
                     inMatrix);
    Value qChunkOffset = arith::DivUIOp::create(b, loc, matrix, idx(2));
    Value qRow = add(add(mul(warp, idx(16)), mul(kChunk, idx(8))), inMatrix);
    for (int64_t kk = 0; kk < headDim / 16; ++kk) {
      SmallVector<SmallVector<Value>> a;
      for (int64_t r = 0; r < rowBlocks; ++r)
        a.push_back(loadMatrices(qChunk(add(qRow, idx(16 * warps * r)),
                                        add(idx(2 * kk), qChunkOffset)),
                                 /*trans=*/false));
      for (int64_t jp = 0; jp < blockN / 16; ++jp) {
        SmallVector<Value> k = loadMatrices(
            tileChunk(currentStage, 0, add(idx(16 * jp), kKey),
                      add(idx(2 * kk), kChunk)),
            /*trans=*/false);
        for (int64_t r = 0; r < rowBlocks; ++r)
          for (int64_t half = 0; half < 2; ++half) {
            int64_t first = r * perBlock + 4 * (2 * jp + half);
            SmallVector<Value> d =
                mma(a[r], k[2 * half], k[2 * half + 1],
                    ArrayRef<Value>(s).slice(first, 4));
            std::copy(d.begin(), d.end(), s.begin() + first);
          }
      }
    }
    // The op's scale (log2(e) folded in) times the launch's softmax_scale,
    // applied by the consumers: row_max scales its results, exp2_diff
    // folds it into an fma.
    scoreScale = arith::MulFOp::create(
        b, loc, f32(qk.getScale().convertToFloat()), runtimeScale);
    unscaledScores.insert(qk.getResult());
    bind(qk, Fragment{s});
    return success();
  }
  if (auto mask = dyn_cast<MaskOp>(op)) {
    Fragment in = lookup(mask.getScores()), out;
    Value start = mapped(mask.getStart()), end = mapped(mask.getEnd());
    Value diagonal = mapped(mask.getDiagonal());
    Value negInf = f32(-std::numeric_limits<float>::infinity());
    Value firstKey = add(start, mul(quadLane, idx(2)));
    SmallVector<Value> lastKey; // the last key each row slot sees
    for (int64_t slot = 0; slot < 2 * rowBlocks; ++slot)
      lastKey.push_back(add(diagonal,
                            arith::DivUIOp::create(
                                b, loc, fragmentRow(slot / 2, slot % 2),
                                idx(mask.getRowsPerToken()))));
    for (size_t k = 0; k < in.values.size(); ++k) {
      int64_t block = (k % (blockN / 2)) / 4;
      Value key = add(firstKey, idx(8 * block + k % 2));
      Value keep = cmp(arith::CmpIPredicate::slt, key, end);
      if (mask.getCausal())
        keep = arith::AndIOp::create(
            b, loc, keep,
            cmp(arith::CmpIPredicate::sle, key, lastKey[rowSlot(k, blockN)]));
      out.values.push_back(select(keep, in.values[k], negInf));
    }
    if (isUnscaled(mask.getScores()))
      unscaledScores.insert(mask.getResult());
    bind(mask, out);
    return success();
  }
  if (auto rowMax = dyn_cast<RowMaxOp>(op)) {
    // The scale is positive: the max of the raw scores, scaled, is the max.
    Fragment max = reduceRows(lookup(rowMax.getTile()), /*max=*/true);
    if (isUnscaled(rowMax.getTile()))
      for (Value &v : max.values)
        v = arith::MulFOp::create(b, loc, v, scoreScale);
    bind(rowMax, max);
    return success();
  }
  if (auto rowSum = dyn_cast<RowSumOp>(op)) {
    bind(rowSum, reduceRows(lookup(rowSum.getTile()), /*max=*/false));
    return success();
  }
  if (auto diff = dyn_cast<Exp2DiffOp>(op)) {
    Fragment x = lookup(diff.getX()), m = lookup(diff.getM()), out;
    bool rowVector = cast<RankedTensorType>(diff.getType()).getRank() == 1;
    bool unscaled = isUnscaled(diff.getX());
    // exp2(x - m), 0 where m is -inf: subtracting +inf instead gives that 0
    // with one select per row rather than per element.
    SmallVector<Value> negMax;
    for (Value mv : m.values)
      negMax.push_back(select(isNegInf(mv),
                              f32(-std::numeric_limits<float>::infinity()),
                              arith::NegFOp::create(b, loc, mv)));
    int64_t cols = rowVector ? 0 : cast<RankedTensorType>(diff.getType()).getDimSize(1);
    for (size_t k = 0; k < x.values.size(); ++k) {
      Value bias = negMax[rowVector ? k : rowSlot(k, cols)];
      Value arg =
          unscaled ? math::FmaOp::create(b, loc, x.values[k], scoreScale, bias)
                         .getResult()
                   : arith::AddFOp::create(b, loc, x.values[k], bias).getResult();
      out.values.push_back(exp2(arg));
    }
    bind(diff, out);
    return success();
  }
  if (auto pv = dyn_cast<PVOp>(op)) {
    if (pv->hasOneUse() && isa<arith::AddFOp>(*pv->getUsers().begin())) {
      fusedPV.insert(pv);
      return success();
    }
    bind(pv, emitPV(pv, Fragment{SmallVector<Value>(rowBlocks * headDim / 2,
                                                    f32(0.0))}));
    return success();
  }
  if (auto scale = dyn_cast<ScaleRowsOp>(op)) {
    // The accumulator's rescale by exp2(old max - new max): once the running
    // max of a row stops growing, its factor is exactly 1 (ex2 of 0), and a
    // warp whose rows all keep their max skips the multiplies (x * 1 == x,
    // so the result is the same bit for bit).
    Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor());
    Value changed;
    for (Value factor : f.values) {
      Value c = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE,
                                      factor, f32(1.0));
      changed = changed ? arith::OrIOp::create(b, loc, changed, c) : c;
    }
    Value anyChanged = NVVM::VoteSyncOp::create(
        b, loc, b.getI1Type(), i32(-1), changed, NVVM::VoteSyncKind::any);
    SmallVector<Type> types(t.values.size(), b.getF32Type());
    auto ifOp = scf::IfOp::create(b, loc, types, anyChanged,
                                  /*withElseRegion=*/true);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(ifOp.thenBlock());
      SmallVector<Value> scaled;
      for (size_t k = 0; k < t.values.size(); ++k)
        scaled.push_back(arith::MulFOp::create(
            b, loc, t.values[k], f.values[rowSlot(k, headDim)]));
      scf::YieldOp::create(b, loc, scaled);
      b.setInsertionPointToStart(ifOp.elseBlock());
      scf::YieldOp::create(b, loc, t.values);
    }
    bind(scale, Fragment{SmallVector<Value>(ifOp.getResults())});
    return success();
  }
  if (auto normalize = dyn_cast<NormalizeOp>(op)) {
    // Every row is whole in its quad: no merge needed.
    Fragment acc = lookup(normalize.getAcc()), m = lookup(normalize.getMax());
    Fragment l = lookup(normalize.getSum()), out, lse;
    SmallVector<Value> inv, empty;
    for (int64_t slot = 0; slot < 2 * rowBlocks; ++slot) {
      auto [value, noKey] = rowLse(m.values[slot], l.values[slot]);
      lse.values.push_back(value);
      empty.push_back(noKey);
      inv.push_back(arith::DivFOp::create(b, loc, f32(1.0), l.values[slot]));
    }
    for (size_t k = 0; k < acc.values.size(); ++k) {
      int64_t slot = rowSlot(k, headDim);
      out.values.push_back(select(
          empty[slot], f32(0.0),
          arith::MulFOp::create(b, loc, acc.values[k], inv[slot])));
    }
    bind(normalize.getOut(), out);
    bind(normalize.getLse(), lse);
    return success();
  }
  if (auto store = dyn_cast<StoreRowsOp>(op))
    return emitStore(store);
  return op->emitError("attn-lower-to-gpu: unsupported op in prefill");
}

LogicalResult PrefillKernelEmitter::emitStore(StoreRowsOp store) {
  // One split: rows of out's element type, and lse [Hq, total_q] with -inf
  // (no key) written as +inf. Several: f32 rows of the workspace
  // [S, total_q, Hq, D] and their lse [S, total_q, Hq] as is (the combine
  // weighs -inf 0).
  bool partial = static_cast<bool>(store.getSplit());
  Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
  Type f32t = b.getF32Type();
  Value head = mapped(store.getHead()), count = mapped(store.getCount());
  Value lsePtr = partial ? tensorFor(partLseArg).ptr
                 : lseArg ? tensorFor(lseArg).ptr
                          : Value();
  for (int64_t slot = 0; slot < 2 * rowBlocks; ++slot) {
    int64_t half = slot % 2;
    Value r = fragmentRow(slot / 2, half);
    auto ifRow = scf::IfOp::create(b, loc,
                                   cmp(arith::CmpIPredicate::slt, r, count));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    Value row = add(mapped(store.getRow()), r);
    Value rowPtr, lseIndex;
    if (partial) {
      lseIndex = add(
          mul(add(mul(mapped(store.getSplit()), totalQ), row), numHeads),
          head);
      rowPtr = gep(tensorFor(partOutArg).ptr, f32t,
                   mul(lseIndex, idx(headDim)));
    } else {
      Tensor &out = tensorFor(outArg);
      rowPtr = gep(out.ptr, elementType, elementOffset(out, {row, head}));
      lseIndex = add(mul(head, totalQ), row);
    }
    ArrayRef<Value> values =
        ArrayRef<Value>(o.values).slice(slot / 2 * headDim / 2, headDim / 2);
    for (int64_t block = 0; block < headDim / 8; ++block) {
      // Columns 8 block + 2 t and + 1 of the row: a pair of f32 or of 16-bit
      // elements.
      Value col = add(idx(8 * block), mul(quadLane, idx(2)));
      Value lo = values[4 * block + 2 * half],
            hi = values[4 * block + 2 * half + 1];
      if (partial) {
        Value pair = LLVM::PoisonOp::create(b, loc, VectorType::get({2}, f32t));
        pair = vector::InsertOp::create(b, loc, lo, pair, 0);
        pair = vector::InsertOp::create(b, loc, hi, pair, 1);
        LLVM::StoreOp::create(b, loc, pair, gep(rowPtr, f32t, col), 8);
      } else {
        LLVM::StoreOp::create(b, loc, pack(lo, hi),
                              gep(rowPtr, elementType, col), 4);
      }
    }
    if (!lsePtr)
      continue;
    Value write = cmp(arith::CmpIPredicate::eq, quadLane, idx(0));
    Value value = lse.values[slot];
    if (!partial) {
      // The caller's lse may be null.
      write = arith::AndIOp::create(
          b, loc, write,
          LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::ne, lsePtr,
                               LLVM::ZeroOp::create(b, loc, lsePtr.getType())));
      value = select(isNegInf(value),
                     f32(std::numeric_limits<float>::infinity()), value);
    }
    auto ifLse = scf::IfOp::create(b, loc, write);
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, value, gep(lsePtr, f32t, lseIndex));
  }
  return success();
}

Value PrefillKernelEmitter::locationSlot(Value tile, Value granule) {
  // After the K/V stages: `stages` slots of blockN / 16 (K, V) i64 offsets.
  Value base = gep(stagesBase, elementType, idx(stages * 2 * blockN * headDim));
  Value slot = arith::RemUIOp::create(b, loc, tile, idx(stages));
  return gep(base, b.getI64Type(),
             mul(add(mul(slot, idx(blockN / 16)), granule), idx(2)));
}

PrefillKernelEmitter::GranuleLookup
PrefillKernelEmitter::findTile(Value tile, Value numTiles, Value tileStart,
                               Value limit, ArrayRef<KvTileOp> loads,
                               Value batch) {
  // Thread g < blockN / 16 looks granule g (keys tileStart + 16 g .. + 15)
  // up for every thread. Nothing here waits for the block_table load: its
  // first use is storeLocation's, after the current tile's MMAs (a use here
  // would stall the warp on the load's latency every tile, and the other
  // warps on it at the next barrier).
  Type i32t = b.getI32Type(), i1t = b.getI1Type();
  Value granule = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value locates = arith::AndIOp::create(
      b, loc, cmp(arith::CmpIPredicate::ult, granule, idx(blockN / 16)),
      cmp(arith::CmpIPredicate::ult, tile, numTiles));
  auto ifOp =
      scf::IfOp::create(b, loc, TypeRange{i32t, i1t, b.getIndexType()},
                        locates, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  // Position 0 stands in for a granule past the sequence's end, whose
  // block_table entry must not be read.
  Value pos = add(tileStart, mul(granule, idx(16)));
  Value valid = cmp(arith::CmpIPredicate::slt, pos, limit);
  PageLookup at = lookupPage(loads[0], batch, select(valid, pos, idx(0)),
                             pageSize, pageReciprocal);
  scf::YieldOp::create(b, loc, ValueRange{at.entry, valid, at.inPage});
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(
      b, loc,
      ValueRange{i32(0), arith::ConstantIntOp::create(b, loc, i1t, 0), idx(0)});
  return {ifOp.getResult(0), ifOp.getResult(1), ifOp.getResult(2)};
}

void PrefillKernelEmitter::storeLocation(Value tile, const GranuleLookup &at,
                                         ArrayRef<KvTileOp> loads) {
  Value granule = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  auto ifOp = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::ult, granule, idx(blockN / 16)));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  Value page = select(at.valid, toIndex(at.entry), idx(0));
  auto pairType = VectorType::get({2}, b.getI64Type());
  Value pair = LLVM::PoisonOp::create(b, loc, pairType);
  for (auto [which, constLoad] : llvm::enumerate(loads)) {
    Tensor &cache = tensorFor(KvTileOp(constLoad).getCache());
    Value offset = add(wideMul(page, cache.strides[0]),
                       wideMul(at.inPage, cache.strides[1]));
    pair = vector::InsertOp::create(b, loc, offset, pair,
                                    static_cast<int64_t>(which));
  }
  LLVM::StoreOp::create(b, loc, pair, locationSlot(tile, granule), 16);
}

void PrefillKernelEmitter::issueTileCopies(Value tile, Value tileStart,
                                           Value limit, ArrayRef<KvTileOp> loads,
                                           Value kvHead) {
  // Thread t copies chunk t % C of rows t / C + P i (C chunks a row, P rows
  // a pass): one base address per tensor and constant steps, and, P being a
  // multiple of 8, the same swizzled chunk in every pass.
  // (C is head_dim / 8 rounded up to a power of two; threads of the chunks
  // past head_dim / 8 copy nothing.)
  int64_t chunksPerRow = llvm::PowerOf2Ceil(headDim / 8), threads = 32 * warps;
  int64_t rowsPerPass = threads / chunksPerRow;
  bool paged = KvTileOp(loads[0]).getPageSize() != 0;
  Value stage = arith::RemUIOp::create(b, loc, tile, idx(stages));
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value firstKey = arith::DivUIOp::create(b, loc, tid, idx(chunksPerRow));
  Value chunk = arith::RemUIOp::create(b, loc, tid, idx(chunksPerRow));
  OpBuilder::InsertionGuard guard(b);
  if (chunksPerRow != headDim / 8) {
    auto ifChunk = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::ult, chunk, idx(headDim / 8)));
    b.setInsertionPoint(ifChunk.thenBlock()->getTerminator());
  }
  // Indices and strides (checked by the runtime) fit in 32 bits: their
  // products are single mul.wide.u32s. Per tensor, what every pass adds.
  SmallVector<Value, 2> common;
  for (KvTileOp load : loads) {
    Tensor &cache = tensorFor(load.getCache());
    common.push_back(add(mul(toI64(kvHead), cache.strides.back()),
                         toI64(mul(chunk, idx(8)))));
  }
  // Paged: pass i copies rows of granule granuleOf[i], whose (K, V) offsets
  // are one 16-byte shared load, all issued before the first copy (a load
  // between two cp.asyncs, which write shared memory, would not be merged
  // with another or moved ahead of them). When passes are at most 16 rows
  // and divide 16 (firstKey < rowsPerPass), a pass's granule and row in it
  // are known, and passes in one granule share its load.
  bool knownGranule = 16 % rowsPerPass == 0;
  int64_t passes = blockN / rowsPerPass;
  SmallVector<std::array<Value, 2>> granules;
  SmallVector<size_t> granuleOf;
  auto loadGranule = [&](Value granule) {
    Value pair = LLVM::LoadOp::create(b, loc,
                                      VectorType::get({2}, b.getI64Type()),
                                      locationSlot(tile, granule), 16);
    granules.push_back({vector::ExtractOp::create(b, loc, pair, 0),
                        vector::ExtractOp::create(b, loc, pair, 1)});
  };
  if (paged) {
    for (int64_t i = 0; i < passes; ++i) {
      if (!knownGranule)
        loadGranule(arith::DivUIOp::create(
            b, loc, add(firstKey, idx(rowsPerPass * i)), idx(16)));
      else if (rowsPerPass * i % 16 == 0)
        loadGranule(idx(rowsPerPass * i / 16));
      granuleOf.push_back(granules.size() - 1);
    }
    if (knownGranule)
      for (size_t which = 0; which < loads.size(); ++which)
        common[which] = add(
            common[which],
            wideMul(firstKey,
                    tensorFor(KvTileOp(loads[which]).getCache()).strides[1]));
  }
  for (int64_t i = 0; i < passes; ++i) {
    Value key = add(firstKey, idx(rowsPerPass * i));
    Value valid = cmp(arith::CmpIPredicate::slt, add(tileStart, key), limit);
    for (auto [which, constLoad] : llvm::enumerate(loads)) {
      KvTileOp load = constLoad;
      Tensor &cache = tensorFor(load.getCache());
      Value offset = common[which];
      if (paged && knownGranule) {
        offset = add(add(granules[granuleOf[i]][which], offset),
                     mul(toI64(idx(rowsPerPass * i % 16)), cache.strides[1]));
      } else if (paged) {
        Value inGranule = arith::RemUIOp::create(b, loc, key, idx(16));
        offset = add(add(granules[granuleOf[i]][which],
                         wideMul(inGranule, cache.strides[1])),
                     offset);
      } else {
        // Rows past the limit copy nothing (source size 0), so their
        // addresses need no clamping.
        offset = add(add(wideMul(add(tileStart, firstKey), cache.strides[0]),
                         mul(toI64(idx(rowsPerPass * i)), cache.strides[0])),
                     offset);
      }
      copyAsync(tileChunk(stage, static_cast<int64_t>(which), key, chunk),
                gep(cache.ptr, elementType, offset), valid);
    }
  }
}

LogicalResult PrefillKernelEmitter::emitKvLoop(scf::ForOp loop) {
  FailureOr<KvLoop> kv = mapKvLoop(loop, blockN);
  if (failed(kv))
    return failure();
  // Plain copies: lambdas below capture them.
  SmallVector<KvTileOp> loads = kv->loads;
  Value begin = kv->begin, limit = kv->limit, batch = kv->batch,
        kvHead = kv->kvHead, numTiles = kv->numTiles;
  Value bn = idx(blockN);
  bool paged = loads[0].getPageSize() != 0;
  auto tileStart = [&](Value tile) { return add(begin, mul(tile, bn)); };
  auto ifTile = [&](Value tile, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc,
                                  cmp(arith::CmpIPredicate::ult, tile, numTiles));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  };
  // Paged: each tile's granules are located through block_table once, a
  // stage ahead of their copies, into a shared-memory slot that the barrier
  // of the next iteration publishes. In the loop, the block_table load is issued
  // before the tile's compute and its result stored after it, so that its
  // latency hides behind the MMAs.
  auto find = [&](Value tile) {
    return findTile(tile, numTiles, tileStart(tile), limit, loads, batch);
  };
  auto issue = [&](Value tile) {
    ifTile(tile, [&] {
      issueTileCopies(tile, tileStart(tile), limit, loads, kvHead);
    });
    // A group per tile slot, empty or not, so that wait_group counts tiles.
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
  };
  if (paged) {
    for (int64_t s = 0; s < stages; ++s)
      storeLocation(idx(s), find(idx(s)), loads);
    gpu::BarrierOp::create(b, loc);
  }
  for (int64_t s = 0; s + 1 < stages; ++s)
    issue(idx(s));

  Value ahead;
  GranuleLookup location;
  return emitTileLoop(
      loop, begin, numTiles, blockN,
      [&](Value tile) {
        // Tile `tile` has landed for every thread, and every warp is done
        // with tile - 1, whose stage the next copies overwrite.
        NVVM::CpAsyncWaitGroupOp::create(b, loc, stages - 2);
        gpu::BarrierOp::create(b, loc);
        issue(add(tile, idx(stages - 1)));
        ahead = add(tile, idx(stages));
        if (paged)
          location = find(ahead);
        currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
      },
      [&] {
        if (paged)
          storeLocation(ahead, location, loads);
      });
}

} // namespace

LogicalResult mlir::attn::emitPrefillKernel(func::FuncOp func,
                                            gpu::GPUModuleOp module,
                                            LLVM::GlobalOp smem, int64_t stages,
                                            int64_t threads) {
  if (stages < 2)
    return func.emitError("attn-lower-to-gpu: prefill needs at least 2 "
                          "stages, got ")
           << stages;
  return PrefillKernelEmitter(func, module, smem, stages, threads).emit();
}
