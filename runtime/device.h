// The context a call launches in and the properties of its device.
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
  // Null only for getQueryDevice() on a thread with no current context.
  CUcontext context = nullptr;
  // Unique for the life of the process, unlike the CUcontext handle, which a
  // context created after another was destroyed may reuse.
  uint64_t contextId = 0;
  CUdevice device = 0;
  const DeviceInfo *info = nullptr;
};

// The calling thread's current context. A thread with none (a fresh server
// thread) gets the primary context of the device that holds `pointer`, the
// argument `name`: retained once per device for the life of the process and
// made current on the thread, as the CUDA runtime would, so that the caller's
// later CUDA work there sees it too. With a context current this costs no
// driver call beyond the lookup. Device properties are queried once per
// device and cached.
Status getCurrentContext(const Driver &driver, const void *pointer,
                         const char *name, CurrentContext *current);

// The device attn_query_support answers for, which loads nothing: the current
// context's, or device 0 (the CUDA runtime's default device) on a thread with
// no current context, whose context then stays null and none is made current.
Status getQueryDevice(const Driver &driver, CurrentContext *current);

} // namespace attn

#endif // ATTN_RUNTIME_DEVICE_H
