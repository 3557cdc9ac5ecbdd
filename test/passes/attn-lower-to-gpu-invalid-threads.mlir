// RUN: attn-opt %s -attn-to-tiled=block-n=16 -attn-lower-to-gpu=threads=40 -verify-diagnostics

// Decode: rows of head_dim / 8 = 16 lanes do not divide 40 threads.
// expected-error @+1 {{attn-lower-to-gpu: the threads (40) must be a multiple of the lanes of a row (16)}}
func.func @decode_threads_40(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.125 : f32, page_size = 256}
  return
}
