// The prefill kernel's lowering of each tile op: the dispatch, one function
// per op, and the row reductions, P V and stores they share.
#include "passes/gpu/PrefillKernel.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult PrefillKernelEmitter::emitOp(Operation *op) {
  // The producer warpgroup keeps the program's control and K/V loop (its
  // copies) and drops what the consumers compute and store.
  if (producerMode && isa<LoadQRowsOp, NormalizeOp, StoreRowsOp>(op))
    return success();
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue())) {
      auto type = cast<RankedTensorType>(c.getType());
      int64_t count =
          rowBlocks * (type.getRank() == 1 ? 2 : type.getDimSize(1) / 2);
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
  if (auto seqLen = dyn_cast<SeqLenOp>(op))
    return lowerSeqLen(seqLen);
  if (auto start = dyn_cast<SeqStartOp>(op)) {
    mapping.map(start.getRow(),
                toIndex(loadI32(tensorFor(start.getCuSeqlens()).ptr,
                                mapped(start.getBatch()))));
    return success();
  }
  if (auto kvHead = dyn_cast<KvHeadOp>(op))
    return lowerKvHead(kvHead);
  if (auto loadQ = dyn_cast<LoadQRowsOp>(op))
    return lowerLoadQRows(loadQ);
  if (auto loop = dyn_cast<scf::ForOp>(op)) {
    if (!loop->hasAttr(AttnDialect::KvLoopAttrHelper::getNameStr()))
      return loop.emitError("attn-lower-to-gpu: unexpected scf.for");
    return emitKvLoop(loop);
  }
  if (auto ifOp = dyn_cast<scf::IfOp>(op))
    return lowerIf(ifOp);
  if (auto pvAcc = dyn_cast<PVAccOp>(op); pvAcc && deferredAcc) {
    // Deferred: this tile's P waits in shared memory for its PV, issued
    // after the next tile's QK (issueDeferredPV) or the loop (emitLastPV);
    // the previous PV, which read the P tiles, has completed.
    awaitDeferredPV();
    storePTiles(lookup(pvAcc.getP()));
    // Without a producer the next tile's CTA barrier publishes P.
    if (producer)
      publishPTiles();
    bind(pvAcc, lookup(pvAcc.getAcc()));
    return success();
  }
  if (auto pvAcc = dyn_cast<PVAccOp>(op)) {
    // acc * alpha + P V: the mma accumulates onto the rescaled acc.
    bind(pvAcc, emitPV(pvAcc.getP(), lookup(pvAcc.getAcc())));
    return success();
  }
  if (std::optional<LogicalResult> lowered = emitTileOp(op))
    return *lowered;
  if (auto store = dyn_cast<StoreRowsOp>(op))
    return emitStore(store);
  return op->emitError("attn-lower-to-gpu: unsupported op in prefill");
}

LogicalResult PrefillKernelEmitter::lowerRowSum(RowSumOp rowSum) {
  bind(rowSum, reduceRows(lookup(rowSum.getTile()), /*max=*/false));
  return success();
}

LogicalResult PrefillKernelEmitter::lowerSeqLen(SeqLenOp seqLen) {
  if (!seqLen.getCumulative())
    return seqLen.emitError("attn-lower-to-gpu: prefill lengths come from "
                            "cu_seqlens");
  mapping.map(seqLen.getResult(), toIndex(lengthOf(seqLen.getLengths(),
                                                   mapped(seqLen.getBatch()))));
  return success();
}

LogicalResult PrefillKernelEmitter::lowerKvHead(KvHeadOp kvHead) {
  // head / G with G from the launch, one kernel for every G: the launch's
  // group_magic = ceil(2^32 / G) makes it (head x magic) >> 32, exact for
  // head < 2^16, without a division, which would take the CTA's indices
  // out of uniform registers.
  Value product = arith::MulIOp::create(b, loc, toI64(mapped(kvHead.getHead())),
                                        groupMagic);
  mapping.map(kvHead.getKvHead(),
              toIndex(arith::ShRUIOp::create(
                  b, loc, product,
                  arith::ConstantIntOp::create(b, loc, b.getI64Type(), 32))));
  return success();
}

LogicalResult PrefillKernelEmitter::lowerLoadQRows(LoadQRowsOp loadQ) {
  // Copied into shared memory as its own cp.async group (the K/V pipeline
  // waits for it with its first tile); qk reads it with ldmatrix. Rows past
  // `count` are zero-filled without being read.
  Tensor &q = tensorFor(qArg);
  Value head = mapped(loadQ.getHead()), count = mapped(loadQ.getCount());
  int64_t chunksPerRow = llvm::PowerOf2Ceil(headDim / 8), threads = 32 * warps;
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
  Value base =
      add(add(wideMul(add(mapped(loadQ.getRow()), firstRow), q.strides[0]),
              mul(toI64(head), q.strides[1])),
          toI64(mul(chunk, idx(8))));
  // Chunks past the call's head_dim are zero-filled without being read.
  Value bytes = select(cmp(arith::CmpIPredicate::ult, chunk, callChunks),
                       i32(16), i32(0));
  for (int64_t i = 0; i < rows / rowsPerPass; ++i) {
    Value row = add(firstRow, idx(rowsPerPass * i));
    Value offset = add(base, mul(toI64(idx(rowsPerPass * i)), q.strides[0]));
    copyAsync(qChunk(row, chunk), gep(q.ptr, elementType, offset),
              cmp(arith::CmpIPredicate::slt, row, count), bytes);
  }
  guard.reset();
  NVVM::CpAsyncCommitGroupOp::create(b, loc);
  bind(loadQ, Fragment{});
  return success();
}

LogicalResult PrefillKernelEmitter::lowerIf(scf::IfOp ifOp) {
  // Results are score fragments (the masked scores) or nothing.
  SmallVector<unsigned> sizes;
  for (Type t : ifOp.getResultTypes())
    sizes.push_back(rowBlocks * cast<RankedTensorType>(t).getDimSize(1) / 2);
  return emitIf(ifOp, sizes);
}

LogicalResult PrefillKernelEmitter::lowerQK(QKOp qk) {
  SmallVector<Value> s = (wgmma ? emitQKWgmma() : emitQKMmaSync()).values;
  // The op's scale (log2(e) folded in) times the launch's softmax_scale.
  // Deferred (attn-fuse-tile-ops), the consumers apply it: row_max scales
  // its results, exp2_diff folds it into an fma.
  scoreScale = arith::MulFOp::create(
      b, loc, f32(qk.getScale().convertToFloat()), runtimeScale);
  if (!qk->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr()))
    for (Value &v : s)
      v = arith::MulFOp::create(b, loc, v, scoreScale);
  bind(qk, Fragment{s});
  return success();
}

Fragment PrefillKernelEmitter::emitQKMmaSync() {
  int64_t perBlock = blockN / 2;
  SmallVector<Value> s(rowBlocks * perBlock, f32(0.0));
  // Lanes 8 i .. 8 i + 7 address matrix i. K (B fragments): keys
  // 16 jp + 8 (i / 2) + r of the d chunk 2 kk + i % 2. Q (A fragments):
  // rows 8 (i % 2) + r of the row block, d chunk 2 kk + i / 2.
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value inMatrix = arith::RemUIOp::create(b, loc, lane, idx(8));
  Value kChunk = arith::RemUIOp::create(b, loc, matrix, idx(2));
  Value kKey = add(mul(arith::DivUIOp::create(b, loc, matrix, idx(2)), idx(8)),
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
      SmallVector<Value> k =
          loadMatrices(tileChunk(currentStage, 0, add(idx(16 * jp), kKey),
                                 add(idx(2 * kk), kChunk)),
                       /*trans=*/false);
      for (int64_t r = 0; r < rowBlocks; ++r)
        for (int64_t half = 0; half < 2; ++half) {
          int64_t first = r * perBlock + 4 * (2 * jp + half);
          SmallVector<Value> d = mma(a[r], k[2 * half], k[2 * half + 1],
                                     ArrayRef<Value>(s).slice(first, 4));
          std::copy(d.begin(), d.end(), s.begin() + first);
        }
    }
  }
  return Fragment{s};
}

LogicalResult PrefillKernelEmitter::lowerMask(MaskOp mask) {
  Fragment in = lookup(mask.getScores()), out;
  Value start = mapped(mask.getStart()), end = mapped(mask.getEnd());
  Value diagonal = mapped(mask.getDiagonal());
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  Value firstKey = add(start, mul(quadLane, idx(2)));
  SmallVector<Value> lastKey; // the last key each row slot sees
  for (int64_t slot = 0; slot < 2 * rowBlocks; ++slot)
    lastKey.push_back(add(diagonal, arith::DivUIOp::create(
                                        b, loc, fragmentRow(slot / 2, slot % 2),
                                        idx(mask.getRowsPerToken()))));
  // Key k of the thread is firstKey + offset(k), a constant offset: the
  // limit and the causal bound are compared with it relative to firstKey,
  // as 32-bit values (positions and their differences fit: sequences are
  // shorter than 2^31), one compare of an immediate per element rather than
  // a 64-bit add and compare.
  Type i32t = b.getI32Type();
  auto relative = [&](Value position) {
    return arith::IndexCastOp::create(b, loc, i32t, sub(position, firstKey));
  };
  Value endRel = relative(end);
  SmallVector<Value> lastRel;
  if (mask.getCausal())
    for (Value last : lastKey)
      lastRel.push_back(relative(last));
  for (size_t k = 0; k < in.values.size(); ++k) {
    int64_t block = (k % (blockN / 2)) / 4;
    int64_t offset = 8 * block + k % 2;
    Value keep = cmp(arith::CmpIPredicate::slt, i32(offset), endRel);
    if (mask.getCausal())
      keep = arith::AndIOp::create(b, loc, keep,
                                   cmp(arith::CmpIPredicate::sle, i32(offset),
                                       lastRel[rowSlot(k, blockN)]));
    if (!mask.getWindow().empty())
      keep = arith::AndIOp::create(b, loc, keep,
                                   insideWindow(add(firstKey, idx(offset)),
                                                lastKey[rowSlot(k, blockN)],
                                                mapped(mask.getWindow()[0]),
                                                mapped(mask.getWindow()[1])));
    out.values.push_back(select(keep, in.values[k], negInf));
  }
  bind(mask, out);
  return success();
}

LogicalResult PrefillKernelEmitter::lowerRowMax(RowMaxOp rowMax) {
  // The scale is positive: the max of the raw scores, scaled, is the max.
  Fragment max = reduceRows(lookup(rowMax.getTile()), /*max=*/true);
  if (hasDeferredScale(rowMax))
    for (Value &v : max.values)
      v = arith::MulFOp::create(b, loc, v, scoreScale);
  bind(rowMax, max);
  return success();
}

LogicalResult PrefillKernelEmitter::lowerExp2Diff(Exp2DiffOp diff) {
  Fragment x = lookup(diff.getX()), m = lookup(diff.getM()), out;
  bool rowVector = cast<RankedTensorType>(diff.getType()).getRank() == 1;
  bool unscaled = hasDeferredScale(diff);
  // exp2(x - m), 0 where m is -inf: subtracting +inf instead gives that 0
  // with one select per row rather than per element.
  SmallVector<Value> negMax;
  for (Value mv : m.values)
    negMax.push_back(select(isNegInf(mv),
                            f32(-std::numeric_limits<float>::infinity()),
                            arith::NegFOp::create(b, loc, mv)));
  int64_t cols =
      rowVector ? 0 : cast<RankedTensorType>(diff.getType()).getDimSize(1);
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

LogicalResult PrefillKernelEmitter::lowerPV(PVOp pv) {
  bind(pv,
       emitPV(pv.getP(),
              Fragment{SmallVector<Value>(rowBlocks * headDim / 2, f32(0.0))}));
  return success();
}

LogicalResult PrefillKernelEmitter::lowerScaleRows(ScaleRowsOp scale) {
  // The accumulator's rescale by exp2(old max - new max): once the running
  // max of a row stops growing, its factor is exactly 1 (ex2 of 0), and a
  // warp whose rows all keep their max skips the multiplies (x * 1 == x,
  // so the result is the same bit for bit).
  if (scale.getTile() == deferredAcc)
    awaitDeferredPV();
  Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor());
  Value changed;
  for (Value factor : f.values) {
    Value c = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, factor,
                                    f32(1.0));
    changed = changed ? arith::OrIOp::create(b, loc, changed, c) : c;
  }
  Value anyChanged = NVVM::VoteSyncOp::create(b, loc, b.getI1Type(), i32(-1),
                                              changed, NVVM::VoteSyncKind::any);
  SmallVector<Type> types(t.values.size(), b.getF32Type());
  auto ifOp = scf::IfOp::create(b, loc, types, anyChanged,
                                /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    SmallVector<Value> scaled;
    for (size_t k = 0; k < t.values.size(); ++k)
      scaled.push_back(arith::MulFOp::create(b, loc, t.values[k],
                                             f.values[rowSlot(k, headDim)]));
    scf::YieldOp::create(b, loc, scaled);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, t.values);
  }
  bind(scale, Fragment{SmallVector<Value>(ifOp.getResults())});
  return success();
}

LogicalResult PrefillKernelEmitter::lowerNormalize(NormalizeOp normalize) {
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
    out.values.push_back(
        select(empty[slot], f32(0.0),
               arith::MulFOp::create(b, loc, acc.values[k], inv[slot])));
  }
  bind(normalize.getOut(), out);
  bind(normalize.getLse(), lse);
  return success();
}

Fragment PrefillKernelEmitter::reduceRows(const Fragment &in, bool max) {
  int64_t cols = 2 * in.values.size() / rowBlocks;
  return reduceQuadRows(
      in, 2 * rowBlocks, [&](size_t k) { return rowSlot(k, cols); }, max);
}

Fragment PrefillKernelEmitter::emitPV(Value pTile, Fragment acc) {
  Fragment p = lookup(pTile);
  return wgmma ? emitPVWgmma(p, std::move(acc))
               : emitPVMmaSync(p, std::move(acc));
}

Fragment PrefillKernelEmitter::emitPVMmaSync(const Fragment &p, Fragment acc) {
  int64_t pPerBlock = blockN / 2, accPerBlock = headDim / 2;
  // Lanes 8 i .. 8 i + 7 address matrix i: keys 16 kk + 8 (i % 2) + r of
  // the d chunks 2 dp + i / 2.
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value keyOffset =
      add(mul(arith::RemUIOp::create(b, loc, matrix, idx(2)), idx(8)),
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

LogicalResult PrefillKernelEmitter::emitStore(StoreRowsOp store) {
  if (store.getSplit()) {
    emitStoreRows(store, /*guardColumns=*/false);
    return success();
  }
  // out has the call's head_dim: the kernel's (a head dim of the pack) stores
  // every column unguarded; a smaller one guards each block of 8 columns.
  auto ifFull = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::eq, callHeadDim, idx(headDim)),
      /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifFull.thenBlock()->getTerminator());
  emitStoreRows(store, /*guardColumns=*/false);
  b.setInsertionPoint(ifFull.elseBlock()->getTerminator());
  emitStoreRows(store, /*guardColumns=*/true);
  return success();
}

void PrefillKernelEmitter::emitStoreRows(StoreRowsOp store, bool guardColumns) {
  // One split: rows of out's element type, and lse [Hq, total_q] with -inf
  // (no key) written as +inf. Several: f32 rows of the workspace
  // [S, total_q, Hq, D] and their lse [S, total_q, Hq] as is (the combine
  // weighs -inf 0).
  bool partial = static_cast<bool>(store.getSplit());
  Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
  Type f32t = b.getF32Type();
  Value head = mapped(store.getHead()), count = mapped(store.getCount());
  Value lsePtr = partial  ? tensorFor(partLseArg).ptr
                 : lseArg ? tensorFor(lseArg).ptr
                          : Value();
  for (int64_t slot = 0; slot < 2 * rowBlocks; ++slot) {
    int64_t half = slot % 2;
    Value r = fragmentRow(slot / 2, half);
    auto ifRow =
        scf::IfOp::create(b, loc, cmp(arith::CmpIPredicate::slt, r, count));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    Value row = add(mapped(store.getRow()), r);
    Value rowPtr, lseIndex;
    if (partial) {
      lseIndex = add(
          mul(add(mul(mapped(store.getSplit()), totalQ), row), numHeads), head);
      rowPtr =
          gep(tensorFor(partOutArg).ptr, f32t, mul(lseIndex, idx(headDim)));
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
      // The partials keep the kernel's head_dim (zeros past the call's); out
      // has the call's, a multiple of 8: blocks past it write nothing.
      OpBuilder::InsertionGuard blockGuard(b);
      if (guardColumns) {
        auto ifBlock = scf::IfOp::create(
            b, loc,
            cmp(arith::CmpIPredicate::ult, idx(8 * block), callHeadDim));
        b.setInsertionPoint(ifBlock.thenBlock()->getTerminator());
      }
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
      value = conventions::callerLse(b, loc, value);
    }
    auto ifLse = scf::IfOp::create(b, loc, write);
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, value, gep(lsePtr, f32t, lseIndex));
  }
}
