// RUN: attn-opt %s -attn-to-tiled='tokens-per-cta=4' -attn-lower-to-gpu | FileCheck %s

// A decode kernel folding 4 query tokens (G = 2, 8 rows a CTA): grid y holds
// ceil(seqlen_q / 4) token blocks of Hkv head blocks (abi/grid.h), so the
// head blocks are grid_dim.y / ((seqlen_q + 3) / 4) and block y's token
// block is y / head blocks; the block's first token is 4 x that. Row r of
// the query tile is token first + r / 2, head 2 x kv_head + r % 2, its rows
// past the block's count (4 tokens or those left, x 2) repeating the last.
// CHECK-LABEL: gpu.func @decode_fold
// CHECK: %[[LQ:.*]] = arith.index_cast %arg22 : i32 to index
// CHECK: %[[LQ3:.*]] = arith.addi %[[LQ]], %c4
// CHECK-NEXT: %[[LQ3B:.*]] = arith.subi %[[LQ3]], %c1
// CHECK-NEXT: %[[TB:.*]] = arith.divui %[[LQ3B]], %c4
// CHECK-NEXT: %grid_dim_y = gpu.grid_dim  y
// CHECK-NEXT: %[[HB:.*]] = arith.divui %grid_dim_y, %[[TB]] : index
// CHECK: %[[TBI:.*]] = arith.divui %block_id_y, %[[HB]] : index
// CHECK-NEXT: %[[KVH:.*]] = arith.remui %block_id_y, %[[HB]] : index
// CHECK: %[[T0:.*]] = arith.muli %[[TBI]], %c4{{(_[0-9]+)?}} : index
// CHECK: %[[H0:.*]] = arith.muli %[[KVH]], %c2{{(_[0-9]+)?}} : index
// CHECK: %[[LEFT:.*]] = arith.subi %[[LQ]], %[[T0]] : index
// CHECK: %[[TOK:.*]] = arith.minui %c4{{(_[0-9]+)?}}, %[[LEFT]] : index
// CHECK: %[[COUNT:.*]] = arith.muli %[[TOK]], %c2{{(_[0-9]+)?}} : index
// CHECK: %[[LAST:.*]] = arith.subi %[[COUNT]], %c1{{(_[0-9]+)?}} : index
// Row 1: min(1, count - 1) is token T0 + row / 2, head H0 + row % 2.
// CHECK: %[[R1:.*]] = arith.minui %c1{{(_[0-9]+)?}}, %[[LAST]] : index
// CHECK-NEXT: %c2{{(_[0-9]+)?}} = arith.constant 2 : index
// CHECK-NEXT: %[[DT:.*]] = arith.divui %[[R1]], %c2{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[T0]], %[[DT]] : index
// CHECK-NEXT: %[[DH:.*]] = arith.remui %[[R1]], %c2{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[H0]], %[[DH]] : index
// CHECK-LABEL: gpu.func @decode_fold_combine
func.func @decode_fold(%q: memref<?x?x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                       %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                       %bt: memref<?x?xi32>, %o: memref<?x?x16x128xbf16>,
                       %lse: memref<?x16x?xf32>) {
  attn.paged_decode q(%q : memref<?x?x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x128xbf16>)
      lse(%lse : memref<?x16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
