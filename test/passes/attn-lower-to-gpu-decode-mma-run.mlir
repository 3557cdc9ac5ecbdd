// RUN: attn-opt %s -attn-to-tiled='block-n=64 stages=2' -attn-lower-to-gpu='decode-mma=1 stages=2' | FileCheck %s

// The tensor-core decode kernel's K/V copies where a key's row is not a
// power of two 16-byte chunks (4 warps, 16 keys a warp).
//
// D 80, 10 chunks a key: 16 lanes a key would leave 6 idle, so the warp's
// 16 x 10 chunks are one run of 5 passes, lane l of pass p copying chunk
// (32 p + l) % 10 of key 16 w + (32 p + l) / 10, every lane busy: 5 copies
// of K and 5 of V a tile (16 lanes a key: 8 and 8).
// CHECK-LABEL: gpu.func @d80_decode
// CHECK: %[[WARP:.*]] = arith.divui %thread_id_x, %c32 : index
// CHECK: %[[LANE:.*]] = arith.remui %thread_id_x, %c32{{(_[0-9]+)?}} : index
// CHECK: %[[W16:.*]] = arith.muli %[[WARP]], %c16{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c10{{(_[0-9]+)?}} = arith.constant 10 : index
// CHECK-NEXT: %[[K0:.*]] = arith.divui %[[LANE]], %c10{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c10{{(_[0-9]+)?}} = arith.constant 10 : index
// CHECK-NEXT: %[[C0:.*]] = arith.remui %[[LANE]], %c10{{(_[0-9]+)?}} : index
// CHECK-NEXT: arith.addi %[[W16]], %[[K0]] : index
// Chunks past the call's head_dim copy 0 bytes.
// CHECK: arith.cmpi ult, %[[C0]], %{{.*}} : index
// CHECK: %[[L1:.*]] = arith.addi %[[LANE]], %c32{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c10{{(_[0-9]+)?}} = arith.constant 10 : index
// CHECK-NEXT: arith.divui %[[L1]], %c10{{(_[0-9]+)?}} : index
// CHECK: arith.addi %[[LANE]], %c64{{(_[0-9]+)?}} : index
// CHECK: arith.addi %[[LANE]], %c96{{(_[0-9]+)?}} : index
// CHECK: arith.addi %[[LANE]], %c128{{(_[0-9]+)?}} : index
// 160 chunks fill the 5 passes: no lane of the last is masked.
// CHECK-NOT: arith.addi %[[LANE]], %c160
// CHECK-NOT: scf.if
// CHECK-COUNT-10: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-LABEL: gpu.func @d80_decode_combine

// D 96, 12 chunks a key: 4 of 16 lanes idle, which the run does not pay
// for; a key takes 16 lanes (those past 12 copy nothing), a pass 2 keys: 8
// copies of K and 8 of V a tile.
// CHECK-LABEL: gpu.func @d96_decode
// CHECK: %[[LANE96:.*]] = arith.remui %thread_id_x, %c32{{(_[0-9]+)?}} : index
// CHECK: %[[C96:.*]] = arith.remui %[[LANE96]], %c16{{(_[0-9]+)?}} : index
// CHECK-NEXT: %c16{{(_[0-9]+)?}} = arith.constant 16 : index
// CHECK-NEXT: arith.divui %[[LANE96]], %c16{{(_[0-9]+)?}} : index
// CHECK: %[[IDLE:.*]] = arith.cmpi ult, %[[C96]], %c12{{(_[0-9]+)?}} : index
// CHECK-COUNT-16: scf.if %[[IDLE]]
// CHECK-NEXT: arith.constant 0 : i32
// CHECK-NEXT: arith.select
// CHECK-NEXT: nvvm.cp.async.shared.global
// CHECK-NOT: nvvm.cp.async.shared.global
// CHECK: nvvm.cp.async.commit.group
// CHECK-LABEL: gpu.func @d96_decode_combine

func.func @d80_decode(%q: memref<?x?x16x80xbf16>, %kc: memref<?x256x8x80xbf16>,
                      %vc: memref<?x256x8x80xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x?x16x80xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x80xbf16>) k_cache(%kc : memref<?x256x8x80xbf16>)
      v_cache(%vc : memref<?x256x8x80xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x80xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 80, causal = true,
       scale = 0.111803398 : f32, page_size = 256}
  return
}

func.func @d96_decode(%q: memref<?x?x16x96xbf16>, %kc: memref<?x256x8x96xbf16>,
                      %vc: memref<?x256x8x96xbf16>, %lens: memref<?xi32>,
                      %bt: memref<?x?xi32>, %o: memref<?x?x16x96xbf16>) {
  attn.paged_decode q(%q : memref<?x?x16x96xbf16>) k_cache(%kc : memref<?x256x8x96xbf16>)
      v_cache(%vc : memref<?x256x8x96xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x?x16x96xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 96, causal = true,
       scale = 0.102062073 : f32, page_size = 256}
  return
}
