// attn-tune: the command line of the tuner (docs/autotune.md). It compiles
// tiling candidates into a bundle of packs, pruned with the target's resource
// model (autotune/Compile.h), and turns GPU timings or the roofline model into
// the tuning tables autotune/tables/<target>.json (autotune/Ingest.h).
#include "autotune/Compile.h"
#include "autotune/SearchSpace.h"
#include "autotune/Tuning.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>

using namespace llvm;
namespace tune = attn::tune;

static cl::opt<std::string> target("target", cl::desc("sm_89, sm_90 or sm_90a"),
                                   cl::init("sm_90"));
static cl::opt<std::string> bundleDir("bundle", cl::desc("Bundle directory"),
                                      cl::init("tune_bundle"));
static cl::opt<std::string>
    space("space",
          cl::desc("Candidate space: gpu (small enough to time), wide "
                   "(for the model), head-dims (decode of the head dims "
                   "but 128, whole program), decode-lanes (decode lanes a "
                   "row at D 32-160), decode-kv-heads (2 or 4 KV heads a "
                   "decode CTA at D 32-160), decode-mma (tensor-core "
                   "decode of G 2, 4, 8 at every head dim), "
                   "decode-mma-kv-heads (tensor-core decode of 2 or 4 KV "
                   "heads a CTA at D 32 and 64), decode-lagging (the "
                   "decode below 90% of copy: 8 KV heads a CTA at D 32, "
                   "tensor cores at D 80-256, 128 threads at D 160-256) "
                   "or wgmma (sm_90a's prefill "
                   "of every head dim)"),
          cl::init("gpu"));
static cl::opt<int64_t>
    maxSpillBytes("max-spill-bytes",
                  cl::desc("Prune candidates spilling more (bytes)"),
                  cl::init(0));
static cl::opt<int64_t> maxPrefillSpillBytes(
    "max-prefill-spill-bytes",
    cl::desc("The limit for prefill kernels (default: --max-spill-bytes)"),
    cl::init(-1));
static cl::list<int64_t>
    headDims("head-dims", cl::CommaSeparated,
             cl::desc("Compile the kernel candidates of these head dims "
                      "alone (e.g. 64,128; default: the space's all)"));
static cl::opt<std::string>
    tablePath("table",
              cl::desc("Tuning table to update (default "
                       "autotune/tables/<target>.json)"),
              cl::init(""));
static cl::opt<std::string>
    workloadsPath("workloads", cl::desc("Benchmark workloads"),
                  cl::init(ATTN_SOURCE_DIR "/autotune/workloads.json"));
static cl::opt<std::string>
    ingest("ingest",
           cl::desc("timings.json from bench/tune_harness.py: "
                    "choose the fastest candidate per entry"),
           cl::init(""));
static cl::opt<bool> model("model",
                           cl::desc("Rank the bundle's candidates with the "
                                    "roofline + occupancy model"),
                           cl::init(false));
static cl::opt<std::string>
    timingsPath("timings",
                cl::desc("With --model: measured timings to "
                         "correlate the model's ranking with"),
                cl::init(""));
static cl::opt<std::string>
    reportPath("report", cl::desc("Markdown report of --ingest or --model"),
               cl::init(""));
static cl::opt<bool> dryRun("dry-run",
                            cl::desc("Print the result, write no table"),
                            cl::init(false));

namespace {

/// Prints `error` and gives the exit status of a failed run.
int fail(Error error) {
  errs() << "attn-tune: " << toString(std::move(error)) << "\n";
  return 1;
}

tune::TuneOptions tuneOptions() {
  tune::TuneOptions options;
  options.target = target;
  options.bundleDir = bundleDir;
  options.space = space;
  options.compiler = ATTN_COMPILER_VERSION;
  options.maxSpillBytes = maxSpillBytes;
  options.maxPrefillSpillBytes = maxPrefillSpillBytes;
  options.headDims.assign(headDims.begin(), headDims.end());
  return options;
}

std::string defaultTablePath() {
  return tablePath.empty() ? std::string(ATTN_SOURCE_DIR "/autotune/tables/") +
                                 target + ".json"
                           : std::string(tablePath);
}

int compile(const tune::TargetLimits &limits) {
  // sm_90a's kernels are the wgmma prefill kernels alone, and those are
  // sm_90a's alone.
  StringRef wanted = tune::spaceTarget(space);
  if ((StringRef(target) == "sm_90a" || !wanted.empty()) && wanted != target) {
    errs() << "attn-tune: --space " << space << " is for --target "
           << (wanted.empty() ? StringRef("sm_89 or sm_90") : wanted)
           << " (sm_90a's space is wgmma), got --target " << target << "\n";
    return 1;
  }
  Expected<tune::Table> table = tune::readTable(defaultTablePath());
  if (!table)
    return fail(table.takeError());
  Expected<std::vector<tune::Workload>> workloads =
      tune::readWorkloads(workloadsPath);
  if (!workloads)
    return fail(workloads.takeError());
  if (Error error = tune::compileBundle(tuneOptions(), limits, *table,
                                        *workloads, outs()))
    return fail(std::move(error));
  return 0;
}

int ingestOrModel(const tune::TargetLimits &limits) {
  Expected<tune::Bundle> bundle = tune::readBundle(bundleDir);
  if (!bundle)
    return fail(bundle.takeError());
  if (bundle->target != limits.target) {
    errs() << "attn-tune: the bundle is for " << bundle->target << ", not "
           << limits.target << "\n";
    return 1;
  }
  Expected<std::vector<tune::Workload>> workloads =
      tune::readWorkloads(workloadsPath);
  if (!workloads)
    return fail(workloads.takeError());
  std::string path = defaultTablePath();
  Expected<tune::Table> table = tune::readTable(path);
  if (!table)
    return fail(table.takeError());
  std::optional<tune::Timings> timings;
  if (StringRef file = !ingest.empty() ? ingest : timingsPath; !file.empty()) {
    Expected<tune::Timings> read = tune::readTimings(file);
    if (!read)
      return fail(read.takeError());
    timings = std::move(*read);
  }
  std::string report;
  raw_string_ostream os(report);
  tune::RankInputs in{bundle->candidates, *workloads, limits,
                      ATTN_COMPILER_VERSION};
  if (!ingest.empty())
    tune::ingestTimings(in, *timings, *table, os, outs());
  else
    tune::rankByModel(in, timings ? &*timings : nullptr, *table,
                      tune::todayUtc(), os, outs());
  if (!reportPath.empty())
    if (Error error = tune::writeFile(reportPath, report))
      return fail(std::move(error));
  if (dryRun) {
    outs() << tune::printTable(*table);
    return 0;
  }
  if (Error error = tune::writeTable(path, *table))
    return fail(std::move(error));
  outs() << "attn-tune: wrote " << path << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "attn-tune: tile and chunk sizes per target\n");
  const tune::TargetLimits *limits = tune::limitsFor(target);
  if (!limits) {
    errs() << "attn-tune: --target must be sm_89, sm_90 or sm_90a, got '"
           << target << "'\n";
    return 1;
  }
  if (!tune::isSearchSpace(space)) {
    errs() << "attn-tune: --space must be gpu, wide, head-dims, decode-lanes, "
              "decode-kv-heads, decode-mma, decode-mma-kv-heads, "
              "decode-lagging or wgmma, "
              "got '"
           << space << "'\n";
    return 1;
  }
  if (!ingest.empty() || model)
    return ingestOrModel(*limits);
  return compile(*limits);
}
