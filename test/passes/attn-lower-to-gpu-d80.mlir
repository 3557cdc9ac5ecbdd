// RUN: attn-opt %s -attn-to-tiled -attn-lower-to-gpu | FileCheck %s

// head_dim 80: 10 chunks of 16 bytes a row, not a power of two.
// Decode (G 2): a row takes 4 lanes of 3 chunks each, chunk c of lane l
// being the row's chunk 4c + l; lanes 2 and 3's third chunk (10, 11) address
// chunk 9, holds zeros of q, issues no cp.async and stores nothing (nor do
// the chunks past the call's head_dim, parameter 28, which zero-fill).
// CHECK-LABEL: gpu.func @d80_decode
// CHECK: %[[LANE:.*]] = arith.remui %thread_id_x, %c4{{.*}} : index
// CHECK: %[[IN0:.*]] = arith.cmpi ult, %[[LANE]], %[[CALL:.*]] : index
// CHECK: %[[CH1:.*]] = arith.addi %[[LANE]], %c4{{.*}} : index
// CHECK: %[[IN1:.*]] = arith.cmpi ult, %[[CH1]], %[[CALL]] : index
// CHECK: %[[CH2:.*]] = arith.addi %[[LANE]], %c8{{.*}} : index
// CHECK: %[[ACTIVE:.*]] = arith.cmpi ult, %[[CH2]], %c10 : index
// CHECK: %[[CLAMPED:.*]] = arith.minui %[[CH2]], %c9 : index
// CHECK-NEXT: %[[IN2:.*]] = arith.cmpi ult, %[[CLAMPED]], %[[CALL]] : index
// q: each chunk's values selected by its own flags.
// CHECK: arith.select %[[IN0]], %{{.*}}, %cst{{.*}} : f32
// CHECK: arith.select %[[IN1]], %{{.*}}, %cst{{.*}} : f32
// CHECK: %[[LIVE:.*]] = arith.andi %[[ACTIVE]], %[[IN2]] : i1
// CHECK: arith.select %[[LIVE]], %{{.*}}, %cst{{.*}} : f32
// The copies of a key: chunks 0 and 1 of every lane, chunk 2 where active,
// into a slot-major stage: chunk c of key k at ((k + 64 c) x 4 + lane) x 8
// elements (a quarter-warp's reads of a slot are 128 contiguous bytes).
// CHECK: nvvm.cp.async.shared.global
// CHECK-NOT: scf.if
// CHECK: %[[K1:.*]] = arith.addi %[[KEY:.*]], %c64{{(_[0-9]+)?}} : index
// CHECK-NEXT: %[[S1:.*]] = arith.muli %[[K1]], %c4{{(_[0-9]+)?}} : index
// CHECK-NEXT: %[[L1:.*]] = arith.addi %[[S1]], %[[LANE]] : index
// CHECK-NEXT: arith.muli %[[L1]], %c8{{(_[0-9]+)?}} : index
// CHECK-NOT: scf.if
// CHECK: nvvm.cp.async.shared.global
// CHECK: arith.addi %[[KEY]], %c128{{(_[0-9]+)?}} : index
// CHECK: scf.if %[[ACTIVE]] {
// CHECK-NOT: }
// CHECK: nvvm.cp.async.shared.global
// A score sums 24 products a lane, then a butterfly over the row's 4 lanes.
// CHECK-COUNT-23: math.fma
// CHECK-NOT: math.fma
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c2_i32
// CHECK-NOT: math.fma
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c1_i32
// The merge of the 32 row groups (128 threads of 4 lanes), one group a step:
// their max, then the weights' sum and the lane's 24 columns.
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c1{{.*}} iter_args(%{{.*}}) -> (f32) {
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c32{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32) {
// The store of out: the row under chunk 0's flag, chunk 1 under its own,
// chunk 2 under both of its.
// CHECK: %[[ROW:.*]] = arith.andi %{{.*}}, %[[IN0]] : i1
// CHECK-NEXT: scf.if %[[ROW]] {
// CHECK: llvm.store %{{.*}} : vector<8xbf16>, !llvm.ptr<1>
// CHECK-NEXT: scf.if %[[IN1]] {
// CHECK: llvm.store %{{.*}} : vector<8xbf16>, !llvm.ptr<1>
// CHECK: %[[STORE2:.*]] = arith.andi %[[ACTIVE]], %[[IN2]] : i1
// CHECK-NEXT: scf.if %[[STORE2]] {
// CHECK: llvm.store %{{.*}} : vector<8xbf16>, !llvm.ptr<1>

// Its combine kernel runs groups of whole warps, 96 threads each, up to 4
// (known block size 384; abi::combineGroups, from num_splits, parameter 7:
// one a run of 8 splits): every warp reduces the split lse values by
// butterfly shuffles and takes each split's weight from its lane; thread d
// of group r sums column d (the threads past column 79 read column 79, in
// bounds) over runs r, r + groups, ...; with more than one group the sums
// meet in shared memory after a barrier, and only group 0 stores.
// CHECK-LABEL: gpu.func @d80_decode_combine
// CHECK-SAME: known_block_size = array<i32: 384, 1, 1>
// CHECK: %[[D:.*]] = arith.remui %thread_id_x, %c96 : index
// CHECK: %[[GROUP:.*]] = arith.divui %thread_id_x, %c96{{.*}} : index
// CHECK: %[[SPLITS:.*]] = arith.index_cast %arg7 : i32 to index
// CHECK: %[[RUNS:.*]] = arith.divui %{{.*}}, %c8 : index
// CHECK: %[[ATLEAST1:.*]] = arith.maxui %[[RUNS]], %c1 : index
// CHECK: %[[GROUPS:.*]] = arith.minui %[[ATLEAST1]], %c4 : index
// CHECK: nvvm.shfl.sync  bfly
// CHECK: %[[COLUMN:.*]] = arith.minui %[[D]], %c79 : index
// CHECK: %[[STEP:.*]] = arith.muli %[[GROUPS]], %c8{{.*}} : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[GROUP]], %c8{{.*}} : index
// CHECK: scf.for %{{.*}} = %[[FIRST]] to %[[SPLITS]] step %[[STEP]]
// CHECK: nvvm.shfl.sync  idx
// CHECK: arith.addi %{{.*}}, %[[COLUMN]] : index
// CHECK: scf.yield
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[GROUPS]], %c1{{.*}} : index
// CHECK: scf.if %[[SEVERAL]] -> (f32) {
// CHECK: llvm.mlir.addressof @attn_dynamic_smem
// CHECK: llvm.store %{{.*}} : f32, !llvm.ptr<3>
// CHECK-NEXT: gpu.barrier
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %[[GROUPS]] step %c1{{.*}} iter_args
// CHECK: arith.muli %{{.*}}, %c96{{.*}} : index
// CHECK: llvm.load %{{.*}} : !llvm.ptr<3> -> f32
// CHECK: %[[GROUP0:.*]] = arith.cmpi eq, %[[GROUP]], %c0{{.*}} : index
// CHECK: %[[INCALL:.*]] = arith.cmpi ult, %[[D]], %{{.*}} : index
// CHECK-NEXT: %[[STORES:.*]] = arith.andi %[[GROUP0]], %[[INCALL]] : i1
// CHECK-NEXT: scf.if %[[STORES]] {
// CHECK: gpu.return

// Prefill: rows copied as 16 chunks, the threads of chunks 10..15 copying
// nothing; chunks 8 and 9 swizzle by row % 2, the others by row % 8.
// CHECK-LABEL: gpu.func @d80_prefill
// CHECK: %[[CHUNK:.*]] = arith.remui %thread_id_x{{.*}}, %c16{{.*}} : index
// CHECK: %[[COPIES:.*]] = arith.cmpi ult, %[[CHUNK]], %c10 : index
// CHECK-NEXT: scf.if %[[COPIES]] {
// CHECK: %[[TAIL:.*]] = arith.cmpi uge, %[[CHUNK]], %c8{{.*}} : index
// CHECK: %[[MASK:.*]] = arith.select %[[TAIL]], %c1{{.*}}, %c7{{.*}} : index
// CHECK-NEXT: %[[BITS:.*]] = arith.andi %{{.*}}, %[[MASK]] : index
// CHECK-NEXT: arith.xori %[[CHUNK]], %[[BITS]] : index
// CHECK: nvvm.cp.async.shared.global

func.func @d80_decode(%q: memref<?x1x16x80xbf16>, %kc: memref<?x256x8x80xbf16>,
                      %vc: memref<?x256x8x80xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x1x16x80xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x80xbf16>) k_cache(%kc : memref<?x256x8x80xbf16>)
      v_cache(%vc : memref<?x256x8x80xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x80xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 80, causal = true,
       scale = 0.111803398 : f32, page_size = 256}
  return
}

func.func @d80_prefill(%q: memref<?x16x80xbf16>, %k: memref<?x8x80xbf16>,
                       %v: memref<?x8x80xbf16>, %cq: memref<?xi32>,
                       %ck: memref<?xi32>, %o: memref<?x16x80xbf16>,
                       %lse: memref<16x?xf32>) {
  attn.varlen_prefill q(%q : memref<?x16x80xbf16>) k(%k : memref<?x8x80xbf16>)
      v(%v : memref<?x8x80xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x80xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 80, causal = true,
       scale = 0.111803398 : f32, page_size = 0}
  return
}
