// The prefill kernel's MMAs through wgmma (sm_90a): QK^T from the Q and K
// tiles' descriptors, P through shared memory, PV with V read along D.
#include "passes/gpu/PrefillKernel.h"
#include "passes/gpu/Wgmma.h"

using namespace mlir;
using namespace mlir::attn;

Value PrefillKernelEmitter::sharedAddress(Value ptr) {
  return LLVM::PtrToIntOp::create(b, loc, b.getI32Type(), ptr);
}

Value PrefillKernelEmitter::warpgroup() {
  return arith::DivUIOp::create(b, loc, warp, idx(4));
}

Fragment PrefillKernelEmitter::emitQKWgmma() {
  // S [64, blockN] of each m64 tile over head_dim / 16 k-steps: Q and K are
  // contiguous along K (head_dim), 32 bytes a step within a panel, a panel
  // every 4 steps.
  using namespace wgmma;
  int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
  Value kDesc =
      descriptor(b, loc, sharedAddress(currentKvTile(0)), 0, kAtomBytes);
  SmallVector<Value> qDescs;
  for (int64_t r = 0; r < rowBlocks; ++r)
    qDescs.push_back(
        descriptor(b, loc,
                   sharedAddress(gep(smemBase, b.getI8Type(),
                                     mul(tileRow(r), idx(kRowBytes)))),
                   0, kAtomBytes));
  SmallVector<Value> s;
  fence(b, loc);
  for (int64_t r = 0; r < rowBlocks; ++r) {
    SmallVector<Value> acc(blockN / 2, f32(0.0));
    for (int64_t kk = 0; kk < headDim / 16; ++kk) {
      int64_t inPanel = (kk % 4) * 16 * elementBytes;
      acc = wgmma::mma(
          b, loc, elementType,
          advance(b, loc, qDescs[r], (kk / 4) * rows * kRowBytes + inPanel),
          advance(b, loc, kDesc, (kk / 4) * blockN * kRowBytes + inPanel), acc,
          /*bAlongN=*/false, /*accumulate=*/kk > 0);
    }
    s.append(acc);
  }
  if (deferredAcc) {
    commit(b, loc);
    issueDeferredPV();
  } else {
    commitAndWait(b, loc, 0);
  }
  return Fragment{s};
}

void PrefillKernelEmitter::storePTiles(const Fragment &p) {
  // P of m64 tile i at afterStages() + i pTile, contiguous along its keys:
  // panels of 64 keys, chunk c of row n at c ^ (n % 8). This lane's values
  // 4 j + e (e = 0, 1 and 2, 3) are keys 8 j + 2 t, + 1 of rows g and g + 8
  // of its warp's 16: an 8 x 8 block (keys 8 j.., rows 8 h..) is one
  // stmatrix matrix, and stmatrix .x4 stores four of them (keys 16 k..,
  // rows 0 and 8), lane l giving row l % 8 of matrix l / 8: one instruction
  // for 16 keys where 4-byte stores took eight.
  using namespace wgmma;
  int64_t pPerBlock = blockN / 2;
  Value matrix = arith::DivUIOp::create(b, loc, lane, idx(8));
  Value rowInMatrix = arith::RemUIOp::create(b, loc, lane, idx(8));
  Value row =
      add(add(mul(arith::RemUIOp::create(b, loc, warp, idx(4)), idx(16)),
              mul(arith::RemUIOp::create(b, loc, matrix, idx(2)), idx(8))),
          rowInMatrix);
  Value keyBlockOffset = arith::DivUIOp::create(b, loc, matrix, idx(2));
  for (int64_t r = 0; r < rowBlocks; ++r) {
    Value tileBase = pTile(r);
    for (int64_t k = 0; k < blockN / 16; ++k) {
      // This lane addresses key block 2 k + matrix / 2 (16 bytes of a row).
      Value keyBlock = add(idx(2 * k), keyBlockOffset);
      Value chunk = arith::XOrIOp::create(
          b, loc, arith::RemUIOp::create(b, loc, keyBlock, idx(8)),
          rowInMatrix);
      Value offset =
          add(add(mul(arith::DivUIOp::create(b, loc, keyBlock, idx(8)),
                      idx(64 * kRowBytes)),
                  mul(row, idx(kRowBytes))),
              mul(chunk, idx(16)));
      SmallVector<Value> regs;
      for (int64_t m = 0; m < 4; ++m) {
        ArrayRef<Value> v = ArrayRef<Value>(p.values).slice(
            r * pPerBlock + 4 * (2 * k + m / 2) + 2 * (m % 2), 2);
        regs.push_back(pack(v[0], v[1]));
      }
      NVVM::StMatrixOp::create(
          b, loc, gep(tileBase, b.getI8Type(), offset), regs,
          NVVM::MMALayout::row,
          NVVM::LdStMatrixShapeAttr::get(b.getContext(), 8, 8),
          NVVM::LdStMatrixEltType::B16);
    }
  }
}

Fragment PrefillKernelEmitter::issuePV(Fragment acc, Value vTile) {
  // O [64, head_dim] += P [64, blockN] V [blockN, head_dim] over blockN / 16
  // k-steps: P along its keys as storePTiles lays it out; V contiguous along
  // head_dim (N): 16 keys (two 8-row groups) a step, head_dim panels blockN
  // rows apart.
  using namespace wgmma;
  int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
  int64_t accPerBlock = headDim / 2;
  Value vDesc =
      descriptor(b, loc, sharedAddress(vTile), blockN * kRowBytes, kAtomBytes);
  for (int64_t r = 0; r < rowBlocks; ++r) {
    Value pDesc = descriptor(b, loc, sharedAddress(pTile(r)), 0, kAtomBytes);
    SmallVector<Value> o(
        ArrayRef<Value>(acc.values).slice(r * accPerBlock, accPerBlock));
    for (int64_t kk = 0; kk < blockN / 16; ++kk)
      o = wgmma::mma(
          b, loc, elementType,
          advance(b, loc, pDesc,
                  (kk / 4) * 64 * kRowBytes + (kk % 4) * 16 * elementBytes),
          advance(b, loc, vDesc, kk * 16 * kRowBytes), o,
          /*bAlongN=*/true, /*accumulate=*/true);
    std::copy(o.begin(), o.end(), acc.values.begin() + r * accPerBlock);
  }
  return acc;
}

void PrefillKernelEmitter::publishPTiles() {
  wgmma::fenceSharedForAsync(b, loc);
  namedBarrier(add(warpgroup(), idx(1)), 128);
}

void PrefillKernelEmitter::namedBarrier(Value id, int64_t threads) {
  NVVM::BarrierOp::create(
      b, loc, /*res=*/Type(),
      arith::IndexCastUIOp::create(b, loc, b.getI32Type(), id), i32(threads),
      /*reductionOp=*/nullptr,
      /*reductionPredicate=*/Value());
}

Fragment PrefillKernelEmitter::emitPVWgmma(const Fragment &p, Fragment acc) {
  storePTiles(p);
  publishPTiles();
  wgmma::fence(b, loc);
  acc = issuePV(std::move(acc), currentKvTile(1));
  wgmma::commitAndWait(b, loc, 0);
  return acc;
}

void PrefillKernelEmitter::findDeferrablePV() {
  // acc' = pv_acc(P, scale_rows(acc, alpha)) with acc the kv loop's
  // iter_arg, used by nothing else, and acc' yielded in its place.
  func.walk([&](PVAccOp pv) {
    auto scale = pv.getAcc().getDefiningOp<ScaleRowsOp>();
    auto acc = scale ? dyn_cast<BlockArgument>(scale.getTile()) : nullptr;
    auto loop =
        acc ? dyn_cast<scf::ForOp>(acc.getOwner()->getParentOp()) : nullptr;
    if (!loop || !loop->hasAttr(AttnDialect::KvLoopAttrHelper::getNameStr()) ||
        pv->getParentOp() != loop || acc == loop.getInductionVar() ||
        !acc.hasOneUse() || !scale->hasOneUse() || !pv->hasOneUse())
      return;
    unsigned index = acc.getArgNumber() - loop.getNumInductionVars();
    if (loop.getBody()->getTerminator()->getOperand(index) != pv.getResult())
      return;
    deferredAcc = acc;
    deferredAccIndex = index;
  });
}

void PrefillKernelEmitter::issueDeferredPV() {
  // After this tile's QK (committed), the previous tile's PV onto the
  // carried accumulator; then the QK is waited for, the PV left in flight
  // through the softmax (awaitDeferredPV, before the accumulator's rescale).
  Fragment acc = lookup(deferredAcc);
  SmallVector<Type> types(acc.values.size(), b.getF32Type());
  auto ifOp = scf::IfOp::create(b, loc, types, hasPrevious,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  // The previous tile's V, from the producer.
  if (producer)
    awaitFull(Barrier::FullV, previousStage, previousParity, previousTile);
  wgmma::fence(b, loc);
  Fragment o = issuePV(acc, kvTile(previousStage, 1));
  wgmma::commit(b, loc);
  wgmma::wait(b, loc, 1);
  scf::YieldOp::create(b, loc, o.values);
  b.setInsertionPointToStart(ifOp.elseBlock());
  wgmma::wait(b, loc, 0);
  scf::YieldOp::create(b, loc, acc.values);
  b.setInsertionPointAfter(ifOp);
  bind(deferredAcc, Fragment{SmallVector<Value>(ifOp.getResults())});
  pvInFlight = true;
  // The QK has completed: K's stage goes back to the producer.
  if (producer)
    releaseStage(Barrier::EmptyK, currentStage);
}

void PrefillKernelEmitter::awaitDeferredPV() {
  if (!pvInFlight)
    return;
  // The softmax above runs while the PV is in flight; left to itself ptxas
  // would move it below the wait.
  wgmma::holdAheadOfWait(b, loc);
  wgmma::wait(b, loc, 0);
  pvInFlight = false;
  // The previous tile's PV has completed: its V's stage goes back.
  if (producer)
    releaseStage(Barrier::EmptyV, previousStage, hasPrevious);
}

void PrefillKernelEmitter::emitLastPV(scf::ForOp loop, Value numTiles) {
  // The last tile's P waits in shared memory: its V copy lands, the CTA
  // meets (P and V visible to the async proxy), and its PV completes the
  // accumulator the loop returned.
  Value result = loop.getResult(deferredAccIndex);
  Fragment acc = lookup(result);
  SmallVector<Type> types(acc.values.size(), b.getF32Type());
  auto ifOp = scf::IfOp::create(
      b, loc, types, cmp(arith::CmpIPredicate::ugt, numTiles, idx(0)),
      /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(ifOp.thenBlock());
  Value lastTile = arith::SubIOp::create(b, loc, numTiles, idx(1));
  Value lastStage = arith::RemUIOp::create(b, loc, lastTile, idx(stages));
  if (producer) {
    // P was published in the loop; V comes from the producer.
    awaitFull(Barrier::FullV, lastStage, useParity(lastTile), lastTile);
  } else {
    NVVM::CpAsyncWaitGroupOp::create(b, loc, 0);
    wgmma::fenceSharedForAsync(b, loc);
    gpu::BarrierOp::create(b, loc);
  }
  wgmma::fence(b, loc);
  Fragment o = issuePV(acc, kvTile(lastStage, 1));
  wgmma::commitAndWait(b, loc, 0);
  scf::YieldOp::create(b, loc, o.values);
  b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(b, loc, acc.values);
  bind(result, Fragment{SmallVector<Value>(ifOp.getResults())});
}
