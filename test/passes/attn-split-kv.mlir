// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast -attn-split-kv=chunk-align=32 | FileCheck %s

// CHECK-LABEL: func @decode
// CHECK-SAME: %[[PO:[a-z0-9]+]]: memref<?x?x?x16x128xf32> {attn.workspace}
// CHECK-SAME: %[[PL:[a-z0-9]+]]: memref<?x?x?x16xf32> {attn.workspace}
// CHECK-SAME: %[[S:[a-z0-9]+]]: index {attn.num_splits}
// CHECK: scf.parallel (%[[SI:.*]], %[[BI:.*]], %[[T:.*]], %[[KVH:.*]]) = {{.*}} to (%[[S]],
// CHECK: %[[LEN:.*]] = attn.seq_len
// CHECK: %[[BEGIN:.*]], %[[END:.*]] = attn.split_range %[[SI]] of %[[S]] over %[[LEN]] {align = 32 : i64}
// CHECK: attn.attend {{.*}} range[%[[BEGIN]], %[[END]])
// CHECK: %[[ONE:.*]] = arith.cmpi eq, %[[S]], %c1
// CHECK: scf.if %[[ONE]] {
// CHECK:   attn.store {{.*}} to %{{[a-z0-9]+}}[{{ ?}}%[[BI]], %[[T]],
// CHECK: } else {
// CHECK:   attn.store {{.*}} to %[[PO]] lse %[[PL]][%[[SI]], %[[BI]], %[[T]],
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
