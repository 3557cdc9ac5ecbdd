// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" | FileCheck %s

// The call's head_dim (parameter 29) in the wgmma kernel (sm_90a): as in
// attn-lower-to-gpu-head-dim-param.mlir, the consumers' Q copies of the
// chunks past head_dim >> 3 are zero-filled, the producer warpgroup's K/V
// copies read the call's last chunk there, and out's column blocks from
// head_dim on are not stored (all of them when head_dim is the kernel's).
// CHECK-LABEL: gpu.func @d128_prefill(
// CHECK-SAME: %[[HD:arg29]]: i32) kernel
// CHECK: %[[DIM:.*]] = arith.index_cast %[[HD]] : i32 to index
// CHECK: %[[CHUNKS:.*]] = arith.shrui %[[HD]], %c3_i32 : i32
// CHECK-NEXT: %[[CHUNKSI:.*]] = arith.index_cast %[[CHUNKS]] : i32 to index
// CHECK: nvvm.setmaxregister  decrease
// CHECK: %[[KVLAST:.*]] = arith.subi %[[CHUNKSI]], %c1{{.*}} : index
// CHECK-NEXT: %[[KVREAD:.*]] = arith.minui %{{.*}}, %[[KVLAST]] : index
// CHECK-NEXT: arith.constant 8 : index
// CHECK-NEXT: arith.muli %[[KVREAD]], %c8{{.*}} : index
// CHECK: %[[KVCOPY:.*]] = arith.select %{{.*}}, %c16_i32{{.*}}, %c0_i32{{.*}} : i32
// CHECK-NEXT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[KVCOPY]]
// CHECK: nvvm.setmaxregister  increase
// CHECK: %[[QIN:.*]] = arith.cmpi ult, %{{.*}}, %[[CHUNKSI]] : index
// CHECK: %[[QBYTES:.*]] = arith.select %[[QIN]], %c16_i32{{.*}}, %c0_i32{{.*}} : i32
// CHECK: %[[QCOPY:.*]] = arith.select %{{.*}}, %[[QBYTES]], %c0_i32{{.*}} : i32
// CHECK-NEXT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[QCOPY]]
// CHECK: nvvm.wgmma.mma_async
// CHECK: %[[FULL:.*]] = arith.cmpi eq, %[[DIM]], %c128{{.*}} : index
// CHECK-NEXT: scf.if %[[FULL]] {
// CHECK-NOT: arith.cmpi ult, %c{{[0-9]+}}{{.*}}, %[[DIM]]
// CHECK: } else {
// CHECK: %[[BLOCK0:.*]] = arith.cmpi ult, %c0{{.*}}, %[[DIM]] : index
// CHECK-NEXT: scf.if %[[BLOCK0]] {
func.func @d128_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                        %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                        %ck: memref<?xi32>, %o: memref<?x16x128xbf16>,
                        %lse: memref<16x?xf32>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883 : f32, page_size = 0}
  return
}
