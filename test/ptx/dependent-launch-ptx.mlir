// RUN: attn-opt %s -attn-to-ptx=target=sm_90 | sed -e 's/\\0A/\n/g' -e 's/\\09/ /g' | FileCheck %s
// RUN: attn-opt %s -attn-to-ptx=target=sm_89 | sed -e 's/\\0A/\n/g' -e 's/\\09/ /g' | FileCheck %s --check-prefix=SM89

// sm_90's split kernels take programmatic dependent launch: the decode
// kernel signals once, the combine waits before its first global load.
// CHECK: .visible .entry qwen3_decode(
// CHECK: griddepcontrol.launch_dependents;
// CHECK-NOT: griddepcontrol
// CHECK: .visible .entry qwen3_decode_combine(
// CHECK-NOT: ld.global
// CHECK: griddepcontrol.wait;
// CHECK: ld.global

// sm_89 has no griddepcontrol.
// SM89-NOT: griddepcontrol
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
