// RUN: attn-opt %s -attn-to-tiled | attn-opt -attn-lower-to-cpu | FileCheck %s

// Tiles become stack buffers at the function entry; the grid stays a
// parallel loop; every attn op is gone.
// CHECK-LABEL: func @decode
// CHECK-DAG: memref.alloca() : memref<2x128xf32>
// CHECK-DAG: memref.alloca() : memref<64x128xbf16>
// CHECK-DAG: memref.alloca() : memref<2x64xf32>
// CHECK: scf.parallel
// CHECK: math.exp2
// CHECK: math.log2
// CHECK: math.exp
// CHECK-NOT: attn.
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
