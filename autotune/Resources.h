// The per-target resource model: the limits of a compute capability, ptxas's
// resource lines, PTX instruction counts, and pruning (docs/autotune.md,
// "Resource model and pruning").
#ifndef ATTN_AUTOTUNE_RESOURCES_H
#define ATTN_AUTOTUNE_RESOURCES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace attn::tune {

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

/// sm_89, sm_90 or sm_90a; null for another target.
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

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_RESOURCES_H
