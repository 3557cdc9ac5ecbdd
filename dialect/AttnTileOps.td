// The tile-level attn ops that the attn passes produce and the GPU/CPU
// lowerings consume. Tiles are tensors with static shapes: M query rows
// (the G query heads of one KV head, packed by attn-gqa-broadcast), N keys of
// one KV tile, D = head_dim.
#ifndef ATTN_TILE_OPS_TD
#define ATTN_TILE_OPS_TD

include "dialect/AttnDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/AttrTypeBase.td"

def Attn_SoftmaxState : TypeDef<Attn_Dialect, "SoftmaxState"> {
  let mnemonic = "softmax_state";
  let summary = "softmax-weighted accumulation of V over key tiles (M rows, D columns)";
  let description = [{
    The state of `softmax(S) V` accumulated over key tiles in any order, before
    `attn-online-softmax` makes it explicit as the running (max, sum, acc).
  }];
  let parameters = (ins "int64_t":$rows, "int64_t":$cols);
  let assemblyFormat = "`<` $rows `,` $cols `>`";
}

def Attn_F32Tile : RankedTensorOf<[F32]>;

def Attn_SeqLenOp : Attn_Op<"seq_len", [Pure]> {
  let summary = "the key count of one sequence, read from an i32 length buffer";
  let description = [{
    `%len = attn.seq_len %lens[%b]` is `index_cast(lens[b])`; with
    `cumulative`, it is `lens[b+1] - lens[b]` (cu_seqlens form).
  }];
  let arguments = (ins Arg<MemRefRankOf<[I32], [1]>, "", [MemRead]>:$lengths,
                   Index:$batch, UnitAttr:$cumulative);
  let results = (outs Index:$length);
  let assemblyFormat = "$lengths `[` $batch `]` attr-dict `:` type($lengths)";
}

def Attn_LoadQOp : Attn_Op<"load_q"> {
  let summary = "loads the query rows of one KV head's group as an f32 tile";
  let description = [{
    Row `i` of the result is `q[batch, token, head + i, :]` converted to f32:
    the `M` query heads that share one KV head, packed into the rows of a tile
    so that every K/V byte is read once for all of them. With `count`, only
    rows `i < count` are read; the rows past it repeat row `count - 1` (they
    are computed but never stored, see `attn.store`). With `rows_per_token =
    R` the tile spans `M / R` query tokens (speculative decoding's Lq > 1
    folded into one CTA): row `i` is `q[batch, token + i / R, head + i % R, :]`.
  }];
  let arguments = (ins Arg<AnyMemRef, "", [MemRead]>:$q, Index:$batch,
                   Index:$token, Index:$head, Optional<Index>:$count,
                   OptionalAttr<I64Attr>:$rows_per_token);
  let results = (outs Attn_F32Tile:$tile);
  let assemblyFormat = [{
    $q `[` $batch `,` $token `,` $head `]` (`count` $count^)? attr-dict `:`
    type($q) `->` type($tile)
  }];
  let hasVerifier = 1;
}

def Attn_SeqStartOp : Attn_Op<"seq_start", [Pure]> {
  let summary = "the first packed row of one sequence, read from cu_seqlens";
  let description = [{
    `%row = attn.seq_start %cu_seqlens[%b]` is `index_cast(cu_seqlens[b])`:
    where sequence `b`'s rows start in a tensor packed along its token
    dimension.
  }];
  let arguments = (ins Arg<MemRefRankOf<[I32], [1]>, "", [MemRead]>:$cu_seqlens,
                   Index:$batch);
  let results = (outs Index:$row);
  let assemblyFormat = "$cu_seqlens `[` $batch `]` attr-dict `:` type($cu_seqlens)";
}

def Attn_KvHeadOp : Attn_Op<"kv_head", [Pure]> {
  let summary = "the KV head a query head reads (GQA)";
  let description = [{
    `%kvh = attn.kv_head %head {group = G}` is `head / G`. A GPU lowering may
    take `G` from the launch's head counts instead (`Hq / Hkv`), so that one
    kernel serves every group size.
  }];
  let arguments = (ins Index:$head, I64Attr:$group);
  let results = (outs Index:$kv_head);
  let assemblyFormat = "$head attr-dict";
}

def Attn_GroupSizeOp : Attn_Op<"group_size", [Pure]> {
  let summary = "the GQA group size G = Hq / Hkv of the launch";
  let description = [{
    `%g = attn.group_size {group = G}` is `G`. A GPU lowering takes it from
    the launch's head counts (`Hq / Hkv`) instead, so that a kernel whose
    tiles hold a fixed number of query heads serves every group size.
  }];
  let arguments = (ins I64Attr:$group);
  let results = (outs Index:$size);
  let assemblyFormat = "attr-dict";
}

def Attn_LoadQRowsOp : Attn_Op<"load_q_rows"> {
  let summary = "loads consecutive query rows of one head as an f32 tile";
  let description = [{
    Row `i` of the `[M, D]` result is `q[row + i, head, :]` converted to f32
    for `i < count`, and zero for the rows past `count`, whose addresses are
    never read. `q` is packed along its token dimension (`[total_q, Hq, D]`).
  }];
  let arguments = (ins Arg<MemRefRankOf<[AnyFloat], [3]>, "", [MemRead]>:$q,
                   Index:$row, Index:$head, Index:$count);
  let results = (outs Attn_F32Tile:$tile);
  let assemblyFormat = [{
    $q `[` $row `,` $head `]` `count` $count attr-dict `:` type($q) `->`
    type($tile)
  }];
  let hasVerifier = 1;
}

def Attn_StoreRowsOp : Attn_Op<"store_rows", [AttrSizedOperandSegments]> {
  let summary = "stores consecutive output rows (and their lse) of one head";
  let description = [{
    For `i < count`, row `i` of `tile` goes to `out[row + i, head, :]`,
    converted to `out`'s element type, and `lse[head, row + i]` gets the
    row's lse with `-inf` (no key) written as `+inf`, flash-attn's
    convention. Rows past `count` are not written. With `split`, `out` and
    `lse` are the split-KV workspace `[S, total_q, Hq, D]` and
    `[S, total_q, Hq]` indexed by `split` first, and the lse is stored as is.
  }];
  let arguments = (ins Attn_F32Tile:$tile, Attn_F32Tile:$lse_tile,
                   Arg<AnyMemRef, "", [MemWrite]>:$out,
                   Arg<Optional<AnyMemRef>, "", [MemWrite]>:$lse,
                   Optional<Index>:$split, Index:$row, Index:$head,
                   Index:$count);
  let assemblyFormat = [{
    $tile `,` $lse_tile `to` $out (`lse` $lse^)? `[` (`split` $split^ `,`)? $row `,`
    $head `]` `count` $count attr-dict `:` type($tile) `,` type($lse_tile) `,`
    type($out) (`,` type($lse)^)?
  }];
  let hasVerifier = 1;
}

def Attn_SplitRangeOp : Attn_Op<"split_range", [Pure]> {
  let summary = "the key range of one split of a sequence";
  let description = [{
    With `per = ceil(ceil(length / num_splits) / align) * align`, split `s`
    owns keys `[min(s * per, length), min((s + 1) * per, length))`.
  }];
  let arguments = (ins Index:$length, Index:$split, Index:$num_splits,
                   I64Attr:$align);
  let results = (outs Index:$begin, Index:$end);
  let assemblyFormat = [{
    $split `of` $num_splits `over` $length attr-dict
  }];
  let extraClassDeclaration = [{
    /// Emits the range's arithmetic on index values (shared by the lowerings).
    static std::pair<::mlir::Value, ::mlir::Value>
    expand(::mlir::OpBuilder &b, ::mlir::Location loc, ::mlir::Value length,
           ::mlir::Value split, ::mlir::Value numSplits, int64_t align);
  }];
}

def Attn_AttendOp : Attn_Op<"attend", [AttrSizedOperandSegments]> {
  let summary = "softmax(scale * Q K^T, masked) V over a key range of one sequence";
  let description = [{
    Attends the query tile `q` (M rows) to keys `[key_begin, key_end)` of
    sequence `batch`, KV head `kv_head`. With `causal`, row `i` additionally
    sees only keys `j <= diagonal + i / rows_per_token` (bottom-right aligned
    causal masking). Returns the normalised output rows (zeros for a row that
    sees no key) and their natural-log log-sum-exp (`-inf` for such a row).
    `page_size`: 0 for contiguous caches `[B, L, Hkv, D]`, else paged caches
    `[blocks, page, Hkv, D]` addressed through `block_table` (-1: the page
    size is the caches' dimension 1, known at run time). A contiguous cache of
    rank 3, `[total, Hkv, D]`, is packed along its token dimension: key
    positions are its rows and `batch` only names the sequence. `window`
    (`[left, right]`, a negative bound unbounded) and `softcap` are the
    problem op's local-attention options: row `i` sees only keys
    `diagonal + i / rows_per_token - left <= j <= ... + right`, and with
    `softcap > 0` its scores are capped before the softmax.
  }];
  let arguments = (ins Attn_F32Tile:$q,
                   Arg<AnyMemRef, "", [MemRead]>:$k_cache,
                   Arg<AnyMemRef, "", [MemRead]>:$v_cache,
                   Arg<Optional<AnyMemRef>, "", [MemRead]>:$block_table,
                   Index:$batch, Index:$kv_head, Index:$key_begin,
                   Index:$key_end, Index:$diagonal,
                   Variadic<Index>:$window, Optional<F32>:$softcap,
                   F32Attr:$scale, BoolAttr:$causal, I64Attr:$rows_per_token,
                   I64Attr:$page_size);
  let results = (outs Attn_F32Tile:$out, Attn_F32Tile:$lse);
  let assemblyFormat = [{
    $q `keys` `(` $k_cache `,` $v_cache (`block_table` $block_table^)? `)`
    `[` $batch `,` $kv_head `]` `range` `[` $key_begin `,` $key_end `)`
    `diagonal` $diagonal (`window` `[` $window^ `]`)?
    (`softcap` `(` $softcap^ `)`)? attr-dict `:` type($q) `,` type($k_cache) `,`
    type($v_cache) (`,` type($block_table)^)? `->` type($out) `,` type($lse)
  }];
  let hasVerifier = 1;
}

def Attn_KvTileOp : Attn_Op<"kv_tile"> {
  let summary = "loads N consecutive key (or value) rows of one sequence and KV head";
  let description = [{
    Row `n` of the result is the cache row of key `start + n` of sequence
    `batch`, head `kv_head`: `cache[batch, start + n, kv_head, :]` when
    contiguous, `cache[block_table[batch, p / page], p % page, kv_head, :]`
    with `p = start + n` when paged, `cache[start + n, kv_head, :]` when the
    cache is packed (rank 3). Rows with `start + n >= limit` are zero
    and their addresses (and block_table entries) are never read.
  }];
  let arguments = (ins Arg<AnyMemRef, "", [MemRead]>:$cache,
                   Arg<Optional<AnyMemRef>, "", [MemRead]>:$block_table,
                   Index:$batch, Index:$kv_head, Index:$start, Index:$limit,
                   I64Attr:$page_size);
  let results = (outs AnyRankedTensor:$tile);
  let assemblyFormat = [{
    $cache (`block_table` $block_table^)? `[` $batch `,` $kv_head `,` $start `]`
    `limit` $limit attr-dict `:` type($cache) (`,` type($block_table)^)?
    `->` type($tile)
  }];
}

def Attn_QKOp : Attn_Op<"qk", [Pure]> {
  let summary = "S = scale * Q K^T for one tile, in f32";
  let arguments = (ins Attn_F32Tile:$q, AnyRankedTensor:$k, F32Attr:$scale);
  let results = (outs Attn_F32Tile:$scores);
  let assemblyFormat = [{
    $q `,` $k attr-dict `:` type($q) `,` type($k) `->` type($scores)
  }];
  let hasVerifier = 1;
}

def Attn_MaskOp : Attn_Op<"mask", [Pure, AllTypesMatch<["scores", "masked"]>]> {
  let summary = "sets the scores of keys a row must not see to -inf";
  let description = [{
    Column `j` of the tile is key `start + j`. Row `i` keeps it iff
    `start + j < end` and, with `causal`, `start + j <= diagonal + i / rows_per_token`;
    with `window = [left, right]` (both non-negative), also
    `d - left <= start + j <= d + right` for `d = diagonal + i / rows_per_token`.
  }];
  let arguments = (ins Attn_F32Tile:$scores, Index:$start, Index:$end,
                   Index:$diagonal, Variadic<Index>:$window, BoolAttr:$causal,
                   I64Attr:$rows_per_token);
  let results = (outs Attn_F32Tile:$masked);
  let assemblyFormat = [{
    $scores `keys` `[` $start `,` $end `)` `diagonal` $diagonal
    (`window` `[` $window^ `]`)? attr-dict `:` type($scores)
  }];
  let hasVerifier = 1;
}

def Attn_SoftcapOp : Attn_Op<"softcap", [Pure, AllTypesMatch<["scores", "result"]>]> {
  let summary = "caps the scores of a tile: cap * tanh(s / cap)";
  let description = [{
    Gemma-2's logit softcap, elementwise, with `cap > 0` in the units of the
    scores (attn-online-softmax, which moves the scores to log2 units,
    scales `cap` with them: the capped scores scale the same way).
  }];
  let arguments = (ins Attn_F32Tile:$scores, F32:$cap);
  let results = (outs Attn_F32Tile:$result);
  let assemblyFormat = "$scores `,` $cap attr-dict `:` type($scores)";
}

def Attn_SoftmaxInitOp : Attn_Op<"softmax_init", [Pure]> {
  let summary = "an empty softmax accumulation";
  let results = (outs Attn_SoftmaxState:$state);
  let assemblyFormat = "attr-dict `:` type($state)";
}

def Attn_SoftmaxUpdateOp : Attn_Op<"softmax_update", [Pure, AllTypesMatch<["state", "updated"]>]> {
  let summary = "adds one tile's scores and values to a softmax accumulation";
  let arguments = (ins Attn_SoftmaxState:$state, Attn_F32Tile:$scores,
                   AnyRankedTensor:$v);
  let results = (outs Attn_SoftmaxState:$updated);
  let assemblyFormat = [{
    $state `,` $scores `,` $v attr-dict `:` type($state) `,` type($scores) `,`
    type($v)
  }];
}

def Attn_SoftmaxFinalizeOp : Attn_Op<"softmax_finalize", [Pure]> {
  let summary = "the normalised output and the log-sum-exp of an accumulation";
  let arguments = (ins Attn_SoftmaxState:$state);
  let results = (outs Attn_F32Tile:$out, Attn_F32Tile:$lse);
  let assemblyFormat = "$state attr-dict `:` type($state) `->` type($out) `,` type($lse)";
}

def Attn_RowMaxOp : Attn_Op<"row_max", [Pure]> {
  let summary = "the maximum of each row of a tile";
  let arguments = (ins Attn_F32Tile:$tile);
  let results = (outs Attn_F32Tile:$max);
  let assemblyFormat = "$tile attr-dict `:` type($tile) `->` type($max)";
}

def Attn_RowSumOp : Attn_Op<"row_sum", [Pure]> {
  let summary = "the sum of each row of a tile";
  let arguments = (ins Attn_F32Tile:$tile);
  let results = (outs Attn_F32Tile:$sum);
  let assemblyFormat = "$tile attr-dict `:` type($tile) `->` type($sum)";
}

def Attn_Exp2DiffOp : Attn_Op<"exp2_diff", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "exp2(x - m), m broadcast along each row; 0 where m is -inf";
  let description = [{
    `x` is `[M]` or `[M, N]` and `m` is `[M]`. The guard makes rows that have
    seen no key yet (running max -inf) contribute 0 instead of NaN.
  }];
  let arguments = (ins Attn_F32Tile:$x, Attn_F32Tile:$m);
  let results = (outs Attn_F32Tile:$result);
  let assemblyFormat = "$x `,` $m attr-dict `:` type($x) `,` type($m)";
}

def Attn_PVOp : Attn_Op<"pv", [Pure]> {
  let summary = "P V for one tile: [M, N] x [N, D] -> [M, D], in f32";
  let arguments = (ins Attn_F32Tile:$p, AnyRankedTensor:$v);
  let results = (outs Attn_F32Tile:$out);
  let assemblyFormat = "$p `,` $v attr-dict `:` type($p) `,` type($v) `->` type($out)";
}

def Attn_PVAccOp : Attn_Op<"pv_acc", [Pure, AllTypesMatch<["acc", "result"]>]> {
  let summary = "acc + P V for one tile: the product accumulated onto acc";
  let description = [{
    `[M, D] + [M, N] x [N, D] -> [M, D]`, in f32: `attn.pv` and the
    `arith.addf` that adds its product to the accumulator, fused by
    attn-fuse-tile-ops so that a tensor-core lowering accumulates the product
    onto `acc` in place.
  }];
  let arguments = (ins Attn_F32Tile:$acc, Attn_F32Tile:$p, AnyRankedTensor:$v);
  let results = (outs Attn_F32Tile:$result);
  let assemblyFormat = [{
    $p `,` $v `onto` $acc attr-dict `:` type($p) `,` type($v) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Attn_ScaleRowsOp : Attn_Op<"scale_rows", [Pure, AllTypesMatch<["tile", "result"]>]> {
  let summary = "multiplies row i of a [M, D] tile by factor[i]";
  let arguments = (ins Attn_F32Tile:$tile, Attn_F32Tile:$factor);
  let results = (outs Attn_F32Tile:$result);
  let assemblyFormat = "$tile `,` $factor attr-dict `:` type($tile) `,` type($factor)";
}

def Attn_NormalizeOp : Attn_Op<"normalize", [Pure, AllTypesMatch<["max", "sum", "lse"]>, AllTypesMatch<["acc", "out"]>]> {
  let summary = "output acc / sum and lse = (max + log2(sum)) * ln 2 of each row";
  let description = [{
    The end of the online-softmax recurrence, whose max is in log2 units (the
    scores were scaled by `scale * log2(e)`). A row with sum 0 (no key) gives
    zeros and lse `-inf`.
  }];
  let arguments = (ins Attn_F32Tile:$acc, Attn_F32Tile:$max, Attn_F32Tile:$sum);
  let results = (outs Attn_F32Tile:$out, Attn_F32Tile:$lse);
  let assemblyFormat = [{
    $acc `,` $max `,` $sum attr-dict `:` type($acc) `,` type($max)
  }];
}

def Attn_StoreOp : Attn_Op<"store", [AttrSizedOperandSegments]> {
  let summary = "stores output rows (and their lse) of one group";
  let description = [{
    Row `i` goes to `out[batch, token, head + i, :]`, converted to `out`'s
    element type; with `count`, only the rows `i < count`; with
    `rows_per_token = R`, row `i` is token `token + i / R`, head
    `head + i % R` (as `attn.load_q`'s), in out and lse. Without `partial`,
    `lse[batch, head + i, token]` gets the row's lse with `-inf` (no key)
    written as `+inf`, flash-attn's convention. With `partial`, `out` and
    `lse` are the split-KV workspace `[S, B, Lq, Hq, D]` and `[S, B, Lq, Hq]`
    indexed by `split` first.
  }];
  let arguments = (ins Attn_F32Tile:$tile, Attn_F32Tile:$lse_tile,
                   Arg<AnyMemRef, "", [MemWrite]>:$out,
                   Arg<Optional<AnyMemRef>, "", [MemWrite]>:$lse,
                   Optional<Index>:$split, Index:$batch, Index:$token,
                   Index:$head, Optional<Index>:$count,
                   OptionalAttr<I64Attr>:$rows_per_token);
  let hasVerifier = 1;
  let assemblyFormat = [{
    $tile `,` $lse_tile `to` $out (`lse` $lse^)? `[` (`split` $split^ `,`)? $batch `,`
    $token `,` $head `]` (`count` $count^)? attr-dict `:` type($tile) `,`
    type($lse_tile) `,` type($out) (`,` type($lse)^)?
  }];
}

def Attn_CombineOp : Attn_Op<"combine"> {
  let summary = "merges split-KV partial results by their log-sum-exp";
  let description = [{
    For every (batch, token, head): with `w_s = exp(lse_s - max_s lse_s)`,
    `out = sum_s w_s o_s / sum_s w_s` and `lse = max + log(sum_s w_s)`; a row
    whose splits all saw no key writes zeros and `+inf`.
  }];
  let arguments = (ins Arg<AnyMemRef, "", [MemRead]>:$partial_out,
                   Arg<AnyMemRef, "", [MemRead]>:$partial_lse,
                   Index:$num_splits,
                   Arg<AnyMemRef, "", [MemWrite]>:$out,
                   Arg<Optional<AnyMemRef>, "", [MemWrite]>:$lse);
  let assemblyFormat = [{
    $partial_out `,` $partial_lse `splits` $num_splits `to` $out (`lse` $lse^)?
    attr-dict `:` type($partial_out) `,` type($partial_lse) `,` type($out)
    (`,` type($lse)^)?
  }];
}

#endif // ATTN_TILE_OPS_TD
