// The controls and records of the fake CUDA driver the runtime tests load.
//
// libattnrt loads libfake_cuda.so through ATTN_LIBCUDA. Module images are text,
// "<kind> <entry> <byte size of each parameter>...", optionally followed by
// non-numeric words, standing in for the PTX or cubin from which a real driver
// learns the entry name and parameter layout.
#ifndef ATTN_TEST_UNIT_RUNTIME_FAKE_CUDA_H
#define ATTN_TEST_UNIT_RUNTIME_FAKE_CUDA_H

#include <cuda.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace fakecuda {

struct Config {
  int computeMajor = 9;
  int computeMinor = 0;
  int smCount = 132;
  int maxSharedOptin = 232448; // an H100's 227 KB
  int maxThreadsPerBlock = 1024;
  // Devices cuDeviceGet knows: ordinals 0 .. deviceCount - 1.
  int deviceCount = 2;
  // true: every thread starts with a context of device 0 current; false: a
  // thread has none until one is set (setCurrentContext, cuCtxSetCurrent), as
  // a fresh thread of a real process.
  bool contextOnEveryThread = true;
  // The entry point that fails, and with what. cuModuleLoadDataEx also
  // writes jitLog to the caller's error log buffer.
  std::string failingCall;
  CUresult failure = CUDA_SUCCESS;
  std::string jitLog;
  // cuModuleLoadDataEx takes this long, as a PTX JIT does, so that loads
  // racing in several threads overlap.
  std::chrono::milliseconds loadTime{0};
  // cuStreamIsCapturing reports this stream (when not null) as capturing.
  CUstream capturingStream = nullptr;
};

struct ModuleLoad {
  uint64_t contextId;
  std::string image;
};

struct Launch {
  std::string function;
  std::string imageKind; // the <kind> of the image the function came from
  uint64_t contextId;
  unsigned grid[3];
  unsigned block[3];
  unsigned sharedBytes;
  CUstream stream;
  std::vector<std::vector<unsigned char>> params;
  // cuLaunchKernelEx with programmatic stream serialization allowed.
  bool programmatic = false;
};

// A cuTensorMapEncodeTiled call the fake accepted (rank 3 or 4; the entries
// past the rank are 0). The map it writes holds, in its 16 words: the global
// address, dims[0..2], strides[0..1], box[0..2], the data type, the swizzle
// and the rank.
struct TensorMapEncode {
  CUtensorMapDataType type;
  uint32_t rank;
  uint64_t base;
  uint64_t dims[4];
  uint64_t strides[3];
  uint32_t box[4];
  CUtensorMapSwizzle swizzle;
  CUtensorMapFloatOOBfill fill;
};

struct AttributeSet {
  std::string function;
  CUfunction_attribute attribute;
  int value;
};

// Forgets every record, allocation and primary context, applies `config`
// and, with config.contextOnEveryThread, makes a fresh context of device 0
// current on every thread.
void reset(const Config &config);
// A new context of `device`; its id is unique in the process.
CUcontext createContext(CUdevice device);
// Makes `context` (null: none) current on the calling thread.
void setCurrentContext(CUcontext context);
uint64_t contextId(CUcontext context);
// The calling thread's current context (null: none).
CUcontext currentContext();
// The primary context of `device`, the one cuDevicePrimaryCtxRetain gives.
CUcontext primaryContext(CUdevice device);
// How often cuDevicePrimaryCtxRetain retained `device`'s primary context.
int primaryRetains(CUdevice device);
// Makes [base, base + bytes) memory of device `ordinal` for
// cuPointerGetAttribute(CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL); other addresses
// are unknown to the fake driver (CUDA_ERROR_INVALID_VALUE).
// cuMemcpyDtoHAsync copies from such memory (host memory standing in for the
// device's) and fails for a range outside every allocation.
void addAllocation(const void *base, size_t bytes, int ordinal);
// How often the entry point `name` was called (counted for
// cuPointerGetAttribute, cuDeviceGet, cuDevicePrimaryCtxRetain,
// cuCtxSetCurrent, cuMemcpyDtoHAsync and cuStreamSynchronize).
int calls(const std::string &name);

std::vector<ModuleLoad> moduleLoads();
std::vector<Launch> launches();
std::vector<AttributeSet> attributeSets();
std::vector<TensorMapEncode> tensorMapEncodes();
int moduleUnloads();

} // namespace fakecuda

#endif // ATTN_TEST_UNIT_RUNTIME_FAKE_CUDA_H
