// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" | attn-opt -attn-lower-to-gpu="stages=2 threads=256 wgmma=true" | FileCheck %s

// The prefill kernel with wgmma (the sm_90a lowering of the same tiled
// program): two warpgroups of 64 query rows each (256 threads); after each
// K/V tile's cp.async wait a proxy fence makes the generic-proxy writes
// visible to wgmma's async proxy before the CTA barrier; QK^T is one
// m64n128k16 wgmma per 16 of head_dim (8 for D 128) from Q and K descriptors
// (128-byte swizzle: bit 62; stride byte offset 1024 B: 64 in bits 32-45),
// the first zeroing the accumulator, the others accumulating, K read along
// head_dim (B col); then the group is committed and waited for. P is stored
// (8 stmatrix .x4 a warp) to the warpgroup's own shared tile, fenced to the async proxy and its 128
// threads meet at a named barrier; PV is one m64n128k16 wgmma per 16 keys
// (8 for block-n 128), V read along head_dim (B row, transposed).
// CHECK: gpu.func @qwen3_prefill(
// CHECK-SAME: known_block_size = array<i32: 256, 1, 1>
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK-NEXT: gpu.barrier
// CHECK: %[[SW128:.*]] = arith.constant 4611686293305294848 : i64
// CHECK: %[[KDESC:.*]] = arith.ori %{{.*}}, %[[SW128]] : i64
// CHECK: %[[SW128B:.*]] = arith.constant 4611686293305294848 : i64
// CHECK-NEXT: %[[QDESC:.*]] = arith.ori %{{.*}}, %[[SW128B]] : i64
// CHECK-NEXT: nvvm.wgmma.fence.aligned
// CHECK: nvvm.wgmma.mma_async %[[QDESC]], %[[KDESC]], %{{.*}}, <m = 64, n = 128, k = 16>, D[<f32>, <zero>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK-COUNT-7: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <col>]
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK-COUNT-8: nvvm.stmatrix
// CHECK-NOT: nvvm.stmatrix
// CHECK: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>, space = #nvvm.shared_space<cta>}
// CHECK: nvvm.barrier id = %{{.*}} number_of_threads = %c128_i32
// CHECK: nvvm.wgmma.fence.aligned
// CHECK-COUNT-8: nvvm.wgmma.mma_async {{.*}} <m = 64, n = 128, k = 16>, D[<f32>, <one>], A[<bf16>, <one>, <row>], B[<bf16>, <one>, <row>]
// CHECK-NOT: nvvm.wgmma.mma_async
// CHECK: nvvm.wgmma.commit.group.sync.aligned
// CHECK-NEXT: nvvm.wgmma.wait.group.sync.aligned 0
// CHECK: gpu.func @qwen3_prefill_combine(
func.func @qwen3_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                         %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %o: memref<?x16x128xbf16>,
                         %lse: memref<16x?xf32>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}
