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
  // The entry point that fails, and with what. cuModuleLoadDataEx also
  // writes jitLog to the caller's error log buffer.
  std::string failingCall;
  CUresult failure = CUDA_SUCCESS;
  std::string jitLog;
  // cuModuleLoadDataEx takes this long, as a PTX JIT does, so that loads
  // racing in several threads overlap.
  std::chrono::milliseconds loadTime{0};
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
};

struct AttributeSet {
  std::string function;
  CUfunction_attribute attribute;
  int value;
};

// Forgets every record, applies `config` and makes a fresh context of device
// 0 current on every thread.
void reset(const Config &config);
// A new context of `device`; its id is unique in the process.
CUcontext createContext(CUdevice device);
// Makes `context` (null: none) current on the calling thread.
void setCurrentContext(CUcontext context);
uint64_t contextId(CUcontext context);

std::vector<ModuleLoad> moduleLoads();
std::vector<Launch> launches();
std::vector<AttributeSet> attributeSets();
int moduleUnloads();

} // namespace fakecuda

#endif // ATTN_TEST_UNIT_RUNTIME_FAKE_CUDA_H
