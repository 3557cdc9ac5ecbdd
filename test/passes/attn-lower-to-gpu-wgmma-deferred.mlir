// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -attn-lower-to-gpu="stages=2 threads=256 wgmma=true" | FileCheck %s

// The wgmma prefill kernel's deferred PV (the fused program, as the pack
// builds it): tile j's P waits in shared memory and its PV is issued right
// after tile j + 1's QK, so that the tensor cores run it under tile j + 1's
// softmax. The V copies lag the K copies by a tile: the prologue copies K of
// tile 0 alone (8 16-byte copies a thread) after locating tiles 0 and 1 in a
// ring of three location slots (one more than the stages: tile t's slot is
// read for its V at t + 1); each iteration copies K of tile + 1 and V of
// tile (8 + 8) as one group. In the loop: QK (8 wgmmas, B along head_dim)
// committed; if there is a previous tile its PV (8 wgmmas, B along keys)
// committed, then wait until one group is in flight (the PV), else wait for
// all; the softmax (ex2 and the row sums), then a CTA-scope fence (which
// keeps ptxas from sinking the softmax below the wait) and a wait for the
// PV before the accumulator's rescale (the vote that skips it); P stored to
// shared memory (8 stmatrix .x4 of four 8 x 8 blocks each: a warp's 16 rows
// x 128 keys) with no barrier of its own (the next iteration's proxy fence and
// CTA barrier publish it) and no PV in the loop's tail. After the loop, the
// last tile's PV: its V copy waited for, fenced, a CTA barrier, 8 wgmmas,
// committed and waited for.
// CHECK-LABEL: gpu.func @paged_prefill(
// CHECK: arith.remui %c0{{.*}}, %c3 : index
// CHECK: arith.remui %c1{{.*}}, %c3 : index
// CHECK: gpu.barrier
// CHECK-COUNT-8: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK-NEXT: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} B[<bf16>, <one>, <col>]
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: scf.if %{{.*}} -> (f32
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK-NEXT: scf.yield
// CHECK-NEXT: } else {
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NEXT: scf.yield
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx
// CHECK: nvvm.shfl.sync
// CHECK-NOT: nvvm.wgmma
// CHECK: llvm.fence syncscope("block") acq_rel
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-NOT: nvvm.wgmma
// CHECK: nvvm.vote.sync any
// CHECK-COUNT-8: nvvm.stmatrix {{.*}} shape = #nvvm.ld_st_matrix_shape<m = 8, n = 8>} : !llvm.ptr<3>, i32, i32, i32, i32
// CHECK-NOT: nvvm.stmatrix
// CHECK-NOT: nvvm.barrier
// CHECK-NOT: nvvm.wgmma
// CHECK: scf.yield
// CHECK: scf.if %{{.*}} -> (f32
// CHECK-NOT: nvvm.wgmma
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} B[<bf16>, <one>, <row>]
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-LABEL: gpu.func @paged_prefill_combine(
func.func @paged_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x256x8x128xbf16>,
                         %v: memref<?x256x8x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                         %o: memref<?x16x128xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x256x8x128xbf16>)
      v(%v : memref<?x256x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
