// The caller's current CUDA context and the properties of its device.
#ifndef ATTN_RUNTIME_DEVICE_H
#define ATTN_RUNTIME_DEVICE_H

#include "runtime/driver.h"

#include <cstdint>

namespace attn {

struct DeviceInfo {
  int computeMajor = 0;
  int computeMinor = 0;
  int smCount = 0;
  // CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: the most dynamic
  // shared memory a kernel may opt in to.
  int maxSharedOptin = 0;

  // Compute capability as in "sm_90": major * 10 + minor.
  int arch() const { return computeMajor * 10 + computeMinor; }
};

struct CurrentContext {
  CUcontext context = nullptr;
  // Unique for the life of the process, unlike the CUcontext handle, which a
  // context created after another was destroyed may reuse.
  uint64_t contextId = 0;
  CUdevice device = 0;
  const DeviceInfo *info = nullptr;
};

// The calling thread's current context; its device's properties are queried
// once per device and cached.
Status getCurrentContext(const Driver &driver, CurrentContext *current);

} // namespace attn

#endif // ATTN_RUNTIME_DEVICE_H
