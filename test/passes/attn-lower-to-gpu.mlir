// RUN: attn-opt %s -attn-to-tiled -attn-lower-to-gpu | FileCheck %s

// The decode kernel and the combine kernel, with the parameters of
// docs/runtime_abi.md; the KV tiles go through cp.async stages, the scores
// are reduced with butterfly shuffles, exp2 is the SFU's.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @attn_kernels
// CHECK: llvm.mlir.global external @attn_dynamic_smem() {addr_space = 3 : i32
// CHECK: gpu.func @qwen3_decode(%{{.*}}: !llvm.ptr<1>
// CHECK-SAME: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: f32) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 2
// CHECK: nvvm.shfl.sync bfly
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: gpu.barrier
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: gpu.func @qwen3_decode_combine
// CHECK-NOT: attn.
// CHECK-NOT: func.func
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
