// RUN: attn-opt %s -attn-gqa-broadcast -attn-tile=block-n=0 -verify-diagnostics
// An option the pass rejects is reported on the module.

// expected-error @+1 {{attn-tile: 'block-n' must be a positive multiple of 16, got 0}}
module {
  func.func @decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                    %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                    %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
    attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
        v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
        block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
        {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
         scale = 0.0883883461 : f32, page_size = 256}
    return
  }
}
