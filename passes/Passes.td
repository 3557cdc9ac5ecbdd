// The attn passes, from problem ops to a tiled online-softmax program and on
// to GPU kernels or host code.
#ifndef ATTN_PASSES_TD
#define ATTN_PASSES_TD

include "mlir/Pass/PassBase.td"

def AttnGqaBroadcast : Pass<"attn-gqa-broadcast", "ModuleOp"> {
  let summary = "Maps query heads onto KV heads and packs each group into one tile";
  let description = [{
    Rewrites `attn.paged_decode` into a parallel loop over (batch, query token,
    KV head) whose body loads the `G = num_heads / num_kv_heads` query heads
    that share the KV head as the rows of one tile and attends them together,
    so that every K/V byte is read once for the whole group.

    Before:
    ```mlir
    attn.paged_decode q(%q : memref<?x1x16x128xbf16>) ... {num_heads = 16, num_kv_heads = 8, ...}
    ```
    After:
    ```mlir
    scf.parallel (%b, %t, %kvh) = (%c0, %c0, %c0) to (%B, %Lq, %c8) step (%c1, %c1, %c1) {
      %len = attn.seq_len %lens[%b] : memref<?xi32>
      %h = arith.muli %kvh, %c2 : index
      %qt = attn.load_q %q[%b, %t, %h] : memref<?x1x16x128xbf16> -> tensor<2x128xf32>
      %o, %lse = attn.attend %qt keys(%kc, %vc block_table %bt) [%b, %kvh]
          range [%c0, %len) diagonal %diag {...} : ...
      attn.store %o, %lse to %out [%b, %t, %h] : ...
    } {attn.grid = ["batch", "token", "kv_head"]}
    ```

    With `heads-per-cta=R`, the grid is over (batch, query token, head
    block) instead: the G heads of a KV head are cut into ceil(G / R) tiles of
    R rows, G is read through `attn.group_size` (a GPU kernel takes it from
    the launch, so one kernel serves every group size), and the last tile of
    a KV head loads and stores only its `count = min(R, G - first)` rows.

    With `tokens-per-cta=F > 1` (and heads-per-cta 0), the grid is over
    (batch, query token block, KV head): a tile holds the G heads of F
    consecutive query tokens, token-major (`rows_per_token = G` on
    `attn.load_q`, `attn.attend` and `attn.store`), so that speculative
    decoding's Lq > 1 reads each K/V byte once per F tokens instead of once
    per token; row `i` is causal on the diagonal of token `i / G`, and the
    last block of a sequence's tokens loads and stores only its
    `count = min(F, Lq - first) * G` rows.

    Rewrites `attn.varlen_prefill` into a parallel loop over (batch, query
    row tile, query head): each iteration loads `block-m` consecutive query
    rows of one head (`attn.load_q_rows`), attends them to the keys of KV head
    `head / G`, and stores them (`attn.store_rows`); tiles past the end of a
    sequence do nothing. Packed K/V are addressed by row (the key range starts
    at `cu_seqlens_k[b]`), paged K/V by position in the sequence; the causal
    diagonal is bottom-right aligned either way.
  }];
  let options = [
    Option<"blockM", "block-m", "int64_t", /*default=*/"64",
           "Query rows per prefill tile (a multiple of 16)">,
    Option<"headsPerCta", "heads-per-cta", "int64_t", /*default=*/"0",
           "Query heads per decode tile: 0 = the G heads of one KV head (a "
           "kernel specialised on G); R > 0 = R heads, G read at run time">,
    Option<"tokensPerCta", "tokens-per-cta", "int64_t", /*default=*/"1",
           "Query tokens per decode tile (with heads-per-cta 0): F > 1 folds "
           "F tokens' G heads into G * F rows, so Lq > 1 reads K/V once">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect", "::mlir::memref::MemRefDialect"];
}

def AttnSplitKv : Pass<"attn-split-kv", "ModuleOp"> {
  let summary = "Splits each sequence's keys over CTAs and merges them with attn.combine";
  let description = [{
    Adds a leading `split` dimension to the attention grid (decode and
    prefill). Split `s` of `num_splits` attends its `attn.split_range` share
    (chunks aligned to `chunk-align` keys) of the keys that the grid point can
    see (under the causal mask, those up to its last row's diagonal) and,
    when there is more than one split, writes a partial (output, lse) to a
    workspace that `attn.combine` merges by log-sum-exp. The function gains
    three arguments, marked `attn.workspace`: the partial outputs (decode
    `[S, B, Lq, Hq, D]`, prefill `[S, total_q, Hq, D]`, f32), their lse
    (the same without D), and the split count (an index chosen at launch
    from host-known sizes). With one split the output is stored directly.
  }];
  let options = [
    Option<"chunkAlign", "chunk-align", "int64_t", /*default=*/"64",
           "Split ranges start at multiples of this many keys (a KV tile size)">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect"];
}

def AttnTile : Pass<"attn-tile", "ModuleOp"> {
  let summary = "Materialises the loop over KV tiles; masks only the tiles that need it";
  let description = [{
    Rewrites `attn.attend` into an `scf.for` over tiles of `block-n` keys that
    loads K and V tiles (`attn.kv_tile`), computes the scores (`attn.qk`),
    applies `attn.mask` only on tiles that reach the causal diagonal or the
    end of the range (behind an `scf.if`), and accumulates
    `attn.softmax_update`. Tiles that every row must skip are not visited: the
    loop ends at the last row's visible end.
  }];
  let options = [
    Option<"blockN", "block-n", "int64_t", /*default=*/"64", "Keys per KV tile">
  ];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect"];
}

def AttnOnlineSoftmax : Pass<"attn-online-softmax", "ModuleOp"> {
  let summary = "Rewrites the tiled softmax into the running (max, sum, acc) recurrence";
  let description = [{
    Replaces the softmax state carried through the KV tile loop by three
    loop-carried values: the running row max `m` (log2 units), the running
    sum `l` and the unnormalised output `acc`. Per tile:
    `m' = max(m, rowmax(s))`, `p = exp2(s - m')`, `alpha = exp2(m - m')`,
    `l' = alpha * l + rowsum(p)`, `acc' = alpha * acc + p V`; after the loop
    `attn.normalize` gives `acc / l` and `lse = (m + log2 l) ln 2`. The
    `attn.qk` scale is multiplied by log2(e) so that exp2 replaces exp.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def AttnFuseTileOps : Pass<"attn-fuse-tile-ops", "ModuleOp"> {
  let summary = "Fuses the prefill program's tile ops that a tensor-core lowering computes as one";
  let description = [{
    Rewrites the tiled online-softmax program of a prefill function (one
    with `attn.load_q_rows`) into the explicit fused forms the GPU lowering
    emits, so that the lowering maps each op on its own:

    - an `attn.pv` whose only use is an `arith.addf` becomes, with the addf,
      one `attn.pv_acc` (the mma.sync accumulates P V onto the rescaled
      accumulator);
    - the scale of an `attn.qk` moves into the ops that read its scores, when
      every path of the scores (through `attn.mask` and `scf.if`) ends in an
      `attn.row_max` or the `x` of an `attn.exp2_diff`: the qk and those
      consumers are marked `attn.deferred_scale`; row_max then scales its
      results (the scale is positive) and exp2_diff folds the scale into an
      fma, so that no score is multiplied on its own.

    Before:
    ```mlir
    %s = attn.qk %q, %k {scale = 1.442695 : f32} : ...
    %m = attn.row_max %s : tensor<64x64xf32> -> tensor<64xf32>
    %p = attn.exp2_diff %s, %mn : tensor<64x64xf32>, tensor<64xf32>
    %pv = attn.pv %p, %v : ...
    %acc1 = arith.addf %scaled, %pv : tensor<64x128xf32>
    ```
    After:
    ```mlir
    %s = attn.qk %q, %k {attn.deferred_scale, scale = 1.442695 : f32} : ...
    %m = attn.row_max %s {attn.deferred_scale} : ...
    %p = attn.exp2_diff %s, %mn {attn.deferred_scale} : ...
    %acc1 = attn.pv_acc %p, %v onto %scaled : ...
    ```
    Decode programs are left as they are: the decode lowering scales each
    score as it computes it.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def AttnLowerToCpu : Pass<"attn-lower-to-cpu", "ModuleOp"> {
  let summary = "Lowers the tiled attn program to scf/memref/arith loops for the host";
  let description = [{
    Gives every tile a stack buffer (hoisted to the function entry), turns
    each tile op into loops over it, loop-carried and `scf.if` tiles into
    buffers copied at the yields, and the grid `scf.parallel` into sequential
    loops. The result lowers to LLVM with upstream passes and runs on the
    host, so CI checks the numerics of every attn pass without a GPU.
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect", "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect", "::mlir::math::MathDialect"];
}

def AttnLowerToGpu : Pass<"attn-lower-to-gpu", "ModuleOp"> {
  let summary = "Maps the tiled decode and prefill programs onto CTAs, warps and threads";
  let description = [{
    Turns each attention function into a kernel of a `gpu.module`, with the
    parameters of docs/runtime_abi.md; the grid `scf.parallel` becomes the
    CTA grid.

    Every split-KV program also gets the combine kernel that merges its
    partials. Decode: a KV tile is spread over row groups of `head_dim / 8`
    threads, each thread owning 16 bytes of `stages` cp.async-pipelined
    shared-memory stages; the online-softmax recurrence runs per row group on its share of
    the keys, scores are reduced with warp shuffles, exp2 uses ex2.approx, and
    the row groups are merged through shared memory at the end.

    Prefill (a grid over query row tiles, its splits folded into the CTA
    grid's x with the heads): `threads / 32` warps, each owning
    `block_m / (16 * warps)` blocks of 16 query rows. Q and `stages` K/V tiles
    are staged in XOR-swizzled shared memory by cp.async; QK^T and PV are
    `mma.sync.m16n8k16` with f32 accumulators fed by ldmatrix (ldmatrix.trans
    for V), P stays in registers, row max and sum reduce across quads, the
    score scale is folded into the exp2's fma, and paged rows are located
    through block_table once per tile.

    With `wgmma` (sm_90a) the prefill warps form warpgroups, Q, K and V are
    staged in wgmma's 128-byte-swizzle layout, QK^T and PV are
    `wgmma.mma_async` from shared-memory descriptors (P stored to shared
    memory, V read along head_dim), the same fragments serving as the wgmma
    accumulators; decode is unchanged. With `producer` as well the kernel is
    warp-specialised: the last 128 of the `threads` form a producer
    warpgroup (`setmaxnreg` down) that copies the K/V tiles into the ring
    and signals each tile on a "full" mbarrier (cp.async.mbarrier.arrive),
    while the other warpgroups (`setmaxnreg` up) wait on it, compute, and
    release the stage on an "empty" mbarrier: no copies and no CTA barrier
    in the consumers' loop.
  }];
  let options = [
    Option<"stages", "stages", "int64_t", /*default=*/"3", "cp.async pipeline depth">,
    Option<"threads", "threads", "int64_t", /*default=*/"128", "Threads per CTA">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"false",
           "Prefill MMAs through wgmma (sm_90a) rather than mma.sync">,
    Option<"producer", "producer", "bool", /*default=*/"false",
           "wgmma prefill: the last 128 threads are a producer warpgroup that "
           "copies the K/V tiles, signalling them on mbarriers">,
    Option<"tma", "tma", "bool", /*default=*/"false",
           "producer prefill: whole K/V tiles (paged: within a page) by TMA through "
           "tensor maps the launch passes (abi/kernel_params.h, tma)">,
    Option<"decodeLanes", "decode-lanes", "int64_t", /*default=*/"0",
           "Decode: threads sharing a row of head_dim (a power of two, each "
           "holding ceil(head_dim / 8 / lanes) chunks of 16 bytes); 0 lets "
           "passes/gpu/DecodeLayout.h choose">,
    Option<"decodeKvHeads", "decode-kv-heads", "int64_t", /*default=*/"1",
           "Decode: KV heads a CTA takes (a power of two), each on its own "
           "lanes of a row group, so that a key's copies read the heads' "
           "adjacent rows together; kernels specialised on G, one token a CTA">,
    Option<"decodeMma", "decode-mma", "bool", /*default=*/"false",
           "Decode: QK^T and PV through mma.sync (the G rows, or G x tokens, as "
           "the M of m16n8k16, each warp taking its own keys of a tile); "
           "kernels specialised on G with at most 16 rows">,
    Option<"dependentLaunch", "dependent-launch", "bool", /*default=*/"false",
           "sm_90 and newer: the split kernels signal griddepcontrol.launch_dependents "
           "after their KV loop and the combine kernels wait (griddepcontrol.wait) "
           "before reading the partials, for a launch with programmatic stream "
           "serialization">
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect", "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect", "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect"];
}

def AttnTensorMapParams : Pass<"attn-tensor-map-params", "::mlir::gpu::GPUModuleOp"> {
  let summary = "Makes a kernel's tensor-map parameters 128-byte by-value grid constants";
  let description = [{
    After the NVVM conversion: each parameter an `llvm.func` kernel lists in
    `attn.tensor_map_args` (a CUtensorMap, abi/kernel_params.h's TensorMap;
    a generic `!llvm.ptr` in the GPU lowering) becomes
    `llvm.byval = !llvm.array<128 x i8>`, `llvm.align = 64` and
    `nvvm.grid_constant`: a `.param .align 64 .b8 [128]` parameter whose
    address (`cvta.param`) the TMA instructions take, so that the map the
    launch passes by value is read in place (a CUDA graph captures it with
    the launch). The GPU conversion keeps no `llvm.byval` of a `gpu.func`,
    and NVVM's verifier accepts `nvvm.grid_constant` only on an
    `nvvm.kernel`, hence this pass. A listed parameter that is not a pointer
    is an error.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect", "::mlir::NVVM::NVVMDialect"];
}

#endif // ATTN_PASSES_TD
