// RUN: attn-opt %s -attn-to-tiled=block-n=1024 -attn-lower-to-gpu=threads=32 -verify-diagnostics

// Paged prefill: one warp cannot locate the 64 granules of a 1024-key tile.
// expected-error @+1 {{attn-lower-to-gpu: paged prefill locates a 16-key granule per copying thread, so block_n / 16 (64) must not exceed the 32 threads}}
func.func @prefill_paged_granules(%q: memref<?x16x128xbf16>, %k: memref<?x16x8x128xbf16>,
                %v: memref<?x16x8x128xbf16>, %cq: memref<?xi32>,
                %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                %o: memref<?x16x128xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x16x8x128xbf16>)
      v(%v : memref<?x16x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.125 : f32, page_size = 16}
  return
}
