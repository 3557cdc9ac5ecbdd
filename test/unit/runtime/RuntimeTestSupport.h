// Fixtures of the libattnrt host tests: library copies, test packs, arguments.
#ifndef ATTN_TEST_UNIT_RUNTIME_RUNTIMETESTSUPPORT_H
#define ATTN_TEST_UNIT_RUNTIME_RUNTIMETESTSUPPORT_H

#include "runtime/attn.h"
#include "test/unit/runtime/fake_cuda.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace attn::test {

// Parameter byte sizes in the order of docs/runtime_abi.md.
const std::vector<size_t> &decodeParamSizes();
const std::vector<size_t> &combineParamSizes();
const std::vector<size_t> &prefillParamSizes();

// Indices into the decode kernel's parameters.
enum DecodeParam {
  kDecodeQ = 0,
  kDecodeKCache = 1,
  kDecodeVCache = 2,
  kDecodeCacheSeqlens = 3,
  kDecodeBlockTable = 4,
  kDecodeOut = 5,
  kDecodeLse = 6,
  kDecodePartO = 7,
  kDecodePartLse = 8,
  kDecodeQStrides = 9,
  kDecodeKStrides = 12,
  kDecodeVStrides = 15,
  kDecodeBlockTableStride = 18,
  kDecodeOutStrides = 19,
  kDecodeSeqlenQ = 22,
  kDecodePageSize = 23,
  kDecodeNumSplits = 24,
  kDecodeSoftmaxScale = 25,
  kDecodeNumHeads = 26,
  kDecodeNumKvHeads = 27,
  kDecodeHeadDim = 28,
};

// Indices into the combine kernel's parameters.
enum CombineParam {
  kCombinePartO = 0,
  kCombinePartLse = 1,
  kCombineOut = 2,
  kCombineLse = 3,
  kCombineOutStrides = 4,
  kCombineNumSplits = 7,
  kCombineHeadDim = 8,
};

// Indices into the prefill kernel's parameters.
enum PrefillParam {
  kPrefillQ = 0,
  kPrefillK = 1,
  kPrefillV = 2,
  kPrefillCuSeqlensQ = 3,
  kPrefillCuSeqlensK = 4,
  kPrefillBlockTable = 5,
  kPrefillOut = 6,
  kPrefillLse = 7,
  kPrefillQStrides = 8,
  kPrefillKStrides = 10,
  kPrefillVStrides = 13,
  kPrefillBlockTableStride = 16,
  kPrefillOutStrides = 17,
  kPrefillNumKvHeads = 19,
  kPrefillPageSize = 20,
  kPrefillTotalQ = 21,
  kPrefillSoftmaxScale = 22,
  kPrefillPartO = 23,
  kPrefillPartLse = 24,
  kPrefillNumSplits = 25,
  kPrefillNumHeads = 26,
  kPrefillHeadShift = 27,
  kPrefillGroupMagic = 28,
  kPrefillHeadDim = 29,
};

// Indices of a local kernel's window and softcap parameters past its kind's
// (abi::local): kDecodeLocal + kLocalWindowLeft, say.
enum LocalParam {
  kDecodeLocal = 29,
  kPrefillLocal = 30,
  kLocalWindowLeft = 0,
  kLocalWindowRight = 1,
  kLocalSoftcap = 2,
};

// The value of parameter `index` of a recorded launch.
template <typename T> T param(const fakecuda::Launch &launch, size_t index) {
  T value{};
  EXPECT_LT(index, launch.params.size());
  if (index < launch.params.size()) {
    EXPECT_EQ(launch.params[index].size(), sizeof(T)) << "parameter " << index;
    std::memcpy(&value, launch.params[index].data(),
                std::min(sizeof(T), launch.params[index].size()));
  }
  return value;
}

// A made-up device address; the runtime passes addresses on and never
// dereferences them.
void *deviceAddress(uintptr_t value);

// One kernel line of a test pack, with a fake image per file.
struct TestKernel {
  std::string op = "decode";
  std::string dtype = "bf16";
  int headDim = 128;
  int group = 2;
  int paged = 1;
  int causal = 1;
  // A local kernel (local=1): window and softcap parameters after the kind's.
  int local = 0;
  // A TMA prefill kernel (tma=1): abi::tma's two maps and flag after the
  // others.
  int tma = 0;
  // Decode: query tokens a CTA folds (tokens=F when > 1).
  int tokens = 1;
  // Decode: KV heads a CTA takes (kv_heads=H when > 1).
  int kvHeads = 1;
  // " key=value" tokens the line carries besides (e.g. a decode kernel's
  // split policy).
  std::string extra;
  int threads = 128;
  int smem = 32 * 1024;
  int blockM = 16;
  // Combine only: the manifest's for= (the decode kernel it belongs to),
  // and pdl=1 (it waits for its split kernel by griddepcontrol).
  std::string combineFor;
  int dependentLaunch = 0;
  bool cubin = true;
  bool ptx = true; // false: the cubin alone (the embedded sm_90 kernels)
  // Whether the line carries the hash of the kernel's files.
  bool hash = true;

  // Unique per variant, e.g. "decode_bf16_d128_g2_paged_causal".
  std::string name() const;
};

TestKernel combineKernel(const std::string &dtype, int headDim);
// The combine kernel compiled into `kernel`'s module (for=<its name>).
TestKernel ownCombineKernel(const TestKernel &kernel);
TestKernel prefillKernel(const std::string &dtype, int headDim, int paged,
                         int causal);

// Decode kernels for bf16 and f16 (D=128, G=2, paged and contiguous),
// bf16 D=64 G=4, and the combine kernels of those dtypes and head dims;
// prefill kernels for any group size (G=0), bf16 and f16, D=128, packed and
// paged, causal, and bf16 D=128 packed non-causal, each with its own combine
// kernel (for=); the local kernels of bf16 D=128: decode for any G, paged,
// and prefill, packed (with its combine kernel).
std::vector<TestKernel> defaultKernels();

// FNV-1a 64 of `bytes`, as docs/runtime_abi.md hashes a kernel's files.
std::string fnv1a64(const std::string &bytes);

void writeFile(const std::string &path, const std::string &contents);

// Writes <packDir>/<target>/manifest.txt (with `headerExtra` appended to its
// first line) and the kernels' fake images.
void writePack(const std::string &packDir, const std::string &target,
               const std::vector<TestKernel> &kernels,
               const std::string &headerExtra = "");

// nano-vllm's decode step on Qwen3-0.6B: bf16, B=4, Lq=1, Hq=16, Hkv=8,
// D=128, 256-token pages, max_seqlen_k=2048, causal.
attn_paged_decode_args validArgs();

// nano-vllm's prefill on Qwen3-0.6B: bf16, 16 prompts, total_q=4000,
// max_seqlen_q=max_seqlen_k=1024, Hq=16, Hkv=8, D=128, packed k and v,
// causal.
attn_varlen_prefill_args validPrefillArgs();
// validPrefillArgs() reading k and v from 256-token pages.
attn_varlen_prefill_args validPagedPrefillArgs();

// A copy of libattnrt.so loaded on its own, so that each test starts with
// none of the state the library caches process-wide (driver, environment,
// manifests, modules).
class RuntimeLibrary {
public:
  // Copies the library into `dir` and loads it from there.
  explicit RuntimeLibrary(const std::string &dir);
  ~RuntimeLibrary();
  RuntimeLibrary(const RuntimeLibrary &) = delete;
  RuntimeLibrary &operator=(const RuntimeLibrary &) = delete;

  decltype(&attn_api_version) apiVersion = nullptr;
  decltype(&attn_last_error) lastError = nullptr;
  decltype(&attn_paged_decode_workspace_size) workspaceSize = nullptr;
  decltype(&attn_paged_decode) pagedDecode = nullptr;
  decltype(&attn_varlen_prefill_workspace_size) prefillWorkspaceSize = nullptr;
  decltype(&attn_varlen_prefill) varlenPrefill = nullptr;
  decltype(&attn_query_support) querySupport = nullptr;
  decltype(&attn_paged_decode_check_indices) checkDecodeIndices = nullptr;
  decltype(&attn_varlen_prefill_check_indices) checkPrefillIndices = nullptr;

private:
  void *handle_ = nullptr;
};

class RuntimeTest : public ::testing::Test {
protected:
  // A temporary directory holding lib/libattnrt.so and the default pack for
  // sm_89 and sm_90 in pack/, which ATTN_PACK_DIR names; the fake driver
  // reset to `fakeConfig`, current on every thread; ATTN_TARGET unset. Tests
  // change the environment, the pack or the fake before their first call
  // into the runtime, which reads them then.
  void SetUp() override;
  void TearDown() override;

  std::string packDir() const { return tempDir + "/pack"; }
  void resetFake() { fakecuda::reset(fakeConfig); }

  // Queries the workspace size and launches on the legacy stream, with
  // kWorkspace as the workspace when one is needed.
  attn_status decode(const attn_paged_decode_args &args);
  attn_status workspaceSize(const attn_paged_decode_args &args, size_t *bytes);
  // Queries the workspace size and launches on the legacy stream, with
  // kWorkspace as the workspace when one is needed.
  attn_status prefill(const attn_varlen_prefill_args &args);
  std::string lastError() const { return runtime->lastError(); }

  static constexpr uintptr_t kWorkspace = 0x7000000000;

  fakecuda::Config fakeConfig;
  std::string tempDir;
  std::unique_ptr<RuntimeLibrary> runtime;
};

} // namespace attn::test

#endif // ATTN_TEST_UNIT_RUNTIME_RUNTIMETESTSUPPORT_H
