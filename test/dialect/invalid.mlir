// RUN: attn-opt %s -split-input-file -verify-diagnostics

// One case per verifier rule of the problem ops.

func.func @zero_heads(%q: memref<?x0x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x0x128xbf16>) {
  // expected-error @+1 {{'num_heads' must be positive, got 0}}
  attn.varlen_prefill q(%q : memref<?x0x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x0x128xbf16>)
      {num_heads = 0, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @zero_kv_heads(%q: memref<?x16x128xbf16>, %k: memref<?x0x128xbf16>, %v: memref<?x0x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'num_kv_heads' must be positive, got 0}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x0x128xbf16>) v(%v : memref<?x0x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 0, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @heads_not_multiple(%q: memref<?x12x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x12x128xbf16>) {
  // expected-error @+1 {{'num_heads' (12) must be a multiple of 'num_kv_heads' (8)}}
  attn.varlen_prefill q(%q : memref<?x12x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x12x128xbf16>)
      {num_heads = 12, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @head_dim_not_multiple_of_16(%q: memref<?x16x100xbf16>, %k: memref<?x8x100xbf16>, %v: memref<?x8x100xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x100xbf16>) {
  // expected-error @+1 {{'head_dim' must be a multiple of 16 in [16, 256], got 100}}
  attn.varlen_prefill q(%q : memref<?x16x100xbf16>) k(%k : memref<?x8x100xbf16>) v(%v : memref<?x8x100xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x100xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 100, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @head_dim_too_large(%q: memref<?x16x272xbf16>, %k: memref<?x8x272xbf16>, %v: memref<?x8x272xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x272xbf16>) {
  // expected-error @+1 {{'head_dim' must be a multiple of 16 in [16, 256], got 272}}
  attn.varlen_prefill q(%q : memref<?x16x272xbf16>) k(%k : memref<?x8x272xbf16>) v(%v : memref<?x8x272xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x272xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 272, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @scale_not_positive(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'scale' must be positive and finite, got -1}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = -1.0 : f32, page_size = 0}
  return
}

// -----

func.func @page_size_not_multiple_of_16(%q: memref<?x16x128xbf16>, %k: memref<?x24x8x128xbf16>, %v: memref<?x24x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'page_size' must be 0 (contiguous K/V), -1 (paged, size known at run time) or a positive multiple of 16, got 24}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x24x8x128xbf16>) v(%v : memref<?x24x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 24}
  return
}

// -----

func.func @paged_without_block_table(%q: memref<?x16x128xbf16>, %k: memref<?x16x8x128xbf16>, %v: memref<?x16x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'block_table' is required when 'page_size' is non-zero (paged K/V), page_size = 16}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x16x8x128xbf16>) v(%v : memref<?x16x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 16}
  return
}

// -----

func.func @contiguous_with_block_table(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'block_table' must be absent when 'page_size' is 0 (contiguous K/V)}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @q_f32(%q: memref<?x16x128xf32>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xf32>) {
  // expected-error @+1 {{'q' element type must be f16 or bf16, got 'f32'}}
  attn.varlen_prefill q(%q : memref<?x16x128xf32>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @k_type_mismatch(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'k' element type must match 'q' ('bf16'), got 'f16'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @v_type_mismatch(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'v' element type must match 'q' ('bf16'), got 'f16'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @out_type_mismatch(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xf16>) {
  // expected-error @+1 {{'out' element type must match 'q' ('bf16'), got 'f16'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @q_rank(%q: memref<?x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x128xbf16>) {
  // expected-error @+1 {{'q' must have rank 3 ([total_q, num_heads, head_dim]), got rank 2}}
  attn.varlen_prefill q(%q : memref<?x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @q_heads_dim(%q: memref<?x8x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x8x128xbf16>) {
  // expected-error @+1 {{'q' dimension 1 must be 16 ([total_q, num_heads, head_dim]), got 8}}
  attn.varlen_prefill q(%q : memref<?x8x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x8x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @q_head_dim_dim(%q: memref<?x16x64xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x64xbf16>) {
  // expected-error @+1 {{'q' dimension 2 must be 128 ([total_q, num_heads, head_dim]), got 64}}
  attn.varlen_prefill q(%q : memref<?x16x64xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x64xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @k_kv_heads_dim(%q: memref<?x16x128xbf16>, %k: memref<?x4x128xbf16>, %v: memref<?x4x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'k' dimension 1 must be 8 ([total_k, num_kv_heads, head_dim]), got 4}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x4x128xbf16>) v(%v : memref<?x4x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @paged_k_rank(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'k' must have rank 4 ([num_blocks, page_size, num_kv_heads, head_dim]), got rank 3}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 16}
  return
}

// -----

func.func @paged_k_page_dim(%q: memref<?x16x128xbf16>, %k: memref<?x32x8x128xbf16>, %v: memref<?x32x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'k' dimension 1 must be 16 ([num_blocks, page_size, num_kv_heads, head_dim]), got 32}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x32x8x128xbf16>) v(%v : memref<?x32x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 16}
  return
}

// -----

func.func @kv_shape_mismatch(%q: memref<?x16x128xbf16>, %k: memref<64x8x128xbf16>, %v: memref<32x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'v' dimension 0 must match 'k' (64), got 32}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<64x8x128xbf16>) v(%v : memref<32x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @out_shape_mismatch(%q: memref<10x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<12x16x128xbf16>) {
  // expected-error @+1 {{'out' dimension 0 must match 'q' (10), got 12}}
  attn.varlen_prefill q(%q : memref<10x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<12x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @cu_seqlens_i64(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi64>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'cu_seqlens_q' must be a rank-1 memref of i32, got 'memref<?xi64>'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi64>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @cu_seqlens_k_rank(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'cu_seqlens_k' must be a rank-1 memref of i32, got 'memref<?x?xi32>'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @block_table_rank(%q: memref<?x16x128xbf16>, %k: memref<?x16x8x128xbf16>, %v: memref<?x16x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'block_table' must be a rank-2 memref of i32, got 'memref<?xi32>'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x16x8x128xbf16>) v(%v : memref<?x16x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) block_table(%bt : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 16}
  return
}

// -----

func.func @lse_f16(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>, %lse: memref<16x?xf16>) {
  // expected-error @+1 {{'lse' element type must be f32, got 'f16'}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>) lse(%lse : memref<16x?xf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @lse_shape(%q: memref<?x16x128xbf16>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>, %lse: memref<8x?xf32>) {
  // expected-error @+1 {{'lse' dimension 0 must be 16 ([num_heads, total_q]), got 8}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>) lse(%lse : memref<8x?xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @non_contiguous_head_dim(%q: memref<?x16x128xbf16, strided<[4096, 256, 2]>>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'q' must be contiguous in its last dimension (stride 1), got stride 2}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16, strided<[4096, 256, 2]>>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @decode_q_rank(%q: memref<?x16x128xbf16>, %kc: memref<?x256x8x128xbf16>, %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'q' must have rank 4 ([B, Lq, num_heads, head_dim]), got rank 3}}
  attn.paged_decode q(%q : memref<?x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>) v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @decode_contiguous_cache_rank(%q: memref<?x1x16x128xbf16>, %kc: memref<?x8x128xbf16>, %vc: memref<?x8x128xbf16>, %lens: memref<?xi32>, %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{'k_cache' must have rank 4 ([B, Lmax, num_kv_heads, head_dim]), got rank 3}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x8x128xbf16>) v_cache(%vc : memref<?x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @decode_page_dim(%q: memref<?x1x16x128xbf16>, %kc: memref<?x16x8x128xbf16>, %vc: memref<?x16x8x128xbf16>, %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{'k_cache' dimension 1 must be 256 ([num_blocks, page_size, num_kv_heads, head_dim]), got 16}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x16x8x128xbf16>) v_cache(%vc : memref<?x16x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @decode_cache_seqlens_i64(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>, %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi64>, %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{'cache_seqlens' must be a rank-1 memref of i32, got 'memref<?xi64>'}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>) v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi64>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @decode_block_table_missing(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>, %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>, %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{'block_table' is required when 'page_size' is non-zero (paged K/V), page_size = 256}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>) v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @decode_lse_shape(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>, %vc: memref<?x256x8x128xbf16>, %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>, %lse: memref<?x16x4xf32>) {
  // expected-error @+1 {{'lse' dimension 2 must be 1 ([B, num_heads, Lq]), got 4}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>) v_cache(%vc : memref<?x256x8x128xbf16>) cache_seqlens(%lens : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>) lse(%lse : memref<?x16x4xf32>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @decode_v_cache_mismatch(%q: memref<?x1x16x128xbf16>, %kc: memref<?x256x8x128xbf16>, %vc: memref<?x256x8x128xf16>, %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: memref<?x1x16x128xbf16>) {
  // expected-error @+1 {{'v_cache' element type must match 'q' ('bf16'), got 'f16'}}
  attn.paged_decode q(%q : memref<?x1x16x128xbf16>) k_cache(%kc : memref<?x256x8x128xbf16>) v_cache(%vc : memref<?x256x8x128xf16>) cache_seqlens(%lens : memref<?xi32>) block_table(%bt : memref<?x?xi32>) out(%o : memref<?x1x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 256}
  return
}

// -----

func.func @load_q_rows_bad_width(%q: memref<?x4x64xbf16>, %r: index) {
  // expected-error @+1 {{result must be [rows, 64], got 'tensor<16x32xf32>'}}
  %t = attn.load_q_rows %q[%r, %r] count %r : memref<?x4x64xbf16> -> tensor<16x32xf32>
  return
}

// -----

func.func @store_rows_partial_rank(%t: tensor<16x64xf32>, %l: tensor<16xf32>, %po: memref<?x4x64xf32>, %pl: memref<?x?x4xf32>, %r: index) {
  // expected-error @+1 {{'out' must have rank 4 ([S, total_q, Hq, D], with a split), got rank 3}}
  attn.store_rows %t, %l to %po lse %pl[split %r, %r, %r] count %r : tensor<16x64xf32>, tensor<16xf32>, memref<?x4x64xf32>, memref<?x?x4xf32>
  return
}

// -----

func.func @store_rows_partial_bf16(%t: tensor<16x64xf32>, %l: tensor<16xf32>, %po: memref<?x?x4x64xbf16>, %pl: memref<?x?x4xf32>, %r: index) {
  // expected-error @+1 {{partial 'out' must be f32, got 'bf16'}}
  attn.store_rows %t, %l to %po lse %pl[split %r, %r, %r] count %r : tensor<16x64xf32>, tensor<16xf32>, memref<?x?x4x64xbf16>, memref<?x?x4xf32>
  return
}

// -----

func.func @store_rows_lse_rank(%t: tensor<16x64xf32>, %l: tensor<16xf32>, %o: memref<?x4x64xbf16>, %lse: memref<?xf32>, %r: index) {
  // expected-error @+1 {{'lse' must be an f32 memref of rank 2 ([Hq, total_q]), got 'memref<?xf32>'}}
  attn.store_rows %t, %l to %o lse %lse[%r, %r] count %r : tensor<16x64xf32>, tensor<16xf32>, memref<?x4x64xbf16>, memref<?xf32>
  return
}

// -----

func.func @not_strided(%q: memref<?x16x128xbf16, affine_map<(d0, d1, d2) -> (d0 mod 4, d1, d2)>>, %k: memref<?x8x128xbf16>, %v: memref<?x8x128xbf16>, %cq: memref<?xi32>, %ck: memref<?xi32>, %o: memref<?x16x128xbf16>) {
  // expected-error @+1 {{'q' must have a strided layout}}
  attn.varlen_prefill q(%q : memref<?x16x128xbf16, affine_map<(d0, d1, d2) -> (d0 mod 4, d1, d2)>>) k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>) cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) out(%o : memref<?x16x128xbf16>)
      {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true, scale = 0.0883883461 : f32, page_size = 0}
  return
}

// -----

func.func @load_q_rank(%q: memref<?x16x64xbf16>, %i: index) {
  // expected-error @+1 {{'q' must have rank 4 ([B, Lq, H, D]), got rank 3}}
  %t = attn.load_q %q[%i, %i, %i] : memref<?x16x64xbf16> -> tensor<2x64xf32>
  return
}

// -----

func.func @load_q_bad_width(%q: memref<?x1x16x64xbf16>, %i: index) {
  // expected-error @+1 {{result must be [rows, 64], got 'tensor<2x128xf32>'}}
  %t = attn.load_q %q[%i, %i, %i] : memref<?x1x16x64xbf16> -> tensor<2x128xf32>
  return
}

// -----

func.func @store_rows_rank(%t: tensor<16x64xf32>, %l: tensor<16xf32>, %o: memref<?x?x4x64xbf16>, %r: index) {
  // expected-error @+1 {{'out' must have rank 3 ([total_q, Hq, D]), got rank 4}}
  attn.store_rows %t, %l to %o[%r, %r] count %r : tensor<16x64xf32>, tensor<16xf32>, memref<?x?x4x64xbf16>
  return
}

// -----

func.func @store_rows_partial_lse_rank(%t: tensor<16x64xf32>, %l: tensor<16xf32>, %po: memref<?x?x4x64xf32>, %pl: memref<4x?xf32>, %r: index) {
  // expected-error @+1 {{'lse' must be an f32 memref of rank 3 ([S, total_q, Hq]), got 'memref<4x?xf32>'}}
  attn.store_rows %t, %l to %po lse %pl[split %r, %r, %r] count %r : tensor<16x64xf32>, tensor<16xf32>, memref<?x?x4x64xf32>, memref<4x?xf32>
  return
}

// -----

func.func @qk_head_dim(%q: tensor<2x128xf32>, %k: tensor<64x64xbf16>) {
  // expected-error @+1 {{expects [M, D] x [N, D] -> [M, N], got 'tensor<2x128xf32>', 'tensor<64x64xbf16>' -> 'tensor<2x64xf32>'}}
  %s = attn.qk %q, %k {scale = 0.125 : f32} : tensor<2x128xf32>, tensor<64x64xbf16> -> tensor<2x64xf32>
  return
}

// -----

// The passes' attributes are verified where they appear.
func.func @grid_on_for(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.grid' must be an array on scf.parallel}}
  scf.for %i = %c0 to %n step %c1 {
  } {attn.grid = ["batch"]}
  return
}

// -----

func.func @grid_roles(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // expected-error @+1 {{'attn.grid' must name each of the 2 induction variables with a string, got ["batch"]}}
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %n) step (%c1, %c1) {
    scf.reduce
  } {attn.grid = ["batch"]}
  return
}

// -----

// expected-error @+1 {{'attn.num_splits' must be a unit attribute on an index argument, got argument #0 of type 'f32'}}
func.func @num_splits_type(%s: f32 {attn.num_splits}) {
  return
}

// -----

// expected-error @+1 {{'attn.workspace' must be a unit attribute on an f32 memref argument, got argument #0 of type 'memref<?xi32>'}}
func.func @workspace_type(%w: memref<?xi32> {attn.workspace}) {
  return
}

// -----

// expected-error @+1 {{'attn.role' must be one of q, k, v, cache_seqlens, cu_seqlens_q, cu_seqlens_k, block_table, out, lse, part_o, part_lse, got "query"}}
func.func @role_unknown(%q: memref<?x4x64xbf16> {attn.role = "query"}) {
  return
}

// -----

// expected-error @+1 {{'attn.role' must be one of q, k, v, cache_seqlens, cu_seqlens_q, cu_seqlens_k, block_table, out, lse, part_o, part_lse, got 3 : i64}}
func.func @role_not_a_string(%q: memref<?x4x64xbf16> {attn.role = 3}) {
  return
}

// -----

// expected-error @+1 {{'attn.role' must be on a memref argument, got argument #0 of type 'index'}}
func.func @role_type(%n: index {attn.role = "q"}) {
  return
}

// -----

// expected-error @+1 {{'attn.role' belongs on a function argument}}
func.func @role_on_op() attributes {attn.role = "q"} {
  return
}

// -----

// expected-error @+1 {{'attn.shared_memory_bytes' must be a non-negative i64 on a kernel (gpu.func or llvm.func)}}
func.func @shared_memory_on_func() attributes {attn.shared_memory_bytes = 1024 : i64} {
  return
}

// -----

module attributes {gpu.container_module} {
  gpu.module @kernels {
    // expected-error @+1 {{'attn.shared_memory_bytes' must be a non-negative i64 on a kernel (gpu.func or llvm.func)}}
    gpu.func @negative() kernel attributes {attn.shared_memory_bytes = -16 : i64} {
      gpu.return
    }
  }
}

// -----

// expected-error @+1 {{unknown attn attribute 'attn.tile'}}
func.func @unknown() attributes {attn.tile} {
  return
}

// -----

func.func @pv_acc_shape(%p: tensor<2x64xf32>, %v: tensor<64x128xbf16>,
                        %acc: tensor<2x64xf32>) -> tensor<2x64xf32> {
  // expected-error @+1 {{'attn.pv_acc' op expects [M, D] + [M, N] x [N, D], got acc 'tensor<2x64xf32>', p 'tensor<2x64xf32>', v 'tensor<64x128xbf16>'}}
  %r = attn.pv_acc %p, %v onto %acc : tensor<2x64xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  return %r : tensor<2x64xf32>
}

// -----

func.func @deferred_scale_other_use(%q: tensor<2x128xf32>, %k: tensor<64x128xbf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.deferred_scale': the scores cannot defer their scale through 'attn.row_sum'}}
  %s = attn.qk %q, %k {scale = 0.125 : f32, attn.deferred_scale} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  %sum = attn.row_sum %s : tensor<2x64xf32> -> tensor<2xf32>
  return %sum : tensor<2xf32>
}

// -----

func.func @deferred_scale_unmarked_consumer(%q: tensor<2x128xf32>, %k: tensor<64x128xbf16>) -> tensor<2xf32> {
  // expected-error @+1 {{'attn.deferred_scale': a consumer of its scores, 'attn.row_max', lacks it}}
  %s = attn.qk %q, %k {scale = 0.125 : f32, attn.deferred_scale} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  %max = attn.row_max %s : tensor<2x64xf32> -> tensor<2xf32>
  return %max : tensor<2xf32>
}

// -----

func.func @deferred_scale_unmarked_qk(%q: tensor<2x128xf32>, %k: tensor<64x128xbf16>) -> tensor<2xf32> {
  %s = attn.qk %q, %k {scale = 0.125 : f32} : tensor<2x128xf32>, tensor<64x128xbf16> -> tensor<2x64xf32>
  // expected-error @+1 {{'attn.deferred_scale': the attn.qk of its scores lacks it}}
  %max = attn.row_max %s {attn.deferred_scale} : tensor<2x64xf32> -> tensor<2xf32>
  return %max : tensor<2xf32>
}

// -----

func.func @window_one_bound(%s: tensor<2x64xf32>, %i: index) -> tensor<2x64xf32> {
  // expected-error @+1 {{'attn.mask' op 'window' takes no value or two ([left, right]), got 1}}
  %m = attn.mask %s keys[%i, %i) diagonal %i window [%i]
      {causal = false, rows_per_token = 1 : i64} : tensor<2x64xf32>
  return %m : tensor<2x64xf32>
}

// -----

// expected-error @+1 {{'attn.window_left' must be a unit attribute on an index or integer argument, got argument #0 of type 'f32'}}
func.func @window_role_on_float(%x: f32 {attn.window_left}) {
  return
}

// -----

// expected-error @+1 {{'attn.softcap' must be a unit attribute on an f32 argument, got argument #0 of type 'index'}}
func.func @softcap_role_on_index(%x: index {attn.softcap}) {
  return
}

// -----

func.func @load_q_rows_per_token(%q: memref<?x4x16x64xbf16>, %i: index) {
  // expected-error @+1 {{'rows_per_token' must be positive and divide the tile's 8 rows, got 3}}
  %t = attn.load_q %q[%i, %i, %i] {rows_per_token = 3 : i64} : memref<?x4x16x64xbf16> -> tensor<8x64xf32>
  return
}

// -----

func.func @store_rows_per_token(%t: tensor<8x64xf32>, %l: tensor<8xf32>, %o: memref<?x4x16x64xbf16>, %i: index) {
  // expected-error @+1 {{'rows_per_token' must be positive and divide the tile's 8 rows, got 0}}
  attn.store %t, %l to %o[%i, %i, %i] {rows_per_token = 0 : i64} : tensor<8x64xf32>, tensor<8xf32>, memref<?x4x16x64xbf16>
  return
}
