// RUN: attn-opt %s -split-input-file -attn-to-tiled="block-m=128 block-n=128" -attn-fuse-tile-ops | attn-opt -split-input-file -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" | FileCheck %s --check-prefix=D96
// RUN: attn-opt %s -split-input-file -attn-to-tiled="block-m=128 block-n=64" -attn-fuse-tile-ops | attn-opt -split-input-file -attn-lower-to-gpu="stages=2 threads=384 wgmma=true producer=true" | FileCheck %s --check-prefix=D256

// Head dims other than 64 and 128 under wgmma (sm_90a). The tiles in shared
// memory hold whole 64-element swizzle panels: at head_dim 96, rows of 128
// elements, the last 32 never written nor read. Q (128 x 128) + 2 stages of
// K and V (128 x 128 each) + P (128 x 128), 2-byte elements: 196,608 bytes,
// + the location slots and mbarriers + 1024 for the alignment. QK^T takes
// head_dim / 16 = 6 k-steps (m64n128k16: block_n 128); PV is m64n96k16 (N =
// head_dim), 8 k-steps of 16 keys in the loop and 8 for the last tile. The
// copies are 16 chunk slots a row (head_dim / 8 rounded up to a power of
// two), of which the threads of chunks 12-15 copy nothing.
// D96-LABEL: gpu.func @d96_prefill(
// D96-SAME: attn.shared_memory_bytes = 197696
// D96: nvvm.setmaxregister  decrease 40
// D96: arith.constant 12 : index
// D96-NEXT: arith.cmpi ult, %{{.*}}, %c12 : index
// D96: nvvm.cp.async.shared.global
// D96: nvvm.setmaxregister  increase 232
// D96-COUNT-6: <m = 64, n = 128, k = 16>
// D96-NOT: <m = 64, n = 128, k = 16>
// D96-COUNT-16: <m = 64, n = 96, k = 16>
// D96-NOT: nvvm.wgmma.mma_async
// D96-LABEL: gpu.func @d96_prefill_combine(

// Head dim 256, paged, block_n 64 (block_n 128 would not fit 227 KB): the
// producer's 128 threads copy rows of 32 chunks, 4 rows a pass, 16 passes a
// tile (the passes of a 16-key granule share its location) for K, the
// previous tile's V and the last V: 48 copies. A paged producer keeps 56 of
// the launch's 168 registers (the pages' offsets), the consumers take the
// rest, 224. QK^T: 16 k-steps of m64n64k16; PV: m64n256k16, 4 k-steps of
// 16 keys in the loop and 4 for the last tile. Shared memory: Q 65,536 +
// stages 131,072 + P 16,384 + slots, barriers, alignment.
// D256-LABEL: gpu.func @d256_paged_prefill(
// D256-SAME: attn.shared_memory_bytes = 214272
// D256: nvvm.setmaxregister  decrease 56
// D256-COUNT-48: nvvm.cp.async.shared.global
// D256-NOT: nvvm.cp.async.shared.global
// D256: nvvm.setmaxregister  increase 224
// D256-COUNT-16: <m = 64, n = 64, k = 16>
// D256-NOT: <m = 64, n = 64, k = 16>
// D256-COUNT-8: <m = 64, n = 256, k = 16>
// D256-NOT: nvvm.wgmma.mma_async
// D256-LABEL: gpu.func @d256_paged_prefill_combine(

func.func @d96_prefill(%q: memref<?x16x96xbf16>, %k: memref<?x8x96xbf16>,
                       %v: memref<?x8x96xbf16>, %cq: memref<?xi32>,
                       %ck: memref<?xi32>, %o: memref<?x16x96xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x96xbf16>) k(%k : memref<?x8x96xbf16>)
      v(%v : memref<?x8x96xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x96xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 96, causal = true,
       scale = 0.102062072 : f32, page_size = 0}
  return
}

// -----

func.func @d256_paged_prefill(%q: memref<?x16x256xbf16>, %k: memref<?x256x8x256xbf16>,
                              %v: memref<?x256x8x256xbf16>, %cq: memref<?xi32>,
                              %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                              %o: memref<?x16x256xbf16>) {
  attn.varlen_prefill q(%q : memref<?x16x256xbf16>) k(%k : memref<?x256x8x256xbf16>)
      v(%v : memref<?x256x8x256xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x16x256xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 256, causal = true,
       scale = 0.0625 : f32, page_size = 256}
  return
}
