// The tensor-core decode kernel (DecodeKernel.h, DecodeMmaKernelEmitter):
// its layout, K/V copies, and the lowering of each tile op on mma.sync
// fragments.
#include "passes/gpu/DecodeKernel.h"
#include "passes/gpu/MmaSync.h"

#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::attn;

LogicalResult DecodeMmaKernelEmitter::analyseLayout() {
  if (!specialisedOnGroup)
    return func.emitError("attn-lower-to-gpu: decode-mma needs a kernel "
                          "specialised on G (attn-gqa-broadcast's "
                          "heads-per-cta 0)");
  if (rows > 16)
    return func.emitError("attn-lower-to-gpu: decode-mma holds at most 16 "
                          "query rows a CTA (G x tokens), got ")
           << rows;
  if (headDim % 16 != 0)
    return func.emitError("attn-lower-to-gpu: decode-mma needs a head_dim "
                          "that is a multiple of 16, got ")
           << headDim;
  if (elementType.getIntOrFloatBitWidth() != 16)
    return func.emitError("attn-lower-to-gpu: decode-mma needs f16 or bf16 "
                          "K/V, got ")
           << elementType;
  if (threads % 32 != 0 || threads < 32)
    return func.emitError("attn-lower-to-gpu: decode-mma needs whole warps, "
                          "got threads ")
           << threads;
  warps = threads / 32;
  if (failed(checkKvHeads()))
    return failure();
  if (warps % kvHeads != 0)
    return func.emitError("attn-lower-to-gpu: decode-mma: the warps (")
           << warps << ") must be a multiple of the KV heads a CTA (" << kvHeads
           << ")";
  rowGroups = warps / kvHeads;
  if (blockN % (16 * rowGroups) != 0)
    return func.emitError("attn-lower-to-gpu: decode-mma: block-n (")
           << blockN << ") must be a multiple of 16 keys times the warps of "
           << "a KV head (" << rowGroups << ")";
  keysPerWarp = blockN / rowGroups;
  // Q's head_dim / 4 registers beside the accumulator's head_dim / 2 spill
  // from head_dim 192 on: Q is then read from shared memory each tile.
  qShared = headDim >= 192;
  // Up to D 128 a paged kernel's KV loop comes twice (emitKvLoop), one for
  // tiles inside one page. From D 160 on (at 255 registers) that spilled up
  // to 128 bytes more: those locate each key alone, a 32-bit division each.
  // D 128's 8-row kernels (G 8 and the folds) keep one loop choosing per
  // tile: two loops took them from 194 registers to 168, 3 CTAs an SM
  // instead of 2, and on an H100 G 8 was 2.3% slower on 64 x 4096 (512
  // CTAs: 1.29 waves instead of 1.94; bench/results/decode_two_loops_*).
  pagePath = headDim > 128                 ? PagePath::perKey
             : headDim == 128 && rows == 8 ? PagePath::perTile
                                           : PagePath::twoLoops;
  qRows = rows <= 8 ? 8 : 16;
  return success();
}

void DecodeMmaKernelEmitter::setUpThreads() {
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  lane = arith::RemUIOp::create(b, loc, tid, idx(32));
  groupRow = arith::DivUIOp::create(b, loc, lane, idx(4));
  quadLane = arith::RemUIOp::create(b, loc, lane, idx(4));
  // Warp w runs KV head w % H of the CTA's (headLane) on keys of its share
  // rowGroup = w / H.
  rowGroup = warp;
  headTile = idx(0);
  if (kvHeads > 1) {
    rowGroup = arith::DivUIOp::create(b, loc, warp, idx(kvHeads));
    headLane = arith::RemUIOp::create(b, loc, warp, idx(kvHeads));
    headTile = mul(headLane, idx(blockN * headDim * 2));
  }
  callHeadDim = toIndex(param(abi::decode::head_dim));
  callChunks = arith::DivUIOp::create(b, loc, callHeadDim, idx(8));
}

int64_t DecodeMmaKernelEmitter::ringBytes() const {
  return stages * 2 * kvHeads * blockN * headDim * 2;
}

int64_t DecodeMmaKernelEmitter::sharedMemoryBytes() const {
  // The warps' Q tiles follow the ring. The merge's acc [W][rows][D], m
  // [W][rows] and l [W][rows], f32 (warp w's state at slot headLane x NG +
  // rowGroup), reuse both once every warp has left the K/V loop.
  int64_t qTiles = qShared ? warps * qTileBytes() : 0;
  int64_t merge = warps * rows * (headDim + 2) * 4;
  return std::max(ringBytes() + qTiles, merge);
}

Value DecodeMmaKernelEmitter::tileChunk(Value stage, int64_t which, Value row,
                                        Value chunk) {
  // [stage][K, V][KV head][block_n keys][head_dim], bytes.
  int64_t tileBytes = blockN * headDim * 2;
  Value tile = add(mul(stage, idx(2 * kvHeads * tileBytes)),
                   add(idx(which * kvHeads * tileBytes), headTile));
  return gep(smemBase, b.getI8Type(),
             add(tile, mmaSwizzled(row, chunk, headDim)));
}

void DecodeMmaKernelEmitter::issueTileCopies(Value tileStart, Value limit,
                                             Value stage,
                                             ArrayRef<KvTileOp> loads,
                                             Value batch, Value kvHead) {
  // A warp's keys' rows of C = head_dim / 8 chunks, 32 chunks a pass. A key
  // takes C rounded up to a power of two lanes and a pass 32 / that keys,
  // but where that leaves more than a third of a key's lanes idle (6 of 16 at
  // D 80) and a key takes at most half the warp, the warp's keysPerWarp x C
  // chunks are one run instead, lane l of pass p taking chunk (32 p + l) % C
  // of key (32 p + l) / C: at D 80, 5 passes for 16 keys against 8. (At D
  // 160 the run's per-pass keys and chunks cost registers the kernel, at 255,
  // does not have; at D 96, 4 of 16 lanes idle, it gained nothing:
  // bench/results/decode_copy_run_h100_2026-12-06.md.)
  struct Pass {
    // Null: firstKey + keyOffset, created in the copy loop, per load, as
    // before the run existed (creating it here, once, changes the PTX of
    // every other tensor-core decode kernel).
    Value key;
    int64_t keyOffset = 0;
    Value chunk, active, bytes, srcColumn;
  };
  int64_t rowChunks = headDim / 8;
  int64_t keyLanes = static_cast<int64_t>(llvm::PowerOf2Ceil(rowChunks));
  bool run = keyLanes <= 16 && 3 * (keyLanes - rowChunks) > keyLanes;
  auto chunkPass = [&](Pass pass) {
    // Chunks past the call's head_dim are zero-filled, reading its last
    // chunk.
    pass.bytes = select(cmp(arith::CmpIPredicate::ult, pass.chunk, callChunks),
                        i32(16), i32(0));
    pass.srcColumn = toI64(
        mul(arith::MinUIOp::create(b, loc, pass.chunk, sub(callChunks, idx(1))),
            idx(8)));
    return pass;
  };
  SmallVector<Pass> passes;
  Value firstKey;
  if (!run) {
    int64_t keysPerPass = 32 / keyLanes;
    Value chunk = arith::RemUIOp::create(b, loc, lane, idx(keyLanes));
    Value keyOfLane = arith::DivUIOp::create(b, loc, lane, idx(keyLanes));
    firstKey = add(mul(rowGroup, idx(keysPerWarp)), keyOfLane);
    // Lanes past C copy nothing.
    Value active = keyLanes != rowChunks
                       ? cmp(arith::CmpIPredicate::ult, chunk, idx(rowChunks))
                       : Value();
    Pass shared = chunkPass({Value(), 0, chunk, active});
    for (int64_t i = 0; i < keysPerWarp / keysPerPass; ++i) {
      shared.keyOffset = keysPerPass * i;
      passes.push_back(shared);
    }
  } else {
    Value warpKeys = mul(rowGroup, idx(keysPerWarp));
    int64_t runChunks = keysPerWarp * rowChunks;
    for (int64_t p = 0; p * 32 < runChunks; ++p) {
      Value flat = p ? add(lane, idx(32 * p)) : lane;
      // A partial last pass: lanes past the run copy nothing (their
      // addresses are the run's last chunk's).
      Value active;
      if ((p + 1) * 32 > runChunks) {
        active = cmp(arith::CmpIPredicate::ult, flat, idx(runChunks));
        flat = arith::MinUIOp::create(b, loc, flat, idx(runChunks - 1));
      }
      Value keyOfFlat = arith::DivUIOp::create(b, loc, flat, idx(rowChunks));
      Value chunk = arith::RemUIOp::create(b, loc, flat, idx(rowChunks));
      passes.push_back(chunkPass({add(warpKeys, keyOfFlat), 0, chunk, active}));
    }
  }
  emitTileCopies(tileStart, limit, loads, batch, kvHead, [&](LocateKey locate) {
    for (auto [which, constLoad] : llvm::enumerate(loads)) {
      KvTileOp load = constLoad;
      Tensor &cache = tensorFor(load.getCache());
      for (const Pass &pass : passes) {
        Value key = pass.key ? pass.key : add(firstKey, idx(pass.keyOffset));
        auto [offset, valid] = locate(load, key, pass.key ? pass.key : firstKey,
                                      pass.keyOffset, pass.srcColumn);
        Value src = gep(cache.ptr, elementType, offset);
        Value dst =
            tileChunk(stage, static_cast<int64_t>(which), key, pass.chunk);
        OpBuilder::InsertionGuard guard(b);
        if (pass.active) {
          auto ifLane = scf::IfOp::create(b, loc, pass.active);
          b.setInsertionPoint(ifLane.thenBlock()->getTerminator());
        }
        copyAsync(dst, src, valid, pass.bytes);
      }
    }
  });
}

LogicalResult DecodeMmaKernelEmitter::lowerLoadQ(LoadQOp loadQ) {
  Tensor &q = tensorFor(qArg);
  Type i32t = b.getI32Type();
  // Rows g and g + 8: their offsets in q, and whether they are rows of the
  // program and, with a count (folded tokens past Lq), before it; the rest
  // hold zeros and read the last such row.
  Value count = loadQ.getCount() ? mapped(loadQ.getCount()) : idx(rows);
  Value lastRow = sub(count, idx(1));
  Value rowOffset[2], rowLive[2];
  for (int64_t h = 0; h < 2; ++h) {
    Value row = add(groupRow, idx(8 * h));
    rowLive[h] = cmp(arith::CmpIPredicate::ult, row, count);
    row = arith::MinUIOp::create(b, loc, row, lastRow);
    auto [token, head] = conventions::tokenAndHead(
        b, loc, loadQ.getRowsPerToken(), mapped(loadQ.getToken()),
        mapped(loadQ.getHead()), row);
    rowOffset[h] = elementOffset(q, {mapped(loadQ.getBatch()), token, head});
  }
  Fragment frag;
  frag.values.resize(headDim / 16 * 4);
  Value firstColumn = mul(quadLane, idx(2));
  for (int64_t step = 0; step < headDim / 16; ++step)
    for (int64_t half = 0; half < 2; ++half) {
      // Columns 16 step + 8 half + 2 t and the next: zeros past the call's
      // head_dim (a multiple of 8), read at column 0 there.
      Value column = add(firstColumn, idx(16 * step + 8 * half));
      Value inCall = cmp(arith::CmpIPredicate::ult, column, callHeadDim);
      Value at = toI64(select(inCall, column, idx(0)));
      for (int64_t h = 0; h < 2; ++h) {
        Value pair = LLVM::LoadOp::create(
            b, loc, i32t, gep(q.ptr, elementType, add(rowOffset[h], at)),
            /*alignment=*/4);
        Value live = arith::AndIOp::create(b, loc, rowLive[h], inCall);
        frag.values[4 * step + 2 * half + h] = select(live, pair, i32(0));
      }
    }
  if (qShared) {
    // Into the warp's tile, each register at its place: row g (+ 8),
    // columns 2 t, 2 t + 1 of chunk 2 step + half. QK^T reads the tile by
    // ldmatrix; nothing else writes it until the merge, after the loop.
    qTile = gep(smemBase, b.getI8Type(),
                add(idx(ringBytes()), mul(warp, idx(qTileBytes()))));
    Value inChunk = mul(quadLane, idx(4));
    for (int64_t step = 0; step < headDim / 16; ++step)
      for (int64_t half = 0; half < 2; ++half)
        for (int64_t h = 0; 8 * h < qRows; ++h) {
          Value at = add(mmaSwizzled(add(groupRow, idx(8 * h)),
                                     idx(2 * step + half), headDim),
                         inChunk);
          LLVM::StoreOp::create(b, loc, frag.values[4 * step + 2 * half + h],
                                gep(qTile, b.getI8Type(), at),
                                /*alignment=*/4);
        }
    NVVM::SyncWarpOp::create(b, loc, i32(-1));
    frag.values.clear();
  }
  bind(loadQ, frag);
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerQK(QKOp qk) {
  if (qk->hasAttr(AttnDialect::DeferredScaleAttrHelper::getNameStr()))
    return qk.emitError("attn-lower-to-gpu: the decode kernel scales each "
                        "score as it computes it; attn.deferred_scale is for "
                        "prefill programs");
  Fragment q = lookup(qk.getQ());
  SmallVector<Value> s(keysPerWarp / 2, f32(0.0));
  // Lanes 8 i .. 8 i + 7 address matrix i: keys 8 (i / 2) + r of the 16-key
  // block, chunk 2 step + i % 2: B fragments of two 8-key blocks.
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value chunkOffset = arith::RemUIOp::create(b, loc, matrix, idx(2));
  Value keyOffset =
      add(add(mul(rowGroup, idx(keysPerWarp)),
              mul(arith::DivUIOp::create(b, loc, matrix, idx(2)), idx(8))),
          arith::RemUIOp::create(b, loc, lane, idx(8)));
  // Q from the warp's tile, the same matrices: rows r + 8 (i % 2) and chunk
  // 2 step + i / 2 of .x4 (a0-a3); with 8 rows, rows r and chunk 2 step +
  // i % 2 of .x2 (a0, a2; a1 and a3 are zero).
  Value qRow, qChunk;
  if (qShared) {
    Value r = arith::RemUIOp::create(b, loc, lane, idx(8));
    qRow = qRows == 16 ? add(r, mul(chunkOffset, idx(8))) : r;
    qChunk = qRows == 16 ? arith::DivUIOp::create(b, loc, matrix, idx(2))
                         : chunkOffset;
  }
  for (int64_t step = 0; step < headDim / 16; ++step) {
    SmallVector<Value> a;
    if (qShared) {
      a = mma_sync::loadMatrices(
          b, loc,
          gep(qTile, b.getI8Type(),
              mmaSwizzled(qRow, add(idx(2 * step), qChunk), headDim)),
          /*trans=*/false, qRows / 4);
      if (qRows == 8)
        a = {a[0], i32(0), a[1], i32(0)};
    } else {
      llvm::append_range(a, ArrayRef<Value>(q.values).slice(4 * step, 4));
    }
    for (int64_t kb = 0; kb < keysPerWarp / 16; ++kb) {
      SmallVector<Value> k = mma_sync::loadMatrices(
          b, loc,
          tileChunk(currentStage, 0, add(idx(16 * kb), keyOffset),
                    add(idx(2 * step), chunkOffset)),
          /*trans=*/false);
      for (int64_t half = 0; half < 2; ++half) {
        int64_t first = 4 * (2 * kb + half);
        SmallVector<Value> d =
            mma_sync::mma(b, loc, elementType, a, k[2 * half], k[2 * half + 1],
                          ArrayRef<Value>(s).slice(first, 4));
        std::copy(d.begin(), d.end(), s.begin() + first);
      }
    }
  }
  // The op's scale (log2(e) folded in) times the launch's softmax_scale.
  Value scale = arith::MulFOp::create(
      b, loc, f32(qk.getScale().convertToFloat()), runtimeScale);
  for (Value &v : s)
    v = arith::MulFOp::create(b, loc, v, scale);
  bind(qk, Fragment{s});
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerMask(MaskOp mask) {
  Fragment in = lookup(mask.getScores()), out;
  Value end = mapped(mask.getEnd()), diagonal = mapped(mask.getDiagonal());
  Value negInf = f32(-std::numeric_limits<float>::infinity());
  Value firstKey =
      add(mapped(mask.getStart()),
          add(mul(rowGroup, idx(keysPerWarp)), mul(quadLane, idx(2))));
  // The last key rows g and g + 8 see (their token's diagonal).
  Value last[2];
  for (int64_t h = 0; h < 2; ++h)
    last[h] =
        add(diagonal, arith::DivUIOp::create(b, loc, add(groupRow, idx(8 * h)),
                                             idx(mask.getRowsPerToken())));
  for (size_t k = 0; k < in.values.size(); ++k) {
    Value key = add(firstKey, idx(8 * (k / 4) + k % 2));
    Value keep = cmp(arith::CmpIPredicate::slt, key, end);
    Value rowLast = last[rowSlot(k)];
    if (mask.getCausal())
      keep = arith::AndIOp::create(
          b, loc, keep, cmp(arith::CmpIPredicate::sle, key, rowLast));
    if (!mask.getWindow().empty())
      keep = arith::AndIOp::create(b, loc, keep,
                                   insideWindow(key, rowLast,
                                                mapped(mask.getWindow()[0]),
                                                mapped(mask.getWindow()[1])));
    out.values.push_back(select(keep, in.values[k], negInf));
  }
  bind(mask, out);
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerRowMax(RowMaxOp rowMax) {
  bind(rowMax, reduceQuadRows(lookup(rowMax.getTile()), 2, rowSlot, true));
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerRowSum(RowSumOp rowSum) {
  bind(rowSum, reduceQuadRows(lookup(rowSum.getTile()), 2, rowSlot, false));
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerExp2Diff(Exp2DiffOp diff) {
  Fragment x = lookup(diff.getX()), m = lookup(diff.getM()), out;
  bool rowVector = cast<RankedTensorType>(diff.getType()).getRank() == 1;
  // exp2(x - m), 0 where m is -inf: adding -inf there gives that 0.
  SmallVector<Value> negMax;
  for (Value mv : m.values)
    negMax.push_back(select(isNegInf(mv),
                            f32(-std::numeric_limits<float>::infinity()),
                            arith::NegFOp::create(b, loc, mv)));
  for (size_t k = 0; k < x.values.size(); ++k)
    out.values.push_back(exp2(arith::AddFOp::create(
        b, loc, x.values[k], negMax[rowVector ? k : rowSlot(k)])));
  bind(diff, out);
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerPV(PVOp pv) {
  Fragment p = lookup(pv.getP());
  SmallVector<Value> acc(headDim / 2, f32(0.0));
  // Lanes 8 i .. 8 i + 7 address matrix i: keys 8 (i % 2) + r of the 16-key
  // step, chunk 2 dp + i / 2 (transposed: B fragments of two 8-column
  // blocks).
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value keyOffset =
      add(add(mul(rowGroup, idx(keysPerWarp)),
              mul(arith::RemUIOp::create(b, loc, matrix, idx(2)), idx(8))),
          arith::RemUIOp::create(b, loc, lane, idx(8)));
  Value chunkOffset = arith::DivUIOp::create(b, loc, matrix, idx(2));
  for (int64_t step = 0; step < keysPerWarp / 16; ++step) {
    // P's A fragment of keys 16 step .. 16 step + 15: its two 8-key blocks.
    ArrayRef<Value> s = ArrayRef<Value>(p.values).slice(8 * step, 8);
    SmallVector<Value> a;
    for (int64_t i = 0; i < 4; ++i)
      a.push_back(mma_sync::pack(b, loc, elementType, s[2 * i], s[2 * i + 1]));
    Value key = add(idx(16 * step), keyOffset);
    for (int64_t dp = 0; dp < headDim / 16; ++dp) {
      SmallVector<Value> v = mma_sync::loadMatrices(
          b, loc,
          tileChunk(currentStage, 1, key, add(idx(2 * dp), chunkOffset)),
          /*trans=*/true);
      for (int64_t half = 0; half < 2; ++half) {
        int64_t first = 4 * (2 * dp + half);
        SmallVector<Value> d =
            mma_sync::mma(b, loc, elementType, a, v[2 * half], v[2 * half + 1],
                          ArrayRef<Value>(acc).slice(first, 4));
        std::copy(d.begin(), d.end(), acc.begin() + first);
      }
    }
  }
  bind(pv, Fragment{acc});
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerScaleRows(ScaleRowsOp scale) {
  Fragment t = lookup(scale.getTile()), f = lookup(scale.getFactor()), out;
  for (size_t k = 0; k < t.values.size(); ++k)
    out.values.push_back(
        arith::MulFOp::create(b, loc, t.values[k], f.values[rowSlot(k)]));
  bind(scale, out);
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerNormalize(NormalizeOp normalize) {
  // Every warp writes its rows' (m, l, acc), then thread i of a KV head's
  // warps merges its items (row, chunk) over those warps.
  Fragment acc = lookup(normalize.getAcc()), m = lookup(normalize.getMax());
  Fragment l = lookup(normalize.getSum());
  NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
  gpu::BarrierOp::create(b, loc);
  Type f32Type = b.getF32Type();
  // Layout: acc [W][rows][D], then m [W][rows] and l [W][rows], f32.
  Value accBase = smemBase;
  Value mBase = gep(smemBase, f32Type, idx(warps * rows * headDim));
  Value lBase = gep(mBase, f32Type, idx(warps * rows));
  auto pairType = VectorType::get({2}, f32Type);
  // The KV head's states are slots headLane x NG + 0 .. NG - 1.
  Value headStates = idx(0), warpState = rowGroup;
  if (headLane) {
    headStates = mul(headLane, idx(rowGroups));
    warpState = add(headStates, rowGroup);
  }
  for (int64_t h = 0; h < 2 && 8 * h < rows; ++h) {
    Value row = add(groupRow, idx(8 * h));
    OpBuilder::InsertionGuard guard(b);
    auto ifRow = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::ult, row, idx(rows)));
    b.setInsertionPoint(ifRow.thenBlock()->getTerminator());
    Value slot = add(mul(warpState, idx(rows)), row);
    Value rowStart = mul(slot, idx(headDim));
    for (int64_t j = 0; j < headDim / 8; ++j) {
      Value pair = LLVM::PoisonOp::create(b, loc, pairType);
      pair =
          vector::InsertOp::create(b, loc, acc.values[4 * j + 2 * h], pair, 0);
      pair = vector::InsertOp::create(b, loc, acc.values[4 * j + 2 * h + 1],
                                      pair, 1);
      Value column = add(idx(8 * j), mul(quadLane, idx(2)));
      LLVM::StoreOp::create(b, loc, pair,
                            gep(accBase, f32Type, add(rowStart, column)),
                            /*alignment=*/8);
    }
    // The quad's lanes hold the same max and sum: t = 0 writes them.
    auto ifFirst = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::eq, quadLane, idx(0)));
    b.setInsertionPoint(ifFirst.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, m.values[h], gep(mBase, f32Type, slot));
    LLVM::StoreOp::create(b, loc, l.values[h], gep(lBase, f32Type, slot));
  }
  gpu::BarrierOp::create(b, loc);
  int64_t rowChunks = headDim / 8, items = rows * rowChunks;
  int64_t headThreads = rowGroups * 32;
  Value tid = add(mul(rowGroup, idx(32)), lane);
  Value firstState = mul(headStates, idx(rows));
  Fragment out, lse;
  itemRow.clear();
  itemChunk.clear();
  itemValid.clear();
  for (int64_t k = 0; k * headThreads < items; ++k) {
    Value item = add(tid, idx(k * headThreads));
    Value valid = cmp(arith::CmpIPredicate::ult, item, idx(items));
    item = select(valid, item, idx(0));
    Value row = arith::DivUIOp::create(b, loc, item, idx(rowChunks));
    Value chunk = arith::RemUIOp::create(b, loc, item, idx(rowChunks));
    auto [merged, rowLseValue] = mergeStates(
        rowGroups, add(firstState, row), /*loop=*/false,
        [&](Value slot) {
          return LLVM::LoadOp::create(b, loc, f32Type,
                                      gep(mBase, f32Type, slot));
        },
        [&](Value slot) {
          return LLVM::LoadOp::create(b, loc, f32Type,
                                      gep(lBase, f32Type, slot));
        },
        [&](Value slot, int64_t) {
          return load8(gep(accBase, f32Type,
                           add(mul(slot, idx(headDim)), mul(chunk, idx(8)))),
                       f32Type);
        },
        /*chunkCount=*/1);
    llvm::append_range(out.values, merged);
    lse.values.push_back(rowLseValue);
    itemRow.push_back(row);
    itemChunk.push_back(chunk);
    itemValid.push_back(valid);
  }
  bind(normalize.getOut(), out);
  bind(normalize.getLse(), lse);
  return success();
}

LogicalResult DecodeMmaKernelEmitter::lowerStore(StoreOp store) {
  Fragment o = lookup(store.getTile()), lse = lookup(store.getLseTile());
  Value bIdx = mapped(store.getBatch()), token0 = mapped(store.getToken());
  Value head0 = mapped(store.getHead());
  Type f32Type = b.getF32Type();
  for (auto [k, row] : llvm::enumerate(itemRow)) {
    Value chunk = itemChunk[k];
    ArrayRef<Value> values = ArrayRef<Value>(o.values).slice(8 * k, 8);
    // out has the call's head_dim; the partials keep the kernel's (zeros
    // past the call's).
    Value stored = itemValid[k];
    if (headStored)
      stored = arith::AndIOp::create(b, loc, stored, headStored);
    if (store.getCount())
      stored = arith::AndIOp::create(
          b, loc, stored,
          cmp(arith::CmpIPredicate::ult, row, mapped(store.getCount())));
    if (!store.getSplit())
      stored = arith::AndIOp::create(
          b, loc, stored, cmp(arith::CmpIPredicate::ult, chunk, callChunks));
    OpBuilder::InsertionGuard guard(b);
    auto ifItem = scf::IfOp::create(b, loc, stored);
    b.setInsertionPoint(ifItem.thenBlock()->getTerminator());
    auto [token, head] = conventions::tokenAndHead(
        b, loc, store.getRowsPerToken(), token0, head0, row);
    Value column = toI64(mul(chunk, idx(8)));
    Value firstChunk = cmp(arith::CmpIPredicate::eq, chunk, idx(0));
    if (!store.getSplit()) {
      Tensor &out = tensorFor(outArg);
      store8(gep(out.ptr, elementType,
                 add(elementOffset(out, {bIdx, token, head}), column)),
             elementType, values);
      if (lseArg) {
        // lse [B, Hq, Lq], the caller's: +inf for a row without keys.
        Value lsePtr = tensorFor(lseArg).ptr;
        Value nonNull = LLVM::ICmpOp::create(
            b, loc, LLVM::ICmpPredicate::ne, lsePtr,
            LLVM::ZeroOp::create(b, loc, lsePtr.getType()));
        auto ifLse = scf::IfOp::create(
            b, loc, arith::AndIOp::create(b, loc, firstChunk, nonNull));
        b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
        Value index = add(mul(add(mul(bIdx, numHeads), head), seqlenQ), token);
        LLVM::StoreOp::create(b, loc,
                              conventions::callerLse(b, loc, lse.values[k]),
                              gep(lsePtr, f32Type, index));
      }
      continue;
    }
    // Partial: [S, B, Lq, Hq, D] and [S, B, Lq, Hq].
    Value split = mapped(store.getSplit());
    Value rowIndex =
        add(mul(add(mul(add(mul(split, batchCount), bIdx), seqlenQ), token),
                numHeads),
            head);
    store8(gep(tensorFor(partOutArg).ptr, f32Type,
               add(toI64(mul(rowIndex, idx(headDim))), column)),
           f32Type, values);
    auto ifLse = scf::IfOp::create(b, loc, firstChunk);
    b.setInsertionPoint(ifLse.thenBlock()->getTerminator());
    LLVM::StoreOp::create(b, loc, lse.values[k],
                          gep(tensorFor(partLseArg).ptr, f32Type, rowIndex));
  }
  return success();
}
