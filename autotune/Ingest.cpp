// Ingest of measured timings, and the model's ranking, into the tuning table.
#include "autotune/Ingest.h"

#include "autotune/Bundle.h"
#include "autotune/Model.h"
#include "autotune/SplitPolicy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <ctime>

using namespace llvm;

namespace attn::tune {

Expected<Timings> parseTimings(const json::Value &value, StringRef path) {
  const json::Object *root = value.getAsObject();
  const json::Object *times = root ? root->getObject("timings") : nullptr;
  if (!times)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": no 'timings' object");
  Timings t{root->getString("gpu").value_or("").str(),
            root->getString("driver").value_or("").str(),
            root->getString("date").value_or("").str(),
            {},
            {}};
  for (const auto &[id, perWorkload] : *times)
    if (const json::Object *o = perWorkload.getAsObject())
      for (const auto &[workload, ms] : *o)
        if (std::optional<double> v = ms.getAsNumber())
          t.times[id.str()][workload.str()] = *v;
  if (const json::Object *kernels = root->getObject("split_kernel"))
    for (const auto &[id, kernel] : *kernels)
      if (std::optional<StringRef> k = kernel.getAsString())
        t.splitKernel[id.str()] = k->str();
  return t;
}

Expected<Timings> readTimings(StringRef path) {
  Expected<json::Value> value = readJson(path);
  if (!value)
    return value.takeError();
  return parseTimings(*value, path);
}

std::string todayUtc() {
  std::time_t now = std::time(nullptr);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", std::gmtime(&now));
  return buffer;
}

namespace {

/// The kernel name of the decode kernel the split policies are timed with.
std::string splitGroup() { return groupId(splitKernelKey()); }

/// The report's section of the model against the measurement, and the mean
/// rho per kind of candidate.
void reportCorrelation(const RankInputs &in, const Times &modelled,
                       const Timings &measured, raw_ostream &os,
                       raw_ostream &log) {
  std::vector<std::string> kernelIds, splitIds;
  for (const Candidate &c : in.candidates)
    if (c.isOk())
      (c.isSplit() ? splitIds : kernelIds).push_back(c.id);
  std::vector<Workload> all;
  for (const Candidate &c : in.candidates)
    for (const KernelKey &key : c.keys)
      for (const Workload &w : workloadsFor(in.workloads, key))
        if (!llvm::any_of(all,
                          [&](const Workload &x) { return x.name == w.name; }))
          all.push_back(w);
  double kernelSum = 0, splitSum = 0;
  int kernelCount = 0, splitCount = 0;
  os << "\n## Model against measurement (" << measured.gpu
     << ")\n\n| candidates | workload | timed | Spearman rho |\n"
        "|---|---|---|---|\n";
  // The kernels' rows first, then the split policies' (their log lines too).
  std::string kernelRows = correlate(all, kernelIds, modelled, measured.times,
                                     "kernels", kernelSum, kernelCount, log);
  std::string splitRows =
      correlate(all, splitIds, modelled, measured.times, "split policies",
                splitSum, splitCount, log);
  os << kernelRows << splitRows;
  if (kernelCount)
    log << "attn-tune: mean Spearman rho "
        << formatv("{0:F2}", kernelSum / kernelCount) << " over " << kernelCount
        << " workloads (kernels)\n";
  if (splitCount)
    log << "attn-tune: mean Spearman rho "
        << formatv("{0:F2}", splitSum / splitCount) << " over " << splitCount
        << " workloads (split policies)\n";
}

} // namespace

void ingestTimings(const RankInputs &in, const Timings &timings, Table &table,
                   raw_ostream &os, raw_ostream &log) {
  os << "# Tuned against untuned, " << in.limits.target << " on " << timings.gpu
     << " (driver " << timings.driver << "), " << timings.date
     << "\n\n`attn-tune --ingest` over the bundle's " << in.candidates.size()
     << " candidates; default = today's table before tuning (the baseline "
        "candidate, timed even when pruned), tuned = the fastest unpruned "
        "candidate (geometric mean over the kernel's workloads).\n\n";
  std::map<std::string, std::string> winners = chooseKernels(
      in.candidates, in.workloads, timings.times, table, "measured", os, log);
  // The harness timed the policies with the decode kernel it found fastest,
  // by the same rule.
  std::string kernel = winners.count(splitGroup()) ? winners[splitGroup()] : "";
  for (const auto &[id, used] : timings.splitKernel)
    if (used != kernel) {
      log << "attn-tune: warning: " << id << " was timed with " << used
          << ", not the chosen " << kernel << "\n";
      os << "\nWarning: " << id << " was timed with " << used
         << ", not the chosen " << kernel << ".\n";
      kernel = used;
    }
  chooseSplit(in.candidates, in.workloads, timings.times, table, "measured",
              kernel, in.limits, os, log);
  bool splits = llvm::any_of(in.candidates,
                             [](const Candidate &c) { return c.isSplit(); });
  table.provenance = {
      "measured",
      timings.gpu,
      timings.driver,
      timings.date,
      in.compiler.str(),
      std::string("attn-tune --ingest: fastest unpruned candidate per kernel "
                  "over its workloads (CUDA events, median)") +
          (splits ? ", then the fastest split policy with the chosen decode "
                    "kernel"
                  : "") +
          "; entries with source modelled or default are not from this GPU "
          "run"};
}

void rankByModel(const RankInputs &in, const Timings *measured, Table &table,
                 StringRef date, raw_ostream &os, raw_ostream &log) {
  Times modelled =
      modelTimes(in.candidates, in.workloads, in.limits, table.split);
  os << "# Model ranking, " << in.limits.target << " (" << in.limits.modelDevice
     << " figures), " << date
     << "\n\nTimes are the model's (docs/autotune.md); default = today's "
        "table.\n\n";
  std::map<std::string, std::string> winners = chooseKernels(
      in.candidates, in.workloads, modelled, table, "modelled", os, log);
  // The split policies run with the model's decode kernel, or with the one
  // the harness timed them with when the model is checked against it.
  std::string kernel = winners.count(splitGroup()) ? winners[splitGroup()] : "";
  if (measured && !measured->splitKernel.empty())
    kernel = measured->splitKernel.begin()->second;
  if (const Candidate *k = findCandidate(in.candidates, kernel);
      k && !k->kernels.empty()) {
    modelSplitTimes(in.candidates, *k, in.workloads, in.limits, modelled);
    chooseSplit(in.candidates, in.workloads, modelled, table, "modelled",
                kernel, in.limits, os, log);
  }
  if (table.provenance.method != "measured")
    table.provenance = {"modelled",
                        in.limits.modelDevice + " (model figures)",
                        "",
                        date.str(),
                        in.compiler.str(),
                        "attn-tune --model: roofline + occupancy model of "
                        "docs/autotune.md over the benchmark workloads; "
                        "other kernels keep the default entries"};
  if (measured)
    reportCorrelation(in, modelled, *measured, os, log);
}

} // namespace attn::tune
