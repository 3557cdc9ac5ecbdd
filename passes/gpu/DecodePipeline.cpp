// The decode kernel's K/V pipeline: each row group copies its keys of a
// tile into its own slots of a cp.async stage (no CTA barrier), a ring of
// `stages` tiles in flight.
#include "passes/gpu/DecodeKernel.h"

using namespace mlir;
using namespace mlir::attn;

void DecodeKernelEmitter::issueTileCopies(Value tileStart, Value limit,
                                          Value stage, ArrayRef<KvTileOp> loads,
                                          Value batch, Value kvHead) {
  for (auto [which, constLoad] : llvm::enumerate(loads)) {
    KvTileOp load = constLoad;
    Tensor &cache = tensorFor(load.getCache());
    Value stageBase = stageTile(stage, static_cast<int64_t>(which));
    for (int64_t i = 0; i < keysPerThread; ++i) {
      Value key = add(rowGroup, idx(rowGroups * i));
      Value pos = add(tileStart, key);
      Value valid =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, pos, limit);
      Value rowOffset = keyRowOffset(
          load, locateKey(load, batch, pos, valid, pageSize), kvHead);
      for (auto [c, chunk] : llvm::enumerate(laneChunks)) {
        Value src = gep(cache.ptr, elementType,
                        add(rowOffset, toI64(chunk.callOffset)));
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
}
