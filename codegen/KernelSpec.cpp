// Kernel names of a KernelSpec.
#include "codegen/KernelSpec.h"

std::string attn::KernelSpec::name() const {
  std::string layout = paged ? "_paged" : "_contig";
  if (op == Op::Prefill)
    return "attn_prefill_" + dtype + "_d" + std::to_string(headDim) + layout +
           (causal ? "_causal" : "_full");
  return "attn_decode_" + dtype + "_d" + std::to_string(headDim) +
         (group ? "_g" + std::to_string(group) : std::string("_gany")) +
         layout + (causal ? "_causal" : "_full");
}
