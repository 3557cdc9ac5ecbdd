// RUN: attn-opt %s -attn-to-ptx="target=sm_89 stages=2" | sed -e 's/\\0A/\n/g' | FileCheck %s
// RUN: attn-opt %s -attn-to-ptx="target=sm_90 stages=2" | sed -e 's/\\0A/\n/g' | FileCheck %s

// The PTX of the prefill pipeline (one instruction a line after the sed)
// holds what the design promises: cp.async 16-byte copies into shared memory,
// a CTA barrier per tile, ldmatrix (plain for K, .trans for V), m16n8k16
// tensor-core MMAs with f32 accumulation, the SFU's ex2, quad shuffles, P
// packed to 16-bit pairs in registers, f32 pair stores of split partials,
// the combine kernel of the splits in the same module, and no local memory
// (no spills).
// CHECK-LABEL: .visible .entry qwen3_prefill(
// CHECK-DAG: cp.async.cg.shared.global
// CHECK-DAG: bar.sync
// CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16
// CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16
// CHECK-DAG: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// CHECK-DAG: shfl.sync.bfly.b32 {{.*}}, 1, 31, -1;
// CHECK-DAG: shfl.sync.bfly.b32 {{.*}}, 2, 31, -1;
// CHECK-DAG: ex2.approx
// CHECK-DAG: cvt.rn.bf16x2.f32
// CHECK-DAG: st.global.v2.b32
// CHECK-LABEL: .visible .entry qwen3_prefill_combine(
// CHECK-DAG: shfl.sync.bfly.b32
// CHECK-DAG: shfl.sync.idx.b32
// CHECK-LABEL: .visible .entry fp16_prefill(
// CHECK-DAG: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32
// CHECK-DAG: cvt.rn.f16x2.f32
// CHECK-NOT: .local
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

// Paged f16, non-causal, D = 64.
func.func @fp16_prefill(%q: memref<?x4x64xf16>, %k: memref<?x16x4x64xf16>,
                        %v: memref<?x16x4x64xf16>, %cq: memref<?xi32>,
                        %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                        %o: memref<?x4x64xf16>) {
  attn.varlen_prefill q(%q : memref<?x4x64xf16>) k(%k : memref<?x16x4x64xf16>)
      v(%v : memref<?x16x4x64xf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x4x64xf16>)
      {num_heads = 4, num_kv_heads = 4, head_dim = 64, causal = false,
       scale = 0.125 : f32, page_size = 16}
  return
}
