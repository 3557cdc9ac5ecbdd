// RUN: attn-opt %s -attn-to-ptx="target=sm_90a block-m=128 block-n=128 stages=2 threads=384" | sed -e 's/\\0A/\n/g' | FileCheck %s

// The sm_90a PTX of the prefill pipeline (one instruction a line after the
// sed): the warp-specialised kernel of 384 threads. Eight mbarriers
// initialised, one CTA barrier; the producer warpgroup (setmaxnreg down to
// 40) waits for an empty stage, copies (cp.async) and signals the stage's
// "full" barrier with cp.async.mbarrier.arrive.noinc, and issues no wgmma.
// The consumers (setmaxnreg up to 232) copy Q and meet on their own named
// barrier (3, 256 threads); in their loop no cp.async and no CTA barrier:
// they wait for K's "full" barrier, fence to the async proxy, commit QK^T
// (8 m64n128k16 wgmma.mma_async over D 128), then, past a branch (the
// first tile has no previous PV), wait for the previous tile's V, fence,
// and commit its PV (8 more over block-n 128), wait until one group (the
// PV) is in flight and release K's stage (mbarrier.arrive); the softmax's
// ex2s, the CTA-scope fence that keeps ptxas from sinking them below the
// wait for the PV, the wait, and V's stage released. After the loop, the
// last tile's PV waits for its V. No local memory (spills).
// CHECK: .target sm_90a
// CHECK-LABEL: .visible .entry qwen3_prefill(
// CHECK: .maxntid 384, 1, 1
// CHECK-COUNT-8: mbarrier.init.shared.b64
// CHECK-NOT: mbarrier.init
// CHECK: bar.sync {{.*}}0;
// CHECK: setmaxnreg.dec.sync.aligned.u32 {{.*}}40;
// CHECK-NOT: wgmma
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: cp.async.cg.shared.global
// CHECK: cp.async.mbarrier.arrive.noinc.shared.b64
// CHECK-NOT: wgmma
// CHECK: setmaxnreg.inc.sync.aligned.u32 {{.*}}232;
// CHECK: cp.async.cg.shared.global
// CHECK: cp.async.wait_group {{.*}}0;
// CHECK-NEXT: fence.proxy.async.shared::cta;
// CHECK-NEXT: bar.sync {{.*}}3, 256;
// CHECK-NOT: cp.async
// CHECK-NOT: bar.sync {{.*}}0;
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: fence.proxy.async.shared::cta;
// CHECK: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK: @%p{{[0-9]+}} bra
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: fence.proxy.async.shared::cta;
// CHECK-NEXT: wgmma.fence.sync.aligned;
// CHECK-COUNT-8: wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16
// CHECK-NOT: wgmma.mma_async
// CHECK: wgmma.commit_group.sync.aligned;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}1;
// CHECK: mbarrier.arrive.shared.b64
// CHECK: ex2.approx
// CHECK: fence.acq_rel.cta;
// CHECK-NEXT: wgmma.wait_group.sync.aligned {{.*}}0;
// CHECK-NOT: wgmma.mma_async
// CHECK: mbarrier.arrive.shared.b64
// CHECK-NOT: cp.async
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: fence.proxy.async.shared::cta;
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
