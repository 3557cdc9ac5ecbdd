// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s

// CHECK-LABEL: func @prefill_contiguous
func.func @prefill_contiguous(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                              %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                              %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // CHECK: attn.varlen_prefill q(%{{.*}} : memref<?x16x128xbf16>) k(%{{.*}} : memref<?x8x128xbf16>) v(%{{.*}} : memref<?x8x128xbf16>)
  // CHECK-SAME: cu_seqlens_q(%{{.*}} : memref<?xi32>) cu_seqlens_k(%{{.*}} : memref<?xi32>) out(%{{.*}} : memref<?x16x128xbf16>)
  // CHECK-SAME: causal = true, head_dim = 128 : i64, num_heads = 16 : i64, num_kv_heads = 8 : i64, page_size = 0 : i64
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

// CHECK-LABEL: func @prefill_paged_lse
func.func @prefill_paged_lse(%q: memref<?x32x64xf16>, %k: memref<?x16x8x64xf16>,
                             %v: memref<?x16x8x64xf16>, %cq: memref<?xi32>,
                             %ck: memref<?xi32>, %bt: memref<?x?xi32>,
                             %o: memref<?x32x64xf16>, %lse: memref<32x?xf32>) {
  // CHECK: attn.varlen_prefill
  // CHECK-SAME: block_table(%{{.*}} : memref<?x?xi32>)
  // CHECK-SAME: lse(%{{.*}} : memref<32x?xf32>)
  // CHECK-SAME: causal = false
  // CHECK-SAME: page_size = 16
  attn.varlen_prefill q(%q : memref<?x32x64xf16>) k(%k : memref<?x16x8x64xf16>)
      v(%v : memref<?x16x8x64xf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>)
      out(%o : memref<?x32x64xf16>) lse(%lse : memref<32x?xf32>)
      {num_heads = 32, num_kv_heads = 8, head_dim = 64, causal = false,
       scale = 0.125 : f32, page_size = 16}
  return
}

// -----

// Strided (non-contiguous outer dims) q and out are accepted.
// CHECK-LABEL: func @prefill_strided
func.func @prefill_strided(%q: memref<?x8x64xbf16, strided<[1536, 192, 1], offset: ?>>,
                           %k: memref<?x8x64xbf16>, %v: memref<?x8x64xbf16>,
                           %cq: memref<?xi32>, %ck: memref<?xi32>,
                           %o: memref<?x8x64xbf16>) {
  // CHECK: attn.varlen_prefill q(%{{.*}} : memref<?x8x64xbf16, strided<[1536, 192, 1], offset: ?>>)
  attn.varlen_prefill q(%q : memref<?x8x64xbf16, strided<[1536, 192, 1], offset: ?>>)
      k(%k : memref<?x8x64xbf16>) v(%v : memref<?x8x64xbf16>)
      cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>)
      out(%o : memref<?x8x64xbf16>)
      {num_heads = 8, num_kv_heads = 8, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}

// -----

// CHECK-LABEL: func @decode_paged
func.func @decode_paged(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                        %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                        %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  // CHECK: attn.paged_decode q(%{{.*}} : memref<?x1x16x128xbf16>) k_cache(%{{.*}} : memref<?x256x8x128xbf16>) v_cache(%{{.*}} : memref<?x256x8x128xbf16>)
  // CHECK-SAME: cache_seqlens(%{{.*}} : memref<?xi32>) block_table(%{{.*}} : memref<?x?xi32>) out(%{{.*}} : memref<?x1x16x128xbf16>)
  // CHECK-SAME: page_size = 256
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

// CHECK-LABEL: func @decode_contiguous_lse
func.func @decode_contiguous_lse(%q: memref<?x4x8x64xf16>, %kc: memref<?x?x1x64xf16>,
                                 %vc: memref<?x?x1x64xf16>, %lens: memref<?xi32>,
                                 %o: memref<?x4x8x64xf16>, %lse: memref<?x8x4xf32>) {
  // CHECK: attn.paged_decode
  // CHECK-NOT: block_table
  // CHECK-SAME: lse(%{{.*}} : memref<?x8x4xf32>)
  // CHECK-SAME: page_size = 0
  attn.paged_decode q(%q : memref<?x4x8x64xf16>) k_cache(%kc : memref<?x?x1x64xf16>)
      v_cache(%vc : memref<?x?x1x64xf16>) cache_seqlens(%lens : memref<?xi32>)
      out(%o : memref<?x4x8x64xf16>) lse(%lse : memref<?x8x4xf32>)
      {num_heads = 8, num_kv_heads = 1, head_dim = 64, causal = true,
       scale = 0.125 : f32, page_size = 0}
  return
}

// -----

// The tile-level ops of a prefill tile.
// CHECK-LABEL: func @prefill_tile_ops
// CHECK: attn.seq_start %{{.*}}[%{{.*}}] : memref<?xi32>
// CHECK: attn.kv_head %{{.*}} {group = 2 : i64}
// CHECK: attn.load_q_rows %{{.*}}[%{{.*}}, %{{.*}}] count %{{.*}} : memref<?x4x64xbf16> -> tensor<16x64xf32>
// CHECK: attn.store_rows %{{.*}}, %{{.*}} to %{{.*}} lse %{{.*}}[{{ ?}}%{{.*}}, %{{.*}}] count %{{.*}} : tensor<16x64xf32>, tensor<16xf32>, memref<?x4x64xbf16>, memref<4x?xf32>
// CHECK: attn.store_rows %{{.*}}, %{{.*}} to %{{.*}} lse %{{.*}}[split %{{.*}}, %{{.*}}, %{{.*}}] count %{{.*}} : tensor<16x64xf32>, tensor<16xf32>, memref<?x?x4x64xf32>, memref<?x?x4xf32>
func.func @prefill_tile_ops(%q: memref<?x4x64xbf16>, %cu: memref<?xi32>,
                            %o: memref<?x4x64xbf16>, %lse: memref<4x?xf32>,
                            %po: memref<?x?x4x64xf32>, %pl: memref<?x?x4xf32>,
                            %b: index, %h: index, %n: index, %s: index,
                            %lt: tensor<16xf32>) {
  %row = attn.seq_start %cu[%b] : memref<?xi32>
  %kvh = attn.kv_head %h {group = 2}
  %t = attn.load_q_rows %q[%row, %h] count %n : memref<?x4x64xbf16> -> tensor<16x64xf32>
  attn.store_rows %t, %lt to %o lse %lse[%row, %h] count %n
      : tensor<16x64xf32>, tensor<16xf32>, memref<?x4x64xbf16>, memref<4x?xf32>
  attn.store_rows %t, %lt to %po lse %pl[split %s, %row, %h] count %n
      : tensor<16x64xf32>, tensor<16xf32>, memref<?x?x4x64xf32>, memref<?x?x4xf32>
  return
}
