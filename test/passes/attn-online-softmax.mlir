// RUN: attn-opt %s -split-input-file -attn-gqa-broadcast -attn-tile=block-n=64 -attn-online-softmax | FileCheck %s

// The softmax state becomes the running max, sum and accumulator; exp2 with
// scale * log2(e) = 0.0883883461 * 1.44269504 = 0.127517432 folded into qk.
// CHECK-LABEL: func @decode
// CHECK-DAG: %[[M0:.*]] = arith.constant dense<0xFF800000> : tensor<2xf32>
// CHECK-DAG: %[[L0:.*]] = arith.constant dense<0.000000e+00> : tensor<2xf32>
// CHECK-DAG: %[[A0:.*]] = arith.constant dense<0.000000e+00> : tensor<2x128xf32>
// CHECK: %[[R:.*]]:3 = scf.for {{.*}} iter_args(%[[M:.*]] = %[[M0]], %[[L:.*]] = %[[L0]], %[[ACC:.*]] = %[[A0]])
// CHECK:   %[[S:.*]] = attn.qk {{.*}} {scale = 0.127517432 : f32}
// CHECK:   %[[SM:.*]] = scf.if
// CHECK:   %[[V:.*]] = attn.kv_tile
// CHECK:   %[[TMAX:.*]] = attn.row_max %[[SM]]
// CHECK:   %[[MNEW:.*]] = arith.maximumf %[[M]], %[[TMAX]]
// CHECK:   %[[P:.*]] = attn.exp2_diff %[[SM]], %[[MNEW]] : tensor<2x64xf32>, tensor<2xf32>
// CHECK:   %[[ALPHA:.*]] = attn.exp2_diff %[[M]], %[[MNEW]] : tensor<2xf32>, tensor<2xf32>
// CHECK:   %[[TSUM:.*]] = attn.row_sum %[[P]]
// CHECK:   %[[LA:.*]] = arith.mulf %[[L]], %[[ALPHA]]
// CHECK:   %[[LNEW:.*]] = arith.addf %[[LA]], %[[TSUM]]
// CHECK:   %[[PV:.*]] = attn.pv %[[P]], %[[V]]
// CHECK:   %[[AA:.*]] = attn.scale_rows %[[ACC]], %[[ALPHA]]
// CHECK:   %[[ANEW:.*]] = arith.addf %[[AA]], %[[PV]]
// CHECK:   scf.yield %[[MNEW]], %[[LNEW]], %[[ANEW]]
// CHECK: attn.normalize %[[R]]#2, %[[R]]#0, %[[R]]#1
// CHECK-NOT: attn.softmax_
func.func @decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                  %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                  %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

// A softcap moves to log2 units with the scores: its cap is multiplied by
// log2(e) once, before the loop (c' tanh(s' / c') with s' = log2(e) s,
// c' = log2(e) c is log2(e) c tanh(s / c)).
// CHECK-LABEL: func @softcap
// CHECK-SAME: %[[CAP:[a-z0-9]+]]: f32 {attn.softcap}
// CHECK: %[[LOG2E:.*]] = arith.constant 1.44269502 : f32
// CHECK: %[[CAP2:.*]] = arith.mulf %[[CAP]], %[[LOG2E]]
// CHECK: scf.for
// CHECK:   attn.softcap %{{.*}}, %[[CAP2]]
func.func @softcap(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                   %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                   %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>,
                   %wl: index, %wr: index, %cap: f32) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      window [%wl, %wr] softcap(%cap)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = false,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
