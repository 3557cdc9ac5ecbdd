// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s

// The tensor-core decode kernel's paged K/V copies at D 64 (G 2: 4 warps of
// 16 keys a 64-key tile, a key's 8 chunks on 8 lanes, 4 keys a pass, 4
// passes a warp; K and V).
//
// A paged kernel divides positions by the page size with floor((2^32 - 1) /
// page_size), made once.
// CHECK-LABEL: gpu.func @d64
// CHECK: %[[RECIP:.*]] = arith.divui %c-1_i32, %arg{{[0-9]+}} : i32
// The KV loop comes twice, under one scf.if. Where K's and V's rows are
// equally far apart, 64 rows within 2^31 elements, and the page and the
// first tile are multiples of 64 keys, every tile lies in one page: it reads
// its block_table entry once; each copy is at the lane's 32-bit offset (key
// x row stride + column) from the tile's row.
// CHECK: %[[NARROW:.*]] = arith.cmpi ult, %[[ROWS:arg[0-9]+]], %c33554432_i64 : i64
// CHECK-NEXT: %[[SAME:.*]] = arith.cmpi eq, %arg{{[0-9]+}}, %[[ROWS]] : i64
// CHECK-NEXT: arith.andi %[[NARROW]], %[[SAME]] : i1
// CHECK: arith.remui %{{.*}}, %c64{{(_[0-9]+)?}} : index
// CHECK: arith.remui %{{.*}}, %c64{{(_[0-9]+)?}} : index
// CHECK: %[[WHOLE:.*]] = arith.andi
// CHECK-NEXT: scf.if %[[WHOLE]] -> (f32
// CHECK: %[[ONEPAGE:.*]]:36 = scf.for
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
// Else each key alone: its position divided through the reciprocal and its
// block_table entry read.
// CHECK: %[[KEYS:.*]]:36 = scf.for
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP]] : i32
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.yield %[[KEYS]]#0,
// CHECK-LABEL: gpu.func @d64_combine

// D 128's 8-row kernels (G 8 here) keep one loop that chooses per tile: a
// tile whose 64 keys lie in one page (K's and V's rows equally far apart, 64
// rows within 2^31 elements) reads its block_table entry once; else each key
// alone.
// CHECK-LABEL: gpu.func @d128
// CHECK: %[[RECIP128:.*]] = arith.divui %c-1_i32, %arg{{[0-9]+}} : i32
// CHECK-NOT: scf.if %{{.*}} -> (f32
// CHECK: scf.for
// CHECK: %[[NARROW128:.*]] = arith.cmpi ult, %[[ROWS128:arg[0-9]+]], %c33554432_i64 : i64
// CHECK-NEXT: %[[SAME128:.*]] = arith.cmpi eq, %arg{{[0-9]+}}, %[[ROWS128]] : i64
// CHECK-NEXT: arith.andi %[[NARROW128]], %[[SAME128]] : i1
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP128]] : i32
// CHECK: %[[INPAGE128:.*]] = arith.cmpi ule, %{{.*}}, %{{.*}} : index
// CHECK-NEXT: %[[TILE128:.*]] = arith.andi %{{.*}}, %[[INPAGE128]] : i1
// CHECK-NEXT: scf.if %[[TILE128]] {
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK-NOT: llvm.load
// CHECK: %[[LANEOFF128:.*]] = arith.muli %{{.*}}, %{{.*}} : i32
// CHECK-NEXT: arith.addi %[[LANEOFF128]], %{{.*}} : i32
// CHECK: nvvm.cp.async.shared.global
// CHECK: } else {
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: arith.mului_extended %{{.*}}, %[[RECIP128]] : i32
// CHECK: llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-LABEL: gpu.func @d128_combine

// From D 160 on the tensor-core kernels locate each key alone, a 32-bit
// division each: no reciprocal, one loop.
// CHECK-LABEL: gpu.func @d160
// CHECK-NOT: arith.divui %c-1_i32
// CHECK-NOT: arith.mului_extended
// CHECK: scf.for
// CHECK: arith.divui %{{.*}}, %{{.*}} : i32
// CHECK: nvvm.cp.async.shared.global
// CHECK-NOT: arith.mului_extended
// CHECK-NOT: } else {
// CHECK: nvvm.cp.async.commit.group
// CHECK-LABEL: gpu.func @d160_combine

func.func @d64(%q: memref<?x?x16x64xbf16>, %kc: memref<?x256x8x64xbf16>,
               %vc: memref<?x256x8x64xbf16>, %lens: memref<?xi32>,
               %bt: memref<?x?xi32>, %o: memref<?x?x16x64xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x64xbf16>) k_cache(%kc : memref<?x256x8x64xbf16>)
      v_cache(%vc : memref<?x256x8x64xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x64xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 256}
  return
}

func.func @d128(%q: memref<?x?x64x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                %bt: memref<?x?xi32>, %o: memref<?x?x64x128xbf16>) {
  attn.paged_decode q(%q : memref<?x?x64x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x64x128xbf16>)
      {num_heads = 64, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883476 : f32, page_size = 256}
  return
}

func.func @d160(%q: memref<?x?x32x160xbf16>, %kc: memref<?x256x8x160xbf16>,
                %vc: memref<?x256x8x160xbf16>, %lens: memref<?xi32>,
                %bt: memref<?x?xi32>, %o: memref<?x?x32x160xbf16>) {
  attn.paged_decode q(%q : memref<?x?x32x160xbf16>) k_cache(%kc : memref<?x256x8x160xbf16>)
      v_cache(%vc : memref<?x256x8x160xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x32x160xbf16>)
      {num_heads = 32, num_kv_heads = 8, head_dim = 160, causal = true,
       scale = 0.0790569415 : f32, page_size = 256}
  return
}
