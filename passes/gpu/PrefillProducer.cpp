// The warp-specialised wgmma prefill kernel (sm_90a): a producer warpgroup
// copies the K/V tiles into the ring and signals them on mbarriers, the
// consumer warpgroups compute and hand the stages back (PrefillKernel.h).
#include "passes/gpu/PrefillKernel.h"
#include "passes/gpu/Wgmma.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
/// Registers a thread after setmaxnreg. The launch gives every thread of
/// the CTA 64K / threads rounded down to 8 (168 at 384 threads); the
/// producer gives some back and the consumers take them (a multiple of 8,
/// at most 256).
int64_t consumerRegisters(int64_t consumerThreads, int64_t producerRegisters) {
  int64_t threads = consumerThreads + PrefillKernelEmitter::kProducerThreads;
  int64_t launched = 65536 / threads / 8 * 8 * threads;
  int64_t left =
      launched - PrefillKernelEmitter::kProducerThreads * producerRegisters;
  return std::min<int64_t>(256, left / consumerThreads / 8 * 8);
}
} // namespace

int64_t PrefillKernelEmitter::producerRegisters() const {
  return tableArg ? 56 : 40;
}

Value PrefillKernelEmitter::mbarrier(Barrier kind, Value stage) {
  Value base =
      gep(afterStages(), b.getI8Type(), idx(pTileBytes() + locationBytes()));
  return gep(base, b.getI64Type(),
             add(idx(static_cast<int64_t>(kind) * stages), stage));
}

void PrefillKernelEmitter::waitBarrier(Value barrier, Value parity) {
  // The suspend-time hint of CUTLASS's pipelines (ns).
  NVVM::MBarrierTryWaitParityOp::create(b, loc, barrier, parity, i32(10000000));
}

void PrefillKernelEmitter::awaitFull(Barrier kind, Value stage, Value parity,
                                     Value tile) {
  waitBarrier(mbarrier(kind, stage), parity);
  if (!tma)
    return wgmma::fenceSharedForAsync(b, loc);
  Value start = add(consumerBegin, mul(tile, idx(blockN)));
  Value inPage;
  if (consumerPaged)
    inPage = arith::IndexCastUIOp::create(
        b, loc, b.getIndexType(),
        dividePosition(start, pageSize, pageReciprocal).second);
  auto ifCopies = scf::IfOp::create(
      b, loc,
      arith::XOrIOp::create(b, loc, copiedByTma(start, consumerLimit, inPage),
                            arith::ConstantIntOp::create(b, loc, 1, 1)));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifCopies.thenBlock()->getTerminator());
  wgmma::fenceSharedForAsync(b, loc);
}

Value PrefillKernelEmitter::copiedByTma(Value start, Value limit,
                                        Value inPage) {
  Value whole = arith::AndIOp::create(
      b, loc, tmaEnabled,
      cmp(arith::CmpIPredicate::sle, add(start, idx(blockN)), limit));
  if (!inPage)
    return whole;
  return arith::AndIOp::create(
      b, loc, whole,
      cmp(arith::CmpIPredicate::ule, add(inPage, idx(blockN)), pageSize));
}

Value PrefillKernelEmitter::useParity(Value tile) {
  Value use = arith::DivUIOp::create(b, loc, tile, idx(stages));
  return arith::IndexCastUIOp::create(
      b, loc, b.getI32Type(), arith::AndIOp::create(b, loc, use, idx(1)));
}

void PrefillKernelEmitter::releaseStage(Barrier kind, Value stage, Value when) {
  Value first = cmp(arith::CmpIPredicate::eq, lane, idx(0));
  if (when)
    first = arith::AndIOp::create(b, loc, first, when);
  auto ifOp = scf::IfOp::create(b, loc, first);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifOp.thenBlock()->getTerminator());
  NVVM::MBarrierArriveOp::create(b, loc, b.getI64Type(), mbarrier(kind, stage),
                                 /*count=*/Value());
}

LogicalResult
PrefillKernelEmitter::emitWarpSpecialised(function_ref<LogicalResult()> body) {
  // Thread 0 initialises the barriers: "full" expects the producer's
  // threads, "empty" a lane of each consumer warp.
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  auto ifFirst =
      scf::IfOp::create(b, loc, cmp(arith::CmpIPredicate::eq, tid, idx(0)));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(ifFirst.thenBlock()->getTerminator());
    for (Barrier kind :
         {Barrier::FullK, Barrier::FullV, Barrier::EmptyK, Barrier::EmptyV}) {
      bool full = kind == Barrier::FullK || kind == Barrier::FullV;
      for (int64_t s = 0; s < stages; ++s)
        NVVM::MBarrierInitOp::create(b, loc, mbarrier(kind, idx(s)),
                                     i32(full ? kProducerThreads : warps),
                                     /*predicate=*/Value());
    }
  }
  gpu::BarrierOp::create(b, loc);

  auto ifProducer = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::uge, warp, idx(warps)),
      /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifProducer.thenBlock()->getTerminator());
  NVVM::SetMaxRegisterOp::create(b, loc, producerRegisters(),
                                 NVVM::SetMaxRegisterAction::decrease);
  producerMode = true;
  copyThread = arith::SubIOp::create(b, loc, tid, idx(32 * warps));
  copyThreads = kProducerThreads;
  LogicalResult produced = body();
  producerMode = false;
  copyThread = tid;
  copyThreads = 32 * warps;
  if (failed(produced))
    return failure();
  b.setInsertionPoint(ifProducer.elseBlock()->getTerminator());
  NVVM::SetMaxRegisterOp::create(
      b, loc, consumerRegisters(32 * warps, producerRegisters()),
      NVVM::SetMaxRegisterAction::increase);
  return body();
}

LogicalResult PrefillKernelEmitter::emitProducerLoop(scf::ForOp loop) {
  FailureOr<KvLoop> kv = mapKvLoop(loop, blockN);
  if (failed(kv))
    return failure();
  SmallVector<KvTileOp> loads = kv->loads;
  bool paged = loads[0].getPageSize() != 0;
  auto tileStart = [&](Value tile) {
    return add(kv->begin, mul(tile, idx(blockN)));
  };
  // One of tile `tile`'s K or V (which) into its stage once the consumers
  // have released the stage's previous use, signalled on its "full"
  // barrier.
  auto produce = [&](Value tile, int64_t which) {
    Value stage = arith::RemUIOp::create(b, loc, tile, idx(stages));
    Value parity = useParity(tile);
    waitBarrier(mbarrier(which ? Barrier::EmptyV : Barrier::EmptyK, stage),
                arith::XOrIOp::create(b, loc, parity, i32(1)));
    produceTile(tile, tileStart(tile), kv->limit, stage,
                which ? Barrier::FullV : Barrier::FullK, loads, kv->batch,
                kv->kvHead, which);
  };
  auto tiles = scf::ForOp::create(b, loc, idx(0), kv->numTiles, idx(1));
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(tiles.getBody()->getTerminator());
    Value tile = tiles.getInductionVar();
    if (paged) {
      // The tile's granules, located into its slot for its K now and its V
      // at the next tile (locationSlots() >= 3: the slot written here was
      // last read before the previous tile's barrier).
      storeLocation(tile,
                    findTile(tile, kv->numTiles, tileStart(tile), kv->limit,
                             loads, kv->batch),
                    loads);
      namedBarrier(idx(producerBarrier()), kProducerThreads);
    }
    produce(tile, 0);
    // V lags K by a tile (the consumers' PV of a tile follows the next
    // tile's QK).
    auto ifPrevious =
        scf::IfOp::create(b, loc, cmp(arith::CmpIPredicate::ne, tile, idx(0)));
    b.setInsertionPoint(ifPrevious.thenBlock()->getTerminator());
    produce(arith::SubIOp::create(b, loc, tile, idx(1)), 1);
  }
  auto ifAny = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::ugt, kv->numTiles, idx(0)));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifAny.thenBlock()->getTerminator());
  produce(arith::SubIOp::create(b, loc, kv->numTiles, idx(1)), 1);
  return success();
}

void PrefillKernelEmitter::produceTile(Value tile, Value start, Value limit,
                                       Value stage, Barrier kind,
                                       ArrayRef<KvTileOp> loads, Value batch,
                                       Value kvHead, int64_t which) {
  // cp.async: each producer thread's copies, its arrival on the "full"
  // barrier when they land (the barrier expects the producer's 128
  // arrivals).
  auto copies = [&] {
    issueTileCopies(tile, start, limit, loads, kvHead, which);
    NVVM::CpAsyncMBarrierArriveOp::create(b, loc, mbarrier(kind, stage),
                                          /*noinc=*/true);
  };
  if (!tma)
    return copies();
  // TMA: a whole tile (every key before the limit, so no row past the
  // sequence or the tensor is read; paged, within one page) as one box per
  // 64-column panel, the panel's rows 128 bytes under the 128-byte swizzle,
  // which is the ring's layout. Thread 0 arrives expecting the tile's bytes
  // and issues the boxes, which complete the transaction on the barrier;
  // the other threads arrive at once. Any other tile (a sequence's last,
  // partial one; a page smaller than the tile) takes the copies, which
  // zero-fill the rows past the limit.
  KvTileOp load = loads[0];
  bool paged = load.getPageSize() != 0;
  PageLookup page;
  // The page's row is uniform arithmetic; its block_table entry a load
  // that only thread 0's boxes wait for.
  if (paged)
    page = lookupPage(load, batch, start, pageSize, pageReciprocal);
  Value whole = copiedByTma(start, limit, page.inPage);
  auto ifWhole = scf::IfOp::create(b, loc, whole, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(ifWhole.elseBlock()->getTerminator());
  copies();
  b.setInsertionPoint(ifWhole.thenBlock()->getTerminator());
  Value full = mbarrier(kind, stage);
  auto ifIssuer = scf::IfOp::create(
      b, loc, cmp(arith::CmpIPredicate::eq, copyThread, idx(0)),
      /*withElseRegion=*/true);
  b.setInsertionPoint(ifIssuer.elseBlock()->getTerminator());
  NVVM::MBarrierArriveOp::create(b, loc, b.getI64Type(), full,
                                 /*count=*/Value());
  b.setInsertionPoint(ifIssuer.thenBlock()->getTerminator());
  int64_t panels = tileDim / 64;
  int64_t tileBytes =
      blockN * tileDim * elementType.getIntOrFloatBitWidth() / 8;
  NVVM::MBarrierArriveExpectTxOp::create(
      b, loc, b.getI64Type(), full, i32(tileBytes), NVVM::MemScopeKind::CTA,
      /*relaxed=*/false, /*predicate=*/Value());
  auto asI32 = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, b.getI32Type(), v);
  };
  Value tileBase = kvTile(stage, which);
  auto clusterSpace = LLVM::LLVMPointerType::get(b.getContext(), 7);
  // Packed [rows, Hkv, D]: (column, head, key); paged [pages, page rows,
  // Hkv, D]: (column, head, row in the page, page).
  SmallVector<Value, 4> coordinates{Value(), asI32(kvHead)};
  if (paged)
    coordinates.append({asI32(page.inPage), page.entry});
  else
    coordinates.push_back(asI32(start));
  for (int64_t p = 0; p < panels; ++p) {
    Value panel = LLVM::AddrSpaceCastOp::create(
        b, loc, clusterSpace,
        gep(tileBase, b.getI8Type(), idx(p * blockN * wgmma::kRowBytes)));
    coordinates[0] = i32(abi::kTmaBoxColumns * p);
    NVVM::CpAsyncBulkTensorGlobalToSharedClusterOp::create(
        b, loc, panel, which ? vMap : kMap, coordinates, full,
        /*im2colOffsets=*/ValueRange{}, /*multicastMask=*/Value(),
        /*l2CacheHint=*/Value(), NVVM::TMALoadMode::TILE,
        /*isCTAOnly=*/false, /*group=*/nullptr, /*predicate=*/Value());
  }
}

LogicalResult PrefillKernelEmitter::emitConsumerLoop(scf::ForOp loop) {
  FailureOr<KvLoop> kv = mapKvLoop(loop, blockN);
  if (failed(kv))
    return failure();
  consumerBegin = kv->begin;
  consumerLimit = kv->limit;
  consumerPaged = kv->loads[0].getPageSize() != 0;
  // Q, the consumers' only copies, has landed for all of them.
  NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
  wgmma::fenceSharedForAsync(b, loc);
  namedBarrier(idx(consumersBarrier()), 32 * warps);
  LogicalResult emitted = emitTileLoop(
      loop, kv->begin, kv->numTiles, blockN,
      [&](Value tile) {
        currentStage = arith::RemUIOp::create(b, loc, tile, idx(stages));
        awaitFull(Barrier::FullK, currentStage, useParity(tile), tile);
        // Tile - 1's stage and parity (written so for tile 0 too, which
        // has no previous tile).
        Value previous = add(tile, idx(2 * stages - 1));
        previousStage = arith::RemUIOp::create(b, loc, previous, idx(stages));
        previousParity = useParity(previous);
        previousTile = arith::SubIOp::create(b, loc, tile, idx(1));
        hasPrevious = cmp(arith::CmpIPredicate::ne, tile, idx(0));
      },
      [] {});
  if (succeeded(emitted))
    emitLastPV(loop, kv->numTiles);
  return emitted;
}
