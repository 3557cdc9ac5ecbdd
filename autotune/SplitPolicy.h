// The split-KV policy: the split count the runtime chooses, the policies
// searched, and choosing one from timings (docs/autotune.md, "Split
// policies").
#ifndef ATTN_AUTOTUNE_SPLITPOLICY_H
#define ATTN_AUTOTUNE_SPLITPOLICY_H

#include "autotune/Candidate.h"
#include "autotune/Selection.h"

#include "llvm/Support/raw_ostream.h"

namespace attn::tune {

/// The splits the runtime chooses under `policy` for `ctas` CTAs (batch x KV
/// heads x query tokens) on `smCount` SMs, the longest sequence having
/// `maxSeqlenK` keys: as chooseNumSplits in runtime/decode_plan.cpp, at most
/// 64. The tuner's one copy of the runtime's heuristic: every split count of
/// attn-tune and its model comes from here.
int64_t decodeNumSplits(const DecodeSplit &policy, int64_t ctas,
                        int64_t smCount, int64_t maxSeqlenK);

/// decodeNumSplits for decode workload `w`: its CTAs are the query tokens of
/// each sequence times the KV heads, its longest sequence the most keys.
int64_t workloadNumSplits(const DecodeSplit &policy, const Workload &w,
                          int64_t smCount);

/// The split-KV policies searched: ctas_per_sm {2, 4, 8} x min_keys_per_split
/// {512, 1024, 2048}, in that order.
std::vector<DecodeSplit> splitSpace();

/// The decode kernel key the split policy is timed with: the decode
/// benchmark's (bf16, D 128, G 2, paged, causal).
KernelKey splitKernelKey();

/// Chooses the fastest split candidate of `candidates` by `times` (as
/// selectFastest), writes it into the table's decode_split with `source`
/// (a modelled choice leaves the policy of a measured table as it is) and
/// the report's section to `report`, progress lines to `log`. `kernel` is the
/// decode kernel candidate the policies ran with.
void chooseSplit(const std::vector<Candidate> &candidates,
                 const std::vector<Workload> &workloads, const Times &times,
                 Table &table, llvm::StringRef source, llvm::StringRef kernel,
                 const TargetLimits &limits, llvm::raw_ostream &report,
                 llvm::raw_ostream &log);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_SPLITPOLICY_H
