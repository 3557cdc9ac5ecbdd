// RUN: attn-opt %s -attn-lower-to-gpu=stages=2 | FileCheck %s --check-prefix=UNFUSED
// RUN: attn-opt %s -attn-fuse-tile-ops -attn-lower-to-gpu=stages=2 | FileCheck %s --check-prefix=FUSED

// The prefill lowering of the tiled program with and without
// attn-fuse-tile-ops. Unfused, each score is scaled after its mma and
// exp2_diff subtracts the max; fused (attn.deferred_scale), exp2_diff folds
// the scale into an fma and P V accumulates onto the rescaled acc.
// UNFUSED-LABEL: gpu.func @prefill(
// UNFUSED: nvvm.mma.sync
// UNFUSED: arith.mulf
// UNFUSED-NOT: math.fma
// UNFUSED: gpu.func @prefill_combine(
// FUSED-LABEL: gpu.func @prefill(
// FUSED: nvvm.mma.sync
// FUSED: math.fma
// FUSED: gpu.func @prefill_combine(
module {
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x64xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg3, %c0_0 : memref<?xi32>
    %0 = arith.subi %dim, %c1 : index
    %c64 = arith.constant 64 : index
    %c0_1 = arith.constant 0 : index
    %dim_2 = memref.dim %arg0, %c0_1 : memref<?x4x64xbf16>
    %1 = arith.ceildivui %dim_2, %c64 : index
    %c4 = arith.constant 4 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg9, %arg10, %arg11, %arg12) = (%c0_3, %c0, %c0, %c0) to (%arg8, %0, %1, %c4) step (%c1_4, %c1, %c1, %c1) {
      %c64_5 = arith.constant 64 : index
      %3 = arith.muli %arg11, %c64_5 : index
      %4 = attn.seq_len %arg3[%arg10] {cumulative} : memref<?xi32>
      %5 = attn.seq_len %arg4[%arg10] {cumulative} : memref<?xi32>
      %6 = arith.cmpi slt, %3, %4 : index
      scf.if %6 {
        %7 = attn.seq_start %arg3[%arg10] : memref<?xi32>
        %8 = arith.addi %7, %3 : index
        %9 = arith.subi %4, %3 : index
        %10 = attn.kv_head %arg12 {group = 2 : i64}
        %11 = attn.load_q_rows %arg0[%8, %arg12] count %9 : memref<?x4x64xbf16> -> tensor<64x64xf32>
        %12 = attn.seq_start %arg4[%arg10] : memref<?xi32>
        %13 = arith.addi %12, %5 : index
        %14 = arith.subi %13, %4 : index
        %15 = arith.addi %14, %3 : index
        %16 = arith.subi %13, %12 : index
        %17 = arith.maxsi %16, %c0_3 : index
        %begin, %end = attn.split_range %arg9 of %arg8 over %17 {align = 64 : i64}
        %18 = arith.addi %12, %begin : index
        %19 = arith.addi %12, %end : index
        %c64_6 = arith.constant 64 : index
        %cst = arith.constant dense<0xFF800000> : tensor<64xf32>
        %cst_7 = arith.constant dense<0.000000e+00> : tensor<64xf32>
        %cst_8 = arith.constant dense<0.000000e+00> : tensor<64x64xf32>
        %20:3 = scf.for %arg13 = %18 to %19 step %c64_6 iter_args(%arg14 = %cst, %arg15 = %cst_7, %arg16 = %cst_8) -> (tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>) {
          %22 = attn.kv_tile %arg1[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %23 = attn.qk %11, %22 {scale = 0.180336878 : f32} : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %c64_9 = arith.constant 64 : index
          %24 = arith.addi %arg13, %c64_9 : index
          %25 = arith.cmpi sgt, %24, %19 : index
          %26 = scf.if %25 -> (tensor<64x64xf32>) {
            %38 = attn.mask %23 keys[%arg13, %19) diagonal %15 {causal = false, rows_per_token = 1 : i64} : tensor<64x64xf32>
            scf.yield %38 : tensor<64x64xf32>
          } else {
            scf.yield %23 : tensor<64x64xf32>
          }
          %27 = attn.kv_tile %arg2[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %28 = attn.row_max %26 : tensor<64x64xf32> -> tensor<64xf32>
          %29 = arith.maximumf %arg14, %28 : tensor<64xf32>
          %30 = attn.exp2_diff %26, %29 : tensor<64x64xf32>, tensor<64xf32>
          %31 = attn.exp2_diff %arg14, %29 : tensor<64xf32>, tensor<64xf32>
          %32 = attn.row_sum %30 : tensor<64x64xf32> -> tensor<64xf32>
          %33 = arith.mulf %arg15, %31 : tensor<64xf32>
          %34 = arith.addf %33, %32 : tensor<64xf32>
          %35 = attn.pv %30, %27 : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %36 = attn.scale_rows %arg16, %31 : tensor<64x64xf32>, tensor<64xf32>
          %37 = arith.addf %36, %35 : tensor<64x64xf32>
          scf.yield %29, %34, %37 : tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>
        } {attn.kv_loop}
        %out, %lse = attn.normalize %20#2, %20#0, %20#1 : tensor<64x64xf32>, tensor<64xf32>
        %21 = arith.cmpi eq, %arg8, %c1_4 : index
        scf.if %21 {
          attn.store_rows %out, %lse to %arg5[ %8, %arg12] count %9 : tensor<64x64xf32>, tensor<64xf32>, memref<?x4x64xbf16>
        } else {
          attn.store_rows %out, %lse to %arg6 lse %arg7[split %arg9, %8, %arg12] count %9 : tensor<64x64xf32>, tensor<64xf32>, memref<?x?x4x64xf32>, memref<?x?x4xf32>
        }
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "q_block", "head"]}
    %2 = arith.cmpi ugt, %arg8, %c1_4 : index
    scf.if %2 {
      attn.combine %arg6, %arg7 splits %arg8 to %arg5 : memref<?x?x4x64xf32>, memref<?x?x4xf32>, memref<?x4x64xbf16>
    }
    return
  }
}

