// RUN: attn-opt %s -split-input-file -attn-lower-to-gpu -verify-diagnostics

// The tiled prefill program attn-to-tiled makes (Hq 4, Hkv 2, D 64, packed
// K/V), its arguments' roles (attn.role) edited so that attn-lower-to-gpu
// cannot bind its kernel parameters.

// cu_seqlens_k without its role.
module {
  // expected-error @+1 {{attn-lower-to-gpu: no argument has the role 'cu_seqlens_k' (attn.role, which attn-gqa-broadcast and attn-split-kv give)}}
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32>, %arg5: memref<?x4x64xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}) {
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
        %c64_6 = arith.constant 64 : index
        %16 = arith.addi %15, %c64_6 : index
        %17 = arith.minsi %13, %16 : index
        %18 = arith.subi %17, %12 : index
        %19 = arith.maxsi %18, %c0_3 : index
        %begin, %end = attn.split_range %arg9 of %arg8 over %19 {align = 64 : i64}
        %20 = arith.addi %12, %begin : index
        %21 = arith.addi %12, %end : index
        %c1_7 = arith.constant 1 : index
        %22 = arith.addi %15, %c1_7 : index
        %c64_8 = arith.constant 64 : index
        %23 = arith.addi %15, %c64_8 : index
        %24 = arith.minsi %21, %22 : index
        %25 = arith.minsi %21, %23 : index
        %c64_9 = arith.constant 64 : index
        %cst = arith.constant dense<0xFF800000> : tensor<64xf32>
        %cst_10 = arith.constant dense<0.000000e+00> : tensor<64xf32>
        %cst_11 = arith.constant dense<0.000000e+00> : tensor<64x64xf32>
        %26:3 = scf.for %arg13 = %20 to %25 step %c64_9 iter_args(%arg14 = %cst, %arg15 = %cst_10, %arg16 = %cst_11) -> (tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>) {
          %28 = attn.kv_tile %arg1[%arg10, %10, %arg13] limit %25 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %29 = attn.qk %11, %28 {scale = 0.180336878 : f32} : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %c64_12 = arith.constant 64 : index
          %30 = arith.addi %arg13, %c64_12 : index
          %31 = arith.cmpi sgt, %30, %24 : index
          %32 = scf.if %31 -> (tensor<64x64xf32>) {
            %44 = attn.mask %29 keys[%arg13, %21) diagonal %15 {causal = true, rows_per_token = 1 : i64} : tensor<64x64xf32>
            scf.yield %44 : tensor<64x64xf32>
          } else {
            scf.yield %29 : tensor<64x64xf32>
          }
          %33 = attn.kv_tile %arg2[%arg10, %10, %arg13] limit %25 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %34 = attn.row_max %32 : tensor<64x64xf32> -> tensor<64xf32>
          %35 = arith.maximumf %arg14, %34 : tensor<64xf32>
          %36 = attn.exp2_diff %32, %35 : tensor<64x64xf32>, tensor<64xf32>
          %37 = attn.exp2_diff %arg14, %35 : tensor<64xf32>, tensor<64xf32>
          %38 = attn.row_sum %36 : tensor<64x64xf32> -> tensor<64xf32>
          %39 = arith.mulf %arg15, %37 : tensor<64xf32>
          %40 = arith.addf %39, %38 : tensor<64xf32>
          %41 = attn.pv %36, %33 : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %42 = attn.scale_rows %arg16, %37 : tensor<64x64xf32>, tensor<64xf32>
          %43 = arith.addf %42, %41 : tensor<64x64xf32>
          scf.yield %35, %40, %43 : tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>
        } {attn.kv_loop}
        %out, %lse = attn.normalize %26#2, %26#0, %26#1 : tensor<64x64xf32>, tensor<64xf32>
        %27 = arith.cmpi eq, %arg8, %c1_4 : index
        scf.if %27 {
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

// The store writes a memref that is no argument with a role.
module {
  func.func @prefill(%arg0: memref<?x4x64xbf16> {attn.role = "q"}, %arg1: memref<?x2x64xbf16> {attn.role = "k"}, %arg2: memref<?x2x64xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x4x64xbf16> {attn.role = "out"}, %arg6: memref<?x?x4x64xf32> {attn.role = "part_o", attn.workspace}, %arg7: memref<?x?x4xf32> {attn.role = "part_lse", attn.workspace}, %arg8: index {attn.num_splits}, %arg17: memref<?x4x64xbf16>) {
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
        %c64_6 = arith.constant 64 : index
        %16 = arith.addi %15, %c64_6 : index
        %17 = arith.minsi %13, %16 : index
        %18 = arith.subi %17, %12 : index
        %19 = arith.maxsi %18, %c0_3 : index
        %begin, %end = attn.split_range %arg9 of %arg8 over %19 {align = 64 : i64}
        %20 = arith.addi %12, %begin : index
        %21 = arith.addi %12, %end : index
        %c1_7 = arith.constant 1 : index
        %22 = arith.addi %15, %c1_7 : index
        %c64_8 = arith.constant 64 : index
        %23 = arith.addi %15, %c64_8 : index
        %24 = arith.minsi %21, %22 : index
        %25 = arith.minsi %21, %23 : index
        %c64_9 = arith.constant 64 : index
        %cst = arith.constant dense<0xFF800000> : tensor<64xf32>
        %cst_10 = arith.constant dense<0.000000e+00> : tensor<64xf32>
        %cst_11 = arith.constant dense<0.000000e+00> : tensor<64x64xf32>
        %26:3 = scf.for %arg13 = %20 to %25 step %c64_9 iter_args(%arg14 = %cst, %arg15 = %cst_10, %arg16 = %cst_11) -> (tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>) {
          %28 = attn.kv_tile %arg1[%arg10, %10, %arg13] limit %25 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %29 = attn.qk %11, %28 {scale = 0.180336878 : f32} : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %c64_12 = arith.constant 64 : index
          %30 = arith.addi %arg13, %c64_12 : index
          %31 = arith.cmpi sgt, %30, %24 : index
          %32 = scf.if %31 -> (tensor<64x64xf32>) {
            %44 = attn.mask %29 keys[%arg13, %21) diagonal %15 {causal = true, rows_per_token = 1 : i64} : tensor<64x64xf32>
            scf.yield %44 : tensor<64x64xf32>
          } else {
            scf.yield %29 : tensor<64x64xf32>
          }
          %33 = attn.kv_tile %arg2[%arg10, %10, %arg13] limit %25 {page_size = 0 : i64} : memref<?x2x64xbf16> -> tensor<64x64xbf16>
          %34 = attn.row_max %32 : tensor<64x64xf32> -> tensor<64xf32>
          %35 = arith.maximumf %arg14, %34 : tensor<64xf32>
          %36 = attn.exp2_diff %32, %35 : tensor<64x64xf32>, tensor<64xf32>
          %37 = attn.exp2_diff %arg14, %35 : tensor<64xf32>, tensor<64xf32>
          %38 = attn.row_sum %36 : tensor<64x64xf32> -> tensor<64xf32>
          %39 = arith.mulf %arg15, %37 : tensor<64xf32>
          %40 = arith.addf %39, %38 : tensor<64xf32>
          %41 = attn.pv %36, %33 : tensor<64x64xf32>, tensor<64x64xbf16> -> tensor<64x64xf32>
          %42 = attn.scale_rows %arg16, %37 : tensor<64x64xf32>, tensor<64xf32>
          %43 = arith.addf %42, %41 : tensor<64x64xf32>
          scf.yield %35, %40, %43 : tensor<64xf32>, tensor<64xf32>, tensor<64x64xf32>
        } {attn.kv_loop}
        %out, %lse = attn.normalize %26#2, %26#0, %26#1 : tensor<64x64xf32>, tensor<64xf32>
        %27 = arith.cmpi eq, %arg8, %c1_4 : index
        scf.if %27 {
          // expected-error @+1 {{attn-lower-to-gpu: operand #2 is a memref but no function argument with an attn.role}}
          attn.store_rows %out, %lse to %arg17[ %8, %arg12] count %9 : tensor<64x64xf32>, tensor<64xf32>, memref<?x4x64xbf16>
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

