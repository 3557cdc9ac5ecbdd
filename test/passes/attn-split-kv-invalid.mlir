// RUN: attn-opt %s -split-input-file -attn-split-kv -verify-diagnostics

// A grid attn-gqa-broadcast made must hold one attn.attend and one store.
func.func @no_attend(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{attn-split-kv expects a grid with one attn.attend and one unsplit attn.store or attn.store_rows}}
  scf.parallel (%b) = (%c0) to (%n) step (%c1) {
    scf.reduce
  } {attn.grid = ["batch"]}
  return
}

// -----

// A store that is already split is not split again.
func.func @split_store(%q: memref<?x1x16x128xbf16>, %kc: memref<?x?x8x128xbf16>,
                       %vc: memref<?x?x8x128xbf16>, %po: memref<?x?x1x16x128xf32>,
                       %pl: memref<?x?x1x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{attn-split-kv expects a grid with one attn.attend and one unsplit attn.store or attn.store_rows}}
  scf.parallel (%b, %h) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    %t = attn.load_q %q[%b, %c0, %h] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
    %out, %lse = attn.attend %t keys(%kc, %vc) [%b, %h] range[%c0, %n) diagonal %n
        {causal = false, page_size = 0, rows_per_token = 2, scale = 0.125 : f32}
        : tensor<2x128xf32>, memref<?x?x8x128xbf16>, memref<?x?x8x128xbf16>
        -> tensor<2x128xf32>, tensor<2xf32>
    attn.store %out, %lse to %po lse %pl[split %c0, %b, %c0, %h]
        : tensor<2x128xf32>, tensor<2xf32>, memref<?x?x1x16x128xf32>, memref<?x?x1x16xf32>
    scf.reduce
  } {attn.grid = ["batch", "kv_head"]}
  return
}
