// Selection and ranking: geometric means, rank correlation, each kernel's
// winner and its table entry.
#include "autotune/Selection.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace llvm;

namespace attn::tune {

std::string selectFastest(const std::vector<std::string> &candidates,
                          const std::vector<std::string> &workloads,
                          const Times &times) {
  std::string best;
  double bestScore = 0;
  std::vector<std::string> sorted = candidates;
  llvm::sort(sorted);
  for (const std::string &candidate : sorted) {
    auto it = times.find(candidate);
    if (it == times.end() || workloads.empty())
      continue;
    double logSum = 0;
    bool complete = true;
    for (const std::string &workload : workloads) {
      auto t = it->second.find(workload);
      if (t == it->second.end() || !(t->second > 0)) {
        complete = false;
        break;
      }
      logSum += std::log(t->second);
    }
    if (!complete)
      continue;
    double score = logSum / workloads.size();
    if (best.empty() || score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

static std::vector<double> averageRanks(const std::vector<double> &values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]])
      ++j;
    for (size_t k = i; k <= j; ++k)
      ranks[order[k]] = (double(i) + double(j)) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

double spearman(const std::vector<double> &a, const std::vector<double> &b) {
  if (a.size() != b.size() || a.size() < 2)
    return std::nan("");
  std::vector<double> ra = averageRanks(a), rb = averageRanks(b);
  double n = a.size();
  double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (va == 0 || vb == 0)
    return std::nan("");
  return cov / std::sqrt(va * vb);
}

double geomean(const std::map<std::string, double> &times,
               const std::vector<std::string> &workloads) {
  double logSum = 0;
  for (const std::string &name : workloads) {
    auto it = times.find(name);
    if (it == times.end() || !(it->second > 0))
      return std::nan("");
    logSum += std::log(it->second);
  }
  return workloads.empty() ? std::nan("") : std::exp(logSum / workloads.size());
}

std::string formatMs(double value) {
  return std::isnan(value) ? std::string("-") : formatv("{0:F3}", value).str();
}

TableEntry entryFor(const KernelKey &key, StringRef target) {
  TableEntry entry;
  entry.op = key.op;
  entry.headDim = key.headDim;
  if (key.op == "decode") {
    entry.dtype = key.dtype;
    entry.group = key.group;
  } else {
    entry.paged = key.paged;
    if (target != "sm_90a") {
      entry.dtype = key.dtype;
      entry.causal = key.causal;
    }
  }
  return entry;
}

namespace {

/// A kernel the candidates time and the candidates that time it.
struct KernelChoice {
  KernelKey key;
  std::vector<const Candidate *> candidates;
};

/// The kernels of the kernel candidates, first seen first.
std::vector<KernelChoice> kernelChoices(const std::vector<Candidate> &all) {
  std::vector<KernelChoice> choices;
  for (const Candidate &c : all) {
    if (c.isSplit())
      continue;
    for (const KernelKey &key : c.keys) {
      auto it = llvm::find_if(choices, [&](const KernelChoice &k) {
        return groupId(k.key) == groupId(key) && k.key.paged == key.paged;
      });
      if (it == choices.end()) {
        choices.push_back({key, {}});
        it = std::prev(choices.end());
      }
      it->candidates.push_back(&c);
    }
  }
  return choices;
}

/// Why kernel `choice` has no winner; with every candidate pruned, how far
/// the least spilling one is from the limit.
std::string whyNoWinner(const KernelChoice &choice, size_t unpruned,
                        size_t workloads) {
  if (unpruned)
    return "no candidate with a time for each of its " +
           std::to_string(workloads) + " workloads";
  const Candidate *least = nullptr;
  auto spill = [](const Candidate *c) {
    int64_t bytes = 0;
    for (const KernelRecord &k : c->kernels)
      bytes = std::max(bytes, k.resources.spillStoreBytes);
    return bytes;
  };
  for (const Candidate *c : choice.candidates)
    if (c->status == CandidateStatus::Pruned &&
        (!least || spill(c) < spill(least)))
      least = c;
  return "all " + std::to_string(choice.candidates.size()) +
         " candidates pruned" +
         (least ? "; the least spilling, " + least->id + ", spills " +
                      std::to_string(spill(least)) + " B"
                : std::string());
}

/// Writes `entry`, chosen with `source`, into `table`: a modelled entry
/// leaves a measured one as it is; a decode entry of dtype, D and G replaces
/// those naming the layout or the mask as well (tables before the decode
/// entries were per dtype, D and G), except measured ones when it is
/// modelled.
void applyEntry(Table &table, const TableEntry &entry, StringRef source,
                StringRef kernelName, StringRef best, double score,
                raw_ostream &log) {
  auto existing = llvm::find_if(
      table.entries, [&](const TableEntry &e) { return e.sameFields(entry); });
  if (source == "modelled" && existing != table.entries.end() &&
      existing->source == "measured") {
    log << "attn-tune: " << kernelName << " -> " << best
        << " by the model; its measured entry stays\n";
    return;
  }
  if (entry.op == "decode")
    llvm::erase_if(table.entries, [&](const TableEntry &e) {
      return e.op == "decode" && e.dtype == entry.dtype &&
             e.headDim == entry.headDim && e.group == entry.group &&
             (e.paged || e.causal) &&
             (source == "measured" || e.source != "measured");
    });
  table.upsert(entry);
  log << "attn-tune: " << kernelName << " -> " << best << " ("
      << formatv("{0:F3}", score) << " ms)\n";
}

std::string baselineText(const Candidate *baseline, bool withReason) {
  if (!baseline)
    return "-";
  std::string text = baseline->id + ": " + statusName(baseline->status).str();
  if (withReason && !baseline->reason.empty())
    text += " (" + baseline->reason + ")";
  return text;
}

} // namespace

std::map<std::string, std::string>
chooseKernels(const std::vector<Candidate> &candidates,
              const std::vector<Workload> &workloads, const Times &times,
              Table &table, StringRef source, raw_ostream &os,
              raw_ostream &log) {
  std::map<std::string, std::string> winners;
  std::string resources;
  raw_string_ostream rs(resources);
  os << "| kernel | workload | default (ms) | tuned (ms) | speed-up | tuned "
        "knobs |\n|---|---|---|---|---|---|\n";
  for (const KernelChoice &choice : kernelChoices(candidates)) {
    const KernelKey &key = choice.key;
    std::vector<std::string> workloadNames =
        nameList(workloadsFor(workloads, key));
    std::vector<std::string> ok;
    const Candidate *baseline = nullptr;
    for (const Candidate *c : choice.candidates) {
      if (c->isOk())
        ok.push_back(c->id);
      if (c->baseline)
        baseline = c;
    }
    std::string kernelName =
        groupId(key) +
        (key.op == "prefill" ? (key.paged ? " paged" : " packed") : "");
    std::string best = selectFastest(ok, workloadNames, times);
    if (best.empty()) {
      std::string why = whyNoWinner(choice, ok.size(), workloadNames.size());
      log << "attn-tune: " << kernelName << ": " << why
          << "; its entry is left as it was\n";
      rs << "| " << kernelName << " | - (" << why << ") | - | "
         << baselineText(baseline, false) << " |\n";
      continue;
    }
    winners[kernelName] = best;
    const Candidate &winner = *findCandidate(candidates, best);
    double score = geomean(times.at(best), workloadNames);
    TableEntry entry = entryFor(key, table.target);
    entry.knobs = winner.knobs;
    // The kernel keeps its entry's split policy, which its candidates were
    // timed with (compileCandidate).
    if (const TableEntry *old = table.lookup(key))
      entry.split = old->split;
    entry.source = source.str();
    entry.note = best + ": geometric mean " + formatv("{0:F3}", score).str() +
                 " ms over " + std::to_string(workloadNames.size()) +
                 " workload(s), " + std::to_string(ok.size()) + " candidates";
    applyEntry(table, entry, source, kernelName, best, score, log);
    for (const std::string &name : workloadNames) {
      double tuned = times.at(best).at(name);
      double before = std::nan("");
      if (baseline && times.count(baseline->id) &&
          times.at(baseline->id).count(name))
        before = times.at(baseline->id).at(name);
      os << "| " << kernelName << " | " << name << " | " << formatMs(before)
         << " | " << formatMs(tuned) << " | "
         << (std::isnan(before) ? std::string("-")
                                : formatv("{0:F2}x", before / tuned).str())
         << " | " << best << " |\n";
    }
    rs << "| " << kernelName << " | " << best << " | " << describe(winner)
       << " | " << baselineText(baseline, true) << " |\n";
  }
  os << "\n| kernel | tuned | its resources | default |\n|---|---|---|---|\n"
     << resources;
  return winners;
}

std::string correlate(const std::vector<Workload> &workloads,
                      const std::vector<std::string> &ids,
                      const Times &modelled, const Times &measured,
                      StringRef what, double &sum, int &count,
                      raw_ostream &log) {
  std::string rows;
  for (const Workload &w : workloads) {
    std::vector<double> m, p;
    for (const std::string &id : ids) {
      auto mi = measured.find(id), pi = modelled.find(id);
      if (mi == measured.end() || pi == modelled.end() ||
          !mi->second.count(w.name) || !pi->second.count(w.name))
        continue;
      m.push_back(mi->second.at(w.name));
      p.push_back(pi->second.at(w.name));
    }
    if (m.empty())
      continue;
    double rho = spearman(m, p);
    if (!std::isnan(rho)) {
      sum += rho;
      ++count;
    }
    rows += "| " + what.str() + " | " + w.name + " | " +
            std::to_string(m.size()) + " | " + formatv("{0:F2}", rho).str() +
            " |\n";
    log << "attn-tune: Spearman rho " << formatv("{0:F2}", rho) << " on "
        << w.name << " (" << m.size() << " " << what << ")\n";
  }
  return rows;
}

} // namespace attn::tune
