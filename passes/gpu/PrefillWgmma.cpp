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
  commitAndWait(b, loc, 0);
  return Fragment{s};
}

Fragment PrefillKernelEmitter::emitPVWgmma(const Fragment &p, Fragment acc) {
  using namespace wgmma;
  int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
  int64_t pPerBlock = blockN / 2, accPerBlock = headDim / 2;
  int64_t pTile = 64 * blockN * elementBytes;
  Value pBase = afterStages();
  // P of m64 tile i at pBase + i pTile, contiguous along its keys: panels
  // of 64 keys, chunk c of row n at c ^ (n % 8). This lane's values 4 j + e
  // (e = 0, 1 and 2, 3) are keys 8 j + 2 t, + 1 of rows g and g + 8 of its
  // warp's 16: one 4-byte store each, conflict-free under the swizzle.
  Value wg = warpgroup();
  Value rowInTile =
      add(mul(arith::RemUIOp::create(b, loc, warp, idx(4)), idx(16)), groupRow);
  SmallVector<Value> pTiles;
  for (int64_t r = 0; r < rowBlocks; ++r) {
    Value tileBase = gep(pBase, b.getI8Type(), mul(m64Tile(r), idx(pTile)));
    pTiles.push_back(tileBase);
    for (int64_t j = 0; j < blockN / 8; ++j)
      for (int64_t half = 0; half < 2; ++half) {
        Value row = add(rowInTile, idx(8 * half));
        Value chunk = arith::XOrIOp::create(b, loc, idx(j % 8), groupRow);
        Value offset =
            add(add(idx((j / 8) * 64 * kRowBytes), mul(row, idx(kRowBytes))),
                add(mul(chunk, idx(16)), mul(quadLane, idx(4))));
        ArrayRef<Value> v = ArrayRef<Value>(p.values).slice(
            r * pPerBlock + 4 * j + 2 * half, 2);
        LLVM::StoreOp::create(b, loc, pack(v[0], v[1]),
                              gep(tileBase, b.getI8Type(), offset));
      }
  }
  // The warpgroup's stores become visible to wgmma's reads: a fence to the
  // async proxy, then a barrier of its 128 threads (named 1 + g; 0 is the
  // CTA's).
  fenceSharedForAsync(b, loc);
  NVVM::BarrierOp::create(
      b, loc, /*res=*/Type(),
      arith::IndexCastUIOp::create(b, loc, b.getI32Type(), add(wg, idx(1))),
      i32(128), /*reductionOp=*/nullptr, /*reductionPredicate=*/Value());
  // O [64, head_dim] += P [64, blockN] V [blockN, head_dim] over blockN / 16
  // k-steps: P along its keys as above; V contiguous along head_dim (N):
  // 16 keys (two 8-row groups) a step, head_dim panels blockN rows apart.
  Value vDesc = descriptor(b, loc, sharedAddress(currentKvTile(1)),
                           blockN * kRowBytes, kAtomBytes);
  fence(b, loc);
  for (int64_t r = 0; r < rowBlocks; ++r) {
    Value pDesc = descriptor(b, loc, sharedAddress(pTiles[r]), 0, kAtomBytes);
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
  commitAndWait(b, loc, 0);
  return acc;
}
