// The prefill kernel's shared memory: its size (recorded on the kernel), and
// the addressing of the Q tile, then the K/V stages, rows of 16-byte chunks
// under an XOR swizzle.
#include "passes/gpu/PrefillKernel.h"
#include "passes/gpu/Wgmma.h"

using namespace mlir;
using namespace mlir::attn;

int64_t PrefillKernelEmitter::sharedMemoryBytes() const {
  int64_t elementBytes = elementType.getIntOrFloatBitWidth() / 8;
  int64_t qTile = rows * tileDim * elementBytes;
  int64_t stageRing = stages * 2 * blockN * tileDim * elementBytes;
  // wgmma: the base is aligned up to 1024 bytes at run time.
  int64_t alignment = wgmma ? wgmma::kAtomBytes : 0;
  return qTile + stageRing + pTileBytes() + locationBytes() + barrierBytes() +
         alignment;
}

int64_t PrefillKernelEmitter::pTileBytes() const {
  return wgmma ? rows * blockN * elementType.getIntOrFloatBitWidth() / 8 : 0;
}

Value PrefillKernelEmitter::swizzled(Value row, Value chunk, int64_t tileRows) {
  if (wgmma) {
    // Panel chunk / 8 of [tileRows][128 B], chunk c of row n at c ^ (n % 8).
    Value panel = arith::DivUIOp::create(b, loc, chunk, idx(8));
    Value inPanel = arith::XOrIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, chunk, idx(8)),
        arith::RemUIOp::create(b, loc, row, idx(8)));
    return add(add(mul(panel, idx(tileRows * wgmma::kRowBytes)),
                   mul(row, idx(wgmma::kRowBytes))),
               mul(inPanel, idx(16)));
  }
  return mmaSwizzled(row, chunk, headDim);
}

Value PrefillKernelEmitter::tileChunk(Value stage, int64_t which, Value row,
                                      Value chunk) {
  Value tile = add(mul(stage, idx(2 * blockN * tileDim * 2)),
                   idx(which * blockN * tileDim * 2));
  return gep(stagesBase, b.getI8Type(),
             add(tile, swizzled(row, chunk, blockN)));
}

Value PrefillKernelEmitter::qChunk(Value row, Value chunk) {
  return gep(smemBase, b.getI8Type(), swizzled(row, chunk, rows));
}
