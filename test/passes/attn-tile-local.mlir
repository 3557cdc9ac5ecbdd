// RUN: attn-opt %s -split-input-file -attn-tile=block-n=32 | FileCheck %s

// A causal prefill tile of 64 rows with a window and a softcap, written as
// attn-gqa-broadcast leaves it: the window's bounds become non-negative
// offsets (a negative bound: 2^40, unbounded; causal: right 0); the loop
// starts at the 32-key tile holding the first row's first key; a tile is
// masked when it reaches past the first row's diagonal or starts before the
// last row's first key; the scores are capped before the mask when the cap
// is positive.
// CHECK-LABEL: func @prefill_window_softcap
// CHECK-SAME: (%{{.*}}, %[[BEGIN:[a-z0-9]+]]: index, %[[END:[a-z0-9]+]]: index, %[[DIAG:[a-z0-9]+]]: index, %[[LEFT:[a-z0-9]+]]: index, %[[RIGHT:[a-z0-9]+]]: index, %[[CAP:[a-z0-9]+]]: f32)
// CHECK-DAG: %[[UNB:.*]] = arith.constant 1099511627776 : index
// CHECK-DAG: %[[LASTD:.*]] = arith.addi %[[DIAG]], %c63
// CHECK-DAG: %[[NEG:.*]] = arith.cmpi slt, %[[LEFT]], %c0
// CHECK-DAG: %[[L:.*]] = arith.select %[[NEG]], %[[UNB]], %[[LEFT]]
// CHECK: %[[FIRSTKEY:.*]] = arith.subi %[[DIAG]], %[[L]]
// CHECK: %[[OFF:.*]] = arith.subi %[[FIRSTKEY]], %[[BEGIN]]
// CHECK: %[[SKIP:.*]] = arith.maxsi %{{.*}}, %[[OFF]]
// CHECK: %[[TILES:.*]] = arith.divsi %[[SKIP]], %c32
// CHECK: %[[SKIPKEYS:.*]] = arith.muli %[[TILES]], %c32
// CHECK: %[[LOOPBEGIN:.*]] = arith.addi %[[BEGIN]], %[[SKIPKEYS]]
// CHECK: %[[MASKUNTIL:.*]] = arith.subi %[[LASTD]], %[[L]]
// CHECK: scf.for %[[N0:.*]] = %[[LOOPBEGIN]] to %{{.*}} step %c32
// CHECK:   %[[SC:.*]] = attn.qk
// CHECK:   %[[POS:.*]] = arith.cmpf ogt, %[[CAP]], %{{.*}}
// CHECK:   %[[CAPPED:.*]] = scf.if %[[POS]]
// CHECK:     attn.softcap %[[SC]], %[[CAP]]
// CHECK:   } else {
// CHECK:     scf.yield %[[SC]]
// CHECK:   %[[PAST:.*]] = arith.cmpi sgt,
// CHECK:   %[[BEFORE:.*]] = arith.cmpi slt, %[[N0]], %[[MASKUNTIL]]
// CHECK:   %[[NEEDS:.*]] = arith.ori %[[PAST]], %[[BEFORE]]
// CHECK:   scf.if %[[NEEDS]]
// CHECK:     attn.mask %[[CAPPED]] keys[%[[N0]], %[[END]]) diagonal %[[DIAG]] window[%[[L]], %{{c0[_0-9]*}}] {causal = true, rows_per_token = 1 : i64}
func.func @prefill_window_softcap(%q: tensor<64x32xf32>, %k: memref<?x1x32xbf16>,
    %v: memref<?x1x32xbf16>, %begin: index, %end: index, %diag: index,
    %left: index, %right: index, %cap: f32) -> (tensor<64x32xf32>, tensor<64xf32>) {
  %c0 = arith.constant 0 : index
  %o, %lse = attn.attend %q keys(%k, %v) [%c0, %c0] range [%begin, %end)
      diagonal %diag window [%left, %right] softcap(%cap)
      {scale = 1.0 : f32, causal = true, rows_per_token = 1 : i64, page_size = 0 : i64}
      : tensor<64x32xf32>, memref<?x1x32xbf16>, memref<?x1x32xbf16> -> tensor<64x32xf32>, tensor<64xf32>
  return %o, %lse : tensor<64x32xf32>, tensor<64xf32>
}

// -----

// Not causal: the right bound (2^40 when negative) moves the loop's end and
// the first masked tile as causal's diagonal does, by the bound.
// CHECK-LABEL: func @decode_window_noncausal
// CHECK-SAME: %[[END:[a-z0-9]+]]: index, %[[DIAG:[a-z0-9]+]]: index, %[[LEFT:[a-z0-9]+]]: index, %[[RIGHT:[a-z0-9]+]]: index)
// CHECK-DAG: %[[RNEG:.*]] = arith.cmpi slt, %[[RIGHT]], %c0
// CHECK-DAG: %[[R:.*]] = arith.select %[[RNEG]], %{{.*}}, %[[RIGHT]]
// CHECK-DAG: %[[FE:.*]] = arith.addi %[[DIAG]], %[[R]]
// CHECK-DAG: %[[FIRSTEND:.*]] = arith.addi %[[FE]], %c1
// CHECK-DAG: %[[MASKFROM:.*]] = arith.minsi %[[END]], %[[FIRSTEND]]
// CHECK-DAG: %[[VISEND:.*]] = arith.minsi %[[END]],
// CHECK: scf.for %{{.*}} = %{{.*}} to %[[VISEND]] step %c32
// CHECK-NOT: attn.softcap
// CHECK:   arith.cmpi sgt, %{{.*}}, %[[MASKFROM]]
// CHECK:   attn.mask {{.*}} window[%{{.*}}, %[[R]]] {causal = false, rows_per_token = 4 : i64}
func.func @decode_window_noncausal(%q: tensor<8x64xf32>, %kc: memref<?x16x1x64xf16>,
    %vc: memref<?x16x1x64xf16>, %bt: memref<?x?xi32>, %end: index, %diag: index,
    %left: index, %right: index) -> (tensor<8x64xf32>, tensor<8xf32>) {
  %c0 = arith.constant 0 : index
  %o, %lse = attn.attend %q keys(%kc, %vc block_table %bt) [%c0, %c0] range [%c0, %end)
      diagonal %diag window [%left, %right]
      {scale = 1.0 : f32, causal = false, rows_per_token = 4 : i64, page_size = 16 : i64}
      : tensor<8x64xf32>, memref<?x16x1x64xf16>, memref<?x16x1x64xf16>, memref<?x?xi32> -> tensor<8x64xf32>, tensor<8xf32>
  return %o, %lse : tensor<8x64xf32>, tensor<8xf32>
}
