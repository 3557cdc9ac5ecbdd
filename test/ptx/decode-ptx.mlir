// RUN: attn-opt %s -attn-to-ptx=target=sm_89 | FileCheck %s
// RUN: attn-opt %s -attn-to-ptx=target=sm_90 | FileCheck %s

// The PTX of the decode pipeline holds what the design promises: cp.async
// 16-byte copies into shared memory, 16-byte shared loads, ex2.approx,
// butterfly shuffles, and no local memory (no spills to the stack).
// CHECK: gpu.binary @attn_kernels
// CHECK-SAME: assembly = "
// CHECK-SAME: .visible .entry qwen3_decode(
// CHECK-SAME: cp.async.cg.shared.global
// CHECK-SAME: ld.shared.v4
// CHECK-SAME: shfl.sync.bfly
// CHECK-SAME: ex2.approx
// CHECK-SAME: .visible .entry qwen3_decode_combine(
// The combine reduces the split lse values in each warp by shuffles and
// reads each split's weight from its lane.
// CHECK-SAME: shfl.sync.bfly
// CHECK-SAME: shfl.sync.idx
// CHECK-NOT: .local
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
