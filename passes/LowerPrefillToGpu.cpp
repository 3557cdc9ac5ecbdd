// attn-lower-to-gpu, prefill: the tiled online-softmax program over a
// (batch, q_block, head) grid mapped onto tensor-core warps.
//
// A CTA of W warps owns block_m = 16 W query rows of one head; warp w owns
// rows 16 w .. 16 w + 15, the M of one mma.sync.m16n8k16. Lane l = 4 g + t
// (g = l / 4, t = l % 4) holds, of every [M, X] f32 tile (scores, P, acc),
// the accumulator fragments of the X / 8 n8 blocks: value 4 j + e is row
// 16 w + g + 8 (e / 2), column 8 j + 2 t + e % 2. A [M] tile (max, sum, lse)
// is two values per lane: rows 16 w + g and 16 w + g + 8, whose four owners
// (the lanes of a quad) reduce with two xor shuffles. The Q tile stays in
// registers as mma A fragments (four 32-bit registers of two 16-bit elements
// per k16 chunk); P is repacked from its accumulator fragments into A
// fragments without leaving registers.
//
// K and V tiles are copied by all threads with 16-byte cp.async into a
// multi-stage ring in shared memory, rows of D elements whose 16-byte chunk
// c of row n lives at chunk c ^ (n % 8) (the XOR swizzle makes the 8 rows an
// ldmatrix reads hit distinct banks). K tiles feed QK^T through ldmatrix
// (B fragments), V tiles feed PV through ldmatrix.trans. One barrier per tile
// separates the readers of a stage from its next writers. Paged K/V rows are
// located through block_table once per tile, a stage ahead, into a small
// table in shared memory after the stages.
#include "passes/GpuEmitter.h"

using namespace mlir;
using namespace mlir::attn;

namespace {

class PrefillKernelEmitter : public KernelEmitterBase {
public:
  PrefillKernelEmitter(func::FuncOp func, gpu::GPUModuleOp module,
                       LLVM::GlobalOp smem, int64_t stages)
      : KernelEmitterBase(func, module, smem), stages(stages) {}

  LogicalResult emit();

private:
  LogicalResult analyse();
  void createKernel();
  LogicalResult emitBlock(Block &block);
  LogicalResult emitOp(Operation *op);
  LogicalResult emitKvLoop(scf::ForOp loop);
  /// Issues the cp.async copies of K/V tile `tile` into its stage.
  void issueTileCopies(Value tile, Value tileStart, Value limit,
                       ArrayRef<KvTileOp> loads, Value kvHead);
  /// Paged: writes where the keys of `tile` live into its location slot.
  void locateTile(Value tile, Value tileStart, Value limit, KvTileOp load,
                  Value batch);
  /// The (outer, row) i32 pair of `key` in the location slot of `tile`.
  Value locationSlot(Value tile, Value key);

  /// The shared-memory address of 16-byte chunk `chunk` of row `row` of
  /// tile `which` (0 = K, 1 = V) of `stage`, swizzled.
  Value tileChunk(Value stage, int64_t which, Value row, Value chunk);
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

  int64_t stages;

  // Problem facts read from the tiled IR.
  int64_t rows = 0, headDim = 0, blockN = 0, warps = 0;
  Type elementType;
  Value qArg, kArg, vArg, cuQArg, cuKArg, tableArg, outArg, lseArg;
  scf::ParallelOp grid;

  // Emission state.
  Value warp, groupRow, quadLane, lane;
  Value smemBase, pageSize, totalQ, numKvHeads, numHeads, runtimeScale;
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
      outArg = s.getOut();
      lseArg = s.getLse();
    }
    if (auto q = dyn_cast<QKOp>(op))
      kArg = q.getK().getDefiningOp<KvTileOp>().getCache();
    if (auto pv = dyn_cast<PVOp>(op))
      vArg = pv.getV().getDefiningOp<KvTileOp>().getCache();
  });
  if (!grid || !qArg || !kArg || !vArg || !cuQArg || !cuKArg || !outArg)
    return func.emitError("attn-lower-to-gpu expects a tiled, online-softmax "
                          "prefill program (run attn-gqa-broadcast, attn-tile "
                          "and attn-online-softmax first)");
  if (rows % 16 != 0 || blockN % 16 != 0 || headDim % 16 != 0)
    return func.emitError("attn-lower-to-gpu: prefill tiles must be multiples "
                          "of 16, got block_m ")
           << rows << ", block_n " << blockN << ", head_dim " << headDim;
  if (!elementType.isF16() && !elementType.isBF16())
    return func.emitError("attn-lower-to-gpu: prefill needs f16 or bf16 "
                          "K/V, got ")
           << elementType;
  warps = rows / 16;
  if (tableArg && blockN > 32 * warps)
    return func.emitError("attn-lower-to-gpu: paged prefill locates a key per "
                          "thread, so block_n (")
           << blockN << ") must not exceed the " << 32 * warps << " threads";
  if ((blockN * headDim / 8) % (32 * warps) != 0)
    return func.emitError("attn-lower-to-gpu: the 16-byte chunks of a KV "
                          "tile (")
           << blockN * headDim / 8 << ") must spread evenly over "
           << 32 * warps << " threads";
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
  params.push_back(b.getF32Type());
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
  totalQ = toIndex(arg(21));
  runtimeScale = arg(22);

  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  groupRow = arith::DivUIOp::create(b, loc, lane, idx(4));
  quadLane = arith::RemUIOp::create(b, loc, lane, idx(4));
  smemBase = LLVM::AddressOfOp::create(b, loc, smem);
  numHeads = gpu::GridDimOp::create(b, loc, gpu::Dimension::y);

  // Grid: x = row tile, longest causal rows first; y = head; z = batch.
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value lastTile = arith::SubIOp::create(
      b, loc, gpu::GridDimOp::create(b, loc, gpu::Dimension::x), idx(1));
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], gpu::BlockIdOp::create(b, loc, gpu::Dimension::z));
  mapping.map(ivs[1], arith::SubIOp::create(b, loc, lastTile, bx));
  mapping.map(ivs[2], gpu::BlockIdOp::create(b, loc, gpu::Dimension::y));
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
  return emitBlock(*grid.getBody());
}

LogicalResult PrefillKernelEmitter::emitBlock(Block &block) {
  for (Operation &op : block.without_terminator())
    if (failed(emitOp(&op)))
      return failure();
  return success();
}

Value PrefillKernelEmitter::tileChunk(Value stage, int64_t which, Value row,
                                      Value chunk) {
  int64_t chunksPerRow = headDim / 8;
  Value swizzled = arith::XOrIOp::create(
      b, loc, chunk,
      arith::AndIOp::create(b, loc, row,
                            idx(std::min<int64_t>(chunksPerRow, 8) - 1)));
  Value element =
      add(add(mul(stage, idx(2 * blockN * headDim)), idx(which * blockN * headDim)),
          add(mul(row, idx(headDim)), mul(swizzled, idx(8))));
  return gep(smemBase, elementType, element);
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
  Fragment out;
  for (int64_t half = 0; half < 2; ++half) {
    Value r;
    for (size_t k = 0; k < in.values.size(); ++k)
      if ((k % 4) / 2 == static_cast<size_t>(half))
        r = r ? combine(r, in.values[k]) : in.values[k];
    for (int64_t off : {1, 2})
      r = combine(r, shflXor(r, off));
    out.values.push_back(r);
  }
  return out;
}

Fragment PrefillKernelEmitter::emitPV(PVOp pv, Fragment acc) {
  Fragment p = lookup(pv.getP());
  for (int64_t kk = 0; kk < blockN / 16; ++kk) {
    ArrayRef<Value> s(p.values);
    SmallVector<Value> a{pack(s[8 * kk], s[8 * kk + 1]),
                        pack(s[8 * kk + 2], s[8 * kk + 3]),
                        pack(s[8 * kk + 4], s[8 * kk + 5]),
                        pack(s[8 * kk + 6], s[8 * kk + 7])};
    // Lanes 8 i .. 8 i + 7 address matrix i: keys 16 kk + 8 (i % 2) + r of
    // the d chunks 2 dp + i / 2.
    Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
    Value key = add(idx(16 * kk),
                    add(mul(arith::RemUIOp::create(b, loc, matrix, idx(2)),
                            idx(8)),
                        arith::RemUIOp::create(b, loc, lane, idx(8))));
    Value chunkOffset = arith::DivUIOp::create(b, loc, matrix, idx(2));
    for (int64_t dp = 0; dp < headDim / 16; ++dp) {
      SmallVector<Value> v = loadMatrices(
          tileChunk(currentStage, 1, key, add(idx(2 * dp), chunkOffset)),
          /*trans=*/true);
      for (int64_t half = 0; half < 2; ++half) {
        int64_t block = 2 * dp + half;
        SmallVector<Value> c(
            ArrayRef<Value>(acc.values).slice(4 * block, 4));
        SmallVector<Value> d = mma(a, v[2 * half], v[2 * half + 1], c);
        std::copy(d.begin(), d.end(), acc.values.begin() + 4 * block);
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
      int64_t count = type.getRank() == 1 ? 2 : type.getDimSize(1) / 2;
      Value v = f32(dense.getSplatValue<APFloat>().convertToFloat());
      bind(c, Fragment{SmallVector<Value>(count, v)});
      return success();
    }
    b.clone(*op, mapping);
    return success();
  }
  if (isa<arith::MaximumFOp, arith::AddFOp, arith::MulFOp>(op) &&
      isa<RankedTensorType>(op->getResult(0).getType())) {
    // acc * alpha + P V: the mma accumulates onto the rescaled acc.
    for (unsigned i = 0; i < 2 && isa<arith::AddFOp>(op); ++i)
      if (auto pv = op->getOperand(i).getDefiningOp<PVOp>();
          pv && fusedPV.contains(pv)) {
        bind(op->getResult(0), emitPV(pv, lookup(op->getOperand(1 - i))));
        return success();
      }
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
    bind(op->getResult(0), out);
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
    Value ptr = tensorFor(seqLen.getLengths()).ptr;
    Value bIdx = mapped(seqLen.getBatch());
    Value len = arith::SubIOp::create(b, loc, loadI32(ptr, add(bIdx, idx(1))),
                                      loadI32(ptr, bIdx));
    mapping.map(seqLen.getResult(), toIndex(len));
    return success();
  }
  if (auto start = dyn_cast<SeqStartOp>(op)) {
    mapping.map(start.getRow(),
                toIndex(loadI32(tensorFor(start.getCuSeqlens()).ptr,
                                mapped(start.getBatch()))));
    return success();
  }
  if (auto kvHead = dyn_cast<KvHeadOp>(op)) {
    // The group from the launch (Hq = gridDim.y): one kernel for every G.
    Value group = arith::DivUIOp::create(b, loc, numHeads, numKvHeads);
    mapping.map(kvHead.getKvHead(),
                arith::DivUIOp::create(b, loc, mapped(kvHead.getHead()), group));
    return success();
  }
  if (auto loadQ = dyn_cast<LoadQRowsOp>(op)) {
    // A fragments straight from global memory: register i of chunk kk holds
    // row g + 8 (i % 2), columns 16 kk + 8 (i / 2) + 2 t, +1.
    Tensor &q = tensorFor(qArg);
    Value head = mapped(loadQ.getHead()), count = mapped(loadQ.getCount());
    Fragment frag;
    SmallVector<Value> rowPtr, rowValid;
    for (int64_t half = 0; half < 2; ++half) {
      Value r = add(add(mul(warp, idx(16)), groupRow), idx(8 * half));
      Value valid = cmp(arith::CmpIPredicate::slt, r, count);
      Value row = add(mapped(loadQ.getRow()), select(valid, r, idx(0)));
      rowPtr.push_back(gep(q.ptr, elementType, elementOffset(q, {row, head})));
      rowValid.push_back(valid);
    }
    Value zero = i32(0);
    for (int64_t kk = 0; kk < headDim / 16; ++kk)
      for (int64_t i = 0; i < 4; ++i) {
        Value col = add(idx(16 * kk + 8 * (i / 2)), mul(quadLane, idx(2)));
        Value ptr = gep(rowPtr[i % 2], elementType, col);
        Value v = LLVM::LoadOp::create(b, loc, b.getI32Type(), ptr, 4);
        frag.values.push_back(select(rowValid[i % 2], v, zero));
      }
    bind(loadQ, frag);
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
    SmallVector<Type> types;
    for (Type t : ifOp.getResultTypes()) {
      sizes.push_back(cast<RankedTensorType>(t).getDimSize(1) / 2);
      types.append(sizes.back(), b.getF32Type());
    }
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
    for (auto [i, result] : llvm::enumerate(ifOp.getResults()))
      if (ifOp.elseBlock() &&
          isUnscaled(ifOp.thenYield().getOperand(i)) &&
          isUnscaled(ifOp.elseYield().getOperand(i)))
        unscaledScores.insert(result);
    return success();
  }
  if (auto qk = dyn_cast<QKOp>(op)) {
    Fragment q = lookup(qk.getQ());
    SmallVector<Value> s(blockN / 2, f32(0.0));
    // Lanes 8 i .. 8 i + 7 address matrix i: keys 16 jp + 8 (i / 2) + r of
    // the d chunk 2 kk + i % 2.
    Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
    Value chunkOffset = arith::RemUIOp::create(b, loc, matrix, idx(2));
    Value keyOffset =
        add(mul(arith::DivUIOp::create(b, loc, matrix, idx(2)), idx(8)),
            arith::RemUIOp::create(b, loc, lane, idx(8)));
    for (int64_t kk = 0; kk < headDim / 16; ++kk) {
      ArrayRef<Value> a = ArrayRef<Value>(q.values).slice(4 * kk, 4);
      for (int64_t jp = 0; jp < blockN / 16; ++jp) {
        SmallVector<Value> k = loadMatrices(
            tileChunk(currentStage, 0, add(idx(16 * jp), keyOffset),
                      add(idx(2 * kk), chunkOffset)),
            /*trans=*/false);
        for (int64_t half = 0; half < 2; ++half) {
          int64_t block = 2 * jp + half;
          SmallVector<Value> d =
              mma(a, k[2 * half], k[2 * half + 1],
                  ArrayRef<Value>(s).slice(4 * block, 4));
          std::copy(d.begin(), d.end(), s.begin() + 4 * block);
        }
      }
    }
    // The op's scale (log2(e) folded in) times the launch's softmax_scale,
    // applied by the consumers: row_max scales its two results, exp2_diff
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
    Value firstRow = add(mul(warp, idx(16)), groupRow);
    for (size_t k = 0; k < in.values.size(); ++k) {
      int64_t block = k / 4, e = k % 4;
      Value key = add(firstKey, idx(8 * block + e % 2));
      Value keep = cmp(arith::CmpIPredicate::slt, key, end);
      if (mask.getCausal()) {
        Value row = add(firstRow, idx(8 * (e / 2)));
        Value last = add(diagonal, arith::DivUIOp::create(
                                       b, loc, row, idx(mask.getRowsPerToken())));
        keep = arith::AndIOp::create(b, loc, keep,
                                     cmp(arith::CmpIPredicate::sle, key, last));
      }
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
    for (size_t k = 0; k < x.values.size(); ++k) {
      Value bias = negMax[rowVector ? k : (k % 4) / 2];
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
    bind(pv, emitPV(pv, Fragment{SmallVector<Value>(headDim / 2, f32(0.0))}));
    return success();
  }
  if (auto scale = dyn_cast<ScaleRowsOp>(op)) {
    Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor()), out;
    for (size_t k = 0; k < t.values.size(); ++k)
      out.values.push_back(
          arith::MulFOp::create(b, loc, t.values[k], f.values[(k % 4) / 2]));
    bind(scale, out);
    return success();
  }
  if (auto normalize = dyn_cast<NormalizeOp>(op)) {
    // Every row is whole in its quad: no merge needed.
    Fragment acc = lookup(normalize.getAcc()), m = lookup(normalize.getMax());
    Fragment l = lookup(normalize.getSum()), out, lse;
    SmallVector<Value> inv, empty;
    for (int64_t half = 0; half < 2; ++half) {
      auto [value, noKey] = rowLse(m.values[half], l.values[half]);
      lse.values.push_back(value);
      empty.push_back(noKey);
      inv.push_back(arith::DivFOp::create(b, loc, f32(1.0), l.values[half]));
    }
    for (size_t k = 0; k < acc.values.size(); ++k) {
      int64_t half = (k % 4) / 2;
      out.values.push_back(select(
          empty[half], f32(0.0),
          arith::MulFOp::create(b, loc, acc.values[k], inv[half])));
    }
    bind(normalize.getOut(), out);
    bind(normalize.getLse(), lse);
    return success();
  }
  if (auto store = dyn_cast<StoreRowsOp>(op)) {
    Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
    Tensor &out = tensorFor(outArg);
    Value head = mapped(store.getHead()), count = mapped(store.getCount());
    for (int64_t half = 0; half < 2; ++half) {
      Value r = add(add(mul(warp, idx(16)), groupRow), idx(8 * half));
      auto ifRow = scf::IfOp::create(b, loc,
                                     cmp(arith::CmpIPredicate::slt, r, count));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
      Value row = add(mapped(store.getRow()), r);
      Value rowPtr =
          gep(out.ptr, elementType, elementOffset(out, {row, head}));
      for (int64_t block = 0; block < headDim / 8; ++block) {
        Value col = add(idx(8 * block), mul(quadLane, idx(2)));
        Value pair = pack(o.values[4 * block + 2 * half],
                          o.values[4 * block + 2 * half + 1]);
        LLVM::StoreOp::create(b, loc, pair, gep(rowPtr, elementType, col), 4);
      }
      if (!lseArg)
        continue;
      // lse [Hq, total_q]; a row without keys gets +inf.
      Value lsePtr = tensorFor(lseArg).ptr;
      Value nonNull = LLVM::ICmpOp::create(
          b, loc, LLVM::ICmpPredicate::ne, lsePtr,
          LLVM::ZeroOp::create(b, loc, lsePtr.getType()));
      Value write = arith::AndIOp::create(
          b, loc, nonNull, cmp(arith::CmpIPredicate::eq, quadLane, idx(0)));
      auto ifLse = scf::IfOp::create(b, loc, write);
      b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
      Value value = select(isNegInf(lse.values[half]),
                           f32(std::numeric_limits<float>::infinity()),
                           lse.values[half]);
      LLVM::StoreOp::create(
          b, loc, value,
          gep(lsePtr, b.getF32Type(), add(mul(head, totalQ), row)));
    }
    return success();
  }
  return op->emitError("attn-lower-to-gpu: unsupported op in prefill");
}

Value PrefillKernelEmitter::locationSlot(Value tile, Value key) {
  // After the K/V stages: `stages` slots of blockN (outer, row) i32 pairs.
  Value base = gep(smemBase, elementType, idx(stages * 2 * blockN * headDim));
  Value slot = arith::RemUIOp::create(b, loc, tile, idx(stages));
  return gep(base, b.getI32Type(),
             mul(add(mul(slot, idx(blockN)), key), idx(2)));
}

void PrefillKernelEmitter::locateTile(Value tile, Value tileStart, Value limit,
                                      KvTileOp load, Value batch) {
  // Thread n < blockN locates key tileStart + n for every thread.
  Value key = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  auto ifOp = scf::IfOp::create(b, loc,
                                cmp(arith::CmpIPredicate::ult, key, idx(blockN)));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  Value pos = add(tileStart, key);
  KeyLocation at = locateKey(load, batch, pos,
                             cmp(arith::CmpIPredicate::slt, pos, limit),
                             pageSize);
  Value slot = locationSlot(tile, key);
  Type i32t = b.getI32Type();
  LLVM::StoreOp::create(b, loc, arith::IndexCastOp::create(b, loc, i32t, at.outer),
                        slot);
  LLVM::StoreOp::create(b, loc, arith::IndexCastOp::create(b, loc, i32t, at.row),
                        gep(slot, i32t, idx(1)));
}

void PrefillKernelEmitter::issueTileCopies(Value tile, Value tileStart,
                                           Value limit, ArrayRef<KvTileOp> loads,
                                           Value kvHead) {
  int64_t chunksPerRow = headDim / 8, threads = 32 * warps;
  bool paged = KvTileOp(loads[0]).getPageSize() != 0;
  Value stage = arith::RemUIOp::create(b, loc, tile, idx(stages));
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  for (int64_t i = 0; i < blockN * chunksPerRow / threads; ++i) {
    // The same chunk of one key row of K and of V (paged: located by
    // locateTile, read from shared memory).
    Value chunkId = add(tid, idx(threads * i));
    Value key = arith::DivUIOp::create(b, loc, chunkId, idx(chunksPerRow));
    Value chunk = arith::RemUIOp::create(b, loc, chunkId, idx(chunksPerRow));
    Value pos = add(tileStart, key);
    Value valid = cmp(arith::CmpIPredicate::slt, pos, limit);
    Value page, row;
    if (paged) {
      Value slot = locationSlot(tile, key);
      page = LLVM::LoadOp::create(b, loc, b.getI32Type(), slot);
      row = LLVM::LoadOp::create(b, loc, b.getI32Type(),
                                 gep(slot, b.getI32Type(), idx(1)));
    }
    for (auto [which, constLoad] : llvm::enumerate(loads)) {
      KvTileOp load = constLoad;
      Tensor &cache = tensorFor(load.getCache());
      // Written so that the part that does not change from tile to tile
      // (head and chunk, and the key's row when packed) is loop-invariant.
      // Indices and strides (checked by the runtime) fit in 32 bits: their
      // products are single mul.wide.u32s.
      Value offset = add(mul(toI64(kvHead), cache.strides.back()),
                         toI64(mul(chunk, idx(8))));
      if (paged) {
        offset = add(add(wideMul(page, cache.strides[0]),
                         wideMul(row, cache.strides[1])),
                     offset);
      } else {
        // Rows past the limit copy nothing (source size 0), so their
        // addresses need no clamping.
        offset = add(wideMul(tileStart, cache.strides[0]),
                     add(wideMul(key, cache.strides[0]), offset));
      }
      copyAsync(tileChunk(stage, static_cast<int64_t>(which), key, chunk),
                gep(cache.ptr, elementType, offset), valid);
    }
  }
}

LogicalResult PrefillKernelEmitter::emitKvLoop(scf::ForOp loop) {
  SmallVector<KvTileOp> loads;
  loop.getBody()->walk([&](KvTileOp load) { loads.push_back(load); });
  if (loads.size() != 2)
    return loop.emitError("attn-lower-to-gpu expects a K and a V tile load");
  Value begin = mapped(loop.getLowerBound()), end = mapped(loop.getUpperBound());
  Value limit = mapped(loads[0].getLimit());
  Value batch = mapped(loads[0].getBatch());
  Value kvHead = mapped(loads[0].getKvHead());
  Value bn = idx(blockN);
  Value span = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, end, begin), idx(0));
  Value numTiles = arith::CeilDivUIOp::create(b, loc, span, bn);
  bool paged = loads[0].getPageSize() != 0;
  auto tileStart = [&](Value tile) { return add(begin, mul(tile, bn)); };
  auto ifTile = [&](Value tile, function_ref<void()> body) {
    auto ifOp = scf::IfOp::create(b, loc,
                                  cmp(arith::CmpIPredicate::ult, tile, numTiles));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  };
  // Paged: each tile's rows are located through block_table once, a stage
  // ahead of their copies, into a shared-memory slot that the barrier of the
  // next iteration publishes.
  auto locate = [&](Value tile) {
    if (paged)
      ifTile(tile, [&] {
        locateTile(tile, tileStart(tile), limit, loads[0], batch);
      });
  };
  auto issue = [&](Value tile) {
    ifTile(tile, [&] {
      issueTileCopies(tile, tileStart(tile), limit, loads, kvHead);
    });
    // A group per tile slot, empty or not, so that wait_group counts tiles.
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
  };
  for (int64_t s = 0; s < stages; ++s)
    locate(idx(s));
  if (paged)
    gpu::BarrierOp::create(b, loc);
  for (int64_t s = 0; s + 1 < stages; ++s)
    issue(idx(s));

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
    // Tile `tile` has landed for every thread, and every warp is done with
    // tile - 1, whose stage the next copies overwrite.
    NVVM::CpAsyncWaitGroupOp::create(b, loc, stages - 2);
    gpu::BarrierOp::create(b, loc);
    issue(add(tile, idx(stages - 1)));
    locate(add(tile, idx(stages)));
    currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
    mapping.map(loop.getInductionVar(), add(begin, mul(tile, bn)));
    bindFlattened(loop.getRegionIterArgs(), newLoop.getRegionIterArgs(), sizes);
    for (Operation &op : loop.getBody()->without_terminator()) {
      if (isa<KvTileOp>(op))
        continue; // copied by `issue`, read by qk / pv from the stage
      if (failed(emitOp(&op)))
        return failure();
    }
    yieldFlattened(loop.getBody(), body);
  }
  bindFlattened(loop.getResults(), newLoop.getResults(), sizes);
  return success();
}

} // namespace

LogicalResult mlir::attn::emitPrefillKernel(func::FuncOp func,
                                            gpu::GPUModuleOp module,
                                            LLVM::GlobalOp smem,
                                            int64_t stages) {
  if (stages < 2)
    return func.emitError("attn-lower-to-gpu: prefill needs at least 2 "
                          "stages, got ")
           << stages;
  return PrefillKernelEmitter(func, module, smem, stages).emit();
}
