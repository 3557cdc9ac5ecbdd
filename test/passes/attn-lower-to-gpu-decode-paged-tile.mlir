// RUN: attn-opt %s -attn-to-tiled='block-n=32' -attn-lower-to-gpu | FileCheck %s

// The CUDA-core decode kernel's paged K/V copies (D 128, a key's 16 chunks on
// 16 lanes, 8 keys a pass, 4 keys a thread of a 32-key tile; K and V).
//
// A paged kernel divides positions by the page size with floor((2^32 - 1) /
// page_size), made once.
// CHECK-LABEL: gpu.func @paged
// CHECK: %[[RECIP:.*]] = arith.divui %c-1_i32, %arg{{[0-9]+}} : i32
// The KV loop comes twice, under one scf.if. Where K's and V's rows are
// equally far apart, 32 rows within 2^31 elements, and the page and the
// first tile are multiples of 32 keys, every tile lies in one page: it reads
// its block_table entry once, and each copy is at the lane's 32-bit offset
// (key x row stride + column) from the tile's row, the pass's key offset
// added to that row.
// CHECK: %[[NARROW:.*]] = arith.cmpi ult, %[[ROWS:arg[0-9]+]], %c67108864_i64 : i64
// CHECK-NEXT: %[[SAME:.*]] = arith.cmpi eq, %arg{{[0-9]+}}, %[[ROWS]] : i64
// CHECK-NEXT: arith.andi %[[NARROW]], %[[SAME]] : i1
// CHECK: arith.remui %{{.*}}, %c32{{(_[0-9]+)?}} : index
// CHECK: arith.remui %{{.*}}, %c32{{(_[0-9]+)?}} : index
// CHECK: %[[WHOLE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[WHOLE]] -> (f32
// CHECK: %[[ONEPAGE:.*]]:20 = scf.for
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP]] : i32
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK-NOT: llvm.load
// CHECK: %[[LANEOFF:.*]] = arith.muli %{{.*}}, %{{.*}} : i32
// CHECK-NEXT: arith.addi %[[LANEOFF]], %{{.*}} : i32
// CHECK-COUNT-8: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-NOT: arith.mului_extended
// CHECK: scf.yield %[[ONEPAGE]]#0,
// CHECK-NEXT: } else {
// Else each key alone: its position divided and its block_table entry read,
// once for K and once for V.
// CHECK: %[[KEYS:.*]]:20 = scf.for
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP]] : i32
// CHECK-NEXT: arith.muli
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP]] : i32
// CHECK-NEXT: arith.muli
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.yield %[[KEYS]]#0,
// CHECK-LABEL: gpu.func @paged_combine

// Contiguous caches: no page, no division, 8 copies a tile.
// CHECK-LABEL: gpu.func @contiguous
// CHECK-NOT: arith.mului_extended
// CHECK-NOT: arith.divui %c-1_i32
// CHECK-COUNT-8: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-LABEL: gpu.func @contiguous_combine

func.func @paged(%q: memref<?x?x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                 %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                 %bt: memref<?x?xi32>, %o: memref<?x?x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}

func.func @contiguous(%q: memref<?x?x16x128xbf16>, %kc: memref<?x?x8x128xbf16>,
                      %vc: memref<?x?x8x128xbf16>, %lens: memref<?xi32>,
                      %o: memref<?x?x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x128xbf16>) k_cache(%kc : memref<?x?x8x128xbf16>)
      v_cache(%vc : memref<?x?x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}
