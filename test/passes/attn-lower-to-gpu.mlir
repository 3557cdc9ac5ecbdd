// RUN: attn-opt %s -attn-to-tiled | attn-opt -attn-lower-to-gpu | FileCheck %s
// RUN: attn-opt %s -attn-to-tiled=heads-per-cta=8 | attn-opt -attn-lower-to-gpu | FileCheck %s --check-prefix=ANY
// RUN: attn-opt %s -attn-to-tiled | attn-opt -attn-lower-to-gpu | FileCheck %s --check-prefix=RANK

// Grid z ranks the batch by cache_seqlens (%arg3), longest first, when it
// holds 16 to 512 sequences (else z is the batch index): the lengths'
// buckets (negative ones as 0; float bits >> 20, less 1008) into a shared
// histogram by atomics,
// block scans by shfl.up with the warps' totals in shared memory, and the
// chosen sequence, read by every thread between two barriers, is the batch
// index whose length the kernel then loads.
// RANK: gpu.func @qwen3_decode(
// RANK: %[[BZ:.*]] = gpu.block_id  z
// RANK-DAG: arith.cmpi ule, %grid_dim_z, %c512 : index
// RANK-DAG: arith.cmpi uge, %grid_dim_z, %c16{{.*}} : index
// RANK: %[[Z:.*]] = arith.index_castui %[[BZ]] : index to i32
// RANK: %[[RANKED:.*]] = scf.if %{{.*}} -> (i32) {
// RANK: gpu.barrier
// RANK: scf.for %{{.*}} = %{{.*}} to %grid_dim_z step %c128
// RANK: %[[RAW:.*]] = llvm.load %{{.*}} : !llvm.ptr<1> -> i32
// RANK: %[[LEN:.*]] = arith.maxsi %[[RAW]], %c0_i32{{.*}} : i32
// RANK: %[[F:.*]] = arith.uitofp %[[LEN]] : i32 to f32
// RANK: %[[BITS:.*]] = llvm.bitcast %[[F]] : f32 to i32
// RANK: %[[TOP:.*]] = arith.shrui %[[BITS]], %c20_i32
// RANK: arith.subi %[[TOP]], %c1008_i32
// RANK: llvm.atomicrmw add {{.*}} monotonic : !llvm.ptr<3>, i32
// RANK: gpu.barrier
// RANK-COUNT-5: nvvm.shfl.sync  up
// RANK: gpu.barrier
// RANK: arith.cmpi ule, %{{.*}}, %[[Z]] : i32
// RANK: gpu.barrier
// RANK-COUNT-5: nvvm.shfl.sync  up
// RANK: gpu.barrier
// RANK: gpu.barrier
// RANK: %[[WINNER:.*]] = llvm.load %{{.*}} : !llvm.ptr<3> -> i32
// RANK-NEXT: gpu.barrier
// RANK-NEXT: scf.yield %[[WINNER]] : i32
// RANK-NEXT: } else {
// RANK-NEXT: scf.yield %[[Z]] : i32
// RANK: %[[B:.*]] = arith.index_castui %[[RANKED]] : i32 to index
// RANK: %[[B64:.*]] = arith.index_cast %[[B]] : index to i64
// RANK-NEXT: llvm.getelementptr %arg3[%[[B64]]]

// The any-group kernel (heads-per-cta=8): G = Hq / Hkv from parameters 26
// and 27, the head block's first head and its count of valid rows; query
// rows past the count repeat the last valid one; stores are predicated on
// the count (and on the call's head_dim, parameter 28).
// ANY: gpu.func @qwen3_decode({{.*}}%[[HQ:arg26]]: i32, %[[HKV:arg27]]: i32, %arg28: i32) kernel
// ANY-DAG: %[[HQI:.*]] = arith.index_cast %[[HQ]] : i32 to index
// ANY-DAG: %[[HKVI:.*]] = arith.index_cast %[[HKV]] : i32 to index
// ANY: %[[G:.*]] = arith.divui %[[HQI]], %[[HKVI]] : index
// ANY: %[[NB:.*]] = arith.ceildivui %[[G]], %c8
// ANY: %[[COUNT:.*]] = arith.minui %c8{{.*}}, %{{.*}} : index
// ANY: %[[LAST:.*]] = arith.subi %[[COUNT]], %c1
// ANY: arith.minui %c1{{.*}}, %[[LAST]] : index
// ANY: arith.minui %c7{{.*}}, %[[LAST]] : index
// ANY: gpu.barrier
// ANY: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %[[COUNT]] : index
// ANY-NEXT: %[[STORES:.*]] = arith.andi %[[IN]], %{{.*}} : i1
// ANY-NEXT: scf.if %[[STORES]]

// The decode kernel and the combine kernel, with the parameters of
// docs/runtime_abi.md; the KV tiles go through cp.async stages, the scores
// are reduced with butterfly shuffles, exp2 is the SFU's.
// CHECK: module attributes {gpu.container_module}
// CHECK: gpu.module @attn_kernels
// CHECK: llvm.mlir.global external @attn_dynamic_smem() {addr_space = 3 : i32
// CHECK: gpu.func @qwen3_decode(%{{.*}}: !llvm.ptr<1>
// CHECK-SAME: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: f32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32) kernel
// The shared memory it lays out, recorded for the manifest: 3 stages of a K
// and a V tile of 64 x 128 bf16 (larger than the 8 row groups' merge buffers).
// CHECK-SAME: attn.shared_memory_bytes = 98304 : i64
// CHECK-SAME: known_block_size = array<i32: 128, 1, 1>
// CHECK: nvvm.cp.async.shared.global {{.*}}, 16, cache = cg
// CHECK: nvvm.cp.async.commit.group
// CHECK: scf.for
// CHECK: nvvm.cp.async.wait.group 2
// CHECK: nvvm.shfl.sync bfly
// CHECK: llvm.call_intrinsic "llvm.nvvm.ex2.approx.ftz.f32"
// CHECK: gpu.barrier
// CHECK: llvm.call_intrinsic "llvm.nvvm.lg2.approx.f"
// CHECK: gpu.func @qwen3_decode_combine({{.*}}attn.shared_memory_bytes = 0 : i64
// CHECK-NOT: attn.
// CHECK-NOT: func.func
func.func @qwen3_decode(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>,
                        %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>,
                        %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>)
      v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>)
      block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
       scale = 0.0883883461 : f32, page_size = 256}
  return
}
