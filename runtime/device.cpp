// Finds the current context and caches the device properties launches need.
#include "runtime/device.h"

#include <map>
#include <memory>
#include <mutex>

namespace attn {

namespace {

Status queryDeviceInfo(const Driver &driver, CUdevice device,
                       DeviceInfo *info) {
  ATTN_CU_RETURN_IF_ERROR(
      driver, cuDeviceGetAttribute(&info->computeMajor,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                                   device));
  ATTN_CU_RETURN_IF_ERROR(
      driver, cuDeviceGetAttribute(&info->computeMinor,
                                   CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                                   device));
  ATTN_CU_RETURN_IF_ERROR(
      driver,
      cuDeviceGetAttribute(&info->smCount,
                           CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device));
  ATTN_CU_RETURN_IF_ERROR(
      driver,
      cuDeviceGetAttribute(
          &info->maxSharedOptin,
          CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device));
  return Status();
}

} // namespace

Status getCurrentContext(const Driver &driver, CurrentContext *current) {
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetCurrent(&current->context));
  if (current->context == nullptr) {
    return makeStatus(ATTN_ERROR_DRIVER,
                      "no CUDA context is current on the calling thread (make "
                      "one current, e.g. by using the device from torch or "
                      "cudaSetDevice, before the call)");
  }
  unsigned long long contextId = 0;
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetId(current->context, &contextId));
  current->contextId = contextId;
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetDevice(&current->device));

  // Entries are never erased, so the pointers handed out stay valid.
  static std::mutex mutex;
  static auto *infos = new std::map<CUdevice, std::unique_ptr<DeviceInfo>>;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<DeviceInfo> &info = (*infos)[current->device];
  if (info == nullptr) {
    auto queried = std::make_unique<DeviceInfo>();
    ATTN_RETURN_IF_ERROR(
        queryDeviceInfo(driver, current->device, queried.get()));
    info = std::move(queried);
  }
  current->info = info.get();
  return Status();
}

} // namespace attn
