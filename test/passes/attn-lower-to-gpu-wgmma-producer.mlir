// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" | not attn-opt -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" 2>&1 | FileCheck %s --check-prefix=UNFUSED
// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | not attn-opt -attn-lower-to-gpu="stages=2 threads=128 wgmma=true producer=true" 2>&1 | FileCheck %s --check-prefix=THREADS

// The warp-specialised wgmma prefill kernel (sm_90a as the pack builds it):
// 384 threads, two consumer warpgroups (warps 0-7) and a producer warpgroup
// (warps 8-11). Thread 0 initialises two "full" mbarriers a stage (K, V:
// 128 arrivals, the producer's threads) and two "empty" ones (8 arrivals, a
// lane of each consumer warp); the CTA meets once. The producer lowers its
// registers from the launch's 168 to 56 (paged: it keeps the pages'
// offsets; 40 when packed) and runs the K/V loop alone: per tile it locates
// the tile's 16-key granules (paged) behind a barrier of its own 128 threads,
// waits for K's stage to be empty, copies K (16 16-byte copies a thread:
// 128 rows of 16 chunks over 128 threads) and signals "full" when they land
// (cp.async.mbarrier.arrive.noinc), then the same for the previous tile's
// V; after the loop the last V. The consumers raise theirs to 224 (the rest), copy Q
// (8 copies a thread) and wait for it among themselves (256 threads); in
// their loop no copy and no CTA barrier: a wait for K's "full" barrier and
// a proxy fence, the QK, the previous tile's PV after a wait for its V,
// K's stage released once the QK has completed, the softmax, V's stage
// released once the PV has completed, P stored and published to the
// warpgroup's wgmmas (a proxy fence and the warpgroup's named barrier).
// After the loop the last PV waits for the last V.
// CHECK-LABEL: gpu.func @paged_prefill(
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK-COUNT-4: nvvm.mbarrier.init %{{.*}}, %c128_i32
// CHECK-COUNT-4: nvvm.mbarrier.init %{{.*}}, %c8_i32
// CHECK-NEXT: }
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.setmaxregister  decrease 56
// CHECK-NOT: nvvm.wgmma
// CHECK: scf.for
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %c128_i32
// CHECK-NOT: nvvm.cp.async
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.mbarrier.arrive %{{.*}} {noinc = true}
// CHECK: arith.cmpi ne
// CHECK-NEXT: scf.if
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.mbarrier.arrive %{{.*}} {noinc = true}
// CHECK: scf.if
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.mbarrier.arrive %{{.*}} {noinc = true}
// CHECK-NOT: nvvm.wgmma
// CHECK: nvvm.setmaxregister  increase 224
// CHECK-COUNT-8: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %c256_i32
// CHECK: scf.for
// CHECK-NOT: nvvm.cp.async
// CHECK-NOT: gpu.barrier
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} B[<bf16>, <one>, <col>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: scf.if %{{.*}} -> (f32
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} B[<bf16>, <one>, <row>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 1
// CHECK: } else {
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.mbarrier.arrive
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx
// CHECK: llvm.fence syncscope("block") acq_rel
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: nvvm.mbarrier.arrive
// CHECK: nvvm.vote.sync any
// CHECK-COUNT-8: nvvm.stmatrix
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %c128_i32
// CHECK-NEXT: scf.yield
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} B[<bf16>, <one>, <row>]
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-LABEL: gpu.func @paged_prefill_combine(
// UNFUSED: a producer warpgroup needs the fused program's deferred PV (run attn-fuse-tile-ops first)
// THREADS: a producer warpgroup needs wgmma and more than its 128 threads, got 128 threads
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
