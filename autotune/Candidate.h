// Candidates: one knob configuration of a group of kernels, or one split-KV
// policy; their kinds and statuses, ids, generation from the search space, and
// pruning by the resource model (docs/autotune.md, "Flow").
#ifndef ATTN_AUTOTUNE_CANDIDATE_H
#define ATTN_AUTOTUNE_CANDIDATE_H

#include "autotune/Resources.h"
#include "autotune/Table.h"
#include "autotune/Workloads.h"

namespace attn::tune {

/// What a candidate tunes. JSON spelling: "kernel", "split".
enum class CandidateKind { Kernel, Split };

/// Where a candidate stands. JSON spelling: "new" (not compiled yet), "ok",
/// "pruned" (by the resource model), "failed" (did not compile).
enum class CandidateStatus { New, Ok, Pruned, Failed };

llvm::StringRef kindName(CandidateKind kind);
llvm::StringRef statusName(CandidateStatus status);
/// The enum of a JSON spelling; an error naming the expected spellings else.
llvm::Expected<CandidateKind> parseKind(llvm::StringRef name);
llvm::Expected<CandidateStatus> parseStatus(llvm::StringRef name);

/// The settings of an attn-tune run that the library needs.
struct TuneOptions {
  std::string target = "sm_90"; // sm_89, sm_90 or sm_90a
  std::string bundleDir = "tune_bundle";
  std::string space = "gpu"; // searchSpace
  std::string compiler;      // the compiler version written into packs
  int64_t maxSpillBytes = 0;
  int64_t maxPrefillSpillBytes = -1; // -1: maxSpillBytes
  /// The kernel candidates of these head dims alone; empty: every one.
  std::vector<int64_t> headDims;

  /// The spill limit of kernels of `op`.
  int64_t spillLimit(llvm::StringRef op) const;
};

/// One compiled kernel of a candidate and its resources.
struct KernelRecord {
  KernelKey key;
  std::string name;
  KernelResources resources;
  int64_t blocksPerSm = 0;
};

/// A candidate: one pipeline configuration applied to the kernels of one
/// group (prefill: the packed and the paged kernel of a dtype, D and mask;
/// decode: one kernel), or one split-KV policy (kind Split), timed with the
/// fastest decode kernel of splitKernelKey().
struct Candidate {
  std::string id;
  CandidateKind kind = CandidateKind::Kernel;
  std::vector<KernelKey> keys;    // timed
  std::vector<KernelKey> checked; // compiled and judged, not timed
  Knobs knobs;
  DecodeSplit split;                  // of a split candidate
  std::vector<std::string> workloads; // the names of those that rank it
  CandidateStatus status = CandidateStatus::New;
  std::string reason;
  bool baseline = false; // today's table: timed even if pruned
  std::vector<KernelRecord> kernels;

  bool isSplit() const { return kind == CandidateKind::Split; }
  bool isOk() const { return status == CandidateStatus::Ok; }
  const std::string &op() const { return keys.front().op; }
  bool hasPack() const {
    return status == CandidateStatus::Ok ||
           (baseline && status == CandidateStatus::Pruned);
  }
};

/// The name of the kernel group of `key`, e.g.
/// decode_bf16_d128_g2_paged_causal or prefill_bf16_d128_causal.
std::string groupId(const KernelKey &key);

/// A candidate's id: its group and knobs (decode_..._n32_s2_t128), or its
/// split policy (split_c4_k1024).
std::string candidateId(const Candidate &c);

/// The candidates of search space `space`: the knob grids of searchSpace, then
/// the split policies of splitSpace; the one matching `table` is the baseline.
std::vector<Candidate> generateCandidates(llvm::StringRef space,
                                          const Table &table,
                                          const std::vector<Workload> &all);

/// Prunes a compiled candidate whose kernel spills more than its limit or
/// exceeds a limit of the target, and records each kernel's CTAs per SM.
void judge(Candidate &c, const TargetLimits &limits,
           const TuneOptions &options);

/// The resources of the timed kernels, then the worst of the checked ones.
std::string describe(const Candidate &c);

/// The candidate with id `id`, or null.
const Candidate *findCandidate(const std::vector<Candidate> &candidates,
                               llvm::StringRef id);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_CANDIDATE_H
