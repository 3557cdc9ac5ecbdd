// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2 tokens-per-cta=8' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s --check-prefix=ROWS16

// The tensor-core decode kernel at head_dim 192, G 2: Q's 48 registers
// beside the accumulator's 96 would spill, so each warp stores its Q
// fragments into its own tile after the ring (2 stages x [K, V] x 64 keys x
// 384 bytes = 98304) and reads them back by ldmatrix each tile. The 2 rows
// fit in 8: a warp's tile is 8 x 384 bytes, 4 warps 12288.
// CHECK-LABEL: gpu.func @d192_decode
// CHECK-SAME: attn.shared_memory_bytes = 110592
// CHECK: %[[WARP:.*]] = arith.divui %thread_id_x, %c32 : index
// The 12 steps x 2 halves of row g from q, then into the tile at the
// warp's offset, a b32 each; rows g + 8 are not stored.
// CHECK-COUNT-48: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// CHECK: %[[WOFF:.*]] = arith.muli %[[WARP]], %c3072 : index
// CHECK: arith.addi %c98304, %[[WOFF]] : index
// CHECK-COUNT-24: llvm.store %{{.*}} {alignment = 4 : i64} : i32, !llvm.ptr<3>
// CHECK-NOT: llvm.store {{.*}} : i32, !llvm.ptr<3>
// CHECK: nvvm.bar.warp.sync
// QK^T: each step's A fragment by one ldmatrix.x2 (rows 8-15 zero
// registers), then two MMAs (the warp's two 8-key blocks).
// CHECK: scf.for
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 2
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4
// CHECK: nvvm.mma.sync A[%{{.*}}, %c0_i32{{(_[0-9]+)?}}, %{{.*}}, %c0_i32{{(_[0-9]+)?}}]
// CHECK: nvvm.mma.sync A[%{{.*}}, %c0_i32{{(_[0-9]+)?}}, %{{.*}}, %c0_i32{{(_[0-9]+)?}}]
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 2
// PV is unchanged: V by ldmatrix.trans.
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>, num = 4
// CHECK: scf.yield

// 8 tokens of G 2 are 16 rows: 16 x 384 bytes a warp, rows g and g + 8
// stored, and each step's A by ldmatrix.x4.
// ROWS16-LABEL: gpu.func @d192_decode
// ROWS16-SAME: attn.shared_memory_bytes = 122880
// ROWS16: arith.muli %{{.*}}, %c6144 : index
// ROWS16-COUNT-48: llvm.store %{{.*}} {alignment = 4 : i64} : i32, !llvm.ptr<3>
// ROWS16: nvvm.bar.warp.sync
// ROWS16: scf.for
// ROWS16-NOT: num = 2
// ROWS16: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4
// ROWS16: nvvm.mma.sync
// ROWS16-NOT: num = 2
// ROWS16: scf.yield

func.func @d192_decode(%q: memref<?x?x16x192xbf16>, %kc: memref<?x256x8x192xbf16>,
                       %vc: memref<?x256x8x192xbf16>, %lens: memref<?xi32>,
                       %bt: memref<?x?xi32>, %o: memref<?x?x16x192xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x192xbf16>) k_cache(%kc : memref<?x256x8x192xbf16>)
      v_cache(%vc : memref<?x256x8x192xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x192xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 192, causal = true,
       scale = 0.0721687836 : f32, page_size = 256}
  return
}
