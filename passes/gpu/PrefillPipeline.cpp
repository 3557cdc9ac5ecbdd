// The prefill kernel's K/V pipeline: a ring of `stages` cp.async tiles
// behind one barrier per tile, and for paged caches the block_table look-up
// of each tile's 16-key granules a stage ahead of its copies.
#include "passes/gpu/PrefillKernel.h"
#include "passes/gpu/Wgmma.h"

using namespace mlir;
using namespace mlir::attn;

Value PrefillKernelEmitter::locationSlot(Value tile, Value granule) {
  // After the K/V stages (and wgmma's P tiles): locationSlots() slots of
  // blockN / 16 (K, V) i64 offsets.
  Value base = afterStages();
  if (wgmma)
    base = gep(base, b.getI8Type(), idx(pTileBytes()));
  Value slot = arith::RemUIOp::create(b, loc, tile, idx(locationSlots()));
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
  Value granule = copyThread;
  Value locates = arith::AndIOp::create(
      b, loc, cmp(arith::CmpIPredicate::ult, granule, idx(blockN / 16)),
      cmp(arith::CmpIPredicate::ult, tile, numTiles));
  auto ifOp = scf::IfOp::create(b, loc, TypeRange{i32t, i1t, b.getIndexType()},
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
  Value granule = copyThread;
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
                                           Value limit,
                                           ArrayRef<KvTileOp> loads,
                                           Value kvHead,
                                           std::optional<int64_t> only) {
  // Thread t copies chunk t % C of rows t / C + P i (C chunks a row, P rows
  // a pass): one base address per tensor and constant steps, and, where P is
  // a multiple of 8, the same swizzled chunk in every pass.
  // (C is head_dim / 8 rounded up to a power of two; threads of the chunks
  // past head_dim / 8 copy nothing.)
  int64_t chunksPerRow = llvm::PowerOf2Ceil(headDim / 8);
  int64_t rowsPerPass = copyThreads / chunksPerRow;
  bool paged = KvTileOp(loads[0]).getPageSize() != 0;
  Value stage = arith::RemUIOp::create(b, loc, tile, idx(stages));
  Value firstKey =
      arith::DivUIOp::create(b, loc, copyThread, idx(chunksPerRow));
  Value chunk = arith::RemUIOp::create(b, loc, copyThread, idx(chunksPerRow));
  OpBuilder::InsertionGuard guard(b);
  if (chunksPerRow != headDim / 8) {
    auto ifChunk = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::ult, chunk, idx(headDim / 8)));
    b.setInsertionPoint(ifChunk.thenBlock()->getTerminator());
  }
  // Indices and strides (checked by the runtime) fit in 32 bits: their
  // products are single mul.wide.u32s. Per tensor, what every pass adds.
  // A chunk past the call's head_dim copies the call's last chunk of the
  // row: finite values in K's columns that q's zeros cancel and in V's that
  // out never stores, with the copies as they are for a full row.
  Value readChunk =
      arith::MinUIOp::create(b, loc, chunk, sub(callChunks, idx(1)));
  SmallVector<Value, 2> common;
  for (KvTileOp load : loads) {
    Tensor &cache = tensorFor(load.getCache());
    common.push_back(add(mul(toI64(kvHead), cache.strides.back()),
                         toI64(mul(readChunk, idx(8)))));
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
    Value pair =
        LLVM::LoadOp::create(b, loc, VectorType::get({2}, b.getI64Type()),
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
      if (only && *only != static_cast<int64_t>(which))
        continue;
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
  if (producer)
    return producerMode ? emitProducerLoop(loop) : emitConsumerLoop(loop);
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
    auto ifOp = scf::IfOp::create(
        b, loc, cmp(arith::CmpIPredicate::ult, tile, numTiles));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
    body();
  };
  // Paged: each tile's granules are located through block_table once, a
  // stage ahead of their copies, into a shared-memory slot that the barrier
  // of the next iteration publishes. In the loop, the block_table load is
  // issued before the tile's compute and its result stored after it, so that
  // its latency hides behind the MMAs.
  auto find = [&](Value tile) {
    return findTile(tile, numTiles, tileStart(tile), limit, loads, batch);
  };
  // With the deferred PV (deferredAcc) V lags K by a tile: the group of
  // tile t holds t's K and t - 1's V (which the PV issued with t's QK
  // reads), so that two stages still let a copy run under a tile's compute.
  // A stage's V is overwritten once the PV of two tiles before has been
  // waited for, in the previous iteration; the location of tile t stays in
  // its slot until V's copy at t + 1 (one slot more).
  bool lagV = static_cast<bool>(deferredAcc);
  auto copies = [&](Value tile, std::optional<int64_t> only) {
    ifTile(tile, [&] {
      issueTileCopies(tile, tileStart(tile), limit, loads, kvHead, only);
    });
  };
  auto issue = [&](Value tile, bool previousV) {
    if (!lagV) {
      copies(tile, std::nullopt);
    } else {
      copies(tile, 0);
      if (previousV)
        copies(arith::SubIOp::create(b, loc, tile, idx(1)), 1);
    }
    // A group per tile slot, empty or not, so that wait_group counts tiles.
    NVVM::CpAsyncCommitGroupOp::create(b, loc);
  };
  if (paged) {
    for (int64_t s = 0; s < stages; ++s)
      storeLocation(idx(s), find(idx(s)), loads);
    gpu::BarrierOp::create(b, loc);
  }
  for (int64_t s = 0; s + 1 < stages; ++s)
    issue(idx(s), s > 0);

  Value ahead;
  GranuleLookup location;
  LogicalResult emitted = emitTileLoop(
      loop, begin, numTiles, blockN,
      [&](Value tile) {
        // Tile `tile` has landed for every thread, and every warp is done
        // with tile - 1, whose stage the next copies overwrite.
        NVVM::CpAsyncWaitGroupOp::create(b, loc, stages - 2);
        if (wgmma)
          wgmma::fenceSharedForAsync(b, loc);
        gpu::BarrierOp::create(b, loc);
        issue(add(tile, idx(stages - 1)), true);
        ahead = add(tile, idx(stages));
        if (paged)
          location = find(ahead);
        currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
        if (lagV) {
          previousStage = arith::RemUIOp::create(
              b, loc, add(tile, idx(stages - 1)), idx(stages));
          hasPrevious = cmp(arith::CmpIPredicate::ne, tile, idx(0));
        }
      },
      [&] {
        if (paged)
          storeLocation(ahead, location, loads);
      });
  if (succeeded(emitted) && lagV)
    emitLastPV(loop, numTiles);
  return emitted;
}
