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
// V's (the previous tile's, and the last) map 31. The paged kernel takes
// the same parameters; its tile must also lie within one page (its row in
// the page, from the tile's first key, plus 128 at most the page size), and
// its boxes have four coordinates: column, KV head, the row in the page and
// the page, block_table's entry (loaded by every producer thread, used by
// thread 0's boxes only). Without tma nothing changes (NOTMA); tma without
// a producer warpgroup is refused.
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
// CHECK: %[[ROW:.*]] = arith.index_castui %[[START]] : index to i32
// CHECK: %[[PANEL0:.*]] = llvm.addrspacecast %{{.*}} : !llvm.ptr<3> to !llvm.ptr<7>
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %[[PANEL0]], %[[KMAP]], %[[FULL]], box[%c0_i32{{.*}}, %{{.*}}, %[[ROW]]]
// CHECK-NEXT: %c16384
// CHECK: %[[PANEL1:.*]] = llvm.addrspacecast
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %[[PANEL1]], %[[KMAP]], %[[FULL]], box[%c64_i32, %{{.*}}, %[[ROW]]]
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// CHECK: } else {
// CHECK-NEXT: nvvm.mbarrier.arrive %[[FULL]]
// CHECK: } else {
// CHECK-COUNT-16: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.mbarrier.arrive %{{.*}} {noinc = true}
// CHECK-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[VMAP]],
// CHECK-COUNT-2: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[VMAP]],
// CHECK: nvvm.setmaxregister  increase 232
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// The consumers fence the async proxy after a stage's wait only where the
// tile came by cp.async (TMA's writes are the async proxy's own): the
// producer's test, negated.
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: %[[CFITS:.*]] = arith.cmpi sle, %{{.*}}, %{{.*}} : index
// CHECK-NEXT: %[[CTMA:.*]] = arith.andi %{{.*}}, %[[CFITS]] : i1
// CHECK-NEXT: %[[CCOPIES:.*]] = arith.xori %[[CTMA]], %true : i1
// CHECK-NEXT: scf.if %[[CCOPIES]] {
// CHECK-NEXT: nvvm.fence.proxy {kind = #nvvm.proxy_kind<async.shared>
// CHECK-NOT: nvvm.cp.async.bulk.tensor
// CHECK-LABEL: gpu.func @packed_prefill_combine(
// CHECK-LABEL: gpu.func @paged_prefill(
// CHECK-SAME: %[[PKMAP:arg30]]: !llvm.ptr, %[[PVMAP:arg31]]: !llvm.ptr, %{{.*}}: i32)
// CHECK-SAME: attn.tensor_map_args = array<i64: 30, 31>
// CHECK: nvvm.setmaxregister  decrease 56
// CHECK: nvvm.mbarrier.try_wait.parity
// CHECK: %[[ENTRY:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: %[[INPAGE:.*]] = arith.index_castui {{.*}} : i32 to index
// CHECK: %[[END:.*]] = arith.addi %[[INPAGE]], %c128{{.*}} : index
// CHECK-NEXT: %[[FITS:.*]] = arith.cmpi ule, %[[END]], %{{.*}} : index
// CHECK-NEXT: %[[PTMA:.*]] = arith.andi %{{.*}}, %[[FITS]]
// CHECK-NEXT: scf.if %[[PTMA]] {
// CHECK: nvvm.mbarrier.arrive.expect_tx %{{.*}}, %c32768_i32
// CHECK: %[[PROW:.*]] = arith.index_castui %[[INPAGE]] : index to i32
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[PKMAP]], %{{.*}}, box[%c0_i32{{.*}}, %{{.*}}, %[[PROW]], %[[ENTRY]]]
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[PKMAP]], %{{.*}}, box[%c64_i32, %{{.*}}, %[[PROW]], %[[ENTRY]]]
// CHECK: } else {
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.bulk.tensor.shared.cluster.global %{{.*}}, %[[PVMAP]],
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
