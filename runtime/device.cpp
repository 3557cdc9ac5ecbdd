// Finds the context of a call (the current one, else the primary context of
// the device holding its data) and caches the device properties launches need.
#include "runtime/device.h"

#include <cstdint>
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

// The properties of `device`, queried on its first use.
Status getDeviceInfo(const Driver &driver, CUdevice device,
                     const DeviceInfo **info) {
  // Entries are never erased, so the pointers handed out stay valid.
  static std::mutex mutex;
  static auto *infos = new std::map<CUdevice, std::unique_ptr<DeviceInfo>>;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<DeviceInfo> &cached = (*infos)[device];
  if (cached == nullptr) {
    auto queried = std::make_unique<DeviceInfo>();
    ATTN_RETURN_IF_ERROR(queryDeviceInfo(driver, device, queried.get()));
    cached = std::move(queried);
  }
  *info = cached.get();
  return Status();
}

// The id and device of `current->context`, and the device's properties.
Status describeContext(const Driver &driver, CurrentContext *current) {
  unsigned long long contextId = 0;
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetId(current->context, &contextId));
  current->contextId = contextId;
  // Per launch: a context id is unique for the process's lifetime, so the
  // device and properties found for the thread's last context hold while it
  // stays current.
  thread_local unsigned long long lastId = 0;
  thread_local CUdevice lastDevice = 0;
  thread_local const DeviceInfo *lastInfo = nullptr;
  if (lastInfo != nullptr && contextId == lastId) {
    current->device = lastDevice;
    current->info = lastInfo;
    return Status();
  }
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetDevice(&current->device));
  ATTN_RETURN_IF_ERROR(getDeviceInfo(driver, current->device, &current->info));
  lastId = contextId;
  lastDevice = current->device;
  lastInfo = current->info;
  return Status();
}

// The device whose memory `pointer` (the argument `name`) is, asked of the
// driver, which knows every allocation's device whether or not a context is
// current.
Status getPointerDevice(const Driver &driver, const void *pointer,
                        const char *name, CUdevice *device) {
  int ordinal = -1;
  CUresult result = driver.cuPointerGetAttribute(
      &ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
      static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer)));
  if (result != CUDA_SUCCESS) {
    Status error = driverError(driver, result,
                               "cuPointerGetAttribute(&ordinal, "
                               "CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, pointer)",
                               __FILE__, __LINE__);
    // CUDA_ERROR_INVALID_VALUE: no CUDA allocation holds the address (host
    // memory, or memory already freed).
    if (result == CUDA_ERROR_INVALID_VALUE) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "no CUDA context is current on the calling thread, "
                        "and '%s' (%p) is not device memory the CUDA driver "
                        "knows, so no device's context can be chosen for the "
                        "call: %s",
                        name, pointer, error.message().c_str());
    }
    return withContext(error, std::string("no CUDA context is current on "
                                          "the calling thread; finding the "
                                          "device of '") +
                                  name + "'");
  }
  if (ordinal < 0) {
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "no CUDA context is current on the calling thread, and "
                      "'%s' (%p) is not on a device (the CUDA driver gives "
                      "device ordinal %d)",
                      name, pointer, ordinal);
  }
  ATTN_CU_RETURN_IF_ERROR(driver, cuDeviceGet(device, ordinal));
  return Status();
}

// The primary context of `device`, retained on its first use and never
// released, so that it and the modules loaded in it live as long as the
// process, whatever the caller (torch) retains and releases.
Status getPrimaryContext(const Driver &driver, CUdevice device,
                         CUcontext *context) {
  static std::mutex mutex;
  static auto *retained = new std::map<CUdevice, CUcontext>;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = retained->find(device);
  if (found == retained->end()) {
    CUcontext primary = nullptr;
    ATTN_CU_RETURN_IF_ERROR(driver, cuDevicePrimaryCtxRetain(&primary, device));
    found = retained->emplace(device, primary).first;
  }
  *context = found->second;
  return Status();
}

} // namespace

Status getCurrentContext(const Driver &driver, const void *pointer,
                         const char *name, CurrentContext *current) {
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetCurrent(&current->context));
  if (current->context == nullptr) {
    CUdevice device = 0;
    ATTN_RETURN_IF_ERROR(getPointerDevice(driver, pointer, name, &device));
    ATTN_RETURN_IF_ERROR(getPrimaryContext(driver, device, &current->context));
    ATTN_CU_RETURN_IF_ERROR(driver, cuCtxSetCurrent(current->context));
  }
  return describeContext(driver, current);
}

Status getQueryDevice(const Driver &driver, CurrentContext *current) {
  ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetCurrent(&current->context));
  if (current->context != nullptr)
    return describeContext(driver, current);
  current->contextId = 0;
  ATTN_CU_RETURN_IF_ERROR(driver, cuDeviceGet(&current->device, 0));
  return getDeviceInfo(driver, current->device, &current->info);
}

} // namespace attn
