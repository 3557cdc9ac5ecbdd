// The resource model: limits per target, ptxas info, PTX instruction counts
// and pruning.
#include "autotune/Resources.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Regex.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

using namespace llvm;

namespace attn::tune {

const TargetLimits *limitsFor(StringRef target) {
  // CUDA C++ Programming Guide, "Technical Specifications per Compute
  // Capability" (docs/autotune.md cites each row). Device figures: the
  // datasheets of the NVIDIA L40S (sm_89) and H100 SXM5 (sm_90).
  static const TargetLimits sm89{
      "sm_89", 99 * 1024, 100 * 1024, 1024,  64 * 1024, 64 * 1024,
      255,     256,       1024,       1536,  24,        "NVIDIA L40S",
      142,     2.52e9,    864e9,      362e12};
  static const TargetLimits sm90{
      "sm_90", 227 * 1024, 228 * 1024, 1024,  64 * 1024, 64 * 1024,
      255,     256,        1024,       2048,  32,        "NVIDIA H100 SXM5",
      132,     1.83e9,     3.35e12,    989e12};
  // sm_90a is sm_90 with its architecture-specific instructions (wgmma,
  // setmaxnreg): the same GPUs, the same limits.
  static const TargetLimits sm90a = [] {
    TargetLimits limits = sm90;
    limits.target = "sm_90a";
    return limits;
  }();
  if (target == "sm_89")
    return &sm89;
  if (target == "sm_90")
    return &sm90;
  if (target == "sm_90a")
    return &sm90a;
  return nullptr;
}

Expected<KernelResources> parsePtxasInfo(StringRef log, StringRef kernel) {
  // ptxas prints "Compiling entry function '<k>' for 'sm_90'", then "Function
  // properties for <k>" with the stack frame and spills, then "Used N
  // registers, ... N bytes smem".
  KernelResources r;
  bool inKernel = false, sawRegisters = false;
  Regex used("Used ([0-9]+) registers");
  Regex smem("([0-9]+) bytes smem");
  Regex frame("([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, "
              "([0-9]+) bytes spill loads");
  SmallVector<StringRef> lines;
  log.split(lines, '\n');
  for (StringRef line : lines) {
    StringRef name;
    if (size_t at = line.find("Compiling entry function '");
        at != StringRef::npos)
      name = line.substr(at + 26).split('\'').first;
    else if (size_t at = line.find("Function properties for ");
             at != StringRef::npos)
      name = line.substr(at + 24).trim();
    if (!name.empty()) {
      inKernel = name == kernel;
      continue;
    }
    if (!inKernel)
      continue;
    SmallVector<StringRef> m;
    if (frame.match(line, &m)) {
      m[1].getAsInteger(10, r.stackBytes);
      m[2].getAsInteger(10, r.spillStoreBytes);
      m[3].getAsInteger(10, r.spillLoadBytes);
    }
    if (used.match(line, &m)) {
      m[1].getAsInteger(10, r.registers);
      sawRegisters = true;
      if (smem.match(line, &m))
        m[1].getAsInteger(10, r.staticSmemBytes);
    }
  }
  if (!sawRegisters)
    return createStringError(inconvertibleErrorCode(),
                             "no ptxas register count for " + kernel.str() +
                                 " in the info log");
  return r;
}

Expected<InstructionCounts> countPtxInstructions(StringRef ptx,
                                                 StringRef kernel) {
  SmallVector<StringRef> lines;
  ptx.split(lines, '\n');
  std::string entry = (".entry " + kernel + "(").str();
  size_t i = 0;
  while (i < lines.size() && !lines[i].contains(entry))
    ++i;
  while (i < lines.size() && lines[i].trim() != "{")
    ++i;
  if (i == lines.size())
    return createStringError(inconvertibleErrorCode(),
                             "no entry " + kernel.str() + " in the PTX");
  // The body ends at the "}" line closing the entry's "{" line (a vector
  // operand's braces stay inside its line).
  std::vector<StringRef> body;
  for (int depth = 0; i < lines.size(); ++i) {
    StringRef line = lines[i].trim();
    if (line == "{" || line == "}") {
      depth += line == "{" ? 1 : -1;
      if (depth == 0)
        break;
      continue;
    }
    body.push_back(line);
  }
  auto isInstruction = [](StringRef line) {
    return line.ends_with(";") && !line.starts_with(".") &&
           !line.starts_with("//");
  };
  // A loop is a label and the last branch back to it.
  Regex branch("(^|[ \t])bra(\\.uni)?[ \t]+([$A-Za-z0-9_]+);");
  StringMap<size_t> labels;
  std::map<size_t, size_t> loops; // first line -> last line
  std::vector<size_t> waits;
  InstructionCounts counts;
  for (auto [index, line] : llvm::enumerate(body)) {
    counts.kernel += isInstruction(line);
    if (line.ends_with(":"))
      labels[line.drop_back()] = index;
    if (line.contains("cp.async.wait_group"))
      waits.push_back(index);
    SmallVector<StringRef> m;
    if (branch.match(line, &m))
      if (auto it = labels.find(m[3]); it != labels.end())
        loops[it->second] = index;
  }
  std::optional<std::pair<size_t, size_t>> kvLoop;
  for (auto [begin, end] : loops) {
    bool hasWait =
        llvm::any_of(waits, [&](size_t w) { return w > begin && w < end; });
    if (hasWait && (!kvLoop || end - begin < kvLoop->second - kvLoop->first))
      kvLoop = {begin, end};
  }
  if (kvLoop)
    for (size_t k = kvLoop->first; k <= kvLoop->second; ++k)
      counts.kvLoop += isInstruction(body[k]);
  return counts;
}

Verdict checkResources(const KernelResources &r, const TargetLimits &limits,
                       int64_t maxSpillBytes) {
  Verdict v;
  int64_t warps = std::max<int64_t>((r.threads + 31) / 32, 1);
  int64_t regsPerWarp =
      (std::max<int64_t>(r.registers, 1) * 32 + limits.regAllocUnit - 1) /
      limits.regAllocUnit * limits.regAllocUnit;
  int64_t smem = r.staticSmemBytes + r.dynamicSmemBytes;
  int64_t byRegs = limits.regsPerSm / (regsPerWarp * warps);
  int64_t bySmem = limits.smemPerSm / (smem + limits.smemReservedPerBlock);
  int64_t byThreads = limits.maxThreadsPerSm / std::max<int64_t>(r.threads, 1);
  // Occupancy is reported for pruned kernels too (the model ranks baselines).
  v.blocksPerSm = std::min({byRegs, bySmem, byThreads, limits.maxBlocksPerSm});
  auto prune = [&](std::string reason) {
    v.ok = false;
    v.reason = std::move(reason);
    return v;
  };
  int64_t spills = std::max(r.spillStoreBytes, r.spillLoadBytes);
  if (spills > maxSpillBytes)
    return prune("spills " + std::to_string(r.spillStoreBytes) +
                 " B stores / " + std::to_string(r.spillLoadBytes) +
                 " B loads (limit " + std::to_string(maxSpillBytes) + " B)");
  if (smem > limits.smemPerBlockOptIn)
    return prune("shared memory " + std::to_string(smem) + " B > " +
                 std::to_string(limits.smemPerBlockOptIn) + " B per block on " +
                 limits.target);
  if (r.threads > limits.maxThreadsPerBlock)
    return prune(std::to_string(r.threads) + " threads > " +
                 std::to_string(limits.maxThreadsPerBlock) + " per block");
  if (r.registers > limits.regsPerThread)
    return prune(std::to_string(r.registers) + " registers > " +
                 std::to_string(limits.regsPerThread) + " per thread");
  if (regsPerWarp * warps > limits.regsPerBlock)
    return prune(std::to_string(regsPerWarp * warps) +
                 " registers per block > " +
                 std::to_string(limits.regsPerBlock));
  if (v.blocksPerSm < 1)
    return prune("no block fits on an SM (registers allow " +
                 std::to_string(byRegs) + ", shared memory " +
                 std::to_string(bySmem) + ")");
  return v;
}

} // namespace attn::tune
