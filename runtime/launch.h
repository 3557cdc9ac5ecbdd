// What every C API call resolves first (driver, context, target manifest),
// kernel launches, and the split-KV workspace and combine launch that decode
// and prefill share.
#ifndef ATTN_RUNTIME_LAUNCH_H
#define ATTN_RUNTIME_LAUNCH_H

#include "abi/kernel_params.h"
#include "abi/limits.h"
#include "runtime/checks.h"
#include "runtime/device.h"
#include "runtime/manifest.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace attn {

using abi::kMaxSplits;

// The context a call launches in and the manifest of its device's target.
struct LaunchTarget {
  const Driver *driver = nullptr;
  CurrentContext current;
  const Manifest *manifest = nullptr;
};

// The target of a launch in the calling thread's current context, or, on a
// thread with none, in the primary context of the device holding `pointer`,
// the argument `name` (getCurrentContext).
Status resolveLaunchTarget(const void *pointer, const char *name,
                           LaunchTarget *target);

// The target attn_query_support answers for (getQueryDevice): its context is
// null when the thread has none.
Status resolveQueryTarget(LaunchTarget *target);

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline CUdeviceptr devicePointer(const void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

// The parameter array of a decode or prefill launch of `kernel`: the kind's
// parameters (`kind`, abi::decode::Args or abi::prefill::Args), then the
// local options' (abi::local) for a local kernel, then the tensor maps'
// (abi::tma) for a TMA kernel.
template <typename KindArgs> struct LaunchParams {
  KindArgs kind;
  abi::local::Args local;
  abi::tma::Args tma;

  explicit LaunchParams(const LocalOptions &options) {
    local.window_left = options.windowLeft;
    local.window_right = options.windowRight;
    local.softcap = options.softcap;
  }
  void **pointers(const KernelInfo &kernel) {
    auto own = kind.pointers();
    void **next = std::copy(std::begin(own.values), std::end(own.values),
                            std::begin(values));
    if (kernel.variant.local) {
      auto extra = local.pointers();
      next = std::copy(std::begin(extra.values), std::end(extra.values), next);
    }
    if (kernel.tma) {
      auto maps = tma.pointers();
      std::copy(std::begin(maps.values), std::end(maps.values), next);
    }
    return values;
  }

private:
  void *values[sizeof(KindArgs::Pointers::values) / sizeof(void *) +
               abi::local::kCount + abi::tma::kCount];
};

// Launches `kernel` with `block` threads and `sharedBytes` of dynamic shared
// memory; a failure names the kernel.
Status launchKernel(const Driver &driver, CUfunction function,
                    const KernelInfo &kernel, unsigned gridX, unsigned gridY,
                    unsigned gridZ, unsigned block, unsigned sharedBytes,
                    CUstream stream, void **params);
// The same with the kernel's own block shape and shared memory (the
// manifest's).
inline Status launchKernel(const Driver &driver, CUfunction function,
                           const KernelInfo &kernel, unsigned gridX,
                           unsigned gridY, unsigned gridZ, CUstream stream,
                           void **params) {
  return launchKernel(driver, function, kernel, gridX, gridY, gridZ,
                      unsigned(kernel.threads), unsigned(kernel.sharedBytes),
                      stream, params);
}

// Where split-KV partial results live in the caller's workspace
// (docs/runtime_abi.md, "Workspace"): part_o at offset 0, part_lse at
// partLseOffset.
struct SplitWorkspace {
  size_t partLseOffset = 0;
  size_t bytes = 0; // 0: the call does not split and needs no workspace
};

// The workspace of `numSplits` splits of `rows` output rows (tokens x heads)
// of `headDim` elements; none for one split.
SplitWorkspace splitWorkspace(int numSplits, size_t rows, int headDim);

// ATTN_ERROR_WORKSPACE unless `workspace` holds `layout` and is aligned as
// attn.h promises; nothing to check when `layout` needs no workspace.
Status checkWorkspace(const SplitWorkspace &layout, int numSplits,
                      const void *workspace, size_t workspaceBytes);

// One launch of the combine kernel (abi/kernel_params.h, combine): its
// parameters and grid (Hq, tokens, batch).
struct CombineLaunch {
  abi::combine::Args args;
  unsigned grid[3] = {1, 1, 1};
};

Status launchCombine(const Driver &driver, CUfunction function,
                     const KernelInfo &kernel, const CombineLaunch &combine,
                     CUstream stream);

} // namespace attn

#endif // ATTN_RUNTIME_LAUNCH_H
