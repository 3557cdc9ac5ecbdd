// RUN: attn-opt %s -attn-gqa-broadcast | FileCheck %s

// The problem op's window and softcap reach attn.attend unchanged, and the
// function arguments they come from carry their roles for a GPU lowering.
// CHECK-LABEL: func @prefill_local
// CHECK-SAME: %{{.*}}: index {attn.window_left}, %{{.*}}: index {attn.window_right}, %{{.*}}: f32 {attn.softcap}
// CHECK: attn.attend {{.*}} window[%arg8, %arg9] softcap(%arg10)
// CHECK-SAME: causal = true
func.func @prefill_local(%q: memref<?x4x64xbf16>, %k: memref<?x2x64xbf16>,
                         %v: memref<?x2x64xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                         %o: memref<?x4x64xbf16>, %lse: memref<4x?xf32>,
                         %wl: index, %wr: index, %cap: f32) {
  attn.varlen_prefill q(%q : memref<?x4x64xbf16>) k(%k : memref<?x2x64xbf16>)
      v(%v : memref<?x2x64xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x4x64xbf16>)
      lse(%lse : memref<4x?xf32>) window [%wl, %wr] softcap(%cap)
      {num_heads = 4, num_kv_heads = 2, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
