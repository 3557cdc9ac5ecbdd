// The roofline + occupancy model (docs/autotune.md, "The model").
#include "autotune/Model.h"

#include "autotune/SplitPolicy.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <limits>
#include <queue>

using namespace llvm;

namespace attn::tune {

namespace {

// Clock cycles of one main-loop iteration that neither MMA nor memory hides:
// the barrier, the cp.async wait and the softmax row reductions.
constexpr double kIterationCycles = 120;
// Latency of a DRAM load under load, for Little's law.
constexpr double kDramLatencySeconds = 1.0e-6;
// Special-function (ex2) results per clock per SM (the Programming Guide's
// arithmetic instruction throughput table).
constexpr double kSfuPerClock = 16;
// Warps per SM that keep the tensor cores busy (two per scheduler).
constexpr double kSaturatingWarps = 8;
// Shared-memory bytes per clock per SM (32 banks of 4 bytes).
constexpr double kSharedBytesPerClock = 128;
// Cycles before a warp can issue an instruction that depends on the previous
// one: the Programming Guide's typical arithmetic latency, for which 16 warps
// per SM (4 per scheduler) hide it ("Maximize Utilization", "Multiprocessor
// Level").
constexpr double kDependentIssueCycles = 4;
// Warp schedulers per SM (compute capabilities 8.x and 9.0).
constexpr double kWarpSchedulers = 4;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Makespan of CTAs (durations in launch order) over `slots` resident slots,
/// each CTA taking the next free slot.
double makespan(const std::vector<double> &durations, int64_t slots) {
  std::priority_queue<double, std::vector<double>, std::greater<double>> free;
  for (int64_t i = 0; i < slots; ++i)
    free.push(0.0);
  double end = 0;
  for (double d : durations) {
    double start = free.top();
    free.pop();
    free.push(start + d);
    end = std::max(end, start + d);
  }
  return end;
}

/// A decode CTA's K/V bytes and tiles.
struct DecodeCta {
  double bytes;
  int64_t tiles;
};

/// The CTAs of decode workload `w` in launch order: grid (splits, Hkv x Lq,
/// B), x fastest; split s takes keys [s per, (s + 1) per) with per a
/// multiple of block_n (`n`).
std::vector<DecodeCta> decodeCtas(const Workload &w, int64_t splits, int64_t n,
                                  double keyBytes) {
  std::vector<DecodeCta> ctas;
  for (auto [lq, lk] : w.seqlens) {
    int64_t per = ceilDiv(ceilDiv(lk, splits), n) * n;
    for (int64_t y = 0; y < lq * w.numKvHeads; ++y)
      for (int64_t s = 0; s < splits; ++s) {
        int64_t keys = std::clamp<int64_t>(lk - s * per, 0, per);
        ctas.push_back({keys * keyBytes, ceilDiv(keys, n)});
      }
  }
  return ctas;
}

/// A decode CTA on an SM: the phase it is in and what is left of it.
enum Phase { Outside, Latency, Stream };
struct Running {
  int64_t sm;
  Phase phase;
  double left; // instructions, seconds or bytes
  double bytes, bytesPerTile;
};

/// Water-filling of `bandwidth` among the CTAs of `streaming`, each capped at
/// its `rate`: the least capped CTAs take their cap, the others an even share
/// of what is left.
void waterFill(std::vector<double> &rate, std::vector<size_t> &streaming,
               double bandwidth) {
  llvm::sort(streaming, [&](size_t a, size_t b) { return rate[a] < rate[b]; });
  for (auto [q, i] : llvm::enumerate(streaming)) {
    rate[i] = std::min(rate[i], bandwidth / double(streaming.size() - q));
    bandwidth -= rate[i];
  }
}

/// Runs every CTA at its rate until the first one finishes its phase; returns
/// the time that took.
double advance(std::vector<Running> &running, const std::vector<double> &rate) {
  size_t first = 0;
  double dt = std::numeric_limits<double>::infinity();
  for (auto [i, r] : llvm::enumerate(running))
    if (rate[i] > 0 && r.left / rate[i] < dt) {
      dt = r.left / rate[i];
      first = i;
    }
  for (auto [i, r] : llvm::enumerate(running)) {
    r.left -= rate[i] * dt;
    // Rounding must not leave a sliver of a phase behind.
    if (i == first || r.left <= 1e-9 * rate[i] * dt)
      r.left = 0;
  }
  return dt;
}

} // namespace

double modelTimeMs(const TargetLimits &limits, const Knobs &knobs,
                   const KernelResources &resources, int64_t blocksPerSm,
                   const Workload &w, const DecodeSplit &split) {
  if (w.op == "decode")
    return modelDecodeTimeMs(limits, knobs, resources, blocksPerSm, w,
                             workloadNumSplits(split, w, limits.smCount));
  blocksPerSm = std::max<int64_t>(blocksPerSm, 1);
  double clock = limits.clockHz;
  int64_t slots = limits.smCount * blocksPerSm;
  int64_t warps = std::max<int64_t>(resources.threads / 32, 1);
  // The SM's resident CTAs share its tensor cores.
  double smFlops = limits.mmaFlopsPerSecond / limits.smCount;
  double warpUse =
      std::min(1.0, double(blocksPerSm * warps) / kSaturatingWarps);
  std::vector<double> durations;
  int64_t bytes = 2; // bf16 and f16
  int64_t m = knobs.blockM, n = knobs.blockN, d = w.headDim;
  // One pipeline stage cannot overlap the next tile's load with the MMAs.
  double overlap = knobs.stages >= 2 ? 1.0 : 0.75;
  // Per K/V tile: the MMAs, or every warp reading the K and V tiles from
  // shared memory (each warp's R row blocks reuse them), whichever is
  // longer; then the exponentials and the loop's fixed cost. The SM's
  // resident CTAs share all of it.
  double mma = 4.0 * m * n * d / (smFlops * warpUse * overlap);
  double shared =
      double(warps) * 2 * n * d * bytes / (kSharedBytesPerClock * clock);
  double exp = double(m) * n / (kSfuPerClock * clock);
  double tile =
      blocksPerSm * (std::max(mma, shared) + exp) + kIterationCycles / clock;
  // Grid (Hq, B, row tiles), heaviest row tiles first.
  int64_t maxTiles = 0;
  for (auto [lq, lk] : w.seqlens)
    maxTiles = std::max(maxTiles, ceilDiv(lq, m));
  for (int64_t z = 0; z < maxTiles; ++z)
    for (auto [lq, lk] : w.seqlens) {
      int64_t tileIndex = maxTiles - 1 - z;
      int64_t m0 = tileIndex * m;
      if (m0 >= lq)
        continue;
      int64_t keys = w.causal ? std::min(lk, m0 + m + lk - lq) : lk;
      double cta = double(ceilDiv(std::max<int64_t>(keys, 0), n)) * tile;
      durations.insert(durations.end(), w.numHeads, cta);
    }
  return makespan(durations, slots) * 1e3;
}

double modelDecodeTimeMs(const TargetLimits &limits, const Knobs &knobs,
                         const KernelResources &resources, int64_t blocksPerSm,
                         const Workload &w, int64_t numSplits) {
  blocksPerSm = std::max<int64_t>(blocksPerSm, 1);
  int64_t splits = std::max<int64_t>(numSplits, 1);
  int64_t n = knobs.blockN;
  double keyBytes = 2.0 * w.headDim * 2; // a K and a V row, 2-byte elements
  std::vector<DecodeCta> ctas = decodeCtas(w, splits, n, keyBytes);
  // A CTA runs three phases: its code outside the KV loop (Q, the pipeline's
  // prologue, the epilogue's merge and store) at its warps' issue rate; one
  // DRAM latency until its first tile lands; then its K/V bytes, at the
  // least of its issue rate (loop instructions per tile), Little's law
  // (`stages` tiles in flight) and its share of the DRAM bandwidth, which
  // the streaming CTAs of all SMs split evenly (water-filling).
  double clock = limits.clockHz;
  double warps = std::max<int64_t>(resources.threads / 32, 1);
  double loop = double(resources.loopInstructions);
  double outside = std::max<double>(
      0, double(resources.kernelInstructions - resources.loopInstructions));
  double tileBytes = n * keyBytes;
  double littleBytes = knobs.stages * tileBytes / kDramLatencySeconds;
  // Instructions per second of one warp of an SM where `issuing` CTAs issue:
  // a warp issues at most every kDependentIssueCycles (no ILP assumed), and
  // a scheduler one instruction a cycle.
  auto warpRate = [&](int64_t issuing) {
    double perScheduler = issuing * warps / kWarpSchedulers;
    return clock / std::max(kDependentIssueCycles, perScheduler);
  };
  std::vector<Running> running;
  size_t next = 0;
  auto launch = [&](int64_t sm) {
    const DecodeCta &c = ctas[next++];
    running.push_back({sm, Outside, outside, c.bytes,
                       c.tiles ? c.bytes / double(c.tiles) : 0.0});
  };
  // Moves a CTA past the phases it has finished; false once it is done.
  auto settle = [&](Running &r) {
    if (r.phase == Outside && r.left <= 0) {
      r.phase = Latency;
      r.left = r.bytes > 0 ? kDramLatencySeconds : 0;
    }
    if (r.phase == Latency && r.left <= 0) {
      r.phase = Stream;
      r.left = r.bytes;
    }
    return !(r.phase == Stream && r.left <= 0);
  };
  // The block scheduler fills the SMs breadth first, then refills a slot as
  // its CTA retires.
  for (int64_t j = 0; j < blocksPerSm; ++j)
    for (int64_t sm = 0; sm < limits.smCount && next < ctas.size(); ++sm)
      launch(sm);
  std::vector<int64_t> issuing(limits.smCount);
  std::vector<double> rate;
  std::vector<size_t> streaming;
  double now = 0;
  while (!running.empty()) {
    for (size_t i = 0; i < running.size();) {
      if (settle(running[i])) {
        ++i;
        continue;
      }
      int64_t sm = running[i].sm;
      running[i] = running.back();
      running.pop_back();
      if (next < ctas.size())
        launch(sm);
    }
    if (running.empty())
      break;
    std::fill(issuing.begin(), issuing.end(), 0);
    for (const Running &r : running)
      issuing[r.sm] += r.phase != Latency;
    rate.assign(running.size(), 0);
    streaming.clear();
    for (auto [i, r] : llvm::enumerate(running)) {
      if (r.phase == Outside)
        rate[i] = warpRate(issuing[r.sm]);
      else if (r.phase == Latency)
        rate[i] = 1;
      else {
        double cap = littleBytes;
        if (loop > 0)
          cap = std::min(cap, warpRate(issuing[r.sm]) / loop * r.bytesPerTile);
        rate[i] = cap;
        streaming.push_back(i);
      }
    }
    waterFill(rate, streaming, limits.dramBytesPerSecond);
    now += advance(running, rate);
  }
  // With splits, the combine kernel reads back the part_o the splits wrote.
  if (splits > 1) {
    double rows = 0;
    for (auto [lq, lk] : w.seqlens)
      rows += double(lq) * w.numHeads;
    now += 2.0 * splits * rows * w.headDim * 4 / limits.dramBytesPerSecond;
  }
  return now * 1e3;
}

Times modelTimes(const std::vector<Candidate> &candidates,
                 const std::vector<Workload> &workloads,
                 const TargetLimits &limits, const DecodeSplit &split) {
  Times times;
  for (const Candidate &c : candidates)
    for (const KernelRecord &k : c.kernels)
      if (llvm::is_contained(c.keys, k.key))
        for (const Workload &w : workloadsFor(workloads, k.key))
          times[c.id][w.name] = modelTimeMs(limits, c.knobs, k.resources,
                                            k.blocksPerSm, w, split);
  return times;
}

void modelSplitTimes(const std::vector<Candidate> &candidates,
                     const Candidate &kernel,
                     const std::vector<Workload> &workloads,
                     const TargetLimits &limits, Times &times) {
  const KernelRecord &k = kernel.kernels.front();
  for (const Candidate &c : candidates)
    if (c.isSplit())
      for (const Workload &w : workloadsFor(workloads, k.key))
        times[c.id][w.name] = modelTimeMs(limits, kernel.knobs, k.resources,
                                          k.blocksPerSm, w, c.split);
}

} // namespace attn::tune
