// Kernel names of a KernelSpec.
#include "codegen/KernelSpec.h"

std::string attn::KernelSpec::name() const {
  std::string layout = paged ? "_paged" : "_contig";
  std::string mask = local ? "_local" : causal ? "_causal" : "_full";
  if (op == Op::Prefill)
    return "attn_prefill_" + dtype + "_d" + std::to_string(headDim) + layout +
           mask;
  return "attn_decode_" + dtype + "_d" + std::to_string(headDim) +
         (group ? "_g" + std::to_string(group) : std::string("_gany")) +
         (tokensPerCta > 1 ? "_fold" + std::to_string(tokensPerCta)
                           : std::string()) +
         layout + mask;
}
