// RUN: attn-opt %s -attn-lower-to-gpu=stages=2 -verify-diagnostics

// A tiled, split prefill program (attn-to-tiled=block-m=128 of
// test/ptx/prefill-ptx.mlir) whose attn.combine was removed: its splits would
// never be merged, so the lowering refuses it.
module {
  // expected-error @+1 {{attn-lower-to-gpu: the split prefill program has no attn.combine}}
  func.func @qwen3_prefill(%arg0: memref<?x16x128xbf16> {attn.role = "q"}, %arg1: memref<?x8x128xbf16> {attn.role = "k"}, %arg2: memref<?x8x128xbf16> {attn.role = "v"}, %arg3: memref<?xi32> {attn.role = "cu_seqlens_q"}, %arg4: memref<?xi32> {attn.role = "cu_seqlens_k"}, %arg5: memref<?x16x128xbf16> {attn.role = "out"}, %arg6: memref<16x?xf32> {attn.role = "lse"}, %arg7: memref<?x?x16x128xf32> {attn.role = "part_o", attn.workspace}, %arg8: memref<?x?x16xf32> {attn.role = "part_lse", attn.workspace}, %arg9: index {attn.num_splits}) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c0_0 = arith.constant 0 : index
    %dim = memref.dim %arg3, %c0_0 : memref<?xi32>
    %0 = arith.subi %dim, %c1 : index
    %c128 = arith.constant 128 : index
    %c0_1 = arith.constant 0 : index
    %dim_2 = memref.dim %arg0, %c0_1 : memref<?x16x128xbf16>
    %1 = arith.ceildivui %dim_2, %c128 : index
    %c16 = arith.constant 16 : index
    %c0_3 = arith.constant 0 : index
    %c1_4 = arith.constant 1 : index
    scf.parallel (%arg10, %arg11, %arg12, %arg13) = (%c0_3, %c0, %c0, %c0) to (%arg9, %0, %1, %c16) step (%c1_4, %c1, %c1, %c1) {
      %c128_5 = arith.constant 128 : index
      %3 = arith.muli %arg12, %c128_5 : index
      %4 = attn.seq_len %arg3[%arg11] {cumulative} : memref<?xi32>
      %5 = attn.seq_len %arg4[%arg11] {cumulative} : memref<?xi32>
      %6 = arith.cmpi slt, %3, %4 : index
      scf.if %6 {
        %7 = attn.seq_start %arg3[%arg11] : memref<?xi32>
        %8 = arith.addi %7, %3 : index
        %9 = arith.subi %4, %3 : index
        %10 = attn.kv_head %arg13 {group = 2 : i64}
        %11 = attn.load_q_rows %arg0[%8, %arg13] count %9 : memref<?x16x128xbf16> -> tensor<128x128xf32>
        %12 = attn.seq_start %arg4[%arg11] : memref<?xi32>
        %13 = arith.addi %12, %5 : index
        %14 = arith.subi %13, %4 : index
        %15 = arith.addi %14, %3 : index
        %c128_6 = arith.constant 128 : index
        %16 = arith.addi %15, %c128_6 : index
        %17 = arith.minsi %13, %16 : index
        %18 = arith.subi %17, %12 : index
        %19 = arith.maxsi %18, %c0_3 : index
        %begin, %end = attn.split_range %arg10 of %arg9 over %19 {align = 64 : i64}
        %20 = arith.addi %12, %begin : index
        %21 = arith.addi %12, %end : index
        %c1_7 = arith.constant 1 : index
        %22 = arith.addi %15, %c1_7 : index
        %c128_8 = arith.constant 128 : index
        %23 = arith.addi %15, %c128_8 : index
        %24 = arith.minsi %21, %22 : index
        %25 = arith.minsi %21, %23 : index
        %c64 = arith.constant 64 : index
        %cst = arith.constant dense<0xFF800000> : tensor<128xf32>
        %cst_9 = arith.constant dense<0.000000e+00> : tensor<128xf32>
        %cst_10 = arith.constant dense<0.000000e+00> : tensor<128x128xf32>
        %26:3 = scf.for %arg14 = %20 to %25 step %c64 iter_args(%arg15 = %cst, %arg16 = %cst_9, %arg17 = %cst_10) -> (tensor<128xf32>, tensor<128xf32>, tensor<128x128xf32>) {
          %28 = attn.kv_tile %arg1[%arg11, %10, %arg14] limit %25 {page_size = 0 : i64} : memref<?x8x128xbf16> -> tensor<64x128xbf16>
          %29 = attn.qk %11, %28 {scale = 0.127517432 : f32} : tensor<128x128xf32>, tensor<64x128xbf16> -> tensor<128x64xf32>
          %c64_11 = arith.constant 64 : index
          %30 = arith.addi %arg14, %c64_11 : index
          %31 = arith.cmpi sgt, %30, %24 : index
          %32 = scf.if %31 -> (tensor<128x64xf32>) {
            %44 = attn.mask %29 keys[%arg14, %21) diagonal %15 {causal = true, rows_per_token = 1 : i64} : tensor<128x64xf32>
            scf.yield %44 : tensor<128x64xf32>
          } else {
            scf.yield %29 : tensor<128x64xf32>
          }
          %33 = attn.kv_tile %arg2[%arg11, %10, %arg14] limit %25 {page_size = 0 : i64} : memref<?x8x128xbf16> -> tensor<64x128xbf16>
          %34 = attn.row_max %32 : tensor<128x64xf32> -> tensor<128xf32>
          %35 = arith.maximumf %arg15, %34 : tensor<128xf32>
          %36 = attn.exp2_diff %32, %35 : tensor<128x64xf32>, tensor<128xf32>
          %37 = attn.exp2_diff %arg15, %35 : tensor<128xf32>, tensor<128xf32>
          %38 = attn.row_sum %36 : tensor<128x64xf32> -> tensor<128xf32>
          %39 = arith.mulf %arg16, %37 : tensor<128xf32>
          %40 = arith.addf %39, %38 : tensor<128xf32>
          %41 = attn.pv %36, %33 : tensor<128x64xf32>, tensor<64x128xbf16> -> tensor<128x128xf32>
          %42 = attn.scale_rows %arg17, %37 : tensor<128x128xf32>, tensor<128xf32>
          %43 = arith.addf %42, %41 : tensor<128x128xf32>
          scf.yield %35, %40, %43 : tensor<128xf32>, tensor<128xf32>, tensor<128x128xf32>
        } {attn.kv_loop}
        %out, %lse = attn.normalize %26#2, %26#0, %26#1 : tensor<128x128xf32>, tensor<128xf32>
        %27 = arith.cmpi eq, %arg9, %c1_4 : index
        scf.if %27 {
          attn.store_rows %out, %lse to %arg5 lse %arg6[ %8, %arg13] count %9 : tensor<128x128xf32>, tensor<128xf32>, memref<?x16x128xbf16>, memref<16x?xf32>
        } else {
          attn.store_rows %out, %lse to %arg7 lse %arg8[split %arg10, %8, %arg13] count %9 : tensor<128x128xf32>, tensor<128xf32>, memref<?x?x16x128xf32>, memref<?x?x16xf32>
        }
      }
      scf.reduce 
    } {attn.grid = ["split", "batch", "q_block", "head"]}
    %2 = arith.cmpi ugt, %arg9, %c1_4 : index
    scf.if %2 {
    }
    return
  }
}

