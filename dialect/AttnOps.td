// The attn problem ops: varlen prefill and paged decode.
#ifndef ATTN_OPS_TD
#define ATTN_OPS_TD

include "dialect/AttnDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"

// Element types, ranks and shapes are checked by the op verifiers, so that each
// diagnostic names the operand and the expected and actual values.
def Attn_Buffer : MemRefOf<[AnyType]>;
def Attn_IndexBuffer : MemRefOf<[AnyType]>;
def Attn_LseBuffer : MemRefOf<[AnyType]>;

// Attributes shared by both problem ops.
class Attn_ProblemOp<string mnemonic> : Attn_Op<mnemonic,
    [AttrSizedOperandSegments]> {
  let hasVerifier = 1;
}

def Attn_VarlenPrefillOp : Attn_ProblemOp<"varlen_prefill"> {
  let summary = "variable-length (causal) prefill, K/V contiguous or paged";
  let description = [{
    Attention over a batch of `B` sequences packed along the token dimension,
    flash-attn 2's `flash_attn_varlen_func`. Sequence `b` owns queries
    `cu_seqlens_q[b] .. cu_seqlens_q[b+1]` and keys
    `cu_seqlens_k[b] .. cu_seqlens_k[b+1]`.

    Shapes (`Hq = num_heads`, `Hkv = num_kv_heads`, `D = head_dim`):
    - `q`, `out`: `[total_q, Hq, D]`
    - contiguous (`page_size = 0`): `k`, `v`: `[total_k, Hkv, D]`
    - paged (`page_size > 0`): `k`, `v`: `[num_blocks, page_size, Hkv, D]` and
      `block_table`: `[B, max_blocks_per_seq]`; key `j` of sequence `b` lives
      in row `j % page_size` of block `block_table[b, j / page_size]`, and
      `cu_seqlens_k` counts the cached plus the new keys.
    - `cu_seqlens_q`, `cu_seqlens_k`: `[B + 1]`, i32
    - `lse` (optional): `[Hq, total_q]`, f32, natural-log log-sum-exp.
    - `window` (optional): `[left, right]`, flash-attn 2's sliding window:
      query `i` (diagonal `d = i + Lk - Lq`) sees only keys
      `d - left <= j <= d + right`, a negative bound being unbounded.
    - `softcap` (optional): with `softcap > 0`, each scaled score `s` becomes
      `softcap * tanh(s / softcap)` before the softmax (0: off).

    Example:

    ```mlir
    attn.varlen_prefill q(%q : memref<?x16x128xbf16>)
        k(%k : memref<?x8x128xbf16>) v(%v : memref<?x8x128xbf16>)
        cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>)
        out(%o : memref<?x16x128xbf16>)
        {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
         scale = 0.0883883461 : f32, page_size = 0}
    ```
  }];
  let arguments = (ins
    Arg<Attn_Buffer, "", [MemRead]>:$q,
    Arg<Attn_Buffer, "", [MemRead]>:$k,
    Arg<Attn_Buffer, "", [MemRead]>:$v,
    Arg<Attn_IndexBuffer, "", [MemRead]>:$cu_seqlens_q,
    Arg<Attn_IndexBuffer, "", [MemRead]>:$cu_seqlens_k,
    Arg<Optional<Attn_IndexBuffer>, "", [MemRead]>:$block_table,
    Arg<Attn_Buffer, "", [MemWrite]>:$out,
    Arg<Optional<Attn_LseBuffer>, "", [MemWrite]>:$lse,
    Variadic<Index>:$window,
    Optional<F32>:$softcap,
    I64Attr:$num_heads,
    I64Attr:$num_kv_heads,
    I64Attr:$head_dim,
    BoolAttr:$causal,
    F32Attr:$scale,
    I64Attr:$page_size
  );
  let assemblyFormat = [{
    `q` `(` $q `:` type($q) `)`
    `k` `(` $k `:` type($k) `)`
    `v` `(` $v `:` type($v) `)`
    `cu_seqlens_q` `(` $cu_seqlens_q `:` type($cu_seqlens_q) `)`
    `cu_seqlens_k` `(` $cu_seqlens_k `:` type($cu_seqlens_k) `)`
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)?
    `out` `(` $out `:` type($out) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`window` `[` $window^ `]`)?
    (`softcap` `(` $softcap^ `)`)?
    attr-dict
  }];
}

def Attn_PagedDecodeOp : Attn_ProblemOp<"paged_decode"> {
  let summary = "decode (few queries per sequence) over a paged or contiguous KV cache";
  let description = [{
    One decode step for every sequence of a batch, flash-attn 2's
    `flash_attn_with_kvcache`. Sequence `b` has `cache_seqlens[b]` keys
    (0 allowed: the row writes zeros) and `Lq` queries (1 for decode, a few
    for speculative or chunked steps), causally aligned bottom-right.

    Shapes (`Hq = num_heads`, `Hkv = num_kv_heads`, `D = head_dim`):
    - `q`, `out`: `[B, Lq, Hq, D]`
    - paged (`page_size > 0`): `k_cache`, `v_cache`:
      `[num_blocks, page_size, Hkv, D]`, `block_table`: `[B, max_blocks]`, i32;
      entries past a sequence's last page may be -1 and are never read.
    - contiguous (`page_size = 0`): `k_cache`, `v_cache`: `[B, Lmax, Hkv, D]`
    - `cache_seqlens`: `[B]`, i32
    - `lse` (optional): `[B, Hq, Lq]`, f32.
    - `window`, `softcap` (optional): as for `attn.varlen_prefill`, with
      `d = t + cache_seqlens[b] - Lq` for query token `t`.

    Example:

    ```mlir
    attn.paged_decode q(%q : memref<?x1x16x128xbf16>)
        k_cache(%kc : memref<?x256x8x128xbf16>)
        v_cache(%vc : memref<?x256x8x128xbf16>)
        cache_seqlens(%lens : memref<?xi32>)
        block_table(%bt : memref<?x?xi32>)
        out(%o : memref<?x1x16x128xbf16>)
        {num_heads = 16, num_kv_heads = 8, head_dim = 128, causal = true,
         scale = 0.0883883461 : f32, page_size = 256}
    ```
  }];
  let arguments = (ins
    Arg<Attn_Buffer, "", [MemRead]>:$q,
    Arg<Attn_Buffer, "", [MemRead]>:$k_cache,
    Arg<Attn_Buffer, "", [MemRead]>:$v_cache,
    Arg<Attn_IndexBuffer, "", [MemRead]>:$cache_seqlens,
    Arg<Optional<Attn_IndexBuffer>, "", [MemRead]>:$block_table,
    Arg<Attn_Buffer, "", [MemWrite]>:$out,
    Arg<Optional<Attn_LseBuffer>, "", [MemWrite]>:$lse,
    Variadic<Index>:$window,
    Optional<F32>:$softcap,
    I64Attr:$num_heads,
    I64Attr:$num_kv_heads,
    I64Attr:$head_dim,
    BoolAttr:$causal,
    F32Attr:$scale,
    I64Attr:$page_size
  );
  let assemblyFormat = [{
    `q` `(` $q `:` type($q) `)`
    `k_cache` `(` $k_cache `:` type($k_cache) `)`
    `v_cache` `(` $v_cache `:` type($v_cache) `)`
    `cache_seqlens` `(` $cache_seqlens `:` type($cache_seqlens) `)`
    (`block_table` `(` $block_table^ `:` type($block_table) `)`)?
    `out` `(` $out `:` type($out) `)`
    (`lse` `(` $lse^ `:` type($lse) `)`)?
    (`window` `[` $window^ `]`)?
    (`softcap` `(` $softcap^ `)`)?
    attr-dict
  }];
}

include "dialect/AttnTileOps.td"

#endif // ATTN_OPS_TD
