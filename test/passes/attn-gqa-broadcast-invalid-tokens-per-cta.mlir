// RUN: attn-opt %s -attn-gqa-broadcast="tokens-per-cta=4 heads-per-cta=8" -verify-diagnostics
// Folding tokens needs a kernel specialised on G (heads-per-cta 0).

// expected-error @+1 {{attn-gqa-broadcast: 'tokens-per-cta' must be 1, or above 1 with 'heads-per-cta' 0, got 4 with 'heads-per-cta' 8}}
module {
  func.func @decode(%q: memref<?x?x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                    %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                    %bt: memref<?x?xi32>, %o: memref<?x?x16x128xbf16>) {
    attn.paged_decode q(%q : memref<?x?x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
        v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
        block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x128xbf16>)
        {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
         scale = 0.0883883461 : f32, page_size = 256}
    return
  }
}
