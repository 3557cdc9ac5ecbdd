// RUN: attn-opt %s -attn-to-tiled -attn-lower-to-gpu=threads=256 -verify-diagnostics

// 8 warps of 16 query rows each do not fit a 64-row prefill tile.
// expected-error @+1 {{attn-lower-to-gpu: prefill block_m (64) must be a multiple of 16 x the 8 warps}}
func.func @prefill_warps(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
