// The prefill call nano-vllm makes for Qwen3-0.6B: 16 query heads, 8 KV heads,
// head_dim 128, bf16, causal; K/V packed along the token dimension.
func.func @qwen3_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
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
