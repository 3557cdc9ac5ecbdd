// RUN: attn-opt %s -attn-gqa-broadcast -verify-diagnostics
// An argument that is two operands of the problem op would take two roles
// (attn.role): the lowerings could not tell which parameter it is.

func.func @decode(%q: memref<?x1x16x128xbf16>, %kv: memref<?x256x8x128xbf16>,
                  %lens: memref<?xi32>, %bt: memref<?x?xi32>,
                  %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{attn-gqa-broadcast: argument #1 is both 'k' and 'v'}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kv : memref<?x256x8x128xbf16>)
      v_cache(%kv : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
