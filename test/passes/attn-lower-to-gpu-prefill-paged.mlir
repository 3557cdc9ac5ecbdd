// RUN: attn-opt %s -attn-to-tiled=block-m=128 | attn-opt -attn-lower-to-gpu=stages=2 | FileCheck %s

// Paged prefill (block-n 64: four 16-key granules a tile). Each tile is
// located a stage ahead: lanes 0-3 of warp 0 look their granule's page up in
// block_table and store its (K, V) row offsets, an i64 pair, into the tile's
// shared-memory slot after the current tile's compute. After the barrier,
// the copies of a tile read its four pairs, all before the first cp.async
// (a shared load between cp.asyncs, which write shared memory, is neither
// merged nor hoisted), and add the row within the granule.
// CHECK-LABEL: gpu.func @paged_prefill(
// The prologue: the first two tiles' slots, the barrier, tile 0's copies.
// CHECK: llvm.store {{.*}} {alignment = 16 : i64} : vector<2xi64>, !llvm.ptr<3>
// CHECK: llvm.store {{.*}} {alignment = 16 : i64} : vector<2xi64>, !llvm.ptr<3>
// CHECK: gpu.barrier
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: llvm.load {{.*}} vector<2xi64>
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// The loop: wait, barrier, tile + 1's copies from its slot.
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: llvm.load {{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<2xi64>
// CHECK-NOT: llvm.load {{.*}} vector<2xi64>
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// Then tile + 2's look-up, whose block_table load (an i32 from global
// memory) is first used after the tile's MMAs, by the store into its slot.
// CHECK: %[[ENTRY:.*]] = llvm.load {{.*}} : !llvm.ptr<1> -> i32
// CHECK: nvvm.mma.sync
// CHECK: scf.if
// CHECK: arith.select %{{.*}}, %{{.*}}, %c0
// CHECK: llvm.store {{.*}} {alignment = 16 : i64} : vector<2xi64>, !llvm.ptr<3>
// CHECK: scf.yield
func.func @paged_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x256x8x128xbf16>,
                         %v: memref<?x256x8x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                         %o: memref<?x16x128xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x256x8x128xbf16>)
      v(%v : memref<?x256x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = -1}
  return
}
