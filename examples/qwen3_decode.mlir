// The decode call nano-vllm makes for Qwen3-0.6B: 16 query heads, 8 KV heads,
// head_dim 128, bf16, 256-token pages.
func.func @qwen3_decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                        %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                        %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
