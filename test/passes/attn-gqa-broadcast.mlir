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

// -----

// Prefill, packed K/V: a grid over (batch, row tile, query head); each tile
// holds block-m rows of one head and reads KV head head / G; the key range
// starts at the sequence's first packed row; the diagonal is bottom-right.
// CHECK-LABEL: func @prefill_packed
// CHECK-DAG: %[[NB:.*]] = arith.subi %{{.*}}, %c1
// CHECK-DAG: %[[TILES:.*]] = arith.ceildivui %{{.*}}, %c64
// CHECK: scf.parallel (%[[BI:.*]], %[[QB:.*]], %[[H:.*]]) = {{.*}} to (%[[NB]], %[[TILES]], %c16)
// CHECK: %[[FIRST:.*]] = arith.muli %[[QB]], %c64
// CHECK: %[[LQ:.*]] = attn.seq_len %arg3[%[[BI]]] {cumulative}
// CHECK: %[[LK:.*]] = attn.seq_len %arg4[%[[BI]]] {cumulative}
// CHECK: %[[HAS:.*]] = arith.cmpi slt, %[[FIRST]], %[[LQ]]
// CHECK: scf.if %[[HAS]]
// CHECK: %[[QS:.*]] = attn.seq_start %arg3[%[[BI]]]
// CHECK: %[[ROW:.*]] = arith.addi %[[QS]], %[[FIRST]]
// CHECK: %[[COUNT:.*]] = arith.subi %[[LQ]], %[[FIRST]]
// CHECK: %[[KVH:.*]] = attn.kv_head %[[H]] {group = 2 : i64}
// CHECK: %[[QT:.*]] = attn.load_q_rows %arg0[%[[ROW]], %[[H]]] count %[[COUNT]] : memref<?x16x128xbf16> -> tensor<64x128xf32>
// CHECK: %[[KS:.*]] = attn.seq_start %arg4[%[[BI]]]
// CHECK: %[[KE:.*]] = arith.addi %[[KS]], %[[LK]]
// CHECK: %[[D0:.*]] = arith.subi %[[KE]], %[[LQ]]
// CHECK: %[[DIAG:.*]] = arith.addi %[[D0]], %[[FIRST]]
// CHECK: %[[O:.*]], %[[LSE:.*]] = attn.attend %[[QT]] keys(%arg1, %arg2) [%[[BI]], %[[KVH]]] range[%[[KS]], %[[KE]]) diagonal %[[DIAG]]
// CHECK-SAME: rows_per_token = 1
// CHECK: attn.store_rows %[[O]], %[[LSE]] to %arg5 lse %arg6[{{ ?}}%[[ROW]], %[[H]]] count %[[COUNT]]
// CHECK: attn.grid = ["batch", "q_block", "head"]
// CHECK-NOT: attn.varlen_prefill
func.func @prefill_packed(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                          %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                          %ck: memref<?xi32>, %o: memref<?x16x128xbf16>,
                          %lse: memref<16x?xf32>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

// Prefill, paged K/V (a prefix-cache hit): key positions count from 0 within
// the sequence and go through the block table.
// CHECK-LABEL: func @prefill_paged
// CHECK: %[[LK:.*]] = attn.seq_len %arg4
// CHECK: attn.kv_head %{{.*}} {group = 4 : i64}
// CHECK-NOT: attn.seq_start %arg4
// CHECK: %[[KE:.*]] = arith.addi %c0{{.*}}, %[[LK]]
// CHECK: attn.attend {{.*}} keys(%arg1, %arg2 block_table %arg5) {{.*}} range[%c0{{.*}}, %[[KE]])
// CHECK-SAME: page_size = 16
func.func @prefill_paged(%q: memref<?x8x64xf16>, %k: memref<?x16x2x64xf16>,
                         %v: memref<?x16x2x64xf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                         %o: memref<?x8x64xf16>) {
  attn.varlen_prefill q(%q : memref<?x8x64xf16>) k(%k : memref<?x16x2x64xf16>)
      v(%v : memref<?x16x2x64xf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x8x64xf16>)
      {num_heads = 8, num_kv_heads = 2, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 16}
  return
}

// -----

// heads-per-cta=4 for G = 6 (Hq 12, Hkv 2): G comes from attn.group_size (a GPU
// kernel reads it from the launch), each KV head's heads are cut into
// ceil(G / 4) = 2 blocks, and the second block loads and stores only its
// count = min(4, G - 4) = 2 valid rows.
// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast=heads-per-cta=4 | FileCheck %s --check-prefix=ANY
// ANY-LABEL: func @decode_any_group
// ANY: scf.parallel (%[[BI:.*]], %[[T:.*]], %[[BLK:.*]]) = {{.*}} to ({{.*}}, {{.*}}, %c4)
// ANY: %[[G:.*]] = attn.group_size {group = 6 : i64}
// ANY: %[[NB:.*]] = arith.ceildivui %[[G]], %c4
// ANY: %[[KVH:.*]] = arith.divui %[[BLK]], %[[NB]]
// ANY: %[[PART:.*]] = arith.remui %[[BLK]], %[[NB]]
// ANY: %[[FIRST:.*]] = arith.muli %[[PART]], %c4
// ANY: %[[BASE:.*]] = arith.muli %[[KVH]], %[[G]]
// ANY: %[[H:.*]] = arith.addi %[[BASE]], %[[FIRST]]
// ANY: %[[REST:.*]] = arith.subi %[[G]], %[[FIRST]]
// ANY: %[[N:.*]] = arith.minui %c4{{.*}}, %[[REST]]
// ANY: attn.load_q %{{.*}}[%[[BI]], %[[T]], %[[H]]] count %[[N]] : {{.*}} -> tensor<4x64xf32>
// ANY: attn.attend {{.*}} [%[[BI]], %[[KVH]]]
// ANY-SAME: rows_per_token = 4
// ANY: attn.store {{.*}}[{{ ?}}%[[BI]], %[[T]], %[[H]]] count %[[N]]
// ANY: attn.grid = ["batch", "token", "head_block"]
func.func @decode_any_group(%q: memref<?x1x12x64xbf16>, %kc: memref<?x16x2x64xbf16>,
                            %vc: memref<?x16x2x64xbf16>, %lens: memref<?xi32>,
                            %bt: memref<?x?xi32>, %o: memref<?x1x12x64xbf16>) {
  attn.paged_decode q(%q : memref<?x1x12x64xbf16>) k_cache(%kc : memref<?x16x2x64xbf16>)
      v_cache(%vc : memref<?x16x2x64xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x12x64xbf16>)
      {num_heads = 12, num_kv_heads = 2, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 16}
  return
}
