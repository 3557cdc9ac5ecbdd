// Compiling a bundle: each kernel candidate through the compiler and nvJitLink,
// its resources from ptxas, pruning, and its pack; resumable
// (docs/autotune.md, "Flow"). Library AttnTuneCompile (the compiler and
// nvJitLink); the rest of autotune/ needs LLVM Support only.
#ifndef ATTN_AUTOTUNE_COMPILE_H
#define ATTN_AUTOTUNE_COMPILE_H

#include "autotune/Candidate.h"

#include "llvm/Support/raw_ostream.h"

namespace attn::tune {

/// Compiles the candidates of `options.space` into `options.bundleDir`
/// (resuming those compiled before), with `table` (today's) marking the
/// baselines and giving the packs their split policy, and writes
/// candidates.json; a progress line per candidate goes to `log`.
llvm::Error compileBundle(const TuneOptions &options,
                          const TargetLimits &limits, const Table &table,
                          const std::vector<Workload> &workloads,
                          llvm::raw_ostream &log);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_COMPILE_H
