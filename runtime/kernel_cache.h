// Lazily loaded kernels: one module per (CUDA context, pack kernel).
#ifndef ATTN_RUNTIME_KERNEL_CACHE_H
#define ATTN_RUNTIME_KERNEL_CACHE_H

#include "runtime/device.h"
#include "runtime/manifest.h"

namespace attn {

// The CUfunction of `kernel` (from `manifest`) in the current context. The
// first call for a context loads the module, checks the kernel's launch
// shape against the device and opts it in to more than 48 KB of dynamic
// shared memory when it needs that; later calls return the cached function.
// Thread-safe.
Status getKernelFunction(const Driver &driver, const CurrentContext &current,
                         const Manifest &manifest, const KernelInfo &kernel,
                         CUfunction *function);

} // namespace attn

#endif // ATTN_RUNTIME_KERNEL_CACHE_H
