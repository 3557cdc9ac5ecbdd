// Selection and ranking: the fastest candidate by geometric mean, rank
// correlation, and choosing each kernel's entry from timings, measured or
// modelled (docs/autotune.md, "Flow").
#ifndef ATTN_AUTOTUNE_SELECTION_H
#define ATTN_AUTOTUNE_SELECTION_H

#include "autotune/Candidate.h"

#include "llvm/Support/raw_ostream.h"

#include <map>

namespace attn::tune {

/// Times in ms: times[candidate id][workload name].
using Times = std::map<std::string, std::map<std::string, double>>;

/// Picks, among `candidates`, the one with the least geometric-mean time over
/// `workloads`; candidates without a time for each of them are skipped, ties go
/// to the smaller name. `times[candidate][workload]` in ms. Returns "" when
/// none has every time.
std::string selectFastest(const std::vector<std::string> &candidates,
                          const std::vector<std::string> &workloads,
                          const Times &times);

/// The geometric mean of `times` over `workloads`; NaN when one is missing or
/// not positive, or there is none.
double geomean(const std::map<std::string, double> &times,
               const std::vector<std::string> &workloads);

/// A time in ms with three decimals, "-" for NaN.
std::string formatMs(double value);

/// Spearman's rank correlation of two equally long series (average ranks for
/// ties); NaN with fewer than two values.
double spearman(const std::vector<double> &a, const std::vector<double> &b);

/// The table entry for kernel `key`. A decode entry names dtype, D and G
/// only: the contiguous and the non-causal kernels differ from the paged
/// causal one that the benchmark times only in a key's address and the
/// mask, so they take its knobs. On sm_90a (`target`) a prefill entry names
/// D and the layout only: the wgmma kernels of both dtypes and every mask
/// share the tile (f16 changes the MMA's type, the mask which tiles run), and
/// the wgmma space compiles them beside the timed ones to prune together.
TableEntry entryFor(const KernelKey &key, llvm::StringRef target);

/// Chooses the fastest unpruned candidate per kernel key, updates the table
/// with `source` (a modelled choice leaves a measured entry as it is) and
/// writes the report's rows to `report`, progress lines to `log`. Returns the
/// winner per kernel name (groupId, and " packed" or " paged" for prefill).
std::map<std::string, std::string>
chooseKernels(const std::vector<Candidate> &candidates,
              const std::vector<Workload> &workloads, const Times &times,
              Table &table, llvm::StringRef source, llvm::raw_ostream &report,
              llvm::raw_ostream &log);

/// Spearman's rho of the model against measurement per workload, over the
/// candidates of `ids` that have both times, adding each rho to `sum` and
/// `count`; returns the report's rows ("| what | workload | n | rho |").
std::string correlate(const std::vector<Workload> &workloads,
                      const std::vector<std::string> &ids,
                      const Times &modelled, const Times &measured,
                      llvm::StringRef what, double &sum, int &count,
                      llvm::raw_ostream &log);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_SELECTION_H
