// RUN: attn-opt %s -split-input-file -attn-lower-to-gpu -verify-diagnostics

// The tiled programs attn-to-tiled makes (decode: Hq 4, Hkv 2, D 64, paged;
// prefill: the same heads, contiguous K/V), each edited so that
// attn-lower-to-gpu rejects it.

// Decode before attn-split-kv and attn-tile.
module {
  // expected-error @+1 {{attn-lower-to-gpu expects a split, tiled, online-softmax decode program (run attn-gqa-broadcast, attn-split-kv, attn-tile and attn-online-softmax first)}}
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    %c2 = arith.constant 2 : index
    scf.parallel (%arg5, %arg6, %arg7) = (%c0, %c0, %c0) to (%dim, %dim_2, %c2) step (%c1, %c1, %c1) {
      %0 = attn.seq_len %arg3[%arg5] : memref<?xi32>
      %c2_3 = arith.constant 2 : index
      %1 = arith.muli %arg7, %c2_3 : index
      %2 = attn.load_q %arg0[%arg5, %arg6, %1] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      %3 = arith.subi %0, %dim_2 : index
      %4 = arith.addi %3, %arg6 : index
      %out, %lse = attn.attend %2 keys(%arg1, %arg2) [%arg5, %arg7] range[%c0, %0) diagonal %4 {causal = false, page_size = 0 : i64, rows_per_token = 2 : i64, scale = 1.250000e-01 : f32} : tensor<2x64xf32>, memref<?x?x2x64xbf16>, memref<?x?x2x64xbf16> -> tensor<2x64xf32>, tensor<2xf32>
      attn.store %out, %lse to %arg4[ %arg5, %arg6, %1] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      scf.reduce 
    } {attn.grid = ["batch", "token", "kv_head"]}
    return
  }
}

// -----

// Decode whose grid names 3 roles for 4 induction variables: the dialect
// rejects the attribute before the lowering runs.
module {
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}, %arg5: memref<?x?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg6: memref<?x?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg7: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    %c2 = arith.constant 2 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    // expected-error @+1 {{'attn.grid' must name each of the 4 induction variables with a string, got ["split", "batch", "kv_head"]}}
    scf.parallel (%arg8, %arg9, %arg10, %arg11) = (%c0_3, %c0, %c0, %c0) to (%arg7, %dim, %dim_2, %c2) step (%c1_4, %c1, %c1, %c1) {
      %1 = attn.seq_len %arg3[%arg9] : memref<?xi32>
      %c2_5 = arith.constant 2 : index
      %2 = arith.muli %arg11, %c2_5 : index
      %3 = attn.load_q %arg0[%arg9, %arg10, %2] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      %4 = arith.subi %1, %dim_2 : index
      %5 = arith.addi %4, %arg10 : index
      %6 = arith.subi %1, %c0 : index
      %7 = arith.maxsi %6, %c0_3 : index
      %begin, %end = attn.split_range %arg8 of %arg7 over %7 {align = 64 : i64}
      %8 = arith.addi %c0, %begin : index
      %9 = arith.addi %c0, %end : index
      %c64 = arith.constant 64 : index
      %cst = arith.constant dense<0xFF800000> : tensor<2xf32>
      %cst_6 = arith.constant dense<0.000000e+00> : tensor<2xf32>
      %cst_7 = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
      %10:3 = scf.for %arg12 = %8 to %9 step %c64 iter_args(%arg13 = %cst, %arg14 = %cst_6, %arg15 = %cst_7) -> (tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>) {
        %12 = attn.kv_tile %arg1[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %13 = attn.qk %3, %12 {scale = 0.180336878 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %c64_8 = arith.constant 64 : index
        %14 = arith.addi %arg12, %c64_8 : index
        %15 = arith.cmpi sgt, %14, %9 : index
        %16 = scf.if %15 -> (tensor<2x64xf32>) {
          %28 = attn.mask %13 keys[%arg12, %9) diagonal %5 {causal = false, rows_per_token = 2 : i64} : tensor<2x64xf32>
          scf.yield %28 : tensor<2x64xf32>
        } else {
          scf.yield %13 : tensor<2x64xf32>
        }
        %17 = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %18 = attn.row_max %16 : tensor<2x64xf32> -> tensor<2xf32>
        %19 = arith.maximumf %arg13, %18 : tensor<2xf32>
        %20 = attn.exp2_diff %16, %19 : tensor<2x64xf32>, tensor<2xf32>
        %21 = attn.exp2_diff %arg13, %19 : tensor<2xf32>, tensor<2xf32>
        %22 = attn.row_sum %20 : tensor<2x64xf32> -> tensor<2xf32>
        %23 = arith.mulf %arg14, %21 : tensor<2xf32>
        %24 = arith.addf %23, %22 : tensor<2xf32>
        %25 = attn.pv %20, %17 : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %26 = attn.scale_rows %arg15, %21 : tensor<2x64xf32>, tensor<2xf32>
        %27 = arith.addf %26, %25 : tensor<2x64xf32>
        scf.yield %19, %24, %27 : tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>
      } {attn.kv_loop}
      %out, %lse = attn.normalize %10#2, %10#0, %10#1 : tensor<2x64xf32>, tensor<2xf32>
      %11 = arith.cmpi eq, %arg7, %c1_4 : index
      scf.if %11 {
        attn.store %out, %lse to %arg4[ %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      } else {
        attn.store %out, %lse to %arg5 lse %arg6[split %arg8, %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "kv_head"]}
    %0 = arith.cmpi ugt, %arg7, %c1_4 : index
    scf.if %0 {
      attn.combine %arg5, %arg6 splits %arg7 to %arg4 : memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>, memref<?x1x4x64xbf16>
    }
    return
  }
}

// -----

// Decode: before the grid, only the dims of q are known to the kernel.
module {
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}, %arg5: memref<?x?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg6: memref<?x?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg7: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    // expected-error @+1 {{attn-lower-to-gpu: unexpected memref.dim}}
    %dimk = memref.dim %arg1, %c0 : memref<?x?x2x64xbf16>
    %c2 = arith.constant 2 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg8, %arg9, %arg10, %arg11) = (%c0_3, %c0, %c0, %c0) to (%arg7, %dim, %dim_2, %c2) step (%c1_4, %c1, %c1, %c1) {
      %1 = attn.seq_len %arg3[%arg9] : memref<?xi32>
      %c2_5 = arith.constant 2 : index
      %2 = arith.muli %arg11, %c2_5 : index
      %3 = attn.load_q %arg0[%arg9, %arg10, %2] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      %4 = arith.subi %1, %dim_2 : index
      %5 = arith.addi %4, %arg10 : index
      %6 = arith.subi %1, %c0 : index
      %7 = arith.maxsi %6, %c0_3 : index
      %begin, %end = attn.split_range %arg8 of %arg7 over %7 {align = 64 : i64}
      %8 = arith.addi %c0, %begin : index
      %9 = arith.addi %c0, %end : index
      %c64 = arith.constant 64 : index
      %cst = arith.constant dense<0xFF800000> : tensor<2xf32>
      %cst_6 = arith.constant dense<0.000000e+00> : tensor<2xf32>
      %cst_7 = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
      %10:3 = scf.for %arg12 = %8 to %9 step %c64 iter_args(%arg13 = %cst, %arg14 = %cst_6, %arg15 = %cst_7) -> (tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>) {
        %12 = attn.kv_tile %arg1[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %13 = attn.qk %3, %12 {scale = 0.180336878 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %c64_8 = arith.constant 64 : index
        %14 = arith.addi %arg12, %c64_8 : index
        %15 = arith.cmpi sgt, %14, %9 : index
        %16 = scf.if %15 -> (tensor<2x64xf32>) {
          %28 = attn.mask %13 keys[%arg12, %9) diagonal %5 {causal = false, rows_per_token = 2 : i64} : tensor<2x64xf32>
          scf.yield %28 : tensor<2x64xf32>
        } else {
          scf.yield %13 : tensor<2x64xf32>
        }
        %17 = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %18 = attn.row_max %16 : tensor<2x64xf32> -> tensor<2xf32>
        %19 = arith.maximumf %arg13, %18 : tensor<2xf32>
        %20 = attn.exp2_diff %16, %19 : tensor<2x64xf32>, tensor<2xf32>
        %21 = attn.exp2_diff %arg13, %19 : tensor<2xf32>, tensor<2xf32>
        %22 = attn.row_sum %20 : tensor<2x64xf32> -> tensor<2xf32>
        %23 = arith.mulf %arg14, %21 : tensor<2xf32>
        %24 = arith.addf %23, %22 : tensor<2xf32>
        %25 = attn.pv %20, %17 : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %26 = attn.scale_rows %arg15, %21 : tensor<2x64xf32>, tensor<2xf32>
        %27 = arith.addf %26, %25 : tensor<2x64xf32>
        scf.yield %19, %24, %27 : tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>
      } {attn.kv_loop}
      %out, %lse = attn.normalize %10#2, %10#0, %10#1 : tensor<2x64xf32>, tensor<2xf32>
      %11 = arith.cmpi eq, %arg7, %c1_4 : index
      scf.if %11 {
        attn.store %out, %lse to %arg4[ %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      } else {
        attn.store %out, %lse to %arg5 lse %arg6[split %arg8, %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "token", "kv_head"]}
    %0 = arith.cmpi ugt, %arg7, %c1_4 : index
    scf.if %0 {
      attn.combine %arg5, %arg6 splits %arg7 to %arg4 : memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>, memref<?x1x4x64xbf16>
    }
    return
  }
}

// -----

// Decode: the only loop is the KV tile loop, marked attn.kv_loop.
module {
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}, %arg5: memref<?x?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg6: memref<?x?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg7: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    %c2 = arith.constant 2 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg8, %arg9, %arg10, %arg11) = (%c0_3, %c0, %c0, %c0) to (%arg7, %dim, %dim_2, %c2) step (%c1_4, %c1, %c1, %c1) {
      %1 = attn.seq_len %arg3[%arg9] : memref<?xi32>
      %c2_5 = arith.constant 2 : index
      %2 = arith.muli %arg11, %c2_5 : index
      %3 = attn.load_q %arg0[%arg9, %arg10, %2] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      %4 = arith.subi %1, %dim_2 : index
      %5 = arith.addi %4, %arg10 : index
      %6 = arith.subi %1, %c0 : index
      %7 = arith.maxsi %6, %c0_3 : index
      %begin, %end = attn.split_range %arg8 of %arg7 over %7 {align = 64 : i64}
      %8 = arith.addi %c0, %begin : index
      %9 = arith.addi %c0, %end : index
      %c64 = arith.constant 64 : index
      %cst = arith.constant dense<0xFF800000> : tensor<2xf32>
      %cst_6 = arith.constant dense<0.000000e+00> : tensor<2xf32>
      %cst_7 = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
      // expected-error @+1 {{attn-lower-to-gpu: unexpected scf.for}}
      %10:3 = scf.for %arg12 = %8 to %9 step %c64 iter_args(%arg13 = %cst, %arg14 = %cst_6, %arg15 = %cst_7) -> (tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>) {
        %12 = attn.kv_tile %arg1[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %13 = attn.qk %3, %12 {scale = 0.180336878 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %c64_8 = arith.constant 64 : index
        %14 = arith.addi %arg12, %c64_8 : index
        %15 = arith.cmpi sgt, %14, %9 : index
        %16 = scf.if %15 -> (tensor<2x64xf32>) {
          %28 = attn.mask %13 keys[%arg12, %9) diagonal %5 {causal = false, rows_per_token = 2 : i64} : tensor<2x64xf32>
          scf.yield %28 : tensor<2x64xf32>
        } else {
          scf.yield %13 : tensor<2x64xf32>
        }
        %17 = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %18 = attn.row_max %16 : tensor<2x64xf32> -> tensor<2xf32>
        %19 = arith.maximumf %arg13, %18 : tensor<2xf32>
        %20 = attn.exp2_diff %16, %19 : tensor<2x64xf32>, tensor<2xf32>
        %21 = attn.exp2_diff %arg13, %19 : tensor<2xf32>, tensor<2xf32>
        %22 = attn.row_sum %20 : tensor<2x64xf32> -> tensor<2xf32>
        %23 = arith.mulf %arg14, %21 : tensor<2xf32>
        %24 = arith.addf %23, %22 : tensor<2xf32>
        %25 = attn.pv %20, %17 : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %26 = attn.scale_rows %arg15, %21 : tensor<2x64xf32>, tensor<2xf32>
        %27 = arith.addf %26, %25 : tensor<2x64xf32>
        scf.yield %19, %24, %27 : tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>
      }
      %out, %lse = attn.normalize %10#2, %10#0, %10#1 : tensor<2x64xf32>, tensor<2xf32>
      %11 = arith.cmpi eq, %arg7, %c1_4 : index
      scf.if %11 {
        attn.store %out, %lse to %arg4[ %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      } else {
        attn.store %out, %lse to %arg5 lse %arg6[split %arg8, %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "token", "kv_head"]}
    %0 = arith.cmpi ugt, %arg7, %c1_4 : index
    scf.if %0 {
      attn.combine %arg5, %arg6 splits %arg7 to %arg4 : memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>, memref<?x1x4x64xbf16>
    }
    return
  }
}

// -----

// Decode: an op the decode kernel has no lowering for.
module {
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}, %arg5: memref<?x?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg6: memref<?x?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg7: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    %c2 = arith.constant 2 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg8, %arg9, %arg10, %arg11) = (%c0_3, %c0, %c0, %c0) to (%arg7, %dim, %dim_2, %c2) step (%c1_4, %c1, %c1, %c1) {
      %1 = attn.seq_len %arg3[%arg9] : memref<?xi32>
      %c2_5 = arith.constant 2 : index
      %2 = arith.muli %arg11, %c2_5 : index
      %3 = attn.load_q %arg0[%arg9, %arg10, %2] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      // expected-error @+1 {{attn-lower-to-gpu: unsupported op}}
      %start = attn.seq_start %arg3[%arg9] : memref<?xi32>
      %4 = arith.subi %1, %dim_2 : index
      %5 = arith.addi %4, %arg10 : index
      %6 = arith.subi %1, %c0 : index
      %7 = arith.maxsi %6, %c0_3 : index
      %begin, %end = attn.split_range %arg8 of %arg7 over %7 {align = 64 : i64}
      %8 = arith.addi %c0, %begin : index
      %9 = arith.addi %c0, %end : index
      %c64 = arith.constant 64 : index
      %cst = arith.constant dense<0xFF800000> : tensor<2xf32>
      %cst_6 = arith.constant dense<0.000000e+00> : tensor<2xf32>
      %cst_7 = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
      %10:3 = scf.for %arg12 = %8 to %9 step %c64 iter_args(%arg13 = %cst, %arg14 = %cst_6, %arg15 = %cst_7) -> (tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>) {
        %12 = attn.kv_tile %arg1[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %13 = attn.qk %3, %12 {scale = 0.180336878 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %c64_8 = arith.constant 64 : index
        %14 = arith.addi %arg12, %c64_8 : index
        %15 = arith.cmpi sgt, %14, %9 : index
        %16 = scf.if %15 -> (tensor<2x64xf32>) {
          %28 = attn.mask %13 keys[%arg12, %9) diagonal %5 {causal = false, rows_per_token = 2 : i64} : tensor<2x64xf32>
          scf.yield %28 : tensor<2x64xf32>
        } else {
          scf.yield %13 : tensor<2x64xf32>
        }
        %17 = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %18 = attn.row_max %16 : tensor<2x64xf32> -> tensor<2xf32>
        %19 = arith.maximumf %arg13, %18 : tensor<2xf32>
        %20 = attn.exp2_diff %16, %19 : tensor<2x64xf32>, tensor<2xf32>
        %21 = attn.exp2_diff %arg13, %19 : tensor<2xf32>, tensor<2xf32>
        %22 = attn.row_sum %20 : tensor<2x64xf32> -> tensor<2xf32>
        %23 = arith.mulf %arg14, %21 : tensor<2xf32>
        %24 = arith.addf %23, %22 : tensor<2xf32>
        %25 = attn.pv %20, %17 : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %26 = attn.scale_rows %arg15, %21 : tensor<2x64xf32>, tensor<2xf32>
        %27 = arith.addf %26, %25 : tensor<2x64xf32>
        scf.yield %19, %24, %27 : tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>
      } {attn.kv_loop}
      %out, %lse = attn.normalize %10#2, %10#0, %10#1 : tensor<2x64xf32>, tensor<2xf32>
      %11 = arith.cmpi eq, %arg7, %c1_4 : index
      scf.if %11 {
        attn.store %out, %lse to %arg4[ %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      } else {
        attn.store %out, %lse to %arg5 lse %arg6[split %arg8, %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "token", "kv_head"]}
    %0 = arith.cmpi ugt, %arg7, %c1_4 : index
    scf.if %0 {
      attn.combine %arg5, %arg6 splits %arg7 to %arg4 : memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>, memref<?x1x4x64xbf16>
    }
    return
  }
}

// -----

// Prefill before attn-split-kv and attn-tile.
module {
  // expected-error @+1 {{attn-lower-to-gpu expects a split, tiled, online-softmax prefill program (run attn-gqa-broadcast, attn-split-kv, attn-tile and attn-online-softmax first)}}
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x64xbf16> {attn.role = "out"}) {
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
    scf.parallel (%arg6, %arg7, %arg8) = (%c0, %c0, %c0) to (%0, %1, %c4) step (%c1, %c1, %c1) {
      %c64_3 = arith.constant 64 : index
      %2 = arith.muli %arg7, %c64_3 : index
      %3 = attn.seq_len %arg3[%arg6] {cumulative} : memref<?xi32>
      %4 = attn.seq_len %arg4[%arg6] {cumulative} : memref<?xi32>
      %5 = arith.cmpi slt, %2, %3 : index
      scf.if %5 {
        %6 = attn.seq_start %arg3[%arg6] : memref<?xi32>
        %7 = arith.addi %6, %2 : index
        %8 = arith.subi %3, %2 : index
        %9 = attn.kv_head %arg8 {group = 2 : i64}
        %10 = attn.load_q_rows %arg0[%7, %arg8] count %8 : memref<?x4x64xbf16> -> tensor<64x64xf32>
        %11 = attn.seq_start %arg4[%arg6] : memref<?xi32>
        %12 = arith.addi %11, %4 : index
        %13 = arith.subi %12, %3 : index
        %14 = arith.addi %13, %2 : index
        %out, %lse = attn.attend %10 keys(%arg1, %arg2) [%arg6, %9] range[%11, %12) diagonal %14 {causal = false, page_size = 0 : i64, rows_per_token = 1 : i64, scale = 1.250000e-01 : f32} : tensor<64x64xf32>, memref<?x2x64xbf16>, memref<?x2x64xbf16> -> tensor<64x64xf32>, tensor<64xf32>
        attn.store_rows %out, %lse to %arg5[ %7, %arg8] count %8 : tensor<64x64xf32>, tensor<64xf32>, memref<?x4x64xbf16>
      }
      scf.reduce 
    } {attn.grid = ["batch", "q_block", "head"]}
    return
  }
}

// -----

// Prefill whose grid names 3 roles for 4 induction variables: the dialect
// rejects the attribute before the lowering runs.
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
    // expected-error @+1 {{'attn.grid' must name each of the 4 induction variables with a string, got ["split", "batch", "head"]}}
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
    } {attn.grid = ["split", "batch", "head"]}
    %2 = arith.cmpi ugt, %arg8, %c1_4 : index
    scf.if %2 {
      attn.combine %arg6, %arg7 splits %arg8 to %arg5 : memref<?x?x4x64xf32>, memref<?x?x4xf32>, memref<?x4x64xbf16>
    }
    return
  }
}

// -----

// Prefill: 40 query rows do not fill the 16-row mma tiles.
module {
  // expected-error @+1 {{attn-lower-to-gpu: prefill tiles must be multiples of 16, got block_m 40, block_n 64, head_dim 128}}
  func.func @prefill(%arg0: memref<?x4x128xbf16> {attn.role = "q"}, %arg1: memref<?x2x128xbf16> {attn.role = "k"}, %arg2: memref<?x2x128xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x128xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x128xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg3, %c0_0 : memref<?xi32>
    %0 = arith.subi %dim, %c1 : index
    %c64 = arith.constant 64 : index
    %c0_1 = arith.constant 0 : index
    %dim_2 = memref.dim %arg0, %c0_1 : memref<?x4x128xbf16>
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
        %11 = attn.load_q_rows %arg0[%8, %arg12] count %9 : memref<?x4x128xbf16> -> tensor<40x128xf32>
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
        %cst = arith.constant dense<0xFF800000> : tensor<40xf32>
        %cst_7 = arith.constant dense<0.000000e+00> : tensor<40xf32>
        %cst_8 = arith.constant dense<0.000000e+00> : tensor<40x128xf32>
        %20:3 = scf.for %arg13 = %18 to %19 step %c64_6 iter_args(%arg14 = %cst, %arg15 = %cst_7, %arg16 = %cst_8) -> (tensor<40xf32>, tensor<40xf32>, tensor<40x128xf32>) {
          %22 = attn.kv_tile %arg1[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x128xbf16> -> tensor<64x128xbf16>
          %23 = attn.qk %11, %22 {scale = 0.180336878 : f32} : tensor<40x128xf32>, tensor<64x128xbf16> -> tensor<40x64xf32>
          %c64_9 = arith.constant 64 : index
          %24 = arith.addi %arg13, %c64_9 : index
          %25 = arith.cmpi sgt, %24, %19 : index
          %26 = scf.if %25 -> (tensor<40x64xf32>) {
            %38 = attn.mask %23 keys[%arg13, %19) diagonal %15 {causal = false, rows_per_token = 1 : i64} : tensor<40x64xf32>
            scf.yield %38 : tensor<40x64xf32>
          } else {
            scf.yield %23 : tensor<40x64xf32>
          }
          %27 = attn.kv_tile %arg2[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x128xbf16> -> tensor<64x128xbf16>
          %28 = attn.row_max %26 : tensor<40x64xf32> -> tensor<40xf32>
          %29 = arith.maximumf %arg14, %28 : tensor<40xf32>
          %30 = attn.exp2_diff %26, %29 : tensor<40x64xf32>, tensor<40xf32>
          %31 = attn.exp2_diff %arg14, %29 : tensor<40xf32>, tensor<40xf32>
          %32 = attn.row_sum %30 : tensor<40x64xf32> -> tensor<40xf32>
          %33 = arith.mulf %arg15, %31 : tensor<40xf32>
          %34 = arith.addf %33, %32 : tensor<40xf32>
          %35 = attn.pv %30, %27 : tensor<40x64xf32>, tensor<64x128xbf16> -> tensor<40x128xf32>
          %36 = attn.scale_rows %arg16, %31 : tensor<40x128xf32>, tensor<40xf32>
          %37 = arith.addf %36, %35 : tensor<40x128xf32>
          scf.yield %29, %34, %37 : tensor<40xf32>, tensor<40xf32>, tensor<40x128xf32>
        } {attn.kv_loop}
        %out, %lse = attn.normalize %20#2, %20#0, %20#1 : tensor<40x128xf32>, tensor<40xf32>
        %21 = arith.cmpi eq, %arg8, %c1_4 : index
        scf.if %21 {
          attn.store_rows %out, %lse to %arg5[ %8, %arg12] count %9 : tensor<40x128xf32>, tensor<40xf32>, memref<?x4x128xbf16>
        } else {
          attn.store_rows %out, %lse to %arg6 lse %arg7[split %arg9, %8, %arg12] count %9 : tensor<40x128xf32>, tensor<40xf32>, memref<?x?x4x128xf32>, memref<?x?x4xf32>
        }
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "q_block", "head"]}
    %2 = arith.cmpi ugt, %arg8, %c1_4 : index
    scf.if %2 {
      attn.combine %arg6, %arg7 splits %arg8 to %arg5 : memref<?x?x4x128xf32>, memref<?x?x4xf32>, memref<?x4x128xbf16>
    }
    return
  }
}

// -----

// Prefill: the mma path reads f16 or bf16 K/V.
module {
  // expected-error @+1 {{attn-lower-to-gpu: prefill needs f16 or bf16 K/V, got 'f32'}}
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xf32> {attn.role = "k"}, %arg2: memref<?x2x64xf32> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x64xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}) {
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
          %22 = attn.kv_tile %arg1[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x64xf32> -> tensor<64x64xf32>
          %23 = attn.qk %11, %22 {scale = 0.180336878 : f32} : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
          %c64_9 = arith.constant 64 : index
          %24 = arith.addi %arg13, %c64_9 : index
          %25 = arith.cmpi sgt, %24, %19 : index
          %26 = scf.if %25 -> (tensor<64x64xf32>) {
            %38 = attn.mask %23 keys[%arg13, %19) diagonal %15 {causal = false, rows_per_token = 1 : i64} : tensor<64x64xf32>
            scf.yield %38 : tensor<64x64xf32>
          } else {
            scf.yield %23 : tensor<64x64xf32>
          }
          %27 = attn.kv_tile %arg2[%arg10, %10, %arg13] limit %19 {page_size = 0 : i64} : memref<?x2x64xf32> -> tensor<64x64xf32>
          %28 = attn.row_max %26 : tensor<64x64xf32> -> tensor<64xf32>
          %29 = arith.maximumf %arg14, %28 : tensor<64xf32>
          %30 = attn.exp2_diff %26, %29 : tensor<64x64xf32>, tensor<64xf32>
          %31 = attn.exp2_diff %arg14, %29 : tensor<64xf32>, tensor<64xf32>
          %32 = attn.row_sum %30 : tensor<64x64xf32> -> tensor<64xf32>
          %33 = arith.mulf %arg15, %31 : tensor<64xf32>
          %34 = arith.addf %33, %32 : tensor<64xf32>
          %35 = attn.pv %30, %27 : tensor<64x64xf32>, tensor<64x64xf32> -> tensor<64x64xf32>
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

// -----

// Prefill: before the grid, only constants and index arithmetic.
module {
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x64xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %one = arith.constant 1.0 : f32
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{attn-lower-to-gpu: unexpected op before the grid}}
    %sq = math.sqrt %one : f32
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

// -----

// Prefill: key counts come from cu_seqlens_k.
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
      // expected-error @+1 {{attn-lower-to-gpu: prefill lengths come from cu_seqlens}}
      %5 = attn.seq_len %arg4[%arg10] : memref<?xi32>
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

// -----

// Decode: the KV tile loop loads one K and one V tile.
module {
  func.func @decode(%arg0: memref<?x1x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cache_seqlens"}, %arg4: memref<?x1x4x64xbf16> {attn.role = "out"}, %arg5: memref<?x?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg6: memref<?x?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg7: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg0, %c0_0 : memref<?x1x4x64xbf16>
    %c1_1 = arith.constant 1 : index
    %dim_2 = memref.dim %arg0, %c1_1 : memref<?x1x4x64xbf16>
    %c2 = arith.constant 2 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg8, %arg9, %arg10, %arg11) = (%c0_3, %c0, %c0, %c0) to (%arg7, %dim, %dim_2, %c2) step (%c1_4, %c1, %c1, %c1) {
      %1 = attn.seq_len %arg3[%arg9] : memref<?xi32>
      %c2_5 = arith.constant 2 : index
      %2 = arith.muli %arg11, %c2_5 : index
      %3 = attn.load_q %arg0[%arg9, %arg10, %2] : memref<?x1x4x64xbf16> -> tensor<2x64xf32>
      %4 = arith.subi %1, %dim_2 : index
      %5 = arith.addi %4, %arg10 : index
      %6 = arith.subi %1, %c0 : index
      %7 = arith.maxsi %6, %c0_3 : index
      %begin, %end = attn.split_range %arg8 of %arg7 over %7 {align = 64 : i64}
      %8 = arith.addi %c0, %begin : index
      %9 = arith.addi %c0, %end : index
      %c64 = arith.constant 64 : index
      %cst = arith.constant dense<0xFF800000> : tensor<2xf32>
      %cst_6 = arith.constant dense<0.000000e+00> : tensor<2xf32>
      %cst_7 = arith.constant dense<0.000000e+00> : tensor<2x64xf32>
      // expected-error @+1 {{attn-lower-to-gpu expects a K and a V tile load}}
      %10:3 = scf.for %arg12 = %8 to %9 step %c64 iter_args(%arg13 = %cst, %arg14 = %cst_6, %arg15 = %cst_7) -> (tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>) {
        %12 = attn.kv_tile %arg1[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %13 = attn.qk %3, %12 {scale = 0.180336878 : f32} : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %c64_8 = arith.constant 64 : index
        %14 = arith.addi %arg12, %c64_8 : index
        %15 = arith.cmpi sgt, %14, %9 : index
        %16 = scf.if %15 -> (tensor<2x64xf32>) {
          %28 = attn.mask %13 keys[%arg12, %9) diagonal %5 {causal = false, rows_per_token = 2 : i64} : tensor<2x64xf32>
          scf.yield %28 : tensor<2x64xf32>
        } else {
          scf.yield %13 : tensor<2x64xf32>
        }
        %17 = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %extra = attn.kv_tile %arg2[%arg9, %arg11, %arg12] limit %9 {page_size = 0 : i64} : memref<?x?x2x64xbf16> -> tensor<64x64xbf16>
        %18 = attn.row_max %16 : tensor<2x64xf32> -> tensor<2xf32>
        %19 = arith.maximumf %arg13, %18 : tensor<2xf32>
        %20 = attn.exp2_diff %16, %19 : tensor<2x64xf32>, tensor<2xf32>
        %21 = attn.exp2_diff %arg13, %19 : tensor<2xf32>, tensor<2xf32>
        %22 = attn.row_sum %20 : tensor<2x64xf32> -> tensor<2xf32>
        %23 = arith.mulf %arg14, %21 : tensor<2xf32>
        %24 = arith.addf %23, %22 : tensor<2xf32>
        %25 = attn.pv %20, %17 : tensor<2x64xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
        %26 = attn.scale_rows %arg15, %21 : tensor<2x64xf32>, tensor<2xf32>
        %27 = arith.addf %26, %25 : tensor<2x64xf32>
        scf.yield %19, %24, %27 : tensor<2xf32>, tensor<2xf32>, tensor<2x64xf32>
      } {attn.kv_loop}
      %out, %lse = attn.normalize %10#2, %10#0, %10#1 : tensor<2x64xf32>, tensor<2xf32>
      %11 = arith.cmpi eq, %arg7, %c1_4 : index
      scf.if %11 {
        attn.store %out, %lse to %arg4[ %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x1x4x64xbf16>
      } else {
        attn.store %out, %lse to %arg5 lse %arg6[split %arg8, %arg9, %arg10, %2] : tensor<2x64xf32>, tensor<2xf32>, memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "token", "kv_head"]}
    %0 = arith.cmpi ugt, %arg7, %c1_4 : index
    scf.if %0 {
      attn.combine %arg5, %arg6 splits %arg7 to %arg4 : memref<?x?x?x4x64xf32>, memref<?x?x?x4xf32>, memref<?x1x4x64xbf16>
    }
    return
  }
}

// -----

// Prefill: an op the prefill kernel has no lowering for.
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
        // expected-error @+1 {{attn-lower-to-gpu: unsupported op in prefill}}
        %g = attn.group_size {group = 2 : i64}
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
