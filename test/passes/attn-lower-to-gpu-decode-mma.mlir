// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2 tokens-per-cta=4' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s --check-prefix=FOLD
// RUN: not attn-opt %s -attn-to-tiled='heads-per-cta=8' -attn-lower-to-gpu='decode-mma=1' 2>&1 | FileCheck %s --check-prefix=ANY
// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2' -attn-lower-to-gpu='decode-mma=1 stages=2 decode-kv-heads=2' | FileCheck %s --check-prefix=HEADS
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-mma=1 decode-kv-heads=8' 2>&1 | FileCheck %s --check-prefix=WARPS
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-mma=1 decode-lanes=2' 2>&1 | FileCheck %s --check-prefix=LANES
// RUN: not attn-opt %s -attn-to-tiled='block-n=32' -attn-lower-to-gpu='decode-mma=1' 2>&1 | FileCheck %s --check-prefix=KEYS
// RUN: not attn-opt %s -attn-to-tiled='tokens-per-cta=16' -attn-lower-to-gpu='decode-mma=1' 2>&1 | FileCheck %s --check-prefix=BIG

// The tensor-core decode kernel at head_dim 32, G 2: 4 warps, each taking 16
// keys of a 64-key tile; lane l = 4 g + t.
// CHECK-LABEL: gpu.func @d32_decode
// CHECK: %[[WARP:.*]] = arith.divui %thread_id_x, %c32 : index
// CHECK: %[[LANE:.*]] = arith.remui %thread_id_x, %c32{{(_[0-9]+)?}} : index
// CHECK: %[[G:.*]] = arith.divui %[[LANE]], %c4 : index
// CHECK: %[[T:.*]] = arith.remui %[[LANE]], %c4{{(_[0-9]+)?}} : index
// Q's A fragments straight from q: rows g and g + 8 (past the 2 rows: zeros,
// reading row 1), columns 2 t (+ 8, + 16, + 24), a pair of bf16 a load.
// CHECK: %[[LASTROW:.*]] = arith.subi %[[NUMQ:c2(_[0-9]+)?]], %c1{{(_[0-9]+)?}} : index
// CHECK: %[[G8:.*]] = arith.addi %[[G]], %c8{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.cmpi ult, %[[G8]], %[[NUMQ]] : index
// CHECK-NEXT: arith.minui %[[G8]], %[[LASTROW]] : index
// CHECK: arith.muli %[[T]], %c2{{(_[0-9]+)?}} : index
// CHECK-COUNT-8: llvm.load %{{.*}} {alignment = 4 : i64} : !llvm.ptr<1> -> i32
// Each warp copies its own 16 keys (4 lanes of a 64-byte row, 8 keys a
// pass): keys 16 w + l / 4 and + 8.
// CHECK: %[[KL:.*]] = arith.divui %[[LANE]], %c4{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c16{{(_[0-9]+)?}} = arith.constant 16 : index
// CHECK-NEXT: %[[W16:.*]] = arith.muli %[[WARP]], %c16{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[W16]], %[[KL]] : index
// The ring: a warp barrier before a stage's next copies and after the wait.
// CHECK: scf.for
// CHECK: nvvm.bar.warp.sync
// CHECK: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-NEXT: nvvm.cp.async.wait.group 1
// CHECK-NEXT: arith.constant -1 : i32
// CHECK-NEXT: nvvm.bar.warp.sync
// QK^T: per 16-column step one ldmatrix.x4 of K and two m16n8k16 MMAs (the
// warp's two 8-key blocks), the second step accumulating onto the first.
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4
// CHECK: %[[S0:.*]] = nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[%[[Z:.*]], %[[Z]], %[[Z]], %[[Z]]]
// CHECK-NEXT: %[[S0E0:.*]] = llvm.extractvalue %[[S0]][0]
// CHECK: nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[%[[Z]], %[[Z]], %[[Z]], %[[Z]]]
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<row>, num = 4
// CHECK: nvvm.mma.sync A[{{.*}}]  B[{{.*}}]  C[%[[S0E0]],
// CHECK: nvvm.mma.sync
// Row max and sum: a quad's lanes reduce with xor 1 and 2.
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c1_i32
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c2_i32
// PV: P packed into A fragments in registers, V by ldmatrix.trans, two
// 16-column steps of two MMAs.
// CHECK: arith.truncf %{{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>, num = 4
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: nvvm.ldmatrix {{.*}}layout = #nvvm.mma_layout<col>, num = 4
// CHECK-COUNT-2: nvvm.mma.sync
// CHECK: scf.yield
// The merge: the warps' acc pairs, max and sum through shared memory, then
// each of the 2 x 4 (row, chunk) items over the 4 warps.
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: llvm.store %{{.*}} {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<3>
// CHECK: gpu.barrier
// CHECK-COUNT-4: llvm.load %{{.*}} {alignment = 16 : i64} : !llvm.ptr<3> -> vector<8xf32>
// CHECK: llvm.store %{{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<1>
// CHECK-LABEL: gpu.func @d32_decode_combine

// Folding 4 tokens (8 rows): rows past the count hold zeros, reading the
// last row of the count; the store skips them.
// FOLD-LABEL: gpu.func @d32_decode
// FOLD: %[[TOK:.*]] = arith.minui %c4{{(_[0-9]+)?}}, %{{.*}} : index
// FOLD-NEXT: %[[COUNT:.*]] = arith.muli %[[TOK]], %c2{{(_[0-9]+)?}} : index
// FOLD: %[[LAST:.*]] = arith.subi %[[COUNT]], %c1{{(_[0-9]+)?}} : index
// FOLD: arith.cmpi ult, %{{.*}}, %[[COUNT]] : index
// FOLD-NEXT: arith.minui %{{.*}}, %[[LAST]] : index
// FOLD: nvvm.mma.sync
// FOLD: arith.cmpi ult, %{{.*}}, %[[COUNT]] : index
// FOLD: llvm.store %{{.*}} : vector<8xbf16>, !llvm.ptr<1>

// Two KV heads a CTA: warp w runs head 2 (head block) + w % 2 on keys of
// share w / 2 (32 keys a warp); each head's tiles 64 x 64 bytes apart
// (4096), a stage's K and V tiles of both heads (16384); the store skips a
// head past Hkv.
// HEADS-LABEL: gpu.func @d32_decode
// HEADS-SAME: attn.shared_memory_bytes = 32768
// HEADS: %[[WARP:.*]] = arith.divui %thread_id_x, %c32 : index
// HEADS: %[[SHARE:.*]] = arith.divui %[[WARP]], %c2 : index
// HEADS: %[[HEADLANE:.*]] = arith.remui %[[WARP]], %c2{{(_[0-9]+)?}} : index
// HEADS-NEXT: %c4096 = arith.constant 4096 : index
// HEADS-NEXT: %[[HEADTILE:.*]] = arith.muli %[[HEADLANE]], %c4096 : index
// HEADS: %[[BLOCK:.*]] = arith.remui %block_id_y
// HEADS-NEXT: %c2_{{[0-9]+}} = arith.constant 2 : index
// HEADS-NEXT: %[[FIRST:.*]] = arith.muli %[[BLOCK]], %c2_{{[0-9]+}} : index
// HEADS-NEXT: %[[HEAD:.*]] = arith.addi %[[FIRST]], %[[HEADLANE]] : index
// HEADS-NEXT: %[[STORED:.*]] = arith.cmpi ult, %[[HEAD]], %[[HKV:.*]] : index
// HEADS: %[[LASTHEAD:.*]] = arith.subi %[[HKV]], %c1
// HEADS-NEXT: arith.minui %[[HEAD]], %[[LASTHEAD]] : index
// HEADS: arith.muli %[[SHARE]], %c32_{{[0-9]+}} : index
// HEADS: arith.addi %{{.*}}, %[[HEADTILE]] : index
// HEADS-NEXT: %c16384 = arith.constant 16384 : index
// HEADS: nvvm.cp.async.shared.global
// HEADS: arith.addi %c8192{{(_[0-9]+)?}}, %[[HEADTILE]] : index
// HEADS: nvvm.mma.sync
// HEADS: gpu.barrier
// HEADS: gpu.barrier
// HEADS: arith.andi %{{.*}}, %[[STORED]] : i1
// HEADS: llvm.store %{{.*}} {alignment = 16 : i64} : vector<8xbf16>, !llvm.ptr<1>

// ANY: error: attn-lower-to-gpu: decode-mma needs a kernel specialised on G
// WARPS: error: attn-lower-to-gpu: decode-mma: the warps (4) must be a multiple of the KV heads a CTA (8)
// LANES: error: attn-lower-to-gpu: decode-mma does not take decode-lanes
// KEYS: error: attn-lower-to-gpu: decode-mma: block-n (32) must be a multiple of 16 keys times the warps of a KV head (4)
// BIG: error: attn-lower-to-gpu: decode-mma holds at most 16 query rows a CTA (G x tokens), got 32

func.func @d32_decode(%q: memref<?x?x16x32xbf16>, %kc: memref<?x256x8x32xbf16>,
                      %vc: memref<?x256x8x32xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x?x16x32xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x32xbf16>) k_cache(%kc : memref<?x256x8x32xbf16>)
      v_cache(%vc : memref<?x256x8x32xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x32xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 32, causal = true,
       scale = 0.176776695 : f32, page_size = 256}
  return
}
