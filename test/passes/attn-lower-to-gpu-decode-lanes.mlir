// RUN: attn-opt %s -attn-to-tiled='block-n=128' -attn-lower-to-gpu='decode-lanes=1' | FileCheck %s --check-prefix=ONE
// RUN: attn-opt %s -attn-to-tiled='block-n=128' -attn-lower-to-gpu | FileCheck %s --check-prefix=ROW
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-lanes=3' 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not attn-opt %s -attn-to-tiled -attn-lower-to-gpu='decode-lanes=8' 2>&1 | FileCheck %s --check-prefix=BAD8

// decode-lanes=1 at head_dim 32: one thread a row (4 chunks of 16 bytes), 128
// row groups of one key each at block_n 128. The stage is slot-major:
// chunk c of key k at ((k + 128 c) x 1 + lane) x 8 elements, so 8 threads
// reading a slot of 8 keys read 128 contiguous bytes.
// ONE-LABEL: gpu.func @d32_decode
// ONE: %[[LANE:.*]] = arith.remui %thread_id_x, %c1{{(_[0-9]+)?}} : index
// ONE: %[[S0:.*]] = arith.muli %{{.*}}, %c1{{(_[0-9]+)?}} : index
// ONE-NEXT: %[[L0:.*]] = arith.addi %[[S0]], %[[LANE]] : index
// ONE-NEXT: arith.muli %[[L0]], %c8{{(_[0-9]+)?}} : index
// ONE: nvvm.cp.async.shared.global
// ONE: %[[K1:.*]] = arith.addi %[[KEY:.*]], %c128{{(_[0-9]+)?}} : index
// ONE-NEXT: %[[S1:.*]] = arith.muli %[[K1]], %c1{{(_[0-9]+)?}} : index
// ONE-NEXT: arith.addi %[[S1]], %[[LANE]] : index
// ONE: nvvm.cp.async.shared.global
// ONE: arith.addi %[[KEY]], %c256{{(_[0-9]+)?}} : index
// ONE: nvvm.cp.async.shared.global
// ONE: arith.addi %[[KEY]], %c384{{(_[0-9]+)?}} : index
// ONE: nvvm.cp.async.shared.global
// A score is the lane's 32 products and no butterfly: no xor shuffle in the
// whole decode kernel (the row's max, sum and merge are the thread's own).
// ONE-COUNT-31: math.fma
// ONE-NEXT: arith.mulf
// ONE-NOT: nvvm.shfl.sync  bfly
// ONE-LABEL: gpu.func @d32_decode_combine

// Without the option: 4 lanes of one chunk, the stage row-major (key x 32 +
// chunk x 8) and a butterfly of 2 shuffles a score.
// ROW-LABEL: gpu.func @d32_decode
// ROW: %[[LANE:.*]] = arith.remui %thread_id_x, %c4{{(_[0-9]+)?}} : index
// ROW: arith.muli %{{.*}}, %c32{{(_[0-9]+)?}} : index
// ROW: nvvm.cp.async.shared.global
// ROW-COUNT-7: math.fma
// ROW-NOT: arith.mulf
// ROW: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c2_i32
// ROW: nvvm.shfl.sync  bfly %{{.*}}, %{{.*}}, %c1_i32

// BAD: error: attn-lower-to-gpu: decode-lanes must be 0 or a power of two up to head_dim / 8 rounded up to one (4), got 3
// BAD8: error: attn-lower-to-gpu: decode-lanes must be 0 or a power of two up to head_dim / 8 rounded up to one (4), got 8

func.func @d32_decode(%q: memref<?x1x16x32xbf16>, %kc: memref<?x256x8x32xbf16>,
                      %vc: memref<?x256x8x32xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x1x16x32xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x32xbf16>) k_cache(%kc : memref<?x256x8x32xbf16>)
      v_cache(%vc : memref<?x256x8x32xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x32xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 32, causal = true,
       scale = 0.176776695 : f32, page_size = 256}
  return
}
