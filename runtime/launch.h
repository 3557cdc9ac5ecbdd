// What every C API call resolves first (driver, context, target manifest),
// and kernel launches.
#ifndef ATTN_RUNTIME_LAUNCH_H
#define ATTN_RUNTIME_LAUNCH_H

#include "runtime/device.h"
#include "runtime/manifest.h"

#include <cstdint>

namespace attn {

// The calling thread's context and the manifest of its device's target.
struct LaunchTarget {
  const Driver *driver = nullptr;
  CurrentContext current;
  const Manifest *manifest = nullptr;
};

Status resolveLaunchTarget(LaunchTarget *target);

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline CUdeviceptr devicePointer(const void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

// cuLaunchKernel takes non-const pointers to parameter values it only reads.
template <typename T> void *param(const T &value) {
  return const_cast<T *>(&value);
}

// Launches `kernel` with its block shape and dynamic shared memory; a failure
// names the kernel.
Status launchKernel(const Driver &driver, CUfunction function,
                    const KernelInfo &kernel, unsigned gridX, unsigned gridY,
                    unsigned gridZ, CUstream stream, void **params);

} // namespace attn

#endif // ATTN_RUNTIME_LAUNCH_H
