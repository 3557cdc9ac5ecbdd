// Candidates: kinds and statuses, ids, generation and pruning.
#include "autotune/Candidate.h"

#include "autotune/SearchSpace.h"
#include "autotune/SplitPolicy.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>

using namespace llvm;

namespace attn::tune {

StringRef kindName(CandidateKind kind) {
  switch (kind) {
  case CandidateKind::Kernel:
    return "kernel";
  case CandidateKind::Split:
    return "split";
  }
  llvm_unreachable("unknown candidate kind");
}

StringRef statusName(CandidateStatus status) {
  switch (status) {
  case CandidateStatus::New:
    return "new";
  case CandidateStatus::Ok:
    return "ok";
  case CandidateStatus::Pruned:
    return "pruned";
  case CandidateStatus::Failed:
    return "failed";
  }
  llvm_unreachable("unknown candidate status");
}

Expected<CandidateKind> parseKind(StringRef name) {
  for (CandidateKind kind : {CandidateKind::Kernel, CandidateKind::Split})
    if (name == kindName(kind))
      return kind;
  return createStringError(inconvertibleErrorCode(),
                           "candidate 'kind' must be kernel or split, got '" +
                               name.str() + "'");
}

Expected<CandidateStatus> parseStatus(StringRef name) {
  for (CandidateStatus status :
       {CandidateStatus::New, CandidateStatus::Ok, CandidateStatus::Pruned,
        CandidateStatus::Failed})
    if (name == statusName(status))
      return status;
  return createStringError(inconvertibleErrorCode(),
                           "candidate 'status' must be new, ok, pruned or "
                           "failed, got '" +
                               name.str() + "'");
}

int64_t TuneOptions::spillLimit(StringRef op) const {
  return op == "prefill" && maxPrefillSpillBytes >= 0 ? maxPrefillSpillBytes
                                                      : maxSpillBytes;
}

std::string groupId(const KernelKey &key) {
  std::string id =
      key.op + "_" + key.dtype + "_d" + std::to_string(key.headDim);
  if (key.op == "decode")
    id += "_g" + std::to_string(key.group) + (key.paged ? "_paged" : "_contig");
  return id + (key.causal ? "_causal" : "_full");
}

std::string candidateId(const Candidate &c) {
  if (c.isSplit())
    return "split_c" + std::to_string(c.split.ctasPerSm) + "_k" +
           std::to_string(c.split.minKeysPerSplit);
  const Knobs &k = c.knobs;
  return groupId(c.keys.front()) +
         (c.op() == "prefill" ? "_m" + std::to_string(k.blockM) : "") + "_n" +
         std::to_string(k.blockN) + "_s" + std::to_string(k.stages) + "_t" +
         std::to_string(k.threads) + (k.wholeProgram ? "_wp" : "") +
         (k.lanes ? "_l" + std::to_string(k.lanes) : "") +
         (k.kvHeads > 1 ? "_kv" + std::to_string(k.kvHeads) : "") +
         (k.mma ? "_mma" : "");
}

std::vector<Candidate> generateCandidates(StringRef space, const Table &table,
                                          const std::vector<Workload> &all) {
  std::vector<Candidate> candidates;
  for (const SpaceGroup &group : searchSpace(space)) {
    const TableEntry *current = table.lookup(group.keys.front());
    std::vector<std::string> names = workloadNames(all, group.keys);
    // Today's knobs are timed too (the baseline), in the grid or not.
    std::vector<Knobs> grid = group.grid;
    if (current && !llvm::is_contained(grid, current->knobs))
      grid.push_back(current->knobs);
    for (const Knobs &knobs : grid) {
      Candidate c;
      c.keys = group.keys;
      c.checked = group.checked;
      c.knobs = knobs;
      c.baseline = current && current->knobs == knobs;
      c.workloads = names;
      c.id = candidateId(c);
      candidates.push_back(std::move(c));
    }
  }
  if (!spaceHasSplitPolicies(space))
    return candidates;
  std::vector<std::string> names = workloadNames(all, {splitKernelKey()});
  for (const DecodeSplit &split : splitSpace()) {
    Candidate c;
    c.kind = CandidateKind::Split;
    c.keys = {splitKernelKey()};
    c.split = split;
    c.baseline = split.samePolicy(table.split);
    c.workloads = names;
    c.status = CandidateStatus::Ok;
    c.id = candidateId(c);
    candidates.push_back(std::move(c));
  }
  return candidates;
}

void judge(Candidate &c, const TargetLimits &limits,
           const TuneOptions &options) {
  c.status = CandidateStatus::Ok;
  c.reason.clear();
  for (KernelRecord &k : c.kernels) {
    Verdict verdict =
        checkResources(k.resources, limits, options.spillLimit(k.key.op));
    k.blocksPerSm = verdict.blocksPerSm;
    if (!verdict.ok && c.isOk()) {
      c.status = CandidateStatus::Pruned;
      c.reason = k.name + ": " + verdict.reason;
    }
  }
}

std::string describe(const Candidate &c) {
  std::string text;
  int64_t checked = 0, registers = 0, spills = 0;
  for (const KernelRecord &k : c.kernels) {
    const KernelResources &r = k.resources;
    if (!llvm::is_contained(c.keys, k.key)) {
      ++checked;
      registers = std::max(registers, r.registers);
      spills = std::max(spills, r.spillStoreBytes);
      continue;
    }
    text +=
        (text.empty() ? "" : "; ") + std::to_string(r.registers) + " regs, " +
        std::to_string(r.spillStoreBytes) + " B spills, " +
        std::to_string((r.staticSmemBytes + r.dynamicSmemBytes + 1023) / 1024) +
        " KB smem, " + std::to_string(k.blocksPerSm) + " CTAs/SM";
  }
  if (checked)
    text += "; " + std::to_string(checked) + " more of its entry: up to " +
            std::to_string(registers) + " regs, " + std::to_string(spills) +
            " B spills";
  return text;
}

const Candidate *findCandidate(const std::vector<Candidate> &candidates,
                               StringRef id) {
  auto it =
      llvm::find_if(candidates, [&](const Candidate &c) { return c.id == id; });
  return it == candidates.end() ? nullptr : &*it;
}

} // namespace attn::tune
