// Grid mapping: which part of the tiled program each CTA runs, from its
// indices (abi/kernel_params.h documents the launch grids); and the prefill
// CTAs' ranking of row tiles by their visible keys.
#include "passes/gpu/DecodeKernel.h"
#include "passes/gpu/PrefillKernel.h"

#include "abi/grid.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
/// abi/grid.h's arithmetic on index values.
struct IndexArith {
  OpBuilder &b;
  Location loc;
  Value constant(int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value divU(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value remU(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, loc, x, y); }
  Value shrU(Value x, Value y) { return arith::ShRUIOp::create(b, loc, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
};
} // namespace

void DecodeKernelEmitter::mapGrid() {
  // Grid (abi/grid.h): x = split, y = token * blocks + head block, z =
  // the sequence's rank by length (rankBatch), with blocks = Hkv (one KV
  // head per CTA) or Hkv * ceil(G / rows). The head counts are launch
  // parameters, so one kernel serves every head count. A tile of F tokens
  // (tokensPerCta) counts y's tokens in blocks of F. With H KV heads a CTA,
  // blocks = ceil(Hkv / H).
  IndexArith a{b, loc};
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value bz = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value blocks = abi::grid::decodeHeadBlocks(
      a, Value(gpu::GridDimOp::create(b, loc, gpu::Dimension::y)),
      tokensPerCta == 1
          ? seqlenQ
          : abi::grid::decodeTokenBlocks(a, seqlenQ, Value(idx(tokensPerCta))));
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], bx);
  mapping.map(ivs[1], rankBatch(bz));
  mapping.map(ivs[2], abi::grid::decodeToken(a, by, blocks));
  Value headBlock = abi::grid::decodeHeadBlock(a, by, blocks);
  if (headLane) {
    // KV heads a CTA: lane group h takes head block * H + h, the last head
    // where that is past Hkv (and then stores nothing).
    Value head = add(mul(headBlock, idx(kvHeads)), headLane);
    headStored = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, head,
                                       numKvHeads);
    headBlock = arith::MinUIOp::create(b, loc, head, sub(numKvHeads, idx(1)));
  }
  mapping.map(ivs[3], headBlock);
}

Value DecodeKernelEmitter::rankBatch(Value z) {
  // The hardware starts CTAs in x, y, z order. A batch of mixed lengths in
  // the caller's order leaves some long sequences to start last, and their
  // CTAs then stream alone at the end: 256 sequences of 100-2048 keys took
  // 0.303 ms on an H200 in a drawn order, 0.273 ms sorted longest first
  // (bench/results/decode_order_h200_2026-12-04.md). So grid z is the
  // sequence's rank by its cache_seqlens, longest first. Every CTA ranks the
  // batch itself, before the K/V stages take the shared memory: no launch,
  // no workspace, nothing read back, so a CUDA graph replays it. The rank
  // is a counting sort on 256 buckets of the length (its float's exponent
  // and top 3 mantissa bits: within 12.5%), ties in batch order, at a cost
  // of O(B / threads) per thread: each thread buckets its share of the
  // lengths into a shared histogram; a block scan over the buckets, longest
  // first, finds the bucket of rank z and z's offset in it; a block scan of
  // each thread's count of that bucket in its contiguous range of the batch
  // finds the sequence. Batches of kMinRankedBatch to kMaxRankedBatch
  // sequences are ranked (one uniform branch on grid z); the others run in
  // batch order.
  if (threads > kRankBuckets || kRankBuckets % threads != 0 || threads % 32)
    return z;
  Type i32t = b.getI32Type();
  int64_t warps = threads / 32;
  // Shared words: the sequences' bucket positions [0, limit), the histogram,
  // the warps' scan totals, then the chosen bucket, offset and sequence.
  int64_t limit = std::min<int64_t>(
      kMaxRankedBatch, sharedMemoryBytes() / 4 - kRankBuckets - warps - 3);
  Value count = batchCount;
  Value ranked = arith::AndIOp::create(
      b, loc, cmp(arith::CmpIPredicate::uge, count, idx(kMinRankedBatch)),
      cmp(arith::CmpIPredicate::ule, count, idx(limit)));
  Value z32 = arith::IndexCastUIOp::create(b, loc, i32t, z);
  auto ifRanked = scf::IfOp::create(b, loc, i32t, ranked,
                                    /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifRanked.elseBlock());
  scf::YieldOp::create(b, loc, z32);
  b.setInsertionPointToStart(ifRanked.thenBlock());

  auto word = [&](Value index) { return gep(smemBase, i32t, index); };
  auto loadWord = [&](Value index) -> Value {
    return LLVM::LoadOp::create(b, loc, i32t, word(index));
  };
  auto storeWord = [&](Value v, Value index) {
    LLVM::StoreOp::create(b, loc, v, word(index));
  };
  auto ifThen = [&](Value cond, function_ref<void()> body) {
    auto op = scf::IfOp::create(b, loc, cond);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPoint(op.thenBlock()->getTerminator());
    body();
  };
  auto forRange = [&](Value lo, Value hi, Value step,
                      function_ref<void(Value)> body) {
    auto loop = scf::ForOp::create(b, loc, lo, hi, step);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVar());
  };
  Value histogram = idx(limit);
  Value warpTotals = idx(limit + kRankBuckets);
  Value chosen = idx(limit + kRankBuckets + warps);
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value laneId = arith::RemUIOp::create(b, loc, tid, idx(32));
  Value warp = arith::DivUIOp::create(b, loc, tid, idx(32));
  // The exclusive prefix of v over the CTA's threads (a warp scan, the
  // warps' totals through shared memory, one barrier).
  auto exclusiveScan = [&](Value v) {
    Value sum = v;
    Value lane32 = arith::IndexCastUIOp::create(b, loc, i32t, laneId);
    for (int64_t off = 1; off < 32; off *= 2) {
      Value up = NVVM::ShflOp::create(b, loc, i32t, i32(-1), sum, i32(off),
                                      i32(0), NVVM::ShflKind::up, UnitAttr());
      sum = add(sum, select(cmp(arith::CmpIPredicate::uge, lane32, i32(off)),
                            up, i32(0)));
    }
    ifThen(cmp(arith::CmpIPredicate::eq, laneId, idx(31)),
           [&] { storeWord(sum, add(warpTotals, warp)); });
    gpu::BarrierOp::create(b, loc);
    Value before = sub(sum, v);
    for (int64_t w = 0; w + 1 < warps; ++w)
      before = add(before, select(cmp(arith::CmpIPredicate::ugt, warp, idx(w)),
                                  loadWord(add(warpTotals, idx(w))), i32(0)));
    return before;
  };

  forRange(tid, idx(kRankBuckets), idx(threads),
           [&](Value i) { storeWord(i32(0), add(histogram, i)); });
  gpu::BarrierOp::create(b, loc);
  // Bucket positions, longest first: 255 - bucket, with bucket 0 for an
  // empty sequence and (float bits >> 20) - 1008 (8 .. 255) otherwise. A
  // negative length (a caller's error) counts as empty, so that every
  // position stays in the histogram and the rank a permutation.
  forRange(tid, count, idx(threads), [&](Value i) {
    Value len = arith::MaxSIOp::create(
        b, loc, loadI32(tensorFor(lensArg).ptr, i), i32(0));
    Value bits = LLVM::BitcastOp::create(
        b, loc, i32t, arith::UIToFPOp::create(b, loc, b.getF32Type(), len));
    Value bucket = select(
        cmp(arith::CmpIPredicate::eq, len, i32(0)), i32(0),
        arith::SubIOp::create(
            b, loc, arith::ShRUIOp::create(b, loc, bits, i32(20)), i32(1008)));
    Value position =
        arith::SubIOp::create(b, loc, i32(kRankBuckets - 1), bucket);
    storeWord(position, i);
    LLVM::AtomicRMWOp::create(b, loc, LLVM::AtomicBinOp::add,
                              word(add(histogram, toIndex(position))), i32(1),
                              LLVM::AtomicOrdering::monotonic);
  });
  gpu::BarrierOp::create(b, loc);
  // Thread t's buckets: positions t * P .. t * P + P - 1.
  int64_t perThread = kRankBuckets / threads;
  Value first = mul(tid, idx(perThread));
  SmallVector<Value> counts;
  Value mine = i32(0);
  for (int64_t e = 0; e < perThread; ++e) {
    counts.push_back(loadWord(add(histogram, add(first, idx(e)))));
    mine = add(mine, counts.back());
  }
  Value start = exclusiveScan(mine);
  for (int64_t e = 0; e < perThread; ++e) {
    Value end = add(start, counts[e]);
    Value holds = arith::AndIOp::create(
        b, loc, cmp(arith::CmpIPredicate::ule, start, z32),
        cmp(arith::CmpIPredicate::ult, z32, end));
    ifThen(holds, [&] {
      storeWord(arith::IndexCastUIOp::create(b, loc, i32t, add(first, idx(e))),
                chosen);
      storeWord(sub(z32, start), add(chosen, idx(1)));
    });
    start = end;
  }
  gpu::BarrierOp::create(b, loc);
  Value position = loadWord(chosen);
  Value offset = loadWord(add(chosen, idx(1)));
  // Thread t's sequences: a contiguous range of ceil(B / threads).
  Value share = arith::CeilDivUIOp::create(b, loc, count, idx(threads));
  Value lo = arith::MinUIOp::create(b, loc, mul(tid, share), count);
  Value hi = arith::MinUIOp::create(b, loc, add(lo, share), count);
  auto countLoop =
      scf::ForOp::create(b, loc, lo, hi, idx(1), ValueRange{i32(0)});
  {
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(countLoop.getBody());
    Value match = cmp(arith::CmpIPredicate::eq,
                      loadWord(countLoop.getInductionVar()), position);
    scf::YieldOp::create(b, loc,
                         add(countLoop.getRegionIterArgs()[0],
                             arith::ExtUIOp::create(b, loc, i32t, match)));
  }
  Value matches = countLoop.getResult(0);
  Value before = exclusiveScan(matches);
  // The thread whose range holds the offset-th match walks it again.
  Value within = sub(offset, before);
  ifThen(cmp(arith::CmpIPredicate::ult, within, matches), [&] {
    auto walk = scf::ForOp::create(b, loc, lo, hi, idx(1), ValueRange{i32(0)});
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(walk.getBody());
    Value i = walk.getInductionVar();
    Value seen = walk.getRegionIterArgs()[0];
    Value match = cmp(arith::CmpIPredicate::eq, loadWord(i), position);
    ifThen(arith::AndIOp::create(b, loc, match,
                                 cmp(arith::CmpIPredicate::eq, seen, within)),
           [&] {
             storeWord(arith::IndexCastUIOp::create(b, loc, i32t, i),
                       add(chosen, idx(2)));
           });
    scf::YieldOp::create(
        b, loc, add(seen, arith::ExtUIOp::create(b, loc, i32t, match)));
  });
  gpu::BarrierOp::create(b, loc);
  Value winner = loadWord(add(chosen, idx(2)));
  // The K/V stages overwrite these words only after every thread read them.
  gpu::BarrierOp::create(b, loc);
  scf::YieldOp::create(b, loc, winner);
  b.setInsertionPointAfter(ifRanked);
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(),
                                      ifRanked.getResult(0));
}

void PrefillKernelEmitter::mapGrid() {
  // Grid (abi/grid.h): x = split << head_shift | head (2^head_shift >= Hq,
  // so that both come out of shifts and masks, which keep the CTA's indices,
  // and the key range and loop bounds derived from them, in uniform
  // registers; a division by a launch value does not), y = batch, z = rank
  // of the row tile by its visible keys (rankRowTile). The hardware starts
  // CTAs in x, y, z order, so the row tiles with the most keys go first.
  IndexArith a{b, loc};
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value shift = toIndex(headShiftArg);
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], abi::grid::prefillSplit(a, bx, shift));
  mapping.map(ivs[1], by);
  mapping.map(ivs[2], rankRowTile(by));
  head = abi::grid::prefillHead(a, bx, shift);
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
  Value keyTiles =
      arith::MaxUIOp::create(b, loc, ceilTiles(lengthOf(cuKArg, batch)), tiles);
  Value z = asI32(gpu::BlockIdOp::create(b, loc, gpu::Dimension::z));
  Value extent = asI32(gpu::GridDimOp::create(b, loc, gpu::Dimension::z));
  Value shift = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, extent, keyTiles), i32(0));
  Value fromLast = arith::SubIOp::create(b, loc, z, shift);
  Value tile = select(
      cmp(arith::CmpIPredicate::ult, fromLast, tiles),
      arith::SubIOp::create(
          b, loc, arith::SubIOp::create(b, loc, tiles, i32(1)), fromLast),
      tiles);
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), tile);
}
