// Tuning tables, the per-target resource model, candidate selection and the
// roofline + occupancy model of attn-tune (docs/autotune.md). LLVM Support only.
#ifndef ATTN_AUTOTUNE_TUNING_H
#define ATTN_AUTOTUNE_TUNING_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace attn::tune {

//===----------------------------------------------------------------------===//
// Tables: autotune/tables/<target>.json
//===----------------------------------------------------------------------===//

/// What a kernel of the pack is specialised for (the manifest's keys).
struct KernelKey {
  std::string op; // decode or prefill
  std::string dtype;
  int64_t headDim = 0;
  int64_t group = 0; // decode only
  bool paged = false;
  bool causal = false;
  bool operator==(const KernelKey &o) const {
    return op == o.op && dtype == o.dtype && headDim == o.headDim &&
           group == o.group && paged == o.paged && causal == o.causal;
  }
};

/// The pass options of one kernel (AttnPipelineOptions).
struct Knobs {
  int64_t blockM = 0; // prefill; decode: heads per CTA of the any-group kernel
  int64_t blockN = 0;
  int64_t stages = 0;
  int64_t threads = 0;
  bool operator==(const Knobs &o) const {
    return blockM == o.blockM && blockN == o.blockN && stages == o.stages &&
           threads == o.threads;
  }
};

/// An entry matches a kernel when every field it names equals the kernel's;
/// a field left out matches anything (an entry naming only `op` is that op's
/// default).
struct TableEntry {
  std::string op;
  std::optional<std::string> dtype;
  std::optional<int64_t> headDim, group;
  std::optional<bool> paged, causal;
  Knobs knobs;
  /// How the knobs were chosen: "default", "measured" or "modelled", with a
  /// line saying from what (e.g. the winning time and the runner-up).
  std::string source = "default";
  std::string note;

  bool matches(const KernelKey &key) const;
  /// The number of fields named: the most specific matching entry wins.
  int specificity() const;
};

struct Provenance {
  std::string method; // default, measured or modelled
  std::string gpu, driver, date, compiler, notes;
};

/// The runtime's split-KV heuristic: splits until about ctasPerSm CTAs per
/// SM, at least minKeysPerSplit keys each (runtime/decode_plan.cpp).
struct DecodeSplit {
  int64_t ctasPerSm = 4;
  int64_t minKeysPerSplit = 1024;
  /// How the policy was chosen ("default", "measured" or "modelled"), with a
  /// line saying from what (the winner's time, the kernel it was timed with).
  std::string source = "default";
  std::string note;

  bool samePolicy(const DecodeSplit &o) const {
    return ctasPerSm == o.ctasPerSm && minKeysPerSplit == o.minKeysPerSplit;
  }
  /// The splits the runtime chooses for `ctas` CTAs (batch x KV heads x query
  /// tokens) on `smCount` SMs, the longest sequence having `maxSeqlenK` keys.
  int64_t numSplits(int64_t ctas, int64_t smCount, int64_t maxSeqlenK) const;
};

struct Table {
  std::string target;
  Provenance provenance;
  DecodeSplit split;
  std::vector<TableEntry> entries;

  /// The most specific entry matching `key` (the first of equals), or null.
  const TableEntry *lookup(const KernelKey &key) const;
  /// Replaces the entry with the same fields as `entry`, else appends it.
  void upsert(const TableEntry &entry);
};

llvm::Expected<Table> parseTable(llvm::StringRef json);
/// Stable JSON text (fixed key order, entries in table order).
std::string printTable(const Table &table);
llvm::Expected<Table> readTable(llvm::StringRef path);
llvm::Error writeTable(llvm::StringRef path, const Table &table);

//===----------------------------------------------------------------------===//
// Resource model
//===----------------------------------------------------------------------===//

/// Per-target limits, from the CUDA C++ Programming Guide's table of technical
/// specifications per compute capability (cited in docs/autotune.md), and
/// the device figures the roofline model uses.
struct TargetLimits {
  std::string target;
  int64_t smemPerBlockOptIn;    // bytes a block may use, opted in
  int64_t smemPerSm;            // bytes per SM
  int64_t smemReservedPerBlock; // reserved by the system per block
  int64_t regsPerSm;
  int64_t regsPerBlock;
  int64_t regsPerThread;
  int64_t regAllocUnit; // registers per warp are allocated in these units
  int64_t maxThreadsPerBlock;
  int64_t maxThreadsPerSm;
  int64_t maxBlocksPerSm;
  // The model's device (docs/autotune.md names it).
  std::string modelDevice;
  int64_t smCount;
  double clockHz;
  double dramBytesPerSecond;
  double mmaFlopsPerSecond; // dense bf16/f16 MMA, f32 accumulate
};

/// sm_89 or sm_90; null for another target.
const TargetLimits *limitsFor(llvm::StringRef target);

/// What ptxas reports for one kernel, what the launch adds, and the size of
/// its code (the model's issue time).
struct KernelResources {
  int64_t registers = 0;
  int64_t spillStoreBytes = 0;
  int64_t spillLoadBytes = 0;
  int64_t stackBytes = 0;
  int64_t staticSmemBytes = 0;
  int64_t dynamicSmemBytes = 0;
  int64_t threads = 0;
  /// PTX instructions of the kernel, and of one iteration of its KV tile
  /// loop (countPtxInstructions); 0 when unknown.
  int64_t kernelInstructions = 0;
  int64_t loopInstructions = 0;
};

/// Parses the ptxas lines of `log` (ptxas -v, or nvJitLink -verbose) about
/// `kernel`: "Used N registers", "N bytes spill stores", "N bytes smem".
llvm::Expected<KernelResources> parsePtxasInfo(llvm::StringRef log,
                                               llvm::StringRef kernel);

struct InstructionCounts {
  int64_t kernel = 0; // instruction statements of the entry's body
  int64_t kvLoop = 0; // of the innermost loop holding a cp.async.wait_group
};

/// Counts the PTX instructions of entry `kernel` and of its KV tile loop (the
/// innermost backward branch whose body waits on cp.async groups; 0 when
/// there is none). A conditional block in the loop (the prefetch, the mask of
/// a partial tile) counts as executed.
llvm::Expected<InstructionCounts> countPtxInstructions(llvm::StringRef ptx,
                                                       llvm::StringRef kernel);

struct Verdict {
  bool ok = true;
  std::string reason; // why it was pruned
  int64_t blocksPerSm = 0;
};

/// Prunes a kernel that spills more than maxSpillBytes or exceeds a limit of
/// `limits`; else gives its resident blocks per SM.
Verdict checkResources(const KernelResources &resources,
                       const TargetLimits &limits, int64_t maxSpillBytes = 0);

//===----------------------------------------------------------------------===//
// Search space
//===----------------------------------------------------------------------===//

/// Kernels tuned together and the knob grid they share. `keys` are timed
/// (prefill: the packed and the paged kernel of a dtype, D and mask; decode:
/// the paged causal kernel); `checked` take the same knobs from the table
/// entry and are compiled only to be pruned with the others (decode: the
/// paged non-causal and the contiguous kernels).
struct SpaceGroup {
  std::vector<KernelKey> keys;
  std::vector<KernelKey> checked;
  std::vector<Knobs> grid;
};

/// Whether the decode lowering accepts `knobs` for head dimension `headDim`:
/// a row of D elements takes D / 8 threads (16 bytes each), which must divide
/// a warp, and block_n must be a multiple of the row groups, threads / (D / 8)
/// (passes/LowerToGpu.cpp).
bool decodeKnobsValid(int64_t headDim, const Knobs &knobs);

/// The search space `space` ("gpu": small enough to time; "wide": for the
/// model) as groups of kernels and their knob grids.
std::vector<SpaceGroup> searchSpace(llvm::StringRef space);

/// The split-KV policies searched: ctas_per_sm {2, 4, 8} x min_keys_per_split
/// {512, 1024, 2048}, in that order.
std::vector<DecodeSplit> splitSpace();

/// The decode kernel key the split policy is timed with: the decode
/// benchmark's (bf16, D 128, G 2, paged, causal).
KernelKey splitKernelKey();

//===----------------------------------------------------------------------===//
// Selection and the model
//===----------------------------------------------------------------------===//

/// A benchmark workload (autotune/workloads.json).
struct Workload {
  std::string name, op, dtype;
  int64_t headDim = 0, numHeads = 0, numKvHeads = 0;
  bool paged = false, causal = true;
  std::vector<std::pair<int64_t, int64_t>> seqlens; // (Lq, Lk) per sequence

  KernelKey kernelKey() const;
};

llvm::Expected<std::vector<Workload>> parseWorkloads(llvm::StringRef json);

/// The workloads that rank kernel `key`: its benchmark workloads of `all`, or
/// for a kernel without any, its op's benchmark workloads (those of its
/// layout, `paged`, when there are) with its dtype, D and mask, and for decode
/// G query heads per KV head (the KV heads kept), each named after its source
/// with the changed fields, e.g. "1 seq, context 32768 [G 8]".
std::vector<Workload> workloadsFor(const std::vector<Workload> &all,
                                   const KernelKey &key);

/// Picks, among `candidates`, the one with the least geometric-mean time over
/// `workloads`; candidates without a time for each of them are skipped, ties go
/// to the smaller name. `times[candidate][workload]` in ms. Returns "" when
/// none has every time.
std::string
selectFastest(const std::vector<std::string> &candidates,
              const std::vector<std::string> &workloads,
              const std::map<std::string, std::map<std::string, double>> &times);

/// Spearman's rank correlation of two equally long series (average ranks for
/// ties); NaN with fewer than two values.
double spearman(const std::vector<double> &a, const std::vector<double> &b);

/// The roofline + occupancy model's time in ms of `knobs` (with `resources`
/// and `blocksPerSm` from the resource model) on `workload`, decode split as
/// `split` says on the model's device.
double modelTimeMs(const TargetLimits &limits, const Knobs &knobs,
                   const KernelResources &resources, int64_t blocksPerSm,
                   const Workload &workload, const DecodeSplit &split);

/// The model's time in ms of a decode kernel on `workload` with `numSplits`
/// splits (the runtime's num_splits argument).
double modelDecodeTimeMs(const TargetLimits &limits, const Knobs &knobs,
                         const KernelResources &resources, int64_t blocksPerSm,
                         const Workload &workload, int64_t numSplits);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_TUNING_H
