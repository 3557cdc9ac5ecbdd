// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true tma=true" | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" | FileCheck %s --check-prefix=NOTMA
// RUN: attn-opt %s -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | not attn-opt -attn-lower-to-gpu="stages=2 threads=256 wgmma=true tma=true" 2>&1 | FileCheck %s --check-prefix=NOPRODUCER

// TMA in the producer warpgroup (tma=true): a packed prefill kernel takes
// abi::tma's parameters after its own (30, 31: the K and V tensor maps,
// generic pointers listed in attn.tensor_map_args; 32: the launch's tma
// flag, compared with 0 once). Per K or V tile, after the wait for an empty
// stage: a tile whose 128 keys all lie before the limit, when the flag is
// set, is thread 0's: it arrives on the stage's "full" barrier expecting
// the tile's 32768 bytes and issues one box a 64-column panel (coordinates
// column 0 / 64, the KV head, the tile's first key; destination the panel
// 16384 bytes apart, cast to the cluster window); the producer's other
// threads arrive at once. Any other tile takes the cp.async copies (16 a
// thread) and their noinc arrival, as without tma. K's boxes read map 30,
// V's (the previous tile's, and the last) map 31. The paged kernel of the
// same module keeps cp.async only and takes no map. Without tma nothing
// changes (NOTMA); tma without a producer warpgroup is refused.
// CHECK-LABEL: gpu.func @packed_prefill(
// CHECK-SAME: %[[KMAP:arg30]]: !llvm.ptr, %[[VMAP:arg31]]: !llvm.ptr, %[[FLAG:arg32]]: i32)
// CHECK-SAME: attn.tensor_map_args = array<i64: 30, 31>
// CHECK: %[[ON:.*]] = arith.cmpi ne, %[[FLAG]], %c0_i32
// CHECK: nvvm.setmaxregister  decrease 40
// CHECK: scf.for
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: %[[LAST:.*]] = arith.addi %[[START:.*]], %c128
// CHECK-NEXT: %[[WHOLE:.*]] = arith.cmpi sle, %[[LAST]],
// CHECK-NEXT: %[[TMA:.*]] = arith.andi %[[ON]], %[[WHOLE]]
// CHECK-NEXT: scf.if %[[TMA]] {
// CHECK: scf.if
// CHECK: nvvm.mbarrier.arrive.expect_tx %[[FULL:.*]], %c32768_i32
// CHECK: llvm.addrspacecast %{{.*}} : !llvm.ptr<3> to !llvm.ptr<7>
// CHECK: %[[ROW:.*]] = arith.index_castui %[[START]] : index to i32
// CHECK-NEXT: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[KMAP]], %[[FULL]], box[%c0_i32{{.*}}, %{{.*}}, %[[ROW]]]
// CHECK: llvm.getelementptr %{{.*}}[%{{.*}}] : (!llvm.ptr<3>, i64) -> !llvm.ptr<3>, i8
// CHECK: llvm.addrspacecast
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[KMAP]], %[[FULL]], box[%c64_i32, %{{.*}}, %{{.*}}]
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// CHECK: } else {
// CHECK-NEXT: nvvm.mbarrier.arrive %[[FULL]]
// CHECK: } else {
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.mbarrier.arrive %[[FULL]] {noinc = true}
// CHECK-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[VMAP]],
// CHECK-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[VMAP]],
// CHECK: nvvm.setmaxregister  increase 232
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// CHECK-LABEL: gpu.func @packed_prefill_combine(
// CHECK-LABEL: gpu.func @paged_prefill(
// CHECK-NOT: tensor_map_args
// CHECK-SAME: known_block_size
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// CHECK-LABEL: gpu.func @paged_prefill_combine(
// NOTMA-NOT: tensor_map_args
// NOTMA-NOT: nvvm.cp.async.bulk.tensor
// NOPRODUCER: attn-lower-to-gpu: TMA copies are the producer warpgroup's: tma needs producer
func.func @packed_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                          %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                          %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}

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
