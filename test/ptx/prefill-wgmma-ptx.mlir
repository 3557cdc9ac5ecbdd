// RUN: attn-opt %s -attn-to-ptx="target=sm_90a block-m=128 block-n=128 stages=2 threads=256" | sed -e 's/\\0A/\n/g' | FileCheck %s

// The sm_90a PTX of the prefill pipeline (one instruction a line after the
// sed), with the deferred PV: in the loop, after the cp.async wait, an
// async-proxy fence and the CTA barrier, QK^T (8 m64n128k16 wgmma.mma_async
// over D 128) is committed, then, past a branch (the first tile has no
// previous PV), the previous tile's PV (8 more over block-n 128) is fenced
// and committed and the warp waits until one group (the PV) is in flight;
// the softmax's ex2s, then a CTA-scope fence that keeps ptxas from sinking
// them below the wait for the PV, which the accumulator's rescale needs;
// no named barrier for P (the next
// tile's fence and barrier publish it). After the loop, the last tile's PV
// behind the same fence and barrier, committed and waited for. No local
// memory (spills).
// CHECK: .target sm_90a
// CHECK-LABEL: .visible .entry qwen3_prefill(
// CHECK: cp.async.cg.shared.global
// CHECK: cp.async.wait_group {{.*}}0;
// CHECK-NEXT: fence.proxy.async.shared::cta;
// CHECK-NEXT: bar.sync {{.*}}0;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: @%p{{[0-9]+}} bra
// CHECK-NEXT: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}1;
// CHECK: ex2.approx
// CHECK: fence.acq_rel.cta;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}0;
// CHECK-NOT: wgmma.mma_async
// CHECK-NOT: , 128;
// CHECK: cp.async.wait_group {{.*}}0;
// CHECK-NEXT: fence.proxy.async.shared::cta;
// CHECK-NEXT: bar.sync {{.*}}0;
// CHECK-NEXT: wgmma.fence.sync.aligned;
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
