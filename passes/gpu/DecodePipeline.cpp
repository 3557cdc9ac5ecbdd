// The decode kernel's K/V pipeline: each row group copies its keys of a
// tile into its own slots of a cp.async stage (no CTA barrier), a ring of
// `stages` tiles in flight.
#include "passes/gpu/DecodeKernel.h"

using namespace mlir;
using namespace mlir::attn;

void DecodeKernelEmitter::emitTileCopies(Value tileStart, Value limit,
                                         ArrayRef<KvTileOp> loads, Value batch,
                                         Value kvHead,
                                         function_ref<void(LocateKey)> copies) {
  // Each key alone, its location made once for all its columns.
  llvm::DenseMap<std::pair<Value, Value>, std::pair<Value, Value>> rows;
  auto perKey = [&](KvTileOp load, Value key, Value, int64_t, Value column) {
    auto [at, fresh] = rows.try_emplace({load.getCache(), key});
    if (fresh) {
      Value pos = add(tileStart, key);
      Value valid = cmp(arith::CmpIPredicate::slt, pos, limit);
      at->second = {keyRowOffset(load,
                                 locateKey(load, batch, pos, valid, pageSize,
                                           pageReciprocal),
                                 kvHead),
                    valid};
    }
    return std::make_pair(add(at->second.first, toI64(column)),
                          at->second.second);
  };
  KvTileOp firstLoad = loads.front();
  bool perTile = pagePath == PagePath::perTile && firstLoad.getPageSize() != 0;
  if (!onePageTiles && !perTile)
    return copies(perKey);
  // The tile's entry is read once and each key found at the lane's 32-bit
  // offset from the tile's row: every tile under onePageTiles
  // (wholePageTiles), else (perTile) where K's and V's rows are equally far
  // apart, block_n rows within 2^31 elements, and the tile lies in one page.
  Type i32t = b.getI32Type();
  Value onePage = perTile ? narrowEqualRows(loads) : Value();
  auto [quotient, inPage32] =
      dividePosition(tileStart, pageSize, pageReciprocal);
  Value inPage =
      arith::IndexCastUIOp::create(b, loc, b.getIndexType(), inPage32);
  scf::IfOp ifOnePage;
  OpBuilder::InsertionGuard guard(b);
  if (perTile) {
    onePage = arith::AndIOp::create(
        b, loc, onePage,
        cmp(arith::CmpIPredicate::ule, add(inPage, idx(blockN)), pageSize));
    ifOnePage = scf::IfOp::create(b, loc, onePage, /*withElseRegion=*/true);
    b.setInsertionPoint(ifOnePage.thenBlock()->getTerminator());
  }
  // The tile's keys before the limit, at most block_n: 32-bit compares.
  Value keys = arith::IndexCastOp::create(
      b, loc, i32t,
      arith::MinSIOp::create(b, loc, sub(limit, tileStart), idx(blockN)));
  Value stride32 = arith::TruncIOp::create(
      b, loc, i32t, tensorFor(firstLoad.getCache()).strides[1]);
  llvm::DenseMap<Value, Value> pages; // block_table -> the tile's entry
  copies([&](KvTileOp load, Value, Value laneKey, int64_t keyOffset,
             Value column) {
    Value &page = pages[load.getBlockTable()];
    if (!page)
      page =
          toIndex(pageEntry(tensorFor(load.getBlockTable()), batch, quotient));
    // The lane's key and column, a loop invariant; the key offset goes with
    // the tile's row, uniform.
    Value key32 = arith::IndexCastUIOp::create(b, loc, i32t, laneKey);
    Value laneOffset = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, key32, stride32),
        arith::TruncIOp::create(b, loc, i32t, toI64(column)));
    Value row = keyOffset ? add(inPage, idx(keyOffset)) : inPage;
    Value passKeys =
        keyOffset ? arith::SubIOp::create(b, loc, keys, i32(keyOffset)) : keys;
    return std::make_pair(
        add(keyRowOffset(load, {page, row}, kvHead),
            arith::ExtUIOp::create(b, loc, b.getI64Type(), laneOffset)),
        cmp(arith::CmpIPredicate::slt, key32, passKeys));
  });
  if (perTile) {
    b.setInsertionPoint(ifOnePage.elseBlock()->getTerminator());
    copies(perKey);
  }
}

Value DecodeKernelEmitter::narrowEqualRows(ArrayRef<KvTileOp> loads) {
  Value rowStride = tensorFor(KvTileOp(loads.front()).getCache()).strides[1];
  Value same = cmp(arith::CmpIPredicate::ult, rowStride,
                   arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                                (int64_t(1) << 31) / blockN));
  for (KvTileOp load : loads.drop_front())
    same = arith::AndIOp::create(b, loc, same,
                                 cmp(arith::CmpIPredicate::eq,
                                     tensorFor(load.getCache()).strides[1],
                                     rowStride));
  return same;
}

Value DecodeKernelEmitter::wholePageTiles(ArrayRef<KvTileOp> loads,
                                          Value begin) {
  // Rows as narrowEqualRows says; the page a multiple of block_n and the
  // first tile at one: every tile then lies in one page.
  Value whole = narrowEqualRows(loads);
  for (Value v : {pageSize, begin})
    whole = arith::AndIOp::create(
        b, loc, whole,
        cmp(arith::CmpIPredicate::eq,
            arith::RemUIOp::create(b, loc, v, idx(blockN)), idx(0)));
  return whole;
}

void DecodeKernelEmitter::issueTileCopies(Value tileStart, Value limit,
                                          Value stage, ArrayRef<KvTileOp> loads,
                                          Value batch, Value kvHead) {
  emitTileCopies(tileStart, limit, loads, batch, kvHead, [&](LocateKey locate) {
    for (auto [which, constLoad] : llvm::enumerate(loads)) {
      KvTileOp load = constLoad;
      Tensor &cache = tensorFor(load.getCache());
      Value stageBase = stageTile(stage, static_cast<int64_t>(which));
      for (int64_t i = 0; i < keysPerThread; ++i) {
        Value key = add(rowGroup, idx(rowGroups * i));
        for (auto [c, chunk] : llvm::enumerate(laneChunks)) {
          auto [offset, valid] =
              locate(load, key, rowGroup, rowGroups * i, chunk.callOffset);
          Value src = gep(cache.ptr, elementType, offset);
          Value dst = gep(stageBase, elementType,
                          stageSlot(key, static_cast<int64_t>(c)));
          // A chunk past the call's head_dim is zero-filled, reading nothing.
          if (!chunk.active) {
            copyAsync(dst, src, valid, chunk.bytes);
            continue;
          }
          // A lane's chunk past head_dim / 8 copies nothing (its zero fill
          // would race with the copy of the lane whose chunk it addresses).
          auto ifLane = scf::IfOp::create(b, loc, chunk.active);
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(ifLane.thenBlock()->getTerminator());
          copyAsync(dst, src, valid, chunk.bytes);
        }
      }
    }
  });
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
  auto emitLoop = [&] {
    for (int64_t s = 0; s + 1 < stages; ++s)
      issue(idx(s));
    return emitTileLoop(
        loop, begin, numTiles, blockN,
        [&](Value tile) {
          // The next copies overwrite the stage the warp read last.
          if (warpSharedStages)
            NVVM::SyncWarpOp::create(b, loc, i32(-1));
          issue(add(tile, idx(stages - 1)));
          NVVM::CpAsyncWaitGroupOp::create(b, loc, stages - 1);
          // The other lanes' copies become visible.
          if (warpSharedStages)
            NVVM::SyncWarpOp::create(b, loc, i32(-1));
          currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
        },
        [] {});
  };
  if (KvTileOp(loads.front()).getPageSize() == 0 ||
      pagePath != PagePath::twoLoops)
    return emitLoop();
  // The loop twice, under a kernel-uniform scf.if: where every tile lies in
  // one page, copies from the tile's entry; else each key located alone. One
  // loop with both copies a tile kept both's loop invariants live (up to 40
  // registers more at D 80 and 96).
  SmallVector<unsigned> sizes;
  SmallVector<Type> types =
      llvm::to_vector(ValueRange(flattenedInits(loop, sizes)).getTypes());
  auto ifWhole = scf::IfOp::create(b, loc, types, wholePageTiles(loads, begin),
                                   /*withElseRegion=*/true);
  // The dependent launch's signal follows the scf.if, once.
  bool signal = dependentLaunch;
  dependentLaunch = false;
  for (auto [block, onePage] :
       {std::pair{ifWhole.thenBlock(), true}, {ifWhole.elseBlock(), false}}) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(block);
    onePageTiles = onePage;
    if (failed(emitLoop()))
      return failure();
    SmallVector<Value> results;
    for (Value result : loop.getResults())
      llvm::append_range(results, lookup(result).values);
    scf::YieldOp::create(b, loc, results);
  }
  onePageTiles = false;
  dependentLaunch = signal;
  bindFlattened(loop.getResults(), ifWhole.getResults(), sizes);
  if (signal)
    NVVM::GriddepcontrolOp::create(b, loc,
                                   NVVM::GridDepActionKind::launch_dependents);
  return success();
}
