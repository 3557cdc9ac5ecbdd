// Driver tests: loading, error text, smem opt-in, modules, threads, last error.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

namespace attn::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class DriverTest : public RuntimeTest {
protected:
  // The default pack with every decode kernel using `smem` bytes.
  void writePackWithSharedMemory(int smem) {
    std::vector<TestKernel> kernels = defaultKernels();
    for (TestKernel &kernel : kernels) {
      if (kernel.op == "decode")
        kernel.smem = smem;
    }
    writePack(packDir(), "sm_90", kernels);
  }

  void failCall(const char *call, CUresult result) {
    fakeConfig.failingCall = call;
    fakeConfig.failure = result;
    resetFake();
  }
};

TEST_F(DriverTest, ReportsTheApiVersionAndNoErrorAtFirst) {
  EXPECT_EQ(runtime->apiVersion(), ATTN_API_VERSION);
  EXPECT_STREQ(runtime->lastError(), "");
}

TEST_F(DriverTest, MissingDriverLibraryIsADriverError) {
  setenv("ATTN_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(
      lastError(),
      HasSubstr("cannot load the CUDA driver '/nonexistent/libcuda.so.1'"));
}

TEST_F(DriverTest, LibraryWithoutDriverEntryPointsIsADriverError) {
  setenv("ATTN_LIBCUDA", "libm.so.6", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(
      lastError(),
      HasSubstr("the CUDA driver 'libm.so.6' has no entry point cuInit"));
}

TEST_F(DriverTest, DriverErrorsNameCallErrorDescriptionAndLocation) {
  failCall("cuInit", CUDA_ERROR_NO_DEVICE);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              AllOf(StartsWith("attn_paged_decode_workspace_size: cuInit(0) "
                               "failed with CUDA_ERROR_NO_DEVICE (100): no "
                               "CUDA-capable device is detected "
                               "[runtime/driver.cpp:"),
                    ::testing::EndsWith("]")));
  // A driver that failed to initialise stays failed.
  failCall("", CUDA_SUCCESS);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
}

TEST_F(DriverTest, LaunchFailureIsADriverError) {
  failCall("cuLaunchKernel", CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              AllOf(StartsWith("attn_paged_decode: kernel "
                               "'decode_bf16_d128_g2_paged_causal': "
                               "cuLaunchKernel(function, grid, block, "),
                    HasSubstr("failed with CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES "
                              "(701): too many resources requested for launch "
                              "[runtime/launch.cpp:")));
}

TEST_F(DriverTest, UnknownResultCodesAreStillReported) {
  // 998 is no CUresult the fake driver (or CUDA 13) knows.
  failCall("cuLaunchKernel", static_cast<CUresult>(998));
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              HasSubstr("failed with an unknown CUresult (998): no "
                        "description"));
}

TEST_F(DriverTest, PtxJitFailureCarriesTheJitLog) {
  setenv("ATTN_TARGET", "sm_89", 1);
  fakeConfig.jitLog = "ptxas fatal : Unresolved extern function 'expf'";
  failCall("cuModuleLoadDataEx", CUDA_ERROR_INVALID_PTX);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(
      lastError(),
      AllOf(HasSubstr("kernel 'decode_bf16_d128_g2_paged_causal' of " +
                      packDir() + "/sm_89: loading " + packDir() +
                      "/sm_89/decode_bf16_d128_g2_paged_causal.ptx: "),
            HasSubstr("failed with CUDA_ERROR_INVALID_PTX (218): a PTX JIT "
                      "compilation failed"),
            ::testing::EndsWith(
                "; JIT log: ptxas fatal : Unresolved extern function 'expf'")));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DriverTest, MissingEntryPointUnloadsTheModule) {
  // The image declares another entry than the manifest's name (which no hash
  // catches when the manifest has none).
  std::vector<TestKernel> kernels = defaultKernels();
  for (TestKernel &kernel : kernels)
    kernel.hash = false;
  writePack(packDir(), "sm_90", kernels);
  writeFile(packDir() + "/sm_90/decode_bf16_d128_g2_paged_causal.cubin",
            "cubin another_kernel 8");
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              AllOf(HasSubstr("kernel 'decode_bf16_d128_g2_paged_causal'"),
                    HasSubstr("cuModuleGetFunction("),
                    HasSubstr("CUDA_ERROR_NOT_FOUND")));
  EXPECT_EQ(fakecuda::moduleUnloads(), 1);
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DriverTest, SharedMemoryUpTo48KbNeedsNoOptIn) {
  writePackWithSharedMemory(48 * 1024);
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  EXPECT_TRUE(fakecuda::attributeSets().empty());
  EXPECT_EQ(fakecuda::launches().at(0).sharedBytes, 48u * 1024);
}

TEST_F(DriverTest, SharedMemoryAbove48KbIsOptedInOnce) {
  writePackWithSharedMemory(48 * 1024 + 1);
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::AttributeSet> sets = fakecuda::attributeSets();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].function, "decode_bf16_d128_g2_paged_causal");
  EXPECT_EQ(sets[0].attribute, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
  EXPECT_EQ(sets[0].value, 48 * 1024 + 1);
  // The fake driver, like the real one, refuses launches above the opt-in.
  EXPECT_EQ(fakecuda::launches().at(0).sharedBytes, 48u * 1024 + 1);
}

TEST_F(DriverTest, SharedMemoryAboveTheDeviceLimitIsUnsupported) {
  fakeConfig.maxSharedOptin = 101376; // an sm_89 GPU's 99 KB
  resetFake();
  writePackWithSharedMemory(101377);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("kernel 'decode_bf16_d128_g2_paged_causal' of " +
                        packDir() +
                        "/sm_90: needs 101377 bytes of dynamic shared memory "
                        "per block; this GPU allows at most 101376"));
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(DriverTest, BlockLargerThanTheKernelAllowsIsUnsupported) {
  fakeConfig.maxThreadsPerBlock = 64;
  resetFake();
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("is launched with 128 threads per block "
                                     "but this GPU runs it with at most 64"));
  EXPECT_EQ(fakecuda::moduleUnloads(), 1);
}

TEST_F(DriverTest, ModulesLoadOncePerContext) {
  CUcontext second = fakecuda::createContext(0);
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::moduleLoads().size(), 2u); // decode and combine

  fakecuda::setCurrentContext(second);
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::ModuleLoad> loads = fakecuda::moduleLoads();
  ASSERT_EQ(loads.size(), 4u);
  EXPECT_EQ(loads[2].contextId, fakecuda::contextId(second));
  EXPECT_EQ(loads[3].contextId, fakecuda::contextId(second));
  // The fake driver refuses a function launched outside its context.
  EXPECT_EQ(fakecuda::launches().back().contextId, fakecuda::contextId(second));
}

TEST_F(DriverTest, DevicePropertiesAreQueriedOncePerDevice) {
  // 32 CTAs over 8192 keys: 8 splits on 132 SMs, 2 on 16.
  attn_paged_decode_args args = validArgs();
  args.max_seqlen_k = 8192;
  args.block_table_stride = 8192 / 256;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(0).grid[0], 8u);

  // Device 0 keeps its cached 132 SMs; device 1 is queried and has 16.
  fakeConfig.smCount = 16;
  resetFake();
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(0).grid[0], 8u);
  fakecuda::setCurrentContext(fakecuda::createContext(1));
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(2).grid[0], 2u); // decode, combine, decode
}

TEST_F(DriverTest, SixteenThreadsDecodeAndPrefillConcurrently) {
  constexpr int kThreads = 16;
  constexpr int kCallsPerThread = 50;
  fakeConfig.loadTime = std::chrono::milliseconds(50);
  resetFake();
  CUcontext contexts[] = {fakecuda::createContext(0),
                          fakecuda::createContext(0)};
  // Thread t's calls carry t in their output address and their sizes, so
  // each recorded launch can be checked against the call that made it.
  auto outAddress = [](int t) { return deviceAddress(0x6000000000 + t * 256); };
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      fakecuda::setCurrentContext(contexts[t % 2]);
      attn_paged_decode_args decodeArgs = validArgs();
      decodeArgs.batch = t + 1;
      decodeArgs.num_splits = 2;
      decodeArgs.out = outAddress(t);
      attn_varlen_prefill_args prefillArgs = validPrefillArgs();
      prefillArgs.batch = t + 1;
      prefillArgs.total_q = t + 1;
      prefillArgs.max_seqlen_q = 64 * (t + 1);
      prefillArgs.max_seqlen_k = prefillArgs.max_seqlen_q; // grid z t + 1
      prefillArgs.out = outAddress(t);
      // Small grids would split; one launch per call keeps the count simple.
      prefillArgs.num_splits = 1;
      for (int i = 0; i < kCallsPerThread; ++i) {
        if (decode(decodeArgs) != ATTN_SUCCESS ||
            prefill(prefillArgs) != ATTN_SUCCESS)
          ++failures;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);

  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  EXPECT_EQ(launches.size(), 3u * kThreads * kCallsPerThread);
  std::map<std::string, int> counts;
  for (const fakecuda::Launch &launch : launches) {
    ++counts[launch.function];
    bool isPrefill = launch.function.rfind("prefill", 0) == 0;
    size_t outParam = isPrefill ? size_t{kPrefillOut}
                      : launch.function.rfind("decode", 0) == 0
                          ? size_t{kDecodeOut}
                          : size_t{kCombineOut};
    uint64_t t = (param<uint64_t>(launch, outParam) - 0x6000000000) / 256;
    ASSERT_LT(t, uint64_t{kThreads}) << launch.function;
    EXPECT_EQ(launch.contextId, fakecuda::contextId(contexts[t % 2]));
    if (isPrefill) {
      EXPECT_EQ(launch.grid[1], t + 1); // batch
      EXPECT_EQ(launch.grid[2], t + 1); // ceil(64 (t + 1) / block_m=64)
      EXPECT_EQ(param<int32_t>(launch, kPrefillTotalQ), int32_t(t + 1));
    } else {
      EXPECT_EQ(launch.grid[2], t + 1) << launch.function; // batch
    }
  }
  for (const char *function :
       {"decode_bf16_d128_g2_paged_causal", "combine_bf16_d128",
        "prefill_bf16_d128_g0_contiguous_causal"})
    EXPECT_EQ(counts[function], kThreads * kCallsPerThread) << function;
  // Each kernel loaded once in each context, however many threads raced.
  std::vector<fakecuda::ModuleLoad> loads = fakecuda::moduleLoads();
  EXPECT_EQ(loads.size(), 3u * 2);
  std::set<std::pair<uint64_t, std::string>> unique;
  for (const fakecuda::ModuleLoad &load : loads)
    unique.emplace(load.contextId, load.image);
  EXPECT_EQ(unique.size(), loads.size());
  // The 64 KB prefill kernel is opted in once per context.
  EXPECT_EQ(fakecuda::attributeSets().size(), 2u);
}

TEST_F(DriverTest, LastErrorIsPerThreadAndKeptUntilTheNextFailure) {
  attn_paged_decode_args bad = validArgs();
  bad.q = nullptr;
  EXPECT_EQ(decode(bad), ATTN_ERROR_INVALID_ARGUMENT);
  const std::string message =
      "attn_paged_decode_workspace_size: 'q' must not be NULL";
  EXPECT_EQ(lastError(), message);

  std::string otherThreadBefore;
  std::string otherThreadAfter;
  std::thread([&] {
    otherThreadBefore = runtime->lastError();
    attn_paged_decode_args other = validArgs();
    other.page_size = 24;
    decode(other);
    otherThreadAfter = runtime->lastError();
  }).join();
  EXPECT_EQ(otherThreadBefore, "");
  EXPECT_THAT(otherThreadAfter, HasSubstr("'page_size'"));

  EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS);
  EXPECT_EQ(lastError(), message);
}

} // namespace
} // namespace attn::test
