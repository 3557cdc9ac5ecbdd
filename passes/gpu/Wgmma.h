// The wgmma tensor-core unit (sm_90a), beside mma.sync (MmaSync.h): shared
// memory matrix descriptors, wgmma.mma_async over f32 accumulators and its
// fence, commit and wait. The prefill kernel's fragment layout
// (PrefillKernel.h) is the wgmma accumulator layout: warp w % 4 of a
// warpgroup holds rows 16 (w % 4) .. + 15 of each m64 tile, lane 4 g + t
// value 4 j + e at row g + 8 (e / 2), column 8 j + 2 t + e % 2.
//
// Operands live in shared memory in the canonical 128-byte-swizzle layout:
// panels of 64 16-bit elements along the contiguous dimension, each a
// [rows][128 B] block whose 16-byte chunk c of row n sits at chunk
// c ^ (n % 8), panels 1024-byte aligned (the hardware swizzles address bits
// 4-6 by bits 7-9).
#ifndef ATTN_PASSES_GPU_WGMMA_H
#define ATTN_PASSES_GPU_WGMMA_H

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
namespace wgmma {

/// Bytes of a swizzle row and of an 8-row swizzle atom.
constexpr int64_t kRowBytes = 128, kAtomBytes = 8 * kRowBytes;

/// The 64-bit descriptor of an operand at shared address `address` (an i32
/// in the shared window, 1024-byte aligned but for the 32-byte steps along
/// K inside a swizzle row): 128-byte swizzle, `strideBytes` between 8-row
/// groups, `leadingBytes` between 64-element panels along M/N (operands
/// contiguous along M/N; ignored for those contiguous along K).
Value descriptor(OpBuilder &b, Location loc, Value address,
                 int64_t leadingBytes, int64_t strideBytes);
/// `desc` advanced by `bytes` (a multiple of 16) in shared memory.
Value advance(OpBuilder &b, Location loc, Value desc, int64_t bytes);

/// D = A B (+ D when `accumulate`) for one m64 n`n` k16 tile of
/// `elementType` (f16 or bf16) operands from shared memory: A [64, 16]
/// contiguous along K, B [16, n] contiguous along K or, with `bAlongN`,
/// along N. `acc` and the result are the n / 2 f32 accumulators of this
/// thread. Between wgmma.fence (fence) and wgmma.commit_group (commit).
SmallVector<Value> mma(OpBuilder &b, Location loc, Type elementType,
                       Value descA, Value descB, ArrayRef<Value> acc,
                       bool bAlongN, bool accumulate);
/// wgmma.fence: orders the accumulator registers' earlier accesses before
/// the wgmmas that follow.
void fence(OpBuilder &b, Location loc);
/// wgmma.commit_group: the wgmmas issued since the last one form a group.
void commit(OpBuilder &b, Location loc);
/// wgmma.wait_group: waits until at most `pending` groups are in flight.
void wait(OpBuilder &b, Location loc, int64_t pending);
/// commit, then wait.
void commitAndWait(OpBuilder &b, Location loc, int64_t pending);
/// A CTA-scope acq_rel fence (fence.acq_rel.cta) that keeps the work before
/// it ahead of a wgmma.wait_group after it: ptxas otherwise sinks that work
/// (the softmax's ex2s) below the wait, so that nothing overlaps the wgmmas
/// in flight.
void holdAheadOfWait(OpBuilder &b, Location loc);
/// fence.proxy.async.shared::cta: this thread's earlier generic-proxy writes
/// of shared memory (stores, cp.async) become visible to the async proxy
/// that wgmma reads through (a barrier must still follow).
void fenceSharedForAsync(OpBuilder &b, Location loc);

} // namespace wgmma
} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_WGMMA_H
