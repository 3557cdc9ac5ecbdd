// RUN: attn-opt %s -attn-to-ptx="target=sm_90a block-m=128 block-n=128 stages=2 threads=256" | sed -e 's/\\0A/\n/g' | FileCheck %s

// The sm_90a PTX of the prefill pipeline (one instruction a line after the
// sed): per K/V tile two batches of 8 m64n128k16 wgmma.mma_async (QK^T over
// D 128 and PV over block-n 128; LLVM places the PV batch first), each
// fenced, committed and waited for, and no other; async-proxy fences (after
// the cp.async wait, after P is stored); the warpgroup's named barrier over
// its 128 threads; no local memory (spills).
// CHECK: .target sm_90a
// CHECK-LABEL: .visible .entry qwen3_prefill(
// CHECK-DAG: cp.async.cg.shared.global
// CHECK-DAG: fence.proxy.async.shared::cta
// CHECK-DAG: bar.sync {{.*}}%r{{[0-9]+}}, 128;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}0;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}0;
// CHECK-NOT: wgmma.mma_async
// CHECK-NOT: .local
// CHECK-LABEL: .visible .entry qwen3_prefill_combine(
func.func @qwen3_prefill(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                         %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %o: memref<?x16x128xbf16>,
                         %lse: memref<16x?xf32>) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}
