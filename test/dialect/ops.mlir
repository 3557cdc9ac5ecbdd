// RUN: attn-opt %s -split-input-file | attn-opt -split-input-file | FileCheck %s
// RUN: attn-opt %s -split-input-file -mlir-print-op-generic | attn-opt -split-input-file | FileCheck %s

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

// -----

// The tile-level ops of a decode group: index ops, the loads and stores of a
// GQA group (with and without a count, final and split-KV partial), split
// ranges, attend and combine.
// CHECK-LABEL: func @decode_tile_ops
// CHECK: attn.seq_len %{{.*}}[%{{.*}}] : memref<?xi32>
// CHECK: attn.seq_len %{{.*}}[%{{.*}}] {cumulative} : memref<?xi32>
// CHECK: attn.group_size {group = 4 : i64}
// CHECK: attn.load_q %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
// CHECK: attn.load_q %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] count %{{.*}} : memref<?x1x16x128xbf16> -> tensor<8x128xf32>
// CHECK: %[[BEGIN:.*]], %[[END:.*]] = attn.split_range %{{.*}} of %{{.*}} over %{{.*}} {align = 64 : i64}
// CHECK: attn.attend %{{.*}} keys(%{{.*}}, %{{.*}} block_table %{{.*}}) [%{{.*}}, %{{.*}}] range[%[[BEGIN]], %[[END]]) diagonal %{{.*}} {causal = true, page_size = 256 : i64, rows_per_token = 2 : i64, scale = 1.250000e-01 : f32} : tensor<2x128xf32>, memref<?x256x8x128xbf16>, memref<?x256x8x128xbf16>, memref<?x?xi32> -> tensor<2x128xf32>, tensor<2xf32>
// CHECK: attn.attend %{{.*}} keys(%{{.*}}, %{{.*}}) [%{{.*}}, %{{.*}}] range[%{{.*}}, %{{.*}}) diagonal %{{.*}} {causal = false, page_size = 0 : i64, rows_per_token = 1 : i64, scale = 1.250000e-01 : f32} : tensor<2x128xf32>, memref<?x?x8x128xbf16>, memref<?x?x8x128xbf16> -> tensor<2x128xf32>, tensor<2xf32>
// CHECK: attn.store %{{.*}}, %{{.*}} to %{{.*}} lse %{{.*}}[{{ ?}}%{{.*}}, %{{.*}}, %{{.*}}] : tensor<2x128xf32>, tensor<2xf32>, memref<?x1x16x128xbf16>, memref<?x16x1xf32>
// CHECK: attn.store %{{.*}}, %{{.*}} to %{{.*}}[{{ ?}}%{{.*}}, %{{.*}}, %{{.*}}] count %{{.*}} : tensor<2x128xf32>, tensor<2xf32>, memref<?x1x16x128xbf16>
// CHECK: attn.store %{{.*}}, %{{.*}} to %{{.*}} lse %{{.*}}[split %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : tensor<2x128xf32>, tensor<2xf32>, memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>
// CHECK: attn.combine %{{.*}}, %{{.*}} splits %{{.*}} to %{{.*}} : memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>, memref<?x1x16x128xbf16>
// CHECK: attn.combine %{{.*}}, %{{.*}} splits %{{.*}} to %{{.*}} lse %{{.*}} : memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>, memref<?x1x16x128xbf16>, memref<?x16x1xf32>
func.func @decode_tile_ops(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                           %vc: memref<?x256x8x128xbf16>, %kd: memref<?x?x8x128xbf16>,
                           %vd: memref<?x?x8x128xbf16>, %lens: memref<?xi32>,
                           %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>,
                           %lse: memref<?x16x1xf32>, %po: memref<?x?x1x16x128xf32>,
                           %pl: memref<?x?x1x16xf32>, %b: index, %t: index,
                           %h: index, %s: index, %ns: index) {
  %len = attn.seq_len %lens[%b] : memref<?xi32>
  %cum = attn.seq_len %lens[%b] {cumulative} : memref<?xi32>
  %g = attn.group_size {group = 4}
  %q0 = attn.load_q %q[%b, %t, %h] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
  %q1 = attn.load_q %q[%b, %t, %h] count %g : memref<?x1x16x128xbf16> -> tensor<8x128xf32>
  %begin, %end = attn.split_range %s of %ns over %len {align = 64}
  %out, %l = attn.attend %q0 keys(%kc, %vc block_table %bt) [%b, %h] range[%begin, %end) diagonal %len
      {causal = true, page_size = 256, rows_per_token = 2, scale = 0.125 : f32}
      : tensor<2x128xf32>, memref<?x256x8x128xbf16>, memref<?x256x8x128xbf16>, memref<?x?xi32>
      -> tensor<2x128xf32>, tensor<2xf32>
  %out2, %l2 = attn.attend %q0 keys(%kd, %vd) [%b, %h] range[%begin, %end) diagonal %len
      {causal = false, page_size = 0, rows_per_token = 1, scale = 0.125 : f32}
      : tensor<2x128xf32>, memref<?x?x8x128xbf16>, memref<?x?x8x128xbf16>
      -> tensor<2x128xf32>, tensor<2xf32>
  attn.store %out, %l to %o lse %lse[%b, %t, %h]
      : tensor<2x128xf32>, tensor<2xf32>, memref<?x1x16x128xbf16>, memref<?x16x1xf32>
  attn.store %out2, %l2 to %o[%b, %t, %h] count %g
      : tensor<2x128xf32>, tensor<2xf32>, memref<?x1x16x128xbf16>
  attn.store %out, %l to %po lse %pl[split %s, %b, %t, %h]
      : tensor<2x128xf32>, tensor<2xf32>, memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>
  attn.combine %po, %pl splits %ns to %o
      : memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>, memref<?x1x16x128xbf16>
  attn.combine %po, %pl splits %ns to %o lse %lse
      : memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>, memref<?x1x16x128xbf16>, memref<?x16x1xf32>
  return
}

// -----

// The ops of one KV tile: loads from contiguous, paged and packed caches, the
// softmax accumulation before attn-online-softmax, and the explicit online
// softmax after it.
// CHECK-LABEL: func @kv_tile_ops
// CHECK: attn.kv_tile %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] limit %{{.*}} {page_size = 0 : i64} : memref<?x?x8x128xbf16> -> tensor<64x128xbf16>
// CHECK: attn.kv_tile %{{.*}} block_table %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] limit %{{.*}} {page_size = 256 : i64} : memref<?x256x8x128xbf16>, memref<?x?xi32> -> tensor<64x128xbf16>
// CHECK: attn.kv_tile %{{.*}}[%{{.*}}, %{{.*}}, %{{.*}}] limit %{{.*}} {page_size = 0 : i64} : memref<?x8x128xf16> -> tensor<64x128xf16>
// CHECK: %[[S:.*]] = attn.qk %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
// CHECK: %[[M:.*]] = attn.mask %[[S]] keys[%{{.*}}, %{{.*}}) diagonal %{{.*}} {causal = true, rows_per_token = 2 : i64} : tensor<2x64xf32>
// CHECK: %[[INIT:.*]] = attn.softmax_init : <2, 128>
// CHECK: %[[UPD:.*]] = attn.softmax_update %[[INIT]], %[[M]], %{{.*}} : <2, 128>, tensor<2x64xf32>, tensor<64x128xbf16>
// CHECK: attn.softmax_finalize %[[UPD]] : <2, 128> -> tensor<2x128xf32>, tensor<2xf32>
// CHECK: %[[MAX:.*]] = attn.row_max %[[M]] : tensor<2x64xf32> -> tensor<2xf32>
// CHECK: %[[P:.*]] = attn.exp2_diff %[[M]], %[[MAX]] : tensor<2x64xf32>, tensor<2xf32>
// CHECK: attn.exp2_diff %[[MAX]], %[[MAX]] : tensor<2xf32>, tensor<2xf32>
// CHECK: %[[SUM:.*]] = attn.row_sum %[[P]] : tensor<2x64xf32> -> tensor<2xf32>
// CHECK: %[[PV:.*]] = attn.pv %[[P]], %{{.*}} : tensor<2x64xf32>, tensor<64x128xbf16> -> tensor<2x128xf32>
// CHECK: %[[ACC:.*]] = attn.scale_rows %[[PV]], %[[SUM]] : tensor<2x128xf32>, tensor<2xf32>
// CHECK: attn.normalize %[[ACC]], %[[MAX]], %[[SUM]] : tensor<2x128xf32>, tensor<2xf32>
func.func @kv_tile_ops(%q: tensor<2x128xf32>, %kd: memref<?x?x8x128xbf16>,
                       %kc: memref<?x256x8x128xbf16>, %bt: memref<?x?xi32>,
                       %kp: memref<?x8x128xf16>, %b: index, %h: index,
                       %start: index, %limit: index, %diag: index) {
  %k0 = attn.kv_tile %kd[%b, %h, %start] limit %limit {page_size = 0}
      : memref<?x?x8x128xbf16> -> tensor<64x128xbf16>
  %k1 = attn.kv_tile %kc block_table %bt[%b, %h, %start] limit %limit {page_size = 256}
      : memref<?x256x8x128xbf16>, memref<?x?xi32> -> tensor<64x128xbf16>
  %k2 = attn.kv_tile %kp[%b, %h, %start] limit %limit {page_size = 0}
      : memref<?x8x128xf16> -> tensor<64x128xf16>
  %s = attn.qk %q, %k0 {scale = 0.125 : f32} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  %m = attn.mask %s keys[%start, %limit) diagonal %diag {causal = true, rows_per_token = 2}
      : tensor<2x64xf32>
  %init = attn.softmax_init : !attn.softmax_state<2, 128>
  %upd = attn.softmax_update %init, %m, %k1
      : !attn.softmax_state<2, 128>, tensor<2x64xf32>, tensor<64x128xbf16>
  %o, %lse = attn.softmax_finalize %upd : !attn.softmax_state<2, 128> -> tensor<2x128xf32>, tensor<2xf32>
  %max = attn.row_max %m : tensor<2x64xf32> -> tensor<2xf32>
  %p = attn.exp2_diff %m, %max : tensor<2x64xf32>, tensor<2xf32>
  %alpha = attn.exp2_diff %max, %max : tensor<2xf32>, tensor<2xf32>
  %sum = attn.row_sum %p : tensor<2x64xf32> -> tensor<2xf32>
  %pv = attn.pv %p, %k1 : tensor<2x64xf32>, tensor<64x128xbf16> -> tensor<2x128xf32>
  %acc = attn.scale_rows %pv, %sum : tensor<2x128xf32>, tensor<2xf32>
  %out, %l = attn.normalize %acc, %max, %sum : tensor<2x128xf32>, tensor<2xf32>
  return
}

// -----

// The explicit fused forms of attn-fuse-tile-ops.
// CHECK-LABEL: func @fused_tile_ops
// CHECK: %[[S:.*]] = attn.qk %{{.*}}, %{{.*}} {attn.deferred_scale, scale = 1.250000e-01 : f32} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
// CHECK: %[[SM:.*]] = scf.if
// CHECK: attn.mask %[[S]]
// CHECK: %[[MAX:.*]] = attn.row_max %[[SM]] {attn.deferred_scale} : tensor<2x64xf32> -> tensor<2xf32>
// CHECK: %[[P:.*]] = attn.exp2_diff %[[SM]], %[[MAX]] {attn.deferred_scale} : tensor<2x64xf32>, tensor<2xf32>
// CHECK: attn.pv_acc %[[P]], %{{.*}} onto %{{.*}} : tensor<2x64xf32>, tensor<64x128xbf16> -> tensor<2x128xf32>
func.func @fused_tile_ops(%q: tensor<2x128xf32>, %k: tensor<64x128xbf16>,
                          %acc: tensor<2x128xf32>, %c: i1, %start: index,
                          %end: index, %diag: index) -> tensor<2x128xf32> {
  %s = attn.qk %q, %k {scale = 0.125 : f32, attn.deferred_scale} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  %sm = scf.if %c -> (tensor<2x64xf32>) {
    %m = attn.mask %s keys[%start, %end) diagonal %diag {causal = true, rows_per_token = 1}
        : tensor<2x64xf32>
    scf.yield %m : tensor<2x64xf32>
  } else {
    scf.yield %s : tensor<2x64xf32>
  }
  %max = attn.row_max %sm {attn.deferred_scale} : tensor<2x64xf32> -> tensor<2xf32>
  %p = attn.exp2_diff %sm, %max {attn.deferred_scale} : tensor<2x64xf32>, tensor<2xf32>
  %out = attn.pv_acc %p, %k onto %acc : tensor<2x64xf32>, tensor<64x128xbf16> -> tensor<2x128xf32>
  return %out : tensor<2x128xf32>
}

// -----

// The local-attention options: a window and a softcap on both problem ops
// and attn.attend, a window on attn.mask, and attn.softcap.
// CHECK-LABEL: func @local_options
// CHECK: attn.varlen_prefill {{.*}} lse(%{{.*}} : memref<16x?xf32>) window[%{{.*}}, %{{.*}}] softcap(%{{.*}}) {
// CHECK: attn.paged_decode {{.*}} out(%{{.*}} : memref<?x1x16x128xbf16>) window[%{{.*}}, %{{.*}}] {
// CHECK: attn.paged_decode {{.*}} out(%{{.*}} : memref<?x1x16x128xbf16>) softcap(%{{.*}}) {
// CHECK: attn.attend {{.*}} diagonal %{{.*}} window[%{{.*}}, %{{.*}}] softcap(%{{.*}}) {
// CHECK: attn.mask %{{.*}} keys[%{{.*}}, %{{.*}}) diagonal %{{.*}} window[%{{.*}}, %{{.*}}] {causal = false
// CHECK: attn.softcap %{{.*}}, %{{.*}} : tensor<2x64xf32>
func.func @local_options(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>,
                         %v: memref<?x8x128xbf16>, %cq: memref<?xi32>,
                         %ck: memref<?xi32>, %o: memref<?x16x128xbf16>,
                         %lse: memref<16x?xf32>, %qd: memref<?x1x16x128xbf16>,
                         %kc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                         %bt: memref<?x?xi32>, %od: memref<?x1x16x128xbf16>,
                         %qt: tensor<2x128xf32>, %kt: memref<?x16x1x128xbf16>,
                         %s: tensor<2x64xf32>, %i: index, %cap: f32) {
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>)
      v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>)
      cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      lse(%lse : memref<16x?xf32>) window [%i, %i] softcap(%cap)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 0}
  attn.paged_decode q(%qd : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%kc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%od : memref<?x1x16x128xbf16>)
      window [%i, %i]
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = false,
       scale = 0.0883883461 : f32, page_size = 256}
  attn.paged_decode q(%qd : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%kc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%od : memref<?x1x16x128xbf16>)
      softcap(%cap)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = false,
       scale = 0.0883883461 : f32, page_size = 256}
  %out, %l = attn.attend %qt keys(%kt, %kt block_table %bt) [%i, %i] range [%i, %i)
      diagonal %i window [%i, %i] softcap(%cap)
      {scale = 1.0 : f32, causal = false, rows_per_token = 2 : i64, page_size = 16 : i64}
      : tensor<2x128xf32>, memref<?x16x1x128xbf16>, memref<?x16x1x128xbf16>, memref<?x?xi32> -> tensor<2x128xf32>, tensor<2xf32>
  %m = attn.mask %s keys[%i, %i) diagonal %i window [%i, %i]
      {causal = false, rows_per_token = 1 : i64} : tensor<2x64xf32>
  %c = attn.softcap %m, %cap : tensor<2x64xf32>
  return
}
