// RUN: attn-opt %s -split-input-file -attn-lower-to-cpu -verify-diagnostics

// attn.attend has no CPU lowering: attn-tile and attn-online-softmax turn it
// into the KV tile loop first.
func.func @untiled(%q: memref<?x1x16x128xbf16>, %kc: memref<?x?x8x128xbf16>,
                   %vc: memref<?x?x8x128xbf16>, %b: index, %h: index, %n: index) {
  %c0 = arith.constant 0 : index
  %t = attn.load_q %q[%b, %c0, %h] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
  // expected-error @+1 {{attn-lower-to-cpu: unsupported tile op}}
  %out, %lse = attn.attend %t keys(%kc, %vc) [%b, %h] range[%c0, %n) diagonal %n
      {causal = false, page_size = 0, rows_per_token = 2, scale = 0.125 : f32}
      : tensor<2x128xf32>, memref<?x?x8x128xbf16>, memref<?x?x8x128xbf16>
      -> tensor<2x128xf32>, tensor<2xf32>
  return
}

// -----

// A tile that enters the function as an argument has no buffer to read.
func.func @tile_argument(%q: tensor<2x128xf32>, %kc: memref<?x?x8x128xbf16>,
                         %b: index, %h: index, %n: index) {
  %k = attn.kv_tile %kc[%b, %h, %n] limit %n {page_size = 0}
      : memref<?x?x8x128xbf16> -> tensor<64x128xbf16>
  // expected-error @+1 {{attn-lower-to-cpu: tile operand #0 has no buffer; tiles must be made by attn ops or tile constants in the function, got 'tensor<2x128xf32>'}}
  %s = attn.qk %q, %k {scale = 0.125 : f32} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  return
}
