// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast | FileCheck %s

// Every function argument among the problem op's operands takes the role of
// its operand (attn.role), by which the lowerings bind kernel parameters,
// wherever it stands in the signature; other arguments take none.
// CHECK-LABEL: func @prefill
// CHECK-SAME: %{{.*}}: memref<?x16x128xbf16> {attn.role = "q"}
// CHECK-SAME: %{{.*}}: memref<?xi32> {attn.role = "cu_seqlens_k"}
// CHECK-SAME: %{{.*}}: memref<?x8x128xbf16> {attn.role = "k"}
// CHECK-SAME: %{{.*}}: memref<?x8x128xbf16> {attn.role = "v"}
// CHECK-SAME: %{{.*}}: memref<?xi32> {attn.role = "cu_seqlens_q"}
// CHECK-SAME: %{{.*}}: memref<?x16x128xbf16> {attn.role = "out"}
// CHECK-SAME: %{{.*}}: memref<16x?xf32> {attn.role = "lse"}
// CHECK-SAME: %{{.*}}: index)
func.func @prefill(%q: memref<?x16x128xbf16>, %ck: memref<?xi32>,
                   %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>,
                   %cq: memref<?xi32>, %o: memref<?x16x128xbf16>,
                   %lse: memref<16x?xf32>, %n: index) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

// CHECK-LABEL: func @decode_paged
// CHECK-SAME: {attn.role = "q"}
// CHECK-SAME: {attn.role = "k"}
// CHECK-SAME: {attn.role = "v"}
// CHECK-SAME: {attn.role = "cache_seqlens"}
// CHECK-SAME: {attn.role = "block_table"}
// CHECK-SAME: {attn.role = "out"}
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
