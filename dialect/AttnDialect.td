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
}

class Attn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Attn_Dialect, mnemonic, traits>;

#endif // ATTN_DIALECT_TD
