// Ingest of measurements and the model's ranking: timings.json of
// bench/tune_harness.py (or the model's times) into the tuning table and a
// report (docs/autotune.md, "Flow", "The model").
#ifndef ATTN_AUTOTUNE_INGEST_H
#define ATTN_AUTOTUNE_INGEST_H

#include "autotune/Candidate.h"
#include "autotune/Selection.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

namespace attn::tune {

/// timings.json of bench/tune_harness.py.
struct Timings {
  std::string gpu, driver, date;
  Times times;
  /// The decode kernel each split candidate was timed with.
  std::map<std::string, std::string> splitKernel;
};

llvm::Expected<Timings> parseTimings(const llvm::json::Value &value,
                                     llvm::StringRef path);
llvm::Expected<Timings> readTimings(llvm::StringRef path);

/// What ingest and the model share: the bundle's candidates, the benchmark
/// workloads, the target and the compiler version written into provenance.
struct RankInputs {
  const std::vector<Candidate> &candidates;
  const std::vector<Workload> &workloads;
  const TargetLimits &limits;
  llvm::StringRef compiler;
};

/// --ingest: the fastest unpruned candidate per kernel by the measured
/// `timings`, then the fastest split policy with the chosen decode kernel
/// (warning when the harness timed them with another); updates `table`
/// (provenance measured), writes the report to `report` and progress lines
/// to `log`.
void ingestTimings(const RankInputs &in, const Timings &timings, Table &table,
                   llvm::raw_ostream &report, llvm::raw_ostream &log);

/// --model: as ingestTimings with the model's times (a measured table keeps
/// its measured entries, split policy and provenance); with `measured`,
/// the split policies run with the kernel the harness timed them with, and
/// the report correlates the model with the measurement. `date` goes into
/// the report and the provenance.
void rankByModel(const RankInputs &in, const Timings *measured, Table &table,
                 llvm::StringRef date, llvm::raw_ostream &report,
                 llvm::raw_ostream &log);

/// Today's date, UTC, as YYYY-MM-DD.
std::string todayUtc();

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_INGEST_H
