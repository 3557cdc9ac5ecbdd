// RUN: attn-opt %s -split-input-file -attn-to-tiled -attn-lower-to-gpu | FileCheck %s

// The call's head_dim is a kernel parameter (the last of each kind, before
// the local ones): a kernel of head_dim 128 serves any call of a multiple of
// 8 up to 128, zero-padded. Decode: parameter 28. Lane l of a row (chunk l of
// 16 bytes) is in the call when l < head_dim >> 3; q is read at the call's
// last chunk past it and taken as zeros, the K/V chunks past it zero-filled
// by their cp.async (source size 0, the lane's bytes: nothing read; where the
// key is valid the copy takes the lane's 16 or 0), and out stores only the
// call's chunks. The partials keep the kernel's 128 columns (zeros past the
// call's); the combine kernel (parameter 8) writes out's column d < head_dim.
// CHECK-LABEL: gpu.func @d128_decode(
// CHECK-SAME: %[[HD:arg28]]: i32) kernel
// CHECK: %[[LANE:.*]] = arith.remui %thread_id_x, %c16{{.*}} : index
// CHECK: %[[CHUNKS:.*]] = arith.shrui %[[HD]], %c3_i32 : i32
// CHECK-NEXT: %[[CHUNKSI:.*]] = arith.index_cast %[[CHUNKS]] : i32 to index
// CHECK-NEXT: %[[INCALL:.*]] = arith.cmpi ult, %[[LANE]], %[[CHUNKSI]] : index
// CHECK: %[[LANEBYTES:.*]] = arith.select %[[INCALL]], %c16_i32, %c0_i32 : i32
// CHECK: %[[LAST:.*]] = arith.subi %[[CHUNKSI]], %c1 : index
// CHECK-NEXT: %[[READ:.*]] = arith.minui %[[LANE]], %[[LAST]] : index
// CHECK-NEXT: arith.muli %[[READ]], %c8 : index
// CHECK: arith.select %[[INCALL]], %{{.*}}, %cst{{.*}} : f32
// CHECK: scf.for
// CHECK: %[[BYTES:.*]] = arith.select %{{.*}}, %[[LANEBYTES]], %c0_i32{{.*}} : i32
// CHECK-NEXT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[BYTES]]
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: %[[ROW:.*]] = arith.cmpi ult, %{{.*}}, %c2{{.*}} : index
// CHECK-NEXT: %[[STORES:.*]] = arith.andi %[[ROW]], %[[INCALL]] : i1
// CHECK-NEXT: scf.if %[[STORES]] {
// CHECK-LABEL: gpu.func @d128_decode_combine(
// CHECK-SAME: %[[CHD:arg8]]: i32) kernel
// CHECK: %[[CHDI:.*]] = arith.index_cast %[[CHD]] : i32 to index
// CHECK-NEXT: %[[COLUMN:.*]] = arith.cmpi ult, %{{.*}}, %[[CHDI]] : index
// CHECK-NEXT: %[[STORES:.*]] = arith.andi %{{.*}}, %[[COLUMN]] : i1
// CHECK-NEXT: scf.if %[[STORES]] {
// CHECK-NEXT: llvm.getelementptr
// CHECK-NEXT: llvm.store
func.func @d128_decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                       %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                       %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883 : f32, page_size = 256}
  return
}

// -----

// Prefill: parameter 29. The Q copies of the chunks past head_dim >> 3 are
// zero-filled (source size 0: nothing read). The K/V copies of those chunks
// read the call's last chunk of the row instead (the chunk index clamped
// once per thread, the copies as for a full row): finite values that q's
// zero columns cancel in Q.K^T and that only out's unstored columns take.
// Out: a call of the kernel's head_dim stores every column unguarded, a
// smaller one each block of 8 columns only below head_dim.
// CHECK-LABEL: gpu.func @d128_prefill(
// CHECK-SAME: %[[HD:arg29]]: i32) kernel
// CHECK: %[[DIM:.*]] = arith.index_cast %[[HD]] : i32 to index
// CHECK: %[[CHUNKS:.*]] = arith.shrui %[[HD]], %c3_i32 : i32
// CHECK-NEXT: %[[CHUNKSI:.*]] = arith.index_cast %[[CHUNKS]] : i32 to index
// CHECK: %[[QIN:.*]] = arith.cmpi ult, %{{.*}}, %[[CHUNKSI]] : index
// CHECK: %[[QBYTES:.*]] = arith.select %[[QIN]], %c16_i32, %c0_i32{{.*}} : i32
// CHECK: %[[QCOPY:.*]] = arith.select %{{.*}}, %[[QBYTES]], %c0_i32{{.*}} : i32
// CHECK-NEXT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[QCOPY]]
// CHECK: %[[KVLAST:.*]] = arith.subi %[[CHUNKSI]], %c1{{.*}} : index
// CHECK-NEXT: %[[KVREAD:.*]] = arith.minui %{{.*}}, %[[KVLAST]] : index
// CHECK-NEXT: arith.constant 8 : index
// CHECK-NEXT: arith.muli %[[KVREAD]], %c8{{.*}} : index
// CHECK: %[[KVCOPY:.*]] = arith.select %{{.*}}, %c16_i32{{.*}}, %c0_i32{{.*}} : i32
// CHECK-NEXT: nvvm.cp.async.shared.global %{{.*}}, %{{.*}}, 16, cache = cg, %[[KVCOPY]]
// CHECK: %[[FULL:.*]] = arith.cmpi eq, %[[DIM]], %c128{{.*}} : index
// CHECK-NEXT: scf.if %[[FULL]] {
// CHECK-NOT: arith.cmpi ult, %c{{[0-9]+}}{{.*}}, %[[DIM]]
// CHECK: } else {
// CHECK: %[[BLOCK0:.*]] = arith.cmpi ult, %c0{{.*}}, %[[DIM]] : index
// CHECK-NEXT: scf.if %[[BLOCK0]] {
// CHECK: llvm.store %{{.*}}, %{{.*}} {alignment = 4 : i64} : i32, !llvm.ptr<1>
// CHECK: %[[BLOCK1:.*]] = arith.cmpi ult, %c8{{.*}}, %[[DIM]] : index
// CHECK-NEXT: scf.if %[[BLOCK1]] {

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
