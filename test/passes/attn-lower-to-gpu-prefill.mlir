// RUN: attn-opt %s -attn-to-tiled=block-m=128 | attn-opt -attn-lower-to-gpu=stages=2 | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled=block-m=128 | attn-opt -attn-lower-to-gpu=stages=2 | FileCheck %s --check-prefix=DIAG

// The causal mask of a diagonal tile compares each of the thread's keys, a
// constant offset from its first key F, with the limit and its row's last
// visible key, both made relative to F once and narrowed to 32 bits: one
// compare of an immediate per element and condition.
// DIAG: %[[ENDREL:.*]] = arith.index_cast %{{.*}} : index to i32
// DIAG-NEXT: %[[LAST:.*]] = arith.subi %{{.*}}, %[[FIRST:.*]] : index
// DIAG-NEXT: %[[LASTREL:.*]] = arith.index_cast %[[LAST]] : index to i32
// DIAG: %[[IN:.*]] = arith.cmpi slt, %c0_i32{{.*}}, %[[ENDREL]] : i32
// DIAG: %[[SEEN:.*]] = arith.cmpi sle, %c0_i32{{.*}}, %[[LASTREL]] : i32
// DIAG-NEXT: %[[KEEP:.*]] = arith.andi %[[IN]], %[[SEEN]] : i1
// DIAG-NEXT: arith.select %[[KEEP]], %{{.*}}, %{{.*}} : f32
// DIAG: arith.cmpi slt, %c1_i32{{.*}}, %[[ENDREL]] : i32

// The prefill kernel, with the parameters of docs/runtime_abi.md: four warps
// of two 16-row blocks each (block-m 128); Q copied once into shared memory
// by cp.async; K/V tiles staged by cp.async, one barrier per tile; QK^T from
// ldmatrix'ed Q and K and PV from ldmatrix.trans'ed V on m16n8k16
// tensor-core MMAs (bf16 in, f32 accumulate), each K or V fragment feeding
// one MMA per row block; P repacked to bf16 pairs in registers; row max and
// sum across each quad by xor shuffles 1 and 2; the KV head taken from the
// launch. The splits are folded into the grid's x with the heads (x = split
// << head_shift | head, by shift and mask; the KV head is head x group_magic
// >> 32: no division); grid z ranks the row tiles by their visible keys:
// sequence b's tiles T - 1 .. 0 (T = ceil(Lq / 128)) at z = shift ..
// shift + T - 1, shift = max(0, grid_dim.z - max(ceil(Lk / 128), T)), the
// other z idle (tile T); one split stores its rows (bf16 pairs), several
// store f32 partials that the module's combine kernel merges.
// CHECK: gpu.func @qwen3_prefill(%{{[a-z0-9]+}}: !llvm.ptr<1>
// CHECK-SAME: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: i32, %{{[a-z0-9]+}}: f32, %{{[a-z0-9]+}}: !llvm.ptr<1>, %{{[a-z0-9]+}}: !llvm.ptr<1>, %{{[a-z0-9]+}}: i32, %[[HQ:[a-z0-9]+]]: i32, %[[SHIFT:[a-z0-9]+]]: i32, %[[MAGIC:[a-z0-9]+]]: i64, %{{[a-z0-9]+}}: i32) kernel
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: %[[BX:.*]] = gpu.block_id x
// CHECK: %[[SH:.*]] = arith.index_cast %[[SHIFT]] : i32 to index
// CHECK: arith.shrui %[[BX]], %[[SH]]
// CHECK: %[[QTILES:.*]] = arith.divui %{{.*}}, %c128_i32 : i32
// CHECK: %[[KTILES:.*]] = arith.divui %{{.*}}, %c128_i32{{.*}} : i32
// CHECK: %[[KEYTILES:.*]] = arith.maxui %[[KTILES]], %[[QTILES]] : i32
// CHECK: gpu.block_id z
// CHECK: gpu.grid_dim z
// CHECK: %[[FREE:.*]] = arith.subi %{{.*}}, %[[KEYTILES]] : i32
// CHECK: %[[RANKSHIFT:.*]] = arith.maxsi %[[FREE]], %c0_i32 : i32
// CHECK: %[[FROMLAST:.*]] = arith.subi %{{.*}}, %[[RANKSHIFT]] : i32
// CHECK: %[[INRANGE:.*]] = arith.cmpi ult, %[[FROMLAST]], %[[QTILES]] : i32
// CHECK: arith.select %[[INRANGE]], %{{.*}}, %[[QTILES]] : i32
// CHECK: %[[ONE_SH:.*]] = arith.shli %{{.*}}, %[[SH]]
// CHECK: %[[MASK:.*]] = arith.subi %[[ONE_SH]], %c1
// CHECK: %[[HEAD:.*]] = arith.andi %[[BX]], %[[MASK]]
// CHECK: scf.if
// CHECK-NOT: arith.divui {{.*}}%arg
// CHECK: arith.muli %{{.*}}, %[[MAGIC]] : i64
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.commit.group
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 0
// CHECK-NEXT: gpu.barrier
// CHECK: nvvm.ldmatrix {{.*}} layout = #nvvm.mma_layout<row>, num = 4 : i32
// CHECK: nvvm.ldmatrix {{.*}} layout = #nvvm.mma_layout<row>, num = 4 : i32
// CHECK: %[[KFRAG:.*]] = nvvm.ldmatrix {{.*}} layout = #nvvm.mma_layout<row>, num = 4 : i32
// CHECK: %[[B0:.*]] = llvm.extractvalue %[[KFRAG]][0]
// CHECK: %[[B1:.*]] = llvm.extractvalue %[[KFRAG]][1]
// CHECK: nvvm.mma.sync A[{{.*}}] B[%[[B0]], %[[B1]]]
// CHECK: nvvm.mma.sync A[{{.*}}] B[{{.*}}]
// CHECK: nvvm.mma.sync A[{{.*}}] B[%[[B0]], %[[B1]]] C[{{.*}}] {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>, shape = #nvvm.shape<m = 16, n = 8, k = 16>}
// CHECK: nvvm.shfl.sync bfly {{.*}}, %c1
// CHECK: nvvm.shfl.sync bfly {{.*}}, %c2
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: arith.truncf {{.*}} : vector<2xf32> to vector<2xbf16>
// CHECK: nvvm.ldmatrix {{.*}} layout = #nvvm.mma_layout<col>, num = 4 : i32
// CHECK: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: llvm.store {{.*}} {alignment = 4 : i64} : i32, !llvm.ptr<1>
// CHECK: llvm.store {{.*}} {alignment = 8 : i64} : vector<2xf32>, !llvm.ptr<1>
// CHECK: gpu.func @qwen3_prefill_combine(%{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: !llvm.ptr<1>, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i64, %{{.*}}: i32) kernel
// CHECK-SAME: known_block_size = array<i32: 512, 1, 1>
// CHECK: nvvm.shfl.sync bfly
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK-NOT: attn.
// CHECK-NOT: func.func
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
