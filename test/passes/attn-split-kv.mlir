// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast -attn-split-kv=chunk-align=32 | FileCheck %s

// Decode: the split dimension leads the grid; each split attends its share of
// the keys the token sees under the causal mask (min(len, diagonal + 1), none
// when the diagonal is before the first key);
// one split stores the result, several store partials that attn.combine
// merges.
// CHECK-LABEL: func @decode
// CHECK-SAME: %[[PO:[a-z0-9]+]]: memref<?x?x?x16x128xf32> {attn.role = "part_o", attn.workspace}
// CHECK-SAME: %[[PL:[a-z0-9]+]]: memref<?x?x?x16xf32> {attn.role = "part_lse", attn.workspace}
// CHECK-SAME: %[[S:[a-z0-9]+]]: index {attn.num_splits}
// CHECK: scf.parallel (%[[SI:.*]], %[[BI:.*]], %[[T:.*]], %[[KVH:.*]]) = {{.*}} to (%[[S]],
// CHECK: %[[LEN:.*]] = attn.seq_len
// CHECK: %[[DIAG:.*]] = arith.addi %{{.*}}, %[[T]]
// CHECK: %[[LAST:.*]] = arith.addi %[[DIAG]], %c1
// CHECK: %[[VIS:.*]] = arith.minsi %[[LEN]], %[[LAST]]
// CHECK: %[[D:.*]] = arith.subi %[[VIS]], %[[ZERO:c0[_0-9]*]]
// CHECK: %[[N:.*]] = arith.maxsi %[[D]], %c0
// CHECK: %[[BEGIN:.*]], %[[END:.*]] = attn.split_range %[[SI]] of %[[S]] over %[[N]] {align = 32 : i64}
// CHECK: %[[B0:.*]] = arith.addi %[[ZERO]], %[[BEGIN]]
// CHECK: %[[E0:.*]] = arith.addi %[[ZERO]], %[[END]]
// CHECK: attn.attend {{.*}} range[%[[B0]], %[[E0]])
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[S]], %c1
// CHECK: scf.if %[[ONE]] {
// CHECK:   attn.store {{.*}} to %{{[a-z0-9]+}}[{{ ?}}%[[BI]], %[[T]],
// CHECK: } else {
// CHECK:   attn.store {{.*}} to %[[PO]] lse %[[PL]][split %[[SI]], %[[BI]], %[[T]],
// CHECK: attn.grid = ["split", "batch", "token", "kv_head"]
// CHECK: %[[SEVERAL:.*]] = arith.cmpi ugt, %[[S]], %c1
// CHECK: scf.if %[[SEVERAL]] {
// CHECK:   attn.combine %[[PO]], %[[PL]] splits %[[S]] to
func.func @decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x16x8x128xbf16>,
                  %vc: memref<?x16x8x128xbf16>, %lens: memref<?xi32>,
                  %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x16x8x128xbf16>)
      v_cache(%vc : memref<?x16x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 16}
  return
}

// -----

// Causal prefill over packed keys: a row tile of 64 rows sees the keys of its
// sequence (from cu_seqlens_k[b]) up to its last row's diagonal, and the
// splits share them, offset by the sequence's first key. Partial rows go to
// [S, total_q, Hq, D] and [S, total_q, Hq].
// CHECK-LABEL: func @prefill_packed
// CHECK-SAME: %[[O:[a-z0-9]+]]: memref<?x16x128xbf16> {attn.role = "out"}, %[[LSE:[a-z0-9]+]]: memref<16x?xf32> {attn.role = "lse"}
// CHECK-SAME: %[[PO:[a-z0-9]+]]: memref<?x?x16x128xf32> {attn.role = "part_o", attn.workspace}
// CHECK-SAME: %[[PL:[a-z0-9]+]]: memref<?x?x16xf32> {attn.role = "part_lse", attn.workspace}
// CHECK-SAME: %[[S:[a-z0-9]+]]: index {attn.num_splits}
// CHECK: scf.parallel (%[[SI:.*]], %[[BI:.*]], %[[QB:.*]], %[[H:.*]]) = {{.*}} to (%[[S]],
// CHECK: %[[FIRST:.*]] = attn.seq_start %arg4[%[[BI]]]
// CHECK: %[[KEND:.*]] = arith.addi %[[FIRST]], %{{.*}}
// CHECK: %[[DIAG:.*]] = arith.addi
// CHECK: %[[LAST:.*]] = arith.addi %[[DIAG]], %c64
// CHECK: %[[VIS:.*]] = arith.minsi %[[KEND]], %[[LAST]]
// CHECK: %[[D:.*]] = arith.subi %[[VIS]], %[[FIRST]]
// CHECK: %[[N:.*]] = arith.maxsi %[[D]], %c0
// CHECK: %[[BEGIN:.*]], %[[END:.*]] = attn.split_range %[[SI]] of %[[S]] over %[[N]] {align = 32 : i64}
// CHECK: %[[B0:.*]] = arith.addi %[[FIRST]], %[[BEGIN]]
// CHECK: %[[E0:.*]] = arith.addi %[[FIRST]], %[[END]]
// CHECK: %{{.*}}, %{{.*}} = attn.attend {{.*}} range[%[[B0]], %[[E0]]) diagonal %[[DIAG]]
// CHECK: scf.if
// CHECK:   attn.store_rows %{{.*}}, %{{.*}} to %[[O]] lse %[[LSE]][{{ ?}}%[[ROW:.*]], %[[H]]] count
// CHECK: } else {
// CHECK:   attn.store_rows %{{.*}}, %{{.*}} to %[[PO]] lse %[[PL]][split %[[SI]], %[[ROW]], %[[H]]] count
// CHECK-SAME: memref<?x?x16x128xf32>, memref<?x?x16xf32>
// CHECK: attn.grid = ["split", "batch", "q_block", "head"]
// CHECK: scf.if
// CHECK:   attn.combine %[[PO]], %[[PL]] splits %[[S]] to %[[O]] lse %[[LSE]] : memref<?x?x16x128xf32>, memref<?x?x16xf32>, memref<?x16x128xbf16>, memref<16x?xf32>
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

// Non-causal paged prefill: every row sees all Lk keys, positions from 0.
// CHECK-LABEL: func @prefill_paged_full
// CHECK: %[[LENK:.*]] = attn.seq_len %arg4
// CHECK: %[[KEND:.*]] = arith.addi %[[ZERO:c0[_0-9]*]], %[[LENK]]
// CHECK-NOT: arith.minsi
// CHECK: %[[D:.*]] = arith.subi %[[KEND]], %[[ZERO]]
// CHECK: %[[N:.*]] = arith.maxsi %[[D]], %c0
// CHECK: attn.split_range %{{.*}} of %{{.*}} over %[[N]] {align = 32 : i64}
// CHECK: attn.attend {{.*}} block_table
// CHECK-SAME: causal = false
func.func @prefill_paged_full(%q: memref<?x4x64xf16>, %kc: memref<?x16x4x64xf16>,
                              %vc: memref<?x16x4x64xf16>, %cq: memref<?xi32>,
                              %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                              %o: memref<?x4x64xf16>) {
  attn.varlen_prefill q(%q : memref<?x4x64xf16>) k(%kc : memref<?x16x4x64xf16>)
      v(%vc : memref<?x16x4x64xf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x4x64xf16>)
      {num_heads = 4, num_kv_heads = 4, head_dim = 64, causal = false,
       scale = 0.125 : f32, page_size = 16}
  return
}

// -----

// A window: the splits share the keys between the first row's first key
// (diagonal - left, a multiple of chunk-align past the range's begin; all of
// them when left < 0) and the visible end, which a non-causal right bound
// (when >= 0) moves to diagonal + right + 1.
// CHECK-LABEL: func @decode_window
// CHECK-SAME: %[[WL:[a-z0-9]+]]: index {attn.window_left}, %[[WR:[a-z0-9]+]]: index {attn.window_right}
// CHECK: %[[LEN:.*]] = attn.seq_len
// CHECK: %[[DIAG:.*]] = arith.addi %{{.*}}, %{{.*}}
// CHECK: %[[FIRST:.*]] = arith.subi %[[DIAG]], %[[WL]]
// CHECK: %[[OFF:.*]] = arith.subi %[[FIRST]], %[[ZERO:c0[_0-9]*]]
// CHECK: %[[SKIP:.*]] = arith.maxsi %{{.*}}, %[[OFF]]
// CHECK: %[[LB:.*]] = arith.cmpi sge, %[[WL]], %{{.*}}
// CHECK: %[[SKIP2:.*]] = arith.select %[[LB]], %[[SKIP]], %{{.*}}
// CHECK: %[[CH:.*]] = arith.divsi %[[SKIP2]], %c32
// CHECK: %[[SK:.*]] = arith.muli %[[CH]], %c32
// CHECK: %[[VB:.*]] = arith.addi %[[ZERO]], %[[SK]]
// CHECK: %[[LASTEND:.*]] = arith.addi %[[DIAG]], %{{.*}}
// CHECK: %[[BOUNDED:.*]] = arith.cmpi sge, %[[WR]], %{{.*}}
// CHECK: %[[PLUSR:.*]] = arith.addi %[[LASTEND]], %[[WR]]
// CHECK: %[[SEL:.*]] = arith.select %[[BOUNDED]], %[[PLUSR]], %[[LEN]]
// CHECK: %[[VIS:.*]] = arith.minsi %[[LEN]], %[[SEL]]
// CHECK: %[[D:.*]] = arith.subi %[[VIS]], %[[VB]]
// CHECK: %[[N:.*]] = arith.maxsi %[[D]], %{{.*}}
// CHECK: %[[BEGIN:.*]], %[[END:.*]] = attn.split_range %{{.*}} of %{{.*}} over %[[N]] {align = 32 : i64}
// CHECK: %[[B0:.*]] = arith.addi %[[VB]], %[[BEGIN]]
// CHECK: attn.attend {{.*}} range[%[[B0]], %{{.*}}) diagonal %[[DIAG]] window[%[[WL]], %[[WR]]]
func.func @decode_window(%q: memref<?x1x16x128xbf16>, %kc: memref<?x16x8x128xbf16>,
                         %vc: memref<?x16x8x128xbf16>, %lens: memref<?xi32>,
                         %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>,
                         %wl: index, %wr: index) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x16x8x128xbf16>)
      v_cache(%vc : memref<?x16x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      window [%wl, %wr]
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = false,
       scale = 0.0883883461 : f32, page_size = 16}
  return
}
