// RUN: attn-opt %s -split-input-file -attn-online-softmax -verify-diagnostics

// The state must feed exactly one KV tile loop.
func.func @two_uses(%s: tensor<2x64xf32>, %v: tensor<64x128xbf16>) {
  // expected-error @+1 {{attn-online-softmax expects the state to feed one KV tile loop}}
  %init = attn.softmax_init : !attn.softmax_state<2, 128>
  %o0, %l0 = attn.softmax_finalize %init : !attn.softmax_state<2, 128> -> tensor<2x128xf32>, tensor<2xf32>
  %o1, %l1 = attn.softmax_finalize %init : !attn.softmax_state<2, 128> -> tensor<2x128xf32>, tensor<2xf32>
  return
}

// -----

// The one use must be an scf.for that carries only the state.
func.func @not_a_loop(%s: tensor<2x64xf32>, %v: tensor<64x128xbf16>) {
  // expected-error @+1 {{attn-online-softmax expects the state to be the only value carried by an scf.for}}
  %init = attn.softmax_init : !attn.softmax_state<2, 128>
  %o, %l = attn.softmax_finalize %init : !attn.softmax_state<2, 128> -> tensor<2x128xf32>, tensor<2xf32>
  return
}

// -----

// The loop must yield a softmax_update of its state, and feed a finalize.
func.func @no_update(%s: tensor<2x64xf32>, %v: tensor<64x128xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{attn-online-softmax expects init -> scf.for {softmax_update} -> softmax_finalize}}
  %init = attn.softmax_init : !attn.softmax_state<2, 128>
  %acc = scf.for %i = %c0 to %n step %c1 iter_args(%st = %init) -> (!attn.softmax_state<2, 128>) {
    scf.yield %st : !attn.softmax_state<2, 128>
  }
  %o, %l = attn.softmax_finalize %acc : !attn.softmax_state<2, 128> -> tensor<2x128xf32>, tensor<2xf32>
  return
}
