// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast | FileCheck %s

// Qwen3 heads: G = 16 / 8 = 2 query heads packed per KV head.
// CHECK-LABEL: func @decode_paged
// CHECK-DAG: %[[C8:.*]] = arith.constant 8 : index
// CHECK-DAG: %[[B:.*]] = memref.dim %{{.*}}, %c0
// CHECK-DAG: %[[LQ:.*]] = memref.dim %{{.*}}, %c1
// CHECK: scf.parallel (%[[BI:.*]], %[[T:.*]], %[[KVH:.*]]) = {{.*}} to (%[[B]], %[[LQ]], %[[C8]])
// CHECK: %[[LEN:.*]] = attn.seq_len %{{.*}}[%[[BI]]]
// CHECK: %[[H:.*]] = arith.muli %[[KVH]], %c2
// CHECK: %[[QT:.*]] = attn.load_q %{{.*}}[%[[BI]], %[[T]], %[[H]]] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
// CHECK: %[[D0:.*]] = arith.subi %[[LEN]], %[[LQ]]
// CHECK: %[[DIAG:.*]] = arith.addi %[[D0]], %[[T]]
// CHECK: %[[O:.*]], %[[LSE:.*]] = attn.attend %[[QT]] keys({{.*}} block_table {{.*}}) [%[[BI]], %[[KVH]]] range[%c0, %[[LEN]]) diagonal %[[DIAG]]
// CHECK-SAME: rows_per_token = 2
// CHECK: attn.store %[[O]], %[[LSE]] to %{{.*}}[{{ ?}}%[[BI]], %[[T]], %[[H]]]
// CHECK: attn.grid = ["batch", "token", "kv_head"]
// CHECK-NOT: attn.paged_decode
func.func @decode_paged(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                        %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                        %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

// MHA (G = 1), contiguous caches, lse requested: one row per tile, no block table.
// CHECK-LABEL: func @decode_contiguous_mha
// CHECK: attn.load_q {{.*}} -> tensor<1x64xf32>
// CHECK: attn.attend {{.*}} keys(%{{[a-z0-9]+}}, %{{[a-z0-9]+}})
// CHECK-SAME: page_size = 0
// CHECK: attn.store {{.*}} lse %{{.*}}[
func.func @decode_contiguous_mha(%q: memref<?x4x8x64xf16>, %kc: memref<?x?x8x64xf16>,
                                 %vc: memref<?x?x8x64xf16>, %lens: memref<?xi32>,
                                 %o: memref<?x4x8x64xf16>, %lse: memref<?x8x4xf32>) {
  attn.paged_decode q(%q : memref<?x4x8x64xf16>) k_cache(%kc : memref<?x?x8x64xf16>)
      v_cache(%vc : memref<?x?x8x64xf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x4x8x64xf16>) lse(%lse : memref<?x8x4xf32>)
      {num_heads = 8, num_kv_heads = 8, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
