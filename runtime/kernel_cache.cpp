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

Status loadImage(const LaunchTarget &target, const KernelInfo &kernel,
                 CUmodule *module) {
  KernelImage image;
  ATTN_RETURN_IF_ERROR(
      readKernelImage(*target.manifest, kernel, *target.current.info, &image));
  return withContext(loadModule(*target.driver, image, module),
                     "loading " + image.path);
}

Status getFunction(const LaunchTarget &target, const KernelInfo &kernel,
                   CUmodule module, CUfunction *function) {
  const Driver &driver = *target.driver;
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
  *function = loaded;
  return Status();
}

/// Lazily loaded entries, each behind its own lock: a load (a PTX JIT can
/// take seconds) blocks only the callers of that entry. Entries are never
/// erased; modules live as long as their context. Keys start with the
/// context's id, since a CUcontext handle can be reused.
template <typename Key, typename Value> class LazyMap {
public:
  struct Entry {
    std::mutex mutex;
    Value value = nullptr; // null until loaded
  };
  Entry &at(const Key &key) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::unique_ptr<Entry> &entry = entries_[key];
    if (entry == nullptr)
      entry = std::make_unique<Entry>();
    return *entry;
  }

private:
  std::mutex mutex_;
  std::map<Key, std::unique_ptr<Entry>> entries_;
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
  // Kernels whose manifest lines name the same files (a decode kernel and
  // the combine kernel compiled into its module) share one module.
  using ModuleKey = std::pair<uint64_t, std::string>;
  using FunctionKey = std::pair<uint64_t, const KernelInfo *>;
  static auto *modules = new LazyMap<ModuleKey, CUmodule>;
  static auto *functions = new LazyMap<FunctionKey, CUfunction>;
  uint64_t context = target.current.contextId;
  auto &loaded = functions->at(FunctionKey(context, &kernel));
  std::lock_guard<std::mutex> lock(loaded.mutex);
  if (loaded.value == nullptr) {
    const std::string &dir = kernelDir(*target.manifest, kernel);
    std::string where = "kernel '" + kernel.name + "' of " + dir;
    ATTN_RETURN_IF_ERROR(
        withContext(checkSharedMemory(kernel, *target.current.info), where));
    auto &module = modules->at(ModuleKey(context, dir + "/" + kernel.ptxFile +
                                                      "\n" + kernel.cubinFile));
    std::lock_guard<std::mutex> moduleLock(module.mutex);
    bool fresh = module.value == nullptr;
    if (fresh) {
      ATTN_RETURN_IF_ERROR(
          withContext(loadImage(target, kernel, &module.value), where));
    }
    Status status = getFunction(target, kernel, module.value, &loaded.value);
    if (!status.ok()) {
      // A module loaded for nothing is unloaded (the error says more than a
      // failed unload would); one that serves another kernel stays.
      if (fresh) {
        (void)target.driver->cuModuleUnload(module.value);
        module.value = nullptr;
      }
      return withContext(status, where);
    }
  }
  *function = loaded.value;
  return Status();
}

} // namespace attn
