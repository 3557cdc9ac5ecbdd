// RUN: attn-opt %s -split-input-file -attn-fuse-tile-ops | FileCheck %s

// A prefill KV-tile body, as attn-online-softmax leaves it: the P V product
// is added to the rescaled accumulator, and the scores (masked or not) feed
// only row_max and exp2_diff. Both fusions fire.
// CHECK-LABEL: func @prefill_tile
// CHECK: %[[S:.*]] = attn.qk %{{.*}}, %{{.*}} {attn.deferred_scale, scale = 1.44269502 : f32}
// CHECK: attn.mask %[[S]]
// CHECK-NOT: attn.deferred_scale
// CHECK: %[[MAX:.*]] = attn.row_max %{{.*}} {attn.deferred_scale}
// CHECK: %[[P:.*]] = attn.exp2_diff %{{.*}}, %{{.*}} {attn.deferred_scale}
// CHECK: %[[ALPHA:.*]] = attn.exp2_diff %{{.*}}, %{{.*}} :
// CHECK: %[[RESCALED:.*]] = attn.scale_rows %{{.*}}, %[[ALPHA]]
// CHECK-NOT: attn.pv %
// CHECK-NOT: arith.addf
// CHECK: %[[ACC:.*]] = attn.pv_acc %[[P]], %{{.*}} onto %[[RESCALED]] : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
// CHECK: return %{{.*}}, %[[ACC]]
func.func @prefill_tile(%q: memref<?x1x64xbf16>, %k: memref<?x1x64xbf16>,
                        %v: memref<?x1x64xbf16>, %row: index, %head: index,
                        %count: index, %b: index, %kvh: index, %start: index,
                        %end: index, %diag: index, %masked: i1,
                        %m: tensor<64xf32>, %acc: tensor<64x64xf32>)
    -> (tensor<64xf32>, tensor<64x64xf32>) {
  %qt = attn.load_q_rows %q[%row, %head] count %count : memref<?x1x64xbf16> -> tensor<64x64xf32>
  %kt = attn.kv_tile %k[%b, %kvh, %start] limit %end {page_size = 0 : i64} : memref<?x1x64xbf16> -> tensor<64x64xbf16>
  %s = attn.qk %qt, %kt {scale = 1.44269502 : f32} : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %sm = scf.if %masked -> (tensor<64x64xf32>) {
    %ms = attn.mask %s keys[%start, %end) diagonal %diag {causal = true, rows_per_token = 1 : i64} : tensor<64x64xf32>
    scf.yield %ms : tensor<64x64xf32>
  } else {
    scf.yield %s : tensor<64x64xf32>
  }
  %vt = attn.kv_tile %v[%b, %kvh, %start] limit %end {page_size = 0 : i64} : memref<?x1x64xbf16> -> tensor<64x64xbf16>
  %tmax = attn.row_max %sm : tensor<64x64xf32> -> tensor<64xf32>
  %mn = arith.maximumf %m, %tmax : tensor<64xf32>
  %p = attn.exp2_diff %sm, %mn : tensor<64x64xf32>, tensor<64xf32>
  %alpha = attn.exp2_diff %m, %mn : tensor<64xf32>, tensor<64xf32>
  %pv = attn.pv %p, %vt : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %rescaled = attn.scale_rows %acc, %alpha : tensor<64x64xf32>, tensor<64xf32>
  %acc1 = arith.addf %rescaled, %pv : tensor<64x64xf32>
  return %mn, %acc1 : tensor<64xf32>, tensor<64x64xf32>
}

// -----

// Neither fusion may fire: the scores also feed row_sum (which would see them
// unscaled), and the P V product has a second use.
// CHECK-LABEL: func @prefill_unfusable
// CHECK-NOT: attn.deferred_scale
// CHECK-NOT: attn.pv_acc
// CHECK: attn.qk %{{.*}}, %{{.*}} {scale = 1.44269502 : f32}
// CHECK: %[[PV:.*]] = attn.pv
// CHECK: arith.addf %{{.*}}, %[[PV]]
// CHECK: return
func.func @prefill_unfusable(%q: memref<?x1x64xbf16>, %k: memref<?x1x64xbf16>,
                             %v: memref<?x1x64xbf16>, %row: index,
                             %head: index, %count: index, %b: index,
                             %kvh: index, %start: index, %end: index,
                             %m: tensor<64xf32>, %acc: tensor<64x64xf32>)
    -> (tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) {
  %qt = attn.load_q_rows %q[%row, %head] count %count : memref<?x1x64xbf16> -> tensor<64x64xf32>
  %kt = attn.kv_tile %k[%b, %kvh, %start] limit %end {page_size = 0 : i64} : memref<?x1x64xbf16> -> tensor<64x64xbf16>
  %s = attn.qk %qt, %kt {scale = 1.44269502 : f32} : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %vt = attn.kv_tile %v[%b, %kvh, %start] limit %end {page_size = 0 : i64} : memref<?x1x64xbf16> -> tensor<64x64xbf16>
  %raw = attn.row_sum %s : tensor<64x64xf32> -> tensor<64xf32>
  %tmax = attn.row_max %s : tensor<64x64xf32> -> tensor<64xf32>
  %p = attn.exp2_diff %s, %tmax : tensor<64x64xf32>, tensor<64xf32>
  %pv = attn.pv %p, %vt : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
  %acc1 = arith.addf %acc, %pv : tensor<64x64xf32>
  return %raw, %acc1, %pv : tensor<64xf32>, tensor<64x64xf32>, tensor<64x64xf32>
}

// -----

// A decode program (no attn.load_q_rows) is left as it is: its lowering
// scales each score as it computes it.
// CHECK-LABEL: func @decode_tile
// CHECK-NOT: attn.deferred_scale
// CHECK-NOT: attn.pv_acc
// CHECK: return
func.func @decode_tile(%qt: tensor<2x64xf32>, %kt: tensor<64x64xbf16>,
                       %vt: tensor<64x64xbf16>, %acc: tensor<2x64xf32>)
    -> tensor<2x64xf32> {
  %s = attn.qk %qt, %kt {scale = 1.44269502 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
  %tmax = attn.row_max %s : tensor<2x64xf32> -> tensor<2xf32>
  %p = attn.exp2_diff %s, %tmax : tensor<2x64xf32>, tensor<2xf32>
  %pv = attn.pv %p, %vt : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
  %acc1 = arith.addf %acc, %pv : tensor<2x64xf32>
  return %acc1 : tensor<2x64xf32>
}
