// The split-KV policy: split counts, the policies searched, and the choice.
#include "autotune/SplitPolicy.h"

#include "abi/split_policy.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace llvm;

namespace attn::tune {

int64_t decodeNumSplits(const DecodeSplit &policy, int64_t ctas,
                        int64_t smCount, int64_t maxSeqlenK) {
  // The runtime's function (abi/split_policy.h).
  return abi::decodeSplits({int(policy.ctasPerSm), int(policy.minKeysPerSplit)},
                           ctas, smCount, maxSeqlenK);
}

int64_t workloadNumSplits(const DecodeSplit &policy, const Workload &w,
                          int64_t smCount) {
  int64_t maxLen = 0, ctas = 0;
  for (auto [lq, lk] : w.seqlens) {
    maxLen = std::max(maxLen, lk);
    ctas += lq * w.numKvHeads;
  }
  return decodeNumSplits(policy, ctas, smCount, maxLen);
}

std::vector<DecodeSplit> splitSpace() {
  std::vector<DecodeSplit> splits;
  for (int64_t ctas : {2, 4, 8})
    for (int64_t keys : {512, 1024, 2048}) {
      DecodeSplit split;
      split.ctasPerSm = ctas;
      split.minKeysPerSplit = keys;
      splits.push_back(split);
    }
  return splits;
}

KernelKey splitKernelKey() { return {"decode", "bf16", 128, 2, true, true}; }

namespace {

/// The report's table: each policy's time and splits on each workload.
void reportPolicies(const std::vector<const Candidate *> &splits,
                    const std::vector<Workload> &splitWorkloads,
                    const std::vector<std::string> &workloadNames,
                    const Times &times, StringRef best,
                    const TargetLimits &limits, raw_ostream &os) {
  DecodeSplit defaults;
  os << " geometric mean (ms) |\n|---|";
  for (size_t i = 0; i <= workloadNames.size(); ++i)
    os << "---|";
  os << "\n";
  for (const Candidate *c : splits) {
    os << "| " << c->id << " (" << c->split.ctasPerSm << ", "
       << c->split.minKeysPerSplit << ")" << (c->id == best ? " **tuned**" : "")
       << (c->split.samePolicy(defaults) ? " default" : "") << " |";
    for (const Workload &w : splitWorkloads) {
      double t = times.count(c->id) && times.at(c->id).count(w.name)
                     ? times.at(c->id).at(w.name)
                     : std::nan("");
      os << " " << formatMs(t) << " ("
         << workloadNumSplits(c->split, w, limits.smCount) << ") |";
    }
    os << " "
       << formatMs(times.count(c->id) ? geomean(times.at(c->id), workloadNames)
                                      : std::nan(""))
       << " |\n";
  }
}

} // namespace

void chooseSplit(const std::vector<Candidate> &candidates,
                 const std::vector<Workload> &workloads, const Times &times,
                 Table &table, StringRef source, StringRef kernel,
                 const TargetLimits &limits, raw_ostream &os,
                 raw_ostream &log) {
  std::vector<const Candidate *> splits;
  std::vector<std::string> ids;
  for (const Candidate &c : candidates)
    if (c.isSplit()) {
      splits.push_back(&c);
      ids.push_back(c.id);
    }
  if (splits.empty())
    return;
  std::vector<Workload> splitWorkloads =
      workloadsFor(workloads, splits.front()->keys.front());
  std::vector<std::string> workloadNames = nameList(splitWorkloads);
  std::string best = selectFastest(ids, workloadNames, times);
  os << "\n## Decode split policy\n\n";
  if (best.empty()) {
    os << "No split policy has a time for each of its workloads; "
          "decode_split is left as it was.\n";
    log << "attn-tune: no split policy timed on every workload; "
           "decode_split is left as it was\n";
    return;
  }
  const Candidate &winner = *findCandidate(candidates, best);
  DecodeSplit defaults;
  const Candidate *baseline = nullptr;
  for (const Candidate *c : splits)
    if (c->split.samePolicy(defaults))
      baseline = c;
  double score = geomean(times.at(best), workloadNames);
  double defaultScore = baseline && times.count(baseline->id)
                            ? geomean(times.at(baseline->id), workloadNames)
                            : std::nan("");
  os << "Each policy's pack holds the decode kernel " << kernel
     << "; splits are the runtime's choice on " << limits.smCount << " SMs ("
     << limits.modelDevice << "). Default = (4, 1024), the "
     << "runtime's.\n\n| policy (ctas_per_sm, min_keys_per_split) |";
  for (const std::string &name : workloadNames)
    os << " " << name << " (ms, splits) |";
  reportPolicies(splits, splitWorkloads, workloadNames, times, best, limits,
                 os);
  std::string summary = best + ": geometric mean " +
                        formatv("{0:F3}", score).str() + " ms over " +
                        std::to_string(workloadNames.size()) +
                        " workload(s) with " + kernel.str() +
                        "; default (4, 1024) " + formatMs(defaultScore) + " ms";
  os << "\nTuned: " << summary << ".\n";
  // A table measured on a GPU keeps its policy: the model fills in kernels.
  if (source == "modelled" && (table.split.source == "measured" ||
                               table.provenance.method == "measured")) {
    log << "attn-tune: split policy " << best << " by the model; the "
        << table.target << " table is measured, its decode_split stays\n";
    return;
  }
  table.split.ctasPerSm = winner.split.ctasPerSm;
  table.split.minKeysPerSplit = winner.split.minKeysPerSplit;
  table.split.source = source.str();
  table.split.note = summary;
  log << "attn-tune: decode_split -> (" << winner.split.ctasPerSm << ", "
      << winner.split.minKeysPerSplit << ") (" << best << ", "
      << formatv("{0:F3}", score) << " ms; default " << formatMs(defaultScore)
      << " ms)\n";
}

} // namespace attn::tune
