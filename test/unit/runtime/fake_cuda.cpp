// A fake CUDA driver with controllable devices and failures; records launches.
#include "test/unit/runtime/fake_cuda.h"

#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

struct CUctx_st {
  CUdevice device;
  uint64_t id;
};

struct CUfunc_st {
  CUmod_st *module = nullptr;
  // Raised by
  // cuFuncSetAttribute(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
  int maxDynamicShared = 48 * 1024;
};

// One entry point per module is all the pack needs.
struct CUmod_st {
  CUctx_st *context = nullptr;
  std::string kind;
  std::string entry;
  std::vector<size_t> paramSizes;
  CUfunc_st function;
  bool unloaded = false;
};

namespace fakecuda {

namespace {

struct State {
  std::mutex mutex;
  Config config;
  // Never freed: handles given to earlier runtime instances stay valid.
  std::deque<CUctx_st> contexts;
  std::deque<CUmod_st> modules;
  CUctx_st *defaultContext = nullptr;
  // Bumped by reset(), which drops every thread's setCurrentContext().
  uint64_t generation = 0;
  std::vector<ModuleLoad> moduleLoads;
  std::vector<Launch> launches;
  std::vector<AttributeSet> attributeSets;
  std::vector<TensorMapEncode> tensorMapEncodes;
  int moduleUnloads = 0;
  std::map<CUdevice, CUctx_st *> primaryContexts;
  std::map<CUdevice, int> primaryRetains;
  struct Allocation {
    uintptr_t base;
    size_t bytes;
    int ordinal;
  };
  std::vector<Allocation> allocations;
  std::map<std::string, int> calls;
};

State &state() {
  static State *instance = new State;
  return *instance;
}

struct ThreadContext {
  uint64_t generation = UINT64_MAX;
  CUctx_st *context = nullptr;
};
thread_local ThreadContext threadContext;

// Call with the state's mutex held.
CUctx_st *currentContextOf(State &s) {
  if (threadContext.generation == s.generation)
    return threadContext.context;
  return s.config.contextOnEveryThread ? s.defaultContext : nullptr;
}

CUctx_st *newContext(State &s, CUdevice device) {
  s.contexts.push_back(CUctx_st{device, s.contexts.size() + 1});
  return &s.contexts.back();
}

// Call with the state's mutex held.
CUctx_st *primaryContextOf(State &s, CUdevice device) {
  CUctx_st *&primary = s.primaryContexts[device];
  if (primary == nullptr)
    primary = newContext(s, device);
  return primary;
}

// The configured failure of `call`, or CUDA_SUCCESS. Call with the mutex held.
CUresult injected(State &s, const char *call) {
  return s.config.failingCall == call ? s.config.failure : CUDA_SUCCESS;
}

const std::map<CUresult, std::pair<const char *, const char *>> &errorTexts() {
  static const auto *texts =
      new std::map<CUresult, std::pair<const char *, const char *>>{
          {CUDA_SUCCESS, {"CUDA_SUCCESS", "no error"}},
          {CUDA_ERROR_INVALID_VALUE,
           {"CUDA_ERROR_INVALID_VALUE", "invalid argument"}},
          {CUDA_ERROR_OUT_OF_MEMORY,
           {"CUDA_ERROR_OUT_OF_MEMORY", "out of memory"}},
          {CUDA_ERROR_NO_DEVICE,
           {"CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"}},
          {CUDA_ERROR_INVALID_DEVICE,
           {"CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"}},
          {CUDA_ERROR_INVALID_IMAGE,
           {"CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"}},
          {CUDA_ERROR_INVALID_CONTEXT,
           {"CUDA_ERROR_INVALID_CONTEXT", "invalid device context"}},
          {CUDA_ERROR_INVALID_PTX,
           {"CUDA_ERROR_INVALID_PTX", "a PTX JIT compilation failed"}},
          {CUDA_ERROR_INVALID_HANDLE,
           {"CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"}},
          {CUDA_ERROR_NOT_FOUND,
           {"CUDA_ERROR_NOT_FOUND", "named symbol not found"}},
          {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES,
           {"CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES",
            "too many resources requested for launch"}},
      };
  return *texts;
}

} // namespace

void reset(const Config &config) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.config = config;
  s.defaultContext = newContext(s, 0);
  ++s.generation;
  s.moduleLoads.clear();
  s.launches.clear();
  s.attributeSets.clear();
  s.tensorMapEncodes.clear();
  s.moduleUnloads = 0;
  s.primaryContexts.clear();
  s.primaryRetains.clear();
  s.allocations.clear();
  s.calls.clear();
}

CUcontext createContext(CUdevice device) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return newContext(s, device);
}

void setCurrentContext(CUcontext context) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  threadContext = {s.generation, context};
}

uint64_t contextId(CUcontext context) { return context->id; }

CUcontext currentContext() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return currentContextOf(state());
}

CUcontext primaryContext(CUdevice device) {
  std::lock_guard<std::mutex> lock(state().mutex);
  return primaryContextOf(state(), device);
}

int primaryRetains(CUdevice device) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto found = state().primaryRetains.find(device);
  return found == state().primaryRetains.end() ? 0 : found->second;
}

void addAllocation(const void *base, size_t bytes, int ordinal) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().allocations.push_back(
      {reinterpret_cast<uintptr_t>(base), bytes, ordinal});
}

int calls(const std::string &name) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto found = state().calls.find(name);
  return found == state().calls.end() ? 0 : found->second;
}

std::vector<ModuleLoad> moduleLoads() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().moduleLoads;
}

std::vector<Launch> launches() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().launches;
}

std::vector<TensorMapEncode> tensorMapEncodes() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().tensorMapEncodes;
}

std::vector<AttributeSet> attributeSets() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().attributeSets;
}

int moduleUnloads() {
  std::lock_guard<std::mutex> lock(state().mutex);
  return state().moduleUnloads;
}

// Checks the launch as the driver would (context, block size, shared memory
// opt-in) and records it with a copy of each parameter's bytes.
static CUresult recordLaunch(const char *call, CUfunction function,
                             const unsigned grid[3], const unsigned block[3],
                             unsigned sharedBytes, CUstream stream,
                             void **params, void **extra, bool programmatic) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, call))
    return result;
  const CUmod_st &module = *function->module;
  if (module.unloaded || module.context != fakecuda::currentContextOf(s))
    return CUDA_ERROR_INVALID_HANDLE;
  unsigned threads = block[0] * block[1] * block[2];
  if (grid[0] == 0 || grid[1] == 0 || grid[2] == 0 || grid[1] > 65535 ||
      grid[2] > 65535 || threads == 0 ||
      threads > static_cast<unsigned>(s.config.maxThreadsPerBlock) ||
      sharedBytes > static_cast<unsigned>(function->maxDynamicShared) ||
      params == nullptr || extra != nullptr)
    return CUDA_ERROR_INVALID_VALUE;

  fakecuda::Launch launch{module.entry,
                          module.kind,
                          module.context->id,
                          {grid[0], grid[1], grid[2]},
                          {block[0], block[1], block[2]},
                          sharedBytes,
                          stream,
                          {},
                          programmatic};
  for (size_t i = 0; i < module.paramSizes.size(); ++i) {
    const auto *bytes = static_cast<const unsigned char *>(params[i]);
    launch.params.emplace_back(bytes, bytes + module.paramSizes[i]);
  }
  s.launches.push_back(std::move(launch));
  return CUDA_SUCCESS;
}

} // namespace fakecuda

using fakecuda::injected;
using fakecuda::state;

extern "C" {

CUresult cuInit(unsigned int flags) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (flags != 0)
    return CUDA_ERROR_INVALID_VALUE;
  return injected(state(), "cuInit");
}

CUresult cuGetErrorName(CUresult error, const char **name) {
  auto it = fakecuda::errorTexts().find(error);
  if (it == fakecuda::errorTexts().end())
    return CUDA_ERROR_INVALID_VALUE;
  *name = it->second.first;
  return CUDA_SUCCESS;
}

CUresult cuGetErrorString(CUresult error, const char **description) {
  auto it = fakecuda::errorTexts().find(error);
  if (it == fakecuda::errorTexts().end())
    return CUDA_ERROR_INVALID_VALUE;
  *description = it->second.second;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetCurrent(CUcontext *context) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, "cuCtxGetCurrent"))
    return result;
  *context = fakecuda::currentContextOf(s);
  return CUDA_SUCCESS;
}

CUresult cuCtxSetCurrent(CUcontext context) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuCtxSetCurrent"];
  if (CUresult result = injected(s, "cuCtxSetCurrent"))
    return result;
  fakecuda::threadContext = {s.generation, context};
  return CUDA_SUCCESS;
}

CUresult cuCtxGetId(CUcontext context, unsigned long long *id) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (CUresult result = injected(state(), "cuCtxGetId"))
    return result;
  *id = context->id;
  return CUDA_SUCCESS;
}

CUresult cuCtxGetDevice(CUdevice *device) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  CUctx_st *context = fakecuda::currentContextOf(s);
  if (context == nullptr)
    return CUDA_ERROR_INVALID_CONTEXT;
  *device = context->device;
  return injected(s, "cuCtxGetDevice");
}

// Answers CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL for the addAllocation() ranges,
// with or without a current context, as the driver does for any allocation.
CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute,
                               CUdeviceptr pointer) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuPointerGetAttribute"];
  if (CUresult result = injected(s, "cuPointerGetAttribute"))
    return result;
  if (attribute != CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL)
    return CUDA_ERROR_INVALID_VALUE;
  for (const fakecuda::State::Allocation &allocation : s.allocations) {
    if (pointer >= allocation.base &&
        pointer - allocation.base < allocation.bytes) {
      *static_cast<int *>(data) = allocation.ordinal;
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuDeviceGet"];
  if (CUresult result = injected(s, "cuDeviceGet"))
    return result;
  if (ordinal < 0 || ordinal >= s.config.deviceCount)
    return CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice device) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuDevicePrimaryCtxRetain"];
  if (CUresult result = injected(s, "cuDevicePrimaryCtxRetain"))
    return result;
  if (device < 0 || device >= s.config.deviceCount)
    return CUDA_ERROR_INVALID_DEVICE;
  ++s.primaryRetains[device];
  *context = fakecuda::primaryContextOf(s, device);
  return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                              CUdevice device) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, "cuDeviceGetAttribute"))
    return result;
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = s.config.computeMajor;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = s.config.computeMinor;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = s.config.smCount;
    return CUDA_SUCCESS;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = s.config.maxSharedOptin;
    return CUDA_SUCCESS;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image,
                            unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
  fakecuda::State &s = state();
  std::unique_lock<std::mutex> lock(s.mutex);
  std::chrono::milliseconds loadTime = s.config.loadTime;
  lock.unlock();
  std::this_thread::sleep_for(loadTime);
  lock.lock();
  CUctx_st *context = fakecuda::currentContextOf(s);
  if (context == nullptr)
    return CUDA_ERROR_INVALID_CONTEXT;
  if (CUresult result = injected(s, "cuModuleLoadDataEx")) {
    char *log = nullptr;
    size_t logSize = 0;
    for (unsigned i = 0; i < numOptions; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        log = static_cast<char *>(optionValues[i]);
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        logSize = reinterpret_cast<uintptr_t>(optionValues[i]);
    }
    if (log != nullptr && logSize > 0)
      std::snprintf(log, logSize, "%s", s.config.jitLog.c_str());
    return result;
  }

  std::string text(static_cast<const char *>(image));
  s.moduleLoads.push_back({context->id, text});
  std::istringstream tokens(text);
  std::string kind;
  std::string entry;
  if (!(tokens >> kind >> entry))
    return CUDA_ERROR_INVALID_IMAGE;
  CUmod_st &loaded = s.modules.emplace_back();
  loaded.context = context;
  loaded.kind = kind;
  loaded.entry = entry;
  for (size_t size = 0; tokens >> size;)
    loaded.paramSizes.push_back(size);
  loaded.function.module = &loaded;
  *module = &loaded;
  return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (module->unloaded)
    return CUDA_ERROR_INVALID_HANDLE;
  module->unloaded = true;
  ++state().moduleUnloads;
  return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *function, CUmodule module,
                             const char *name) {
  std::lock_guard<std::mutex> lock(state().mutex);
  if (CUresult result = injected(state(), "cuModuleGetFunction"))
    return result;
  if (module->unloaded)
    return CUDA_ERROR_INVALID_HANDLE;
  if (module->entry != name)
    return CUDA_ERROR_NOT_FOUND;
  *function = &module->function;
  return CUDA_SUCCESS;
}

CUresult cuFuncGetAttribute(int *value, CUfunction_attribute attribute,
                            CUfunction function) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
    return CUDA_ERROR_INVALID_VALUE;
  *value = s.config.maxThreadsPerBlock;
  return injected(s, "cuFuncGetAttribute");
}

CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute,
                            int value) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, "cuFuncSetAttribute"))
    return result;
  if (attribute != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES ||
      value > s.config.maxSharedOptin)
    return CUDA_ERROR_INVALID_VALUE;
  function->maxDynamicShared = value;
  s.attributeSets.push_back({function->module->entry, attribute, value});
  return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction function, unsigned int gridX,
                        unsigned int gridY, unsigned int gridZ,
                        unsigned int blockX, unsigned int blockY,
                        unsigned int blockZ, unsigned int sharedBytes,
                        CUstream stream, void **params, void **extra) {
  const unsigned grid[3] = {gridX, gridY, gridZ};
  const unsigned block[3] = {blockX, blockY, blockZ};
  return fakecuda::recordLaunch("cuLaunchKernel", function, grid, block,
                                sharedBytes, stream, params, extra,
                                /*programmatic=*/false);
}

// cuLaunchKernel's checks; of the attributes, programmatic stream
// serialization is the only one the fake knows.
CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction function,
                          void **params, void **extra) {
  if (config == nullptr || (config->numAttrs != 0 && config->attrs == nullptr))
    return CUDA_ERROR_INVALID_VALUE;
  bool programmatic = false;
  for (unsigned i = 0; i < config->numAttrs; ++i) {
    const CUlaunchAttribute &attribute = config->attrs[i];
    if (attribute.id != CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
      return CUDA_ERROR_INVALID_VALUE;
    programmatic = attribute.value.programmaticStreamSerializationAllowed != 0;
  }
  const unsigned grid[3] = {config->gridDimX, config->gridDimY,
                            config->gridDimZ};
  const unsigned block[3] = {config->blockDimX, config->blockDimY,
                             config->blockDimZ};
  return fakecuda::recordLaunch("cuLaunchKernelEx", function, grid, block,
                                config->sharedMemBytes, config->hStream, params,
                                extra, programmatic);
}

// A copy out of memory addAllocation registered, as if it were the device's,
// on the current context's stream; the copy is done when the call returns.
CUresult cuMemcpyDtoHAsync(void *destination, CUdeviceptr source, size_t bytes,
                           CUstream stream) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuMemcpyDtoHAsync"];
  if (CUresult result = injected(s, "cuMemcpyDtoHAsync"))
    return result;
  if (fakecuda::currentContextOf(s) == nullptr)
    return CUDA_ERROR_INVALID_CONTEXT;
  for (const auto &allocation : s.allocations) {
    if (source >= allocation.base &&
        source + bytes <= allocation.base + allocation.bytes) {
      std::memcpy(destination, reinterpret_cast<const void *>(source), bytes);
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult cuStreamSynchronize(CUstream stream) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.calls["cuStreamSynchronize"];
  return injected(s, "cuStreamSynchronize");
}

// The rank-3 tiled maps the runtime encodes, checked against the driver's
// documented limits (16-byte aligned address, strides of whole 16 bytes
// under 2^40 and not 0, which the runtime must never pass, box
// sides of 1 to 256, a swizzled box row of at most the swizzle's span).
CUresult cuTensorMapEncodeTiled(
    CUtensorMap *map, CUtensorMapDataType type, cuuint32_t rank, void *base,
    const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *box,
    const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
    CUtensorMapSwizzle swizzle, CUtensorMapL2promotion promotion,
    CUtensorMapFloatOOBfill fill) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, "cuTensorMapEncodeTiled"))
    return result;
  auto base16 = reinterpret_cast<uintptr_t>(base) % 16 == 0;
  if (map == nullptr || rank < 3 || rank > 4 || !base16 ||
      interleave != CU_TENSOR_MAP_INTERLEAVE_NONE)
    return CUDA_ERROR_INVALID_VALUE;
  for (cuuint32_t i = 0; i + 1 < rank; ++i)
    if (strides[i] == 0 || strides[i] % 16 != 0 ||
        strides[i] >= (uint64_t{1} << 40))
      return CUDA_ERROR_INVALID_VALUE;
  for (cuuint32_t i = 0; i < rank; ++i)
    if (dims[i] == 0 || dims[i] > (uint64_t{1} << 32) || box[i] == 0 ||
        box[i] > 256 || elementStrides[i] != 1)
      return CUDA_ERROR_INVALID_VALUE;
  int elementBytes = type == CU_TENSOR_MAP_DATA_TYPE_FLOAT16 ||
                             type == CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                         ? 2
                         : 4;
  if (swizzle == CU_TENSOR_MAP_SWIZZLE_128B && box[0] * elementBytes > 128)
    return CUDA_ERROR_INVALID_VALUE;
  fakecuda::TensorMapEncode encode{};
  encode.type = type;
  encode.rank = rank;
  encode.base = reinterpret_cast<uintptr_t>(base);
  encode.swizzle = swizzle;
  encode.fill = fill;
  for (cuuint32_t i = 0; i < rank; ++i) {
    encode.dims[i] = dims[i];
    encode.box[i] = box[i];
    if (i + 1 < rank)
      encode.strides[i] = strides[i];
  }
  uint64_t words[16] = {encode.base, dims[0],    dims[1], dims[2],
                        strides[0],  strides[1], box[0],  box[1],
                        box[2],      type,       swizzle, rank};
  std::memcpy(map, words, sizeof(words));
  s.tensorMapEncodes.push_back(encode);
  return CUDA_SUCCESS;
}

CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus *status) {
  fakecuda::State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (CUresult result = injected(s, "cuStreamIsCapturing"))
    return result;
  *status = stream != nullptr && stream == s.config.capturingStream
                ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

} // extern "C"
