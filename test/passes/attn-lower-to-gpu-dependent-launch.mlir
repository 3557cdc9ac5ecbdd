// RUN: attn-opt %s -attn-to-tiled | attn-opt -attn-lower-to-gpu="dependent-launch=true" | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled | attn-opt -attn-lower-to-gpu | FileCheck %s --check-prefix=OFF

// Programmatic dependent launch: the decode kernel signals
// launch_dependents once, after its KV tile loop (before the merge of its
// row groups and the stores of the partials), and the combine kernel waits
// before anything else, its first read (a split's lse) after the wait.
// CHECK-LABEL: gpu.func @qwen3_decode(
// CHECK-NOT: nvvm.griddepcontrol
// CHECK: scf.for
// CHECK: cp.async
// CHECK: nvvm.griddepcontrol launch_dependents
// CHECK-NOT: nvvm.griddepcontrol
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @qwen3_decode_combine(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NOT: nvvm.griddepcontrol
// CHECK: llvm.load
// CHECK: gpu.return

// Without the option neither kernel has either.
// OFF-NOT: nvvm.griddepcontrol
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
