// RUN: attn-opt %s -attn-to-tiled='block-n=64' -attn-lower-to-gpu='decode-kv-heads=4' | FileCheck %s
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-kv-heads=3' 2>&1 | FileCheck %s --check-prefix=POW2
// RUN: attn-opt %s -attn-to-tiled='block-n=64' -attn-lower-to-gpu='decode-kv-heads=2 decode-lanes=2' | FileCheck %s --check-prefix=CHUNKS
// RUN: not attn-opt %s -attn-to-tiled='heads-per-cta=8' -attn-lower-to-gpu='decode-kv-heads=2' 2>&1 | FileCheck %s --check-prefix=ANY
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-kv-heads=64' 2>&1 | FileCheck %s --check-prefix=THREADS

// decode-kv-heads=4 at head_dim 32 (4 lanes of one chunk a head): a row group
// is 16 threads, 4 lane groups of 4 lanes, so 128 threads make 8 row groups.
// Lane group h runs KV head (head block) * 4 + h, clamped to Hkv - 1 and
// storing nothing past it.
// CHECK-LABEL: gpu.func @d32_decode
// CHECK: %[[GROUP:.*]] = arith.divui %thread_id_x, %c16 : index
// CHECK: %[[LANE:.*]] = arith.remui %thread_id_x, %c4 : index
// CHECK: %[[T4:.*]] = arith.divui %thread_id_x, %c4{{(_[0-9]+)?}} : index
// CHECK: %[[HLANE:.*]] = arith.remui %[[T4]], %c4{{(_[0-9]+)?}} : index
// The lane's chunk of the stage's 4-head row: lane group * 4 + lane.
// CHECK: %[[HL4:.*]] = arith.muli %[[HLANE]], %c4{{(_[0-9]+)?}} : index
// CHECK: %[[SLOT:.*]] = arith.addi %[[HL4]], %[[LANE]] : index
// The grid's head block y % blocks, then the lane group's head.
// CHECK: %[[BLOCK:.*]] = arith.remui %block_id_y, %{{.*}} : index
// CHECK: %[[B4:.*]] = arith.muli %[[BLOCK]], %c4{{(_[0-9]+)?}} : index
// CHECK: %[[HEAD:.*]] = arith.addi %[[B4]], %[[HLANE]] : index
// CHECK: %[[STORED:.*]] = arith.cmpi ult, %[[HEAD]], %[[HKV:.*]] : index
// CHECK: %[[LAST:.*]] = arith.subi %[[HKV]], %c1{{(_[0-9]+)?}} : index
// CHECK: arith.minui %[[HEAD]], %[[LAST]] : index
// A key's copy lands at key x 128 (4 heads x 32) + slot x 8.
// CHECK: %[[SLOT8:.*]] = arith.muli %[[SLOT]], %c8{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c128{{(_[0-9]+)?}} = arith.constant 128 : index
// CHECK-NEXT: %[[KEY128:.*]] = arith.muli %{{.*}}, %c128{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[KEY128]], %[[SLOT8]] : index
// CHECK: nvvm.cp.async.shared.global
// A score's butterfly stays within the head's 4 lanes: offsets 2 and 1.
// CHECK-NOT: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c4_i32
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c2_i32
// CHECK-NEXT: arith.addf
// CHECK: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c1_i32
// The merge keeps a max and a sum per lane group: row slot * 4 + lane group.
// CHECK: gpu.barrier
// CHECK: %[[S4:.*]] = arith.muli %{{.*}}, %c4{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[S4]], %[[HLANE]] : index
// A lane group past the last KV head stores nothing.
// CHECK: arith.andi %{{.*}}, %[[STORED]] : i1
// CHECK: scf.if
// CHECK-LABEL: gpu.func @d32_decode_combine

// POW2: error: attn-lower-to-gpu: decode-kv-heads must be a power of two, got 3
// With 2 lanes of 2 chunks a head (decode-lanes=2) the stage is slot-major
// over the row group's 4 lanes: chunk c of key k at ((k + 64 c) x 4 + lane
// group x 2 + lane) x 8.
// CHUNKS-LABEL: gpu.func @d32_decode
// CHUNKS: %[[LANE:.*]] = arith.remui %thread_id_x, %c2 : index
// CHUNKS: %[[T2:.*]] = arith.divui %thread_id_x, %c2{{(_[0-9]+)?}} : index
// CHUNKS: %[[HLANE:.*]] = arith.remui %[[T2]], %c2{{(_[0-9]+)?}} : index
// CHUNKS: %[[HL2:.*]] = arith.muli %[[HLANE]], %c2{{(_[0-9]+)?}} : index
// CHUNKS: %[[ROWLANE:.*]] = arith.addi %[[HL2]], %[[LANE]] : index
// CHUNKS: nvvm.cp.async.shared.global
// CHUNKS: %[[K1:.*]] = arith.addi %[[KEY:.*]], %c64{{(_[0-9]+)?}} : index
// CHUNKS-NEXT: %[[S1:.*]] = arith.muli %[[K1]], %c4{{(_[0-9]+)?}} : index
// CHUNKS-NEXT: arith.addi %[[S1]], %[[ROWLANE]] : index
// CHUNKS: nvvm.cp.async.shared.global
// CHUNKS-LABEL: gpu.func @d32_decode_combine
// ANY: error: attn-lower-to-gpu: decode-kv-heads above 1 needs a kernel specialised on G with one token a CTA
// THREADS: error: attn-lower-to-gpu: the threads (128) must be a multiple of the lanes of a row (4) times the KV heads a CTA (64)

func.func @d32_decode(%q: memref<?x1x16x32xbf16>, %kc: memref<?x256x8x32xbf16>,
                      %vc: memref<?x256x8x32xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x1x16x32xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x32xbf16>) k_cache(%kc : memref<?x256x8x32xbf16>)
      v_cache(%vc : memref<?x256x8x32xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x32xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 32, causal = true,
       scale = 0.176776695 : f32, page_size = 256}
  return
}
