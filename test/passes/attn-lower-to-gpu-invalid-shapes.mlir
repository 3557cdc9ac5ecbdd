// RUN: attn-opt %s -split-input-file -attn-to-tiled=block-n=16 -attn-lower-to-gpu -verify-diagnostics

// Tile shapes the GPU lowering cannot map onto the default 128 threads.

// Decode: 64 row groups of 2 threads share a 16-key tile.
// expected-error @+1 {{attn-lower-to-gpu: block-n (16) must be a multiple of the row groups (64)}}
func.func @decode_block_n(%q: memref<?x1x16x16xbf16>, %kc: memref<?x256x8x16xbf16>,
                %vc: memref<?x256x8x16xbf16>, %lens: memref<?xi32>,
                %bt: memref<?x?xi32>, %o: memref<?x1x16x16xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x16xbf16>) k_cache(%kc : memref<?x256x8x16xbf16>)
      v_cache(%vc : memref<?x256x8x16xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x16xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 16, causal = true,
       scale = 0.125 : f32, page_size = 256}
  return
}

// -----

// Prefill: 128 threads copy 64 rows of 2 chunks per pass; a 16-key tile is less.
// expected-error @+1 {{attn-lower-to-gpu: 128 threads copy rows of 2 chunks (head_dim / 8 rounded up to a power of two) in passes of 64 rows, which must divide the 16 rows of the tile (block_m 64, block_n 16)}}
func.func @prefill_copy_passes(%q: memref<?x16x16xbf16>, %k: memref<?x8x16xbf16>,
                %v: memref<?x8x16xbf16>, %cq: memref<?xi32>,
                %ck: memref<?xi32>, %o: memref<?x16x16xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x16xbf16>) k(%k : memref<?x8x16xbf16>)
      v(%v : memref<?x8x16xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x16xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 16, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}
