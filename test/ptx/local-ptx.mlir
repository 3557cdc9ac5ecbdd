// RUN: attn-opt %s -attn-to-ptx="target=sm_90 stages=2" | sed -e 's/\\0A/\n/g' | FileCheck %s
// RUN: attn-opt %s -attn-to-ptx="target=sm_89 stages=2" | sed -e 's/\\0A/\n/g' | FileCheck %s

// Local kernels: the kind's parameters, then abi::local's window_left,
// window_right (u32) and softcap (f32) as the last three (decode: 29-31,
// prefill: 30-32); the softcap as tanh.approx.f32; no local memory. Their
// combine kernels take the combine parameters alone.
// CHECK-LABEL: .visible .entry local_prefill(
// CHECK: .param .u32 local_prefill_param_30,
// CHECK-NEXT: .param .u32 local_prefill_param_31,
// CHECK-NEXT: .param .f32 local_prefill_param_32
// CHECK-NEXT: )
// CHECK: tanh.approx.f32
// CHECK-LABEL: .visible .entry local_prefill_combine(
// CHECK-NOT: local_prefill_combine_param_9
// CHECK-LABEL: .visible .entry local_decode(
// CHECK: .param .u32 local_decode_param_29,
// CHECK-NEXT: .param .u32 local_decode_param_30,
// CHECK-NEXT: .param .f32 local_decode_param_31
// CHECK-NEXT: )
// CHECK: tanh.approx.f32
// CHECK-NOT: .local
func.func @local_prefill(%q: memref<?x1x128xbf16>, %k: memref<?x?x1x128xbf16>,
                         %v: memref<?x?x1x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                         %o: memref<?x1x128xbf16>, %lse: memref<1x?xf32>,
                         %wl: index, %wr: index, %cap: f32) {
  attn.varlen_prefill q(%q : memref<?x1x128xbf16>) k(%k : memref<?x?x1x128xbf16>)
      v(%v : memref<?x?x1x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x1x128xbf16>) lse(%lse : memref<1x?xf32>)
      window [%wl, %wr] softcap(%cap)
      {num_heads = 1, num_kv_heads = 1, head_dim = 128, causal = false,
       scale = 1.0 : f32, page_size = -1}
  return
}

func.func @local_decode(%q: memref<?x?x8x128xbf16>, %kc: memref<?x?x1x128xbf16>,
                        %vc: memref<?x?x1x128xbf16>, %lens: memref<?xi32>,
                        %o: memref<?x?x8x128xbf16>, %lse: memref<?x8x?xf32>,
                        %wl: index, %wr: index, %cap: f32) {
  attn.paged_decode q(%q : memref<?x?x8x128xbf16>) k_cache(%kc : memref<?x?x1x128xbf16>)
      v_cache(%vc : memref<?x?x1x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x?x8x128xbf16>) lse(%lse : memref<?x8x?xf32>)
      window [%wl, %wr] softcap(%cap)
      {num_heads = 8, num_kv_heads = 1, head_dim = 128, causal = false,
       scale = 1.0 : f32, page_size = 0}
  return
}
