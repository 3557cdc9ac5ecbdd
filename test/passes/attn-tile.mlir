// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast -attn-tile=block-n=32 | FileCheck %s

// Causal: the loop stops at the last row's visible end; only tiles past the
// first row's visible end are masked.
// CHECK-LABEL: func @decode_causal
// CHECK: %[[LEN:.*]] = attn.seq_len
// CHECK: %[[DIAG:.*]] = arith.addi
// CHECK-DAG: %[[FIRST:.*]] = arith.addi %[[DIAG]], %c1
// CHECK-DAG: %[[MASKFROM:.*]] = arith.minsi %[[LEN]], %[[FIRST]]
// CHECK-DAG: %[[VISEND:.*]] = arith.minsi %[[LEN]],
// CHECK: %[[INIT:.*]] = attn.softmax_init : <4, 64>
// CHECK: %[[ST:.*]] = scf.for %[[N0:.*]] = %c0 to %[[VISEND]] step %c32 iter_args(%[[S:.*]] = %[[INIT]])
// CHECK:   %[[K:.*]] = attn.kv_tile %{{[a-z0-9]+}} block_table %{{.*}}[%{{.*}}, %{{.*}}, %[[N0]]] limit %[[VISEND]] {page_size = 16 : i64} {{.*}} -> tensor<32x64xf16>
// CHECK:   %[[SC:.*]] = attn.qk %{{.*}}, %[[K]] {scale = 1.250000e-01 : f32} : tensor<4x64xf32>, tensor<32x64xf16> -> tensor<4x32xf32>
// CHECK:   %[[TEND:.*]] = arith.addi %[[N0]], %c32
// CHECK:   %[[NEEDS:.*]] = arith.cmpi sgt, %[[TEND]], %[[MASKFROM]]
// CHECK:   %[[M:.*]] = scf.if %[[NEEDS]]
// CHECK:     attn.mask %[[SC]] keys[%[[N0]], %[[LEN]]) diagonal %[[DIAG]] {causal = true, rows_per_token = 4 : i64}
// CHECK:   } else {
// CHECK:     scf.yield %[[SC]]
// CHECK:   %[[V:.*]] = attn.kv_tile
// CHECK:   %[[U:.*]] = attn.softmax_update %[[S]], %[[M]], %[[V]]
// CHECK:   scf.yield %[[U]]
// CHECK: attn.softmax_finalize %[[ST]]
// CHECK-NOT: attn.attend
func.func @decode_causal(%q: memref<?x2x8x64xf16>, %kc: memref<?x16x2x64xf16>,
                         %vc: memref<?x16x2x64xf16>, %lens: memref<?xi32>,
                         %bt: memref<?x?xi32>, %o: memref<?x2x8x64xf16>) {
  attn.paged_decode q(%q : memref<?x2x8x64xf16>) k_cache(%kc : memref<?x16x2x64xf16>)
      v_cache(%vc : memref<?x16x2x64xf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x2x8x64xf16>)
      {num_heads = 8, num_kv_heads = 2, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 16}
  return
}

// -----

// Non-causal: the loop covers the whole range, masking only the ragged end.
// CHECK-LABEL: func @decode_noncausal
// CHECK: %[[LEN:.*]] = attn.seq_len
// CHECK: scf.for %{{.*}} = %c0 to %[[LEN]] step %c32
// CHECK: arith.cmpi sgt, %{{.*}}, %[[LEN]]
// CHECK: attn.mask {{.*}} {causal = false
func.func @decode_noncausal(%q: memref<?x1x8x64xf16>, %kc: memref<?x?x8x64xf16>,
                            %vc: memref<?x?x8x64xf16>, %lens: memref<?xi32>,
                            %o: memref<?x1x8x64xf16>) {
  attn.paged_decode q(%q : memref<?x1x8x64xf16>) k_cache(%kc : memref<?x?x8x64xf16>)
      v_cache(%vc : memref<?x?x8x64xf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x1x8x64xf16>)
      {num_heads = 8, num_kv_heads = 8, head_dim = 64, causal = false,
       scale = 0.125 : f32, page_size = 0}
  return
}

// -----

// Causal prefill with block-m = 64 rows: the loop starts at the sequence's
// first key row and stops at the last row's visible end (tiles above the
// diagonal are never visited); only the tiles that reach past the first
// row's visible end, the ones crossing the diagonal, are masked.
// CHECK-LABEL: func @prefill_causal
// CHECK: %[[QT:.*]] = attn.load_q_rows
// CHECK: %[[KS:.*]] = attn.seq_start %arg4
// CHECK: %[[KE:.*]] = arith.addi %[[KS]], %{{.*}}
// CHECK: arith.subi %[[KE]]
// CHECK: %[[DIAG:.*]] = arith.addi
// CHECK-DAG: %[[FIRST:.*]] = arith.addi %[[DIAG]], %c1
// CHECK-DAG: %[[LAST:.*]] = arith.addi %[[DIAG]], %c64
// CHECK-DAG: %[[MASKFROM:.*]] = arith.minsi %[[KE]], %[[FIRST]]
// CHECK-DAG: %[[VISEND:.*]] = arith.minsi %[[KE]], %[[LAST]]
// CHECK: scf.for %[[N0:.*]] = %[[KS]] to %[[VISEND]] step %c32
// CHECK:   attn.kv_tile %arg1[%{{.*}}, %{{.*}}, %[[N0]]] limit %[[VISEND]] {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<32x64xbf16>
// CHECK:   %[[SC:.*]] = attn.qk %[[QT]], {{.*}} -> tensor<64x32xf32>
// CHECK:   %[[TEND:.*]] = arith.addi %[[N0]], %c32
// CHECK:   %[[NEEDS:.*]] = arith.cmpi sgt, %[[TEND]], %[[MASKFROM]]
// CHECK:   scf.if %[[NEEDS]]
// CHECK:     attn.mask %[[SC]] keys[%[[N0]], %[[KE]]) diagonal %[[DIAG]] {causal = true, rows_per_token = 1 : i64}
// CHECK: attn.softmax_finalize
// CHECK: attn.store_rows
func.func @prefill_causal(%q: memref<?x4x64xbf16>, %k: memref<?x2x64xbf16>,
                          %v: memref<?x2x64xbf16>, %cq: memref<?xi32>,
                          %ck: memref<?xi32>, %o: memref<?x4x64xbf16>) {
  attn.varlen_prefill q(%q : memref<?x4x64xbf16>) k(%k : memref<?x2x64xbf16>)
      v(%v : memref<?x2x64xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x4x64xbf16>)
      {num_heads = 4, num_kv_heads = 2, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
