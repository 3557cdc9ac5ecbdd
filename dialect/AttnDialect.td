// The attn dialect definition and its base op class.
#ifndef ATTN_DIALECT_TD
#define ATTN_DIALECT_TD

include "mlir/IR/OpBase.td"

def Attn_Dialect : Dialect {
  let name = "attn";
  let cppNamespace = "::mlir::attn";
  let summary = "Attention kernels for LLM inference, from problem to tiled program";
  let description = [{
    The `attn` dialect describes the two attention calls an LLM inference
    engine makes (variable-length causal prefill and paged decode) as problem
    ops on memrefs, and the tile-level ops that the attn passes lower them to
    on the way to PTX (and, for numerics checks, to the host).

    The problem ops follow flash-attn 2's contract: causal masking is aligned
    bottom-right (query `i` of a sequence with `Lq` queries and `Lk` keys sees
    keys `j <= i + Lk - Lq`), grouped-query attention maps query head `h`
    onto KV head `h / (num_heads / num_kv_heads)`, and a query row that sees
    no key writes zeros (and `+inf` to the log-sum-exp).
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
  let useDefaultTypePrinterParser = 1;

  // The attributes the passes hand each other on ops and function arguments
  // of the tiled program (verified by the dialect; AttnDialect.cpp).
  let discardableAttrs = (ins
    // On the scf.parallel of CTAs: the role of each induction variable, e.g.
    // ["split", "batch", "token", "kv_head"] (attn-gqa-broadcast names the
    // grid, attn-split-kv prepends "split").
    "::mlir::ArrayAttr":$grid,
    // On the scf.for over KV tiles (attn-tile).
    "::mlir::UnitAttr":$kv_loop,
    // On a function argument of the tiled program: what it holds, one of q,
    // k, v, cache_seqlens, cu_seqlens_q, cu_seqlens_k, block_table, out, lse
    // (the problem op's operand; attn-gqa-broadcast), part_o, part_lse (the
    // split-KV workspace; attn-split-kv). The GPU lowering binds kernel
    // parameters by role.
    "::mlir::StringAttr":$role,
    // On the index function argument holding the split count (attn-split-kv).
    "::mlir::UnitAttr":$num_splits,
    // On the f32 memref function arguments of the split-KV partials
    // (attn-split-kv).
    "::mlir::UnitAttr":$workspace,
    // On the function arguments a problem op's local-attention options come
    // from (attn-gqa-broadcast): the window's left and right bounds (index or
    // integer) and the softcap (f32), which a GPU lowering binds to kernel
    // parameters.
    "::mlir::UnitAttr":$window_left,
    "::mlir::UnitAttr":$window_right,
    "::mlir::UnitAttr":$softcap,
    // On an attn.qk whose result is Q K^T without the op's scale, and on the
    // attn.row_max and attn.exp2_diff (its x) that apply that scale to it
    // (attn-fuse-tile-ops): row_max gives scale * max, exp2_diff
    // exp2(scale * x - m). Every op of the scores' web (the qk, the masks and
    // scf.if results they flow through, their consumers) carries it or none.
    "::mlir::UnitAttr":$deferred_scale,
    // On each kernel attn-lower-to-gpu makes (a gpu.func, an llvm.func after
    // the NVVM conversion): the bytes of dynamic shared memory it lays out,
    // which its launch must provide (the manifest's smem=).
    "::mlir::IntegerAttr":$shared_memory_bytes,
    // On a kernel (gpu.func, llvm.func) whose parameters at these indices are
    // CUtensorMaps (abi/kernel_params.h, TensorMap): generic pointers in the
    // GPU lowering, made 128-byte by-value grid constants after the NVVM
    // conversion (attn-tensor-map-params).
    "::mlir::DenseI64ArrayAttr":$tensor_map_args
  );
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_TD
