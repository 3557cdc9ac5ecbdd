// Lazily loaded kernels: one module per (CUDA context, pack kernel).
#ifndef ATTN_RUNTIME_KERNEL_CACHE_H
#define ATTN_RUNTIME_KERNEL_CACHE_H

#include "runtime/launch.h"

namespace attn {

// ATTN_ERROR_UNSUPPORTED when `kernel` needs more dynamic shared memory than
// `device` lets a kernel opt in to.
Status checkSharedMemory(const KernelInfo &kernel, const DeviceInfo &device);

// The CUfunction of `kernel` (from `target`'s manifest) in its context. The
// first call for a context loads the module, checks the kernel's launch
// shape against the device and opts it in to more than 48 KB of dynamic
// shared memory when it needs that; later calls return the cached function.
// Thread-safe.
Status getKernelFunction(const LaunchTarget &target, const KernelInfo &kernel,
                         CUfunction *function);

} // namespace attn

#endif // ATTN_RUNTIME_KERNEL_CACHE_H
