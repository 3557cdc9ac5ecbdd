// Loads pack kernels into each CUDA context on first use; caches functions.
#include "runtime/kernel_cache.h"

#include "runtime/pack.h"

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace attn {

namespace {

// Dynamic shared memory any kernel may use; more needs an explicit opt-in.
constexpr int kDefaultSharedLimit = 48 * 1024;

// Unloads a module on the failure paths of loadKernel.
class ModuleUnloader {
public:
  ModuleUnloader(const Driver &driver, CUmodule module)
      : driver_(driver), module_(module) {}
  ModuleUnloader(const ModuleUnloader &) = delete;
  ModuleUnloader &operator=(const ModuleUnloader &) = delete;
  ~ModuleUnloader() {
    // The load already failed with a more useful error than this one.
    if (module_ != nullptr)
      (void)driver_.cuModuleUnload(module_);
  }
  void release() { module_ = nullptr; }

private:
  const Driver &driver_;
  CUmodule module_;
};

Status loadModule(const Driver &driver, const KernelImage &image,
                  CUmodule *module) {
  // For PTX the JIT log says what did not compile.
  char log[4096] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  // The driver takes integer option values cast to void *.
  void *values[] = {
      log,
      reinterpret_cast<void *>( // NOLINT(performance-no-int-to-ptr)
          uintptr_t{sizeof(log)})};
  CUresult result =
      driver.cuModuleLoadDataEx(module, image.bytes.data(), 2, options, values);
  if (result == CUDA_SUCCESS)
    return Status();
  Status status =
      driverError(driver, result, "cuModuleLoadDataEx(module, image, ...)",
                  __FILE__, __LINE__);
  if (log[0] != '\0') {
    status =
        Status(status.code(), status.message() + "; JIT log: " +
                                  std::string(log, strnlen(log, sizeof(log))));
  }
  return status;
}

Status loadKernel(const LaunchTarget &target, const KernelInfo &kernel,
                  CUfunction *function) {
  const Driver &driver = *target.driver;
  ATTN_RETURN_IF_ERROR(checkSharedMemory(kernel, *target.current.info));
  KernelImage image;
  ATTN_RETURN_IF_ERROR(
      readKernelImage(*target.manifest, kernel, *target.current.info, &image));
  CUmodule module = nullptr;
  ATTN_RETURN_IF_ERROR(
      withContext(loadModule(driver, image, &module), "loading " + image.path));
  ModuleUnloader unloader(driver, module);

  CUfunction loaded = nullptr;
  ATTN_CU_RETURN_IF_ERROR(
      driver, cuModuleGetFunction(&loaded, module, kernel.name.c_str()));
  // Registers per thread bound the block size; a launch beyond it would fail
  // with a less helpful CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES.
  int maxThreads = 0;
  ATTN_CU_RETURN_IF_ERROR(
      driver,
      cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                         loaded));
  if (maxThreads < kernel.threads) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "is launched with %d threads per block but this GPU "
                      "runs it with at most %d",
                      kernel.threads, maxThreads);
  }
  if (kernel.sharedBytes > kDefaultSharedLimit) {
    ATTN_CU_RETURN_IF_ERROR(
        driver, cuFuncSetAttribute(
                    loaded, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    kernel.sharedBytes));
  }
  unloader.release();
  *function = loaded;
  return Status();
}

struct LoadedKernel {
  std::mutex mutex;
  CUfunction function = nullptr; // null until loaded
};

} // namespace

Status checkSharedMemory(const KernelInfo &kernel, const DeviceInfo &device) {
  if (kernel.sharedBytes > device.maxSharedOptin) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "needs %d bytes of dynamic shared memory per block; "
                      "this GPU allows at most %d",
                      kernel.sharedBytes, device.maxSharedOptin);
  }
  return Status();
}

Status getKernelFunction(const LaunchTarget &target, const KernelInfo &kernel,
                         CUfunction *function) {
  // Entries are never erased; modules live as long as their context. Keyed
  // by the context's id, since a CUcontext handle can be reused.
  using Key = std::pair<uint64_t, const KernelInfo *>;
  static std::mutex mutex;
  static auto *kernels = new std::map<Key, std::unique_ptr<LoadedKernel>>;
  LoadedKernel *loaded = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    std::unique_ptr<LoadedKernel> &entry =
        (*kernels)[Key(target.current.contextId, &kernel)];
    if (entry == nullptr)
      entry = std::make_unique<LoadedKernel>();
    loaded = entry.get();
  }
  // A load (a PTX JIT can take seconds) holds only its own kernel's lock:
  // launches of kernels already loaded go on meanwhile.
  std::lock_guard<std::mutex> lock(loaded->mutex);
  if (loaded->function == nullptr) {
    ATTN_RETURN_IF_ERROR(
        withContext(loadKernel(target, kernel, &loaded->function),
                    "kernel '" + kernel.name + "' of " + target.manifest->dir));
  }
  *function = loaded->function;
  return Status();
}

} // namespace attn
