// attn-overhead: the host time libattnrt's calls cost on a GPU, for the
// Qwen3-0.6B shapes nano-vllm runs (Hq=16, Hkv=8, D=128, bf16, 256-token
// pages): the first call (manifest, module load, launch) and the median and
// p90 of steady-state calls, beside a bare cuLaunchKernel of an empty kernel.
//
//   attn-overhead [--out results.md] [--calls 10000] [--sync-every 32]
//
// libcuda.so.1 is dlopened, as libattnrt does, so this builds without a GPU.
#include "runtime/attn.h"

#include <cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define STRINGIFY_(x) #x
// Expands its argument first, so that versioned names resolve as cuda.h maps
// them (cuMemAlloc -> cuMemAlloc_v2).
#define STRINGIFY(x) STRINGIFY_(x)

namespace {

#define DRIVER_SYMBOLS(X)                                                      \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuGetErrorString)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuDevicePrimaryCtxRelease)                                                 \
  X(cuCtxSetCurrent)                                                           \
  X(cuStreamCreate)                                                            \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamDestroy)                                                           \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyHtoD)                                                              \
  X(cuModuleLoadData)                                                          \
  X(cuModuleGetFunction)                                                       \
  X(cuLaunchKernel)

struct Driver {
#define DECLARE(name) decltype(&::name) name = nullptr;
  DRIVER_SYMBOLS(DECLARE)
#undef DECLARE
};

Driver driver;

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "attn-overhead: %s\n", message.c_str());
  std::exit(1);
}

void loadDriver() {
  void *library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr)
    fail(std::string("cannot load libcuda.so.1: ") + dlerror());
#define RESOLVE(name)                                                          \
  driver.name = reinterpret_cast<decltype(driver.name)>(                       \
      dlsym(library, STRINGIFY(name)));                                        \
  if (driver.name == nullptr)                                                  \
    fail("libcuda.so.1 has no " STRINGIFY(name));
  DRIVER_SYMBOLS(RESOLVE)
#undef RESOLVE
}

void check(CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return;
  const char *description = "unknown error";
  driver.cuGetErrorString(result, &description);
  fail(std::string(call) + " failed: " + description);
}
#define CU_CHECK(call) check(driver.call, #call)

void check(attn_status status, const char *call) {
  if (status != ATTN_SUCCESS)
    fail(std::string(call) + " failed: " + attn_last_error());
}
#define ATTN_CHECK(call) check(call, #call)

// The display driver's version ("580.65.06"), from NVML where it is present.
std::string displayDriverVersion() {
  void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (nvml == nullptr)
    return "unknown";
  using Init = int (*)();
  using GetVersion = int (*)(char *, unsigned);
  auto init = reinterpret_cast<Init>(dlsym(nvml, "nvmlInit_v2"));
  auto getVersion =
      reinterpret_cast<GetVersion>(dlsym(nvml, "nvmlSystemGetDriverVersion"));
  auto shutdown = reinterpret_cast<Init>(dlsym(nvml, "nvmlShutdown"));
  char version[96] = "unknown";
  if (init == nullptr || getVersion == nullptr || shutdown == nullptr ||
      init() != 0)
    return version;
  if (getVersion(version, sizeof(version)) != 0)
    std::strcpy(version, "unknown");
  shutdown();
  return version;
}

// Device memory of `bytes` holding `host` repeated: random, never all zero.
CUdeviceptr upload(const std::vector<uint16_t> &host, size_t bytes) {
  CUdeviceptr pointer = 0;
  CU_CHECK(cuMemAlloc(&pointer, bytes));
  size_t chunk = host.size() * sizeof(uint16_t);
  for (size_t offset = 0; offset < bytes; offset += chunk) {
    CU_CHECK(cuMemcpyHtoD(pointer + offset, host.data(),
                          std::min(chunk, bytes - offset)));
  }
  return pointer;
}

CUdeviceptr upload(const std::vector<int32_t> &host) {
  CUdeviceptr pointer = 0;
  CU_CHECK(cuMemAlloc(&pointer, host.size() * sizeof(int32_t)));
  CU_CHECK(cuMemcpyHtoD(pointer, host.data(), host.size() * sizeof(int32_t)));
  return pointer;
}

void *asPointer(CUdeviceptr pointer) {
  return reinterpret_cast<void *>( // NOLINT(performance-no-int-to-ptr)
      static_cast<uintptr_t>(pointer));
}

using Clock = std::chrono::steady_clock;

double microseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

// One timed call and its times, in microseconds.
struct Row {
  std::string name;
  std::function<void()> call;
  double first = 0;
  double median = 0;
  double p90 = 0;
};

// Times the first call of `name`: what it loads on first use, and a launch.
Row timeFirst(const std::string &name, std::function<void()> call,
              CUstream stream) {
  Row row{name, std::move(call)};
  Clock::time_point start = Clock::now();
  row.call();
  row.first = microseconds(Clock::now() - start);
  CU_CHECK(cuStreamSynchronize(stream));
  return row;
}

// Times the call alone, `calls` times, synchronising `stream` (untimed)
// every `syncEvery` calls so that the launch queue never fills.
void timeSteadyState(Row &row, int calls, int syncEvery, CUstream stream) {
  std::vector<double> times;
  times.reserve(calls);
  for (int i = 0; i < calls; ++i) {
    Clock::time_point start = Clock::now();
    row.call();
    times.push_back(microseconds(Clock::now() - start));
    if ((i + 1) % syncEvery == 0)
      CU_CHECK(cuStreamSynchronize(stream));
  }
  CU_CHECK(cuStreamSynchronize(stream));
  std::sort(times.begin(), times.end());
  row.median = times[times.size() / 2];
  row.p90 = times[times.size() * 9 / 10];
}

// An empty kernel, JIT-compiled by the driver: the floor of a launch's cost.
const char kEmptyKernelPtx[] = R"(
.version 7.8
.target sm_80
.address_size 64
.visible .entry empty() { ret; }
)";

constexpr int kNumHeads = 16;
constexpr int kNumKvHeads = 8;
constexpr int kHeadDim = 128;
constexpr int kPageSize = 256;
constexpr int kDecodeBatch = 256;
constexpr int kDecodeMaxSeqlenK = 2048;
constexpr int kPrefillBatch = 16;
constexpr int kPrefillMaxSeqlen = 1024;

struct Options {
  std::string out;
  int calls = 10000;
  int syncEvery = 32;
};

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc)
      fail("usage: attn-overhead [--out results.md] [--calls N] "
           "[--sync-every N]");
    if (arg == "--out")
      options.out = argv[++i];
    else if (arg == "--calls")
      options.calls = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--sync-every")
      options.syncEvery = std::max(1, std::atoi(argv[++i]));
    else
      fail("unknown option " + arg);
  }
  return options;
}

// Whether the pack has the prefill kernel of these shapes; says why not.
bool packHasPrefill() {
  attn_support_query query = {};
  query.op = ATTN_OP_VARLEN_PREFILL;
  query.dtype = ATTN_DTYPE_BF16;
  query.num_heads = kNumHeads;
  query.num_kv_heads = kNumKvHeads;
  query.head_dim = kHeadDim;
  query.causal = 1;
  attn_status status = attn_query_support(&query);
  if (status == ATTN_ERROR_UNSUPPORTED) {
    std::fprintf(stderr, "attn-overhead: no prefill: %s\n", attn_last_error());
    return false;
  }
  check(status, "attn_query_support(&query)");
  return true;
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);
  loadDriver();
  CU_CHECK(cuInit(0));
  CUdevice device = 0;
  CU_CHECK(cuDeviceGet(&device, 0));
  CUcontext context = nullptr;
  CU_CHECK(cuDevicePrimaryCtxRetain(&context, device));
  CU_CHECK(cuCtxSetCurrent(context));
  CUstream stream = nullptr;
  CU_CHECK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  char gpuName[256] = {};
  CU_CHECK(cuDeviceGetName(gpuName, sizeof(gpuName), device));
  int cudaVersion = 0;
  CU_CHECK(cuDriverGetVersion(&cudaVersion));

  std::mt19937 random(2026);
  // bf16 values in (-1, 1): the upper half of a float's bits.
  std::vector<uint16_t> values(1 << 20);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (uint16_t &value : values) {
    float f = uniform(random);
    uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof(bits));
    value = static_cast<uint16_t>(bits >> 16);
  }
  const size_t rowBytes = size_t{kHeadDim} * sizeof(uint16_t);

  // Decode: B=256 sequences of 100-2048 cached keys, one query each.
  std::uniform_int_distribution<int> decodeLength(100, kDecodeMaxSeqlenK);
  const int maxPages = kDecodeMaxSeqlenK / kPageSize;
  std::vector<int32_t> cacheSeqlens(kDecodeBatch);
  std::vector<int32_t> blockTable(size_t{kDecodeBatch} * maxPages, -1);
  int numBlocks = 0;
  for (int b = 0; b < kDecodeBatch; ++b) {
    cacheSeqlens[b] = decodeLength(random);
    for (int p = 0; p * kPageSize < cacheSeqlens[b]; ++p)
      blockTable[size_t(b) * maxPages + p] = numBlocks++;
  }
  // Pages in a shuffled order, as a cache that has run a while holds them.
  std::vector<int32_t> order(numBlocks);
  for (int i = 0; i < numBlocks; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), random);
  for (int32_t &page : blockTable)
    page = page < 0 ? page : order[page];

  const size_t cacheBytes =
      size_t(numBlocks) * kPageSize * kNumKvHeads * rowBytes;
  const size_t decodeQBytes = size_t{kDecodeBatch} * kNumHeads * rowBytes;
  attn_paged_decode_args decode = {};
  decode.dtype = ATTN_DTYPE_BF16;
  decode.batch = kDecodeBatch;
  decode.seqlen_q = 1;
  decode.num_heads = kNumHeads;
  decode.num_kv_heads = kNumKvHeads;
  decode.head_dim = kHeadDim;
  decode.page_size = kPageSize;
  decode.max_seqlen_k = kDecodeMaxSeqlenK;
  decode.causal = 1;
  decode.softmax_scale = 0.08838834764831845f; // 1 / sqrt(128)
  decode.q = asPointer(upload(values, decodeQBytes));
  decode.k_cache = asPointer(upload(values, cacheBytes));
  decode.v_cache = asPointer(upload(values, cacheBytes));
  decode.cache_seqlens =
      static_cast<const int32_t *>(asPointer(upload(cacheSeqlens)));
  decode.block_table =
      static_cast<const int32_t *>(asPointer(upload(blockTable)));
  decode.block_table_stride = maxPages;
  decode.out = asPointer(upload(values, decodeQBytes));
  decode.q_strides[0] = decode.q_strides[1] = int64_t{kNumHeads} * kHeadDim;
  decode.q_strides[2] = kHeadDim;
  for (int64_t *strides : {decode.k_strides, decode.v_strides}) {
    strides[0] = int64_t{kPageSize} * kNumKvHeads * kHeadDim;
    strides[1] = int64_t{kNumKvHeads} * kHeadDim;
    strides[2] = kHeadDim;
  }
  std::copy(decode.q_strides, decode.q_strides + 3, decode.out_strides);

  // Prefill: 16 prompts of 100-1024 tokens, k and v packed.
  std::uniform_int_distribution<int> prefillLength(100, kPrefillMaxSeqlen);
  std::vector<int32_t> cuSeqlens(kPrefillBatch + 1, 0);
  int maxSeqlen = 0;
  for (int b = 0; b < kPrefillBatch; ++b) {
    int length = prefillLength(random);
    maxSeqlen = std::max(maxSeqlen, length);
    cuSeqlens[b + 1] = cuSeqlens[b] + length;
  }
  const int totalQ = cuSeqlens.back();
  CUdeviceptr cuSeqlensDevice = upload(cuSeqlens);
  attn_varlen_prefill_args prefill = {};
  prefill.dtype = ATTN_DTYPE_BF16;
  prefill.batch = kPrefillBatch;
  prefill.total_q = totalQ;
  prefill.num_heads = kNumHeads;
  prefill.num_kv_heads = kNumKvHeads;
  prefill.head_dim = kHeadDim;
  prefill.max_seqlen_q = maxSeqlen;
  prefill.max_seqlen_k = maxSeqlen;
  prefill.causal = 1;
  prefill.softmax_scale = decode.softmax_scale;
  prefill.q = asPointer(upload(values, size_t(totalQ) * kNumHeads * rowBytes));
  prefill.k =
      asPointer(upload(values, size_t(totalQ) * kNumKvHeads * rowBytes));
  prefill.v =
      asPointer(upload(values, size_t(totalQ) * kNumKvHeads * rowBytes));
  prefill.cu_seqlens_q = prefill.cu_seqlens_k =
      static_cast<const int32_t *>(asPointer(cuSeqlensDevice));
  prefill.out =
      asPointer(upload(values, size_t(totalQ) * kNumHeads * rowBytes));
  prefill.q_strides[0] = int64_t{kNumHeads} * kHeadDim;
  prefill.q_strides[1] = kHeadDim;
  for (int64_t *strides : {prefill.k_strides, prefill.v_strides}) {
    strides[0] = 0;
    strides[1] = int64_t{kNumKvHeads} * kHeadDim;
    strides[2] = kHeadDim;
  }
  std::copy(prefill.q_strides, prefill.q_strides + 2, prefill.out_strides);

  // The first calls of the process, in the order a caller makes them.
  std::vector<Row> rows;
  size_t decodeWorkspaceBytes = 0;
  rows.push_back(timeFirst(
      "attn_paged_decode_workspace_size",
      [&] {
        ATTN_CHECK(
            attn_paged_decode_workspace_size(&decode, &decodeWorkspaceBytes));
      },
      stream));
  CUdeviceptr workspace = 0;
  if (decodeWorkspaceBytes > 0)
    CU_CHECK(cuMemAlloc(&workspace, decodeWorkspaceBytes));
  rows.push_back(timeFirst(
      "attn_paged_decode",
      [&] {
        ATTN_CHECK(attn_paged_decode(&decode, asPointer(workspace),
                                     decodeWorkspaceBytes, stream));
      },
      stream));
  bool hasPrefill = packHasPrefill();
  if (hasPrefill) {
    rows.push_back(timeFirst(
        "attn_varlen_prefill_workspace_size",
        [&] {
          size_t bytes = 0;
          ATTN_CHECK(attn_varlen_prefill_workspace_size(&prefill, &bytes));
        },
        stream));
    rows.push_back(timeFirst(
        "attn_varlen_prefill",
        [&] { ATTN_CHECK(attn_varlen_prefill(&prefill, nullptr, 0, stream)); },
        stream));
  }
  CUmodule module = nullptr;
  CUfunction empty = nullptr;
  CU_CHECK(cuModuleLoadData(&module, kEmptyKernelPtx));
  CU_CHECK(cuModuleGetFunction(&empty, module, "empty"));
  rows.push_back(timeFirst(
      "cuLaunchKernel (empty kernel, floor)",
      [&] {
        CU_CHECK(cuLaunchKernel(empty, kNumHeads, 1, kDecodeBatch, 128, 1, 1, 0,
                                stream, nullptr, nullptr));
      },
      stream));
  for (Row &row : rows)
    timeSteadyState(row, options.calls, options.syncEvery, stream);

  const char *target = std::getenv("ATTN_TARGET");
  std::ostringstream table;
  table << "# libattnrt host overhead\n\n"
        << "GPU: " << gpuName << "; driver " << displayDriverVersion()
        << " (CUDA " << cudaVersion / 1000 << "." << cudaVersion % 1000 / 10
        << "); pack target: "
        << (target != nullptr && *target != '\0' ? target : "the device's")
        << "\n\n"
        << "Qwen3-0.6B shapes (bf16, Hq=16, Hkv=8, D=128): decode B="
        << kDecodeBatch << ", 256-token pages, " << numBlocks
        << " pages for 100-" << kDecodeMaxSeqlenK << " cached keys; prefill "
        << kPrefillBatch << " prompts of 100-" << kPrefillMaxSeqlen
        << " tokens (total_q=" << totalQ
        << "), k and v packed. Host time of the call alone; " << options.calls
        << " calls, the stream synchronised every " << options.syncEvery
        << " calls (untimed).\n\n"
        << "| call | first call (ms) | median (us) | p90 (us) |\n"
        << "|---|---|---|---|\n";
  for (const Row &row : rows) {
    char line[256];
    std::snprintf(line, sizeof(line), "| `%s` | %.3f | %.2f | %.2f |\n",
                  row.name.c_str(), row.first / 1000, row.median, row.p90);
    table << line;
  }
  if (!hasPrefill)
    table << "\nattn_varlen_prefill: not measured, the pack has no kernel "
             "for this shape.\n";
  std::fputs(table.str().c_str(), stdout);
  if (!options.out.empty()) {
    std::ofstream file(options.out);
    file << table.str();
    if (!file.good())
      fail("cannot write " + options.out);
  }

  CU_CHECK(cuStreamDestroy(stream));
  CU_CHECK(cuDevicePrimaryCtxRelease(device));
  return 0;
}
