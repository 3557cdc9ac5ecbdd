// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast=tokens-per-cta=4 | FileCheck %s

// Speculative decoding (Lq > 1), Qwen3 heads (G = 2), 4 tokens a CTA: the
// grid counts blocks of 4 tokens; a tile holds the 2 heads of 4 tokens,
// token-major (rows_per_token = 2) on load_q, attend and store; the last
// block's count covers the tokens it has; the diagonal is its first token's.
// CHECK-LABEL: func @decode_fold
// CHECK-DAG: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK-DAG: %[[LQ:.*]] = memref.dim %{{.*}}, %c1
// CHECK: %[[NTB:.*]] = arith.ceildivui %[[LQ]], %c4
// CHECK: scf.parallel (%[[BI:.*]], %[[TB:.*]], %[[KVH:.*]]) = {{.*}} to (%[[B]], %[[NTB]], %c8)
// CHECK: %[[T:.*]] = arith.muli %[[TB]], %c4
// CHECK: %[[LEN:.*]] = attn.seq_len %{{.*}}[%[[BI]]]
// CHECK: %[[H:.*]] = arith.muli %[[KVH]], %c2
// CHECK: %[[LEFT:.*]] = arith.subi %[[LQ]], %[[T]]
// CHECK: %[[TOK:.*]] = arith.minui %c4{{.*}}, %[[LEFT]]
// CHECK: %[[COUNT:.*]] = arith.muli %[[TOK]], %c2
// CHECK: %[[QT:.*]] = attn.load_q %{{.*}}[%[[BI]], %[[T]], %[[H]]] count %[[COUNT]] {rows_per_token = 2 : i64} : memref<?x?x16x128xbf16> -> tensor<8x128xf32>
// CHECK: %[[D0:.*]] = arith.subi %[[LEN]], %[[LQ]]
// CHECK: %[[DIAG:.*]] = arith.addi %[[D0]], %[[T]]
// CHECK: attn.attend %[[QT]] {{.*}} diagonal %[[DIAG]]
// CHECK-SAME: rows_per_token = 2
// CHECK-SAME: -> tensor<8x128xf32>, tensor<8xf32>
// CHECK: attn.store {{.*}}[{{ ?}}%[[BI]], %[[T]], %[[H]]] count %[[COUNT]] {rows_per_token = 2 : i64}
// CHECK: attn.grid = ["batch", "token_block", "kv_head"]
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

// -----

// MHA (G = 1): 4 tokens make a tile of 4 rows, one head each.
// CHECK-LABEL: func @decode_fold_mha
// CHECK: attn.load_q {{.*}} {rows_per_token = 1 : i64} : memref<?x?x8x64xf16> -> tensor<4x64xf32>
// CHECK: attn.attend {{.*}} rows_per_token = 1
func.func @decode_fold_mha(%q: memref<?x?x8x64xf16>, %kc: memref<?x?x8x64xf16>,
                           %vc: memref<?x?x8x64xf16>, %lens: memref<?xi32>,
                           %o: memref<?x?x8x64xf16>) {
  attn.paged_decode q(%q : memref<?x?x8x64xf16>) k_cache(%kc : memref<?x?x8x64xf16>)
      v_cache(%vc : memref<?x?x8x64xf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x?x8x64xf16>)
      {num_heads = 8, num_kv_heads = 8, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
