// RUN: attn-opt %s -attn-to-ptx="target=sm_90a block-m=128 block-n=128 stages=2 threads=384 tma=true" | sed -e 's/\\0A/\n/g' -e 's/\\09/ /g' | FileCheck %s
// RUN: attn-opt %s -attn-to-ptx="target=sm_90a block-m=128 block-n=128 stages=2 threads=384 tma=true" | sed -e 's/\\0A/\n/g' | grep -c cp.async.bulk.tensor | FileCheck %s --check-prefix=BOXES

// The sm_90a PTX of a TMA prefill kernel (attn-pack --tma): the K and V
// tensor maps are 128-byte parameters of 64-byte alignment (30, 31) after
// the launch's own (the tma flag is 32), whose addresses (cvta.param) the
// producer's boxes take: per whole tile, mbarrier.arrive.expect_tx of the
// tile's 32768 bytes on its "full" barrier, then two 3-D tile boxes into
// the cluster window completing on that barrier; partial tiles keep
// cp.async and cp.async.mbarrier.arrive.noinc. Six boxes in all (two for
// K, two for V in the loop, two for the last V). No local memory (spills). (test/pack/check_pack.sh assembles such
// kernels with ptxas -arch=sm_90a.)
// CHECK: .target sm_90a
// CHECK-LABEL: .visible .entry qwen3_prefill(
// CHECK: .param .align 64 .b8 qwen3_prefill_param_30[128],
// CHECK-NEXT: .param .align 64 .b8 qwen3_prefill_param_31[128],
// CHECK-NEXT: .param .u32 qwen3_prefill_param_32
// CHECK-COUNT-2: cvta.param.u64
// CHECK: setmaxnreg.dec.sync.aligned.u32 {{.*}}40;
// CHECK: mbarrier.try_wait.parity.shared.b64
// CHECK: cp.async.cg.shared.global
// CHECK: cp.async.mbarrier.arrive.noinc.shared.b64
// CHECK: mov.b32 [[BYTES:%r[0-9]+]], 32768;
// CHECK-NEXT: mbarrier.arrive.expect_tx.shared.b64 {{%rd[0-9]+}}, [[[BAR:%rd[0-9]+]]], [[BYTES]];
// CHECK: cvta.to.shared::cluster.u64
// CHECK: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{{%rd[0-9]+}}], [{{%rd[0-9]+}}, {{{%r[0-9]+}}, {{%r[0-9]+}}, {{%r[0-9]+}}}], [[[BAR]]];
// CHECK: cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [{{%rd[0-9]+}}], [{{%rd[0-9]+}}, {{{%r[0-9]+}}, {{%r[0-9]+}}, {{%r[0-9]+}}}], [[[BAR]]];
// CHECK: setmaxnreg.inc.sync.aligned.u32 {{.*}}232;
// CHECK-NOT: .local
// CHECK-LABEL: .visible .entry qwen3_prefill_combine(
// BOXES: {{^6$}}
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
