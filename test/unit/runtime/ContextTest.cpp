// Context tests: a thread with no current context launches in the primary
// context of the device holding q; a current context is used as it is.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <atomic>
#include <thread>
#include <vector>

namespace attn::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr size_t kAllocationBytes = size_t{1} << 30;

// A fake driver that, like a real process, gives a thread no context until
// one is set; validArgs()' and validPrefillArgs()' q and cu_seqlens_q live on
// device 1.
class ContextTest : public RuntimeTest {
protected:
  void SetUp() override {
    fakeConfig.contextOnEveryThread = false;
    RuntimeTest::SetUp();
    fakecuda::addAllocation(validArgs().q, kAllocationBytes, 1);
    fakecuda::addAllocation(validPrefillArgs().cu_seqlens_q, kAllocationBytes,
                            1);
  }

  // Runs `body` on a new thread, which has no current context, and waits.
  template <typename Body> static void onFreshThread(Body body) {
    std::thread(body).join();
  }
};

TEST_F(ContextTest, FreshThreadLaunchesInThePrimaryContextOfQsDevice) {
  CUcontext primary = fakecuda::primaryContext(1);
  onFreshThread([&] {
    ASSERT_EQ(fakecuda::currentContext(), nullptr);
    // The size query already needs the device (its kernel choice and SM
    // count), so it makes the context current.
    size_t bytes = 0;
    attn_paged_decode_args args = validArgs();
    ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::currentContext(), primary);
    ASSERT_EQ(
        runtime->pagedDecode(&args, deviceAddress(kWorkspace), bytes, nullptr),
        ATTN_SUCCESS)
        << lastError();
    // Left current, as the CUDA runtime leaves it, for the caller's later
    // work on the thread.
    EXPECT_EQ(fakecuda::currentContext(), primary);
  });
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u); // decode and combine
  for (const fakecuda::Launch &launch : launches)
    EXPECT_EQ(launch.contextId, fakecuda::contextId(primary));
  EXPECT_EQ(fakecuda::primaryRetains(1), 1);
  EXPECT_EQ(fakecuda::primaryRetains(0), 0);
  // Once the context is current, later calls take the common path.
  EXPECT_EQ(fakecuda::calls("cuPointerGetAttribute"), 1);
  EXPECT_EQ(fakecuda::calls("cuCtxSetCurrent"), 1);
  // Other threads are left as they were.
  EXPECT_EQ(fakecuda::currentContext(), nullptr);
}

TEST_F(ContextTest, FreshThreadPrefillsInThePrimaryContextOfQsDevice) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.q = deviceAddress(0x9000000000);
  fakecuda::addAllocation(args.q, kAllocationBytes, 0);
  onFreshThread([&] {
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::currentContext(), fakecuda::primaryContext(0));
  });
  ASSERT_EQ(fakecuda::launches().size(), 1u);
  EXPECT_EQ(fakecuda::launches()[0].contextId,
            fakecuda::contextId(fakecuda::primaryContext(0)));
}

// With no query row q may be NULL; cu_seqlens_q, never NULL, says the device.
TEST_F(ContextTest, EmptyPrefillWithoutQUsesTheDeviceOfCuSeqlensQ) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.total_q = 0;
  args.q = nullptr;
  args.out = nullptr;
  onFreshThread([&] {
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::currentContext(), fakecuda::primaryContext(1));
  });
  EXPECT_TRUE(fakecuda::launches().empty());

  args.cu_seqlens_q = static_cast<const int32_t *>(deviceAddress(0x40));
  onFreshThread([&] {
    EXPECT_EQ(prefill(args), ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(lastError(), HasSubstr("'cu_seqlens_q' (0x40) is not device "
                                       "memory the CUDA driver knows"));
  });
}

TEST_F(ContextTest, PrimaryContextIsRetainedOncePerDeviceAcrossThreads) {
  constexpr int kThreads = 16;
  constexpr int kCallsPerThread = 20;
  // Even threads' q on device 0, odd threads' on device 1.
  const void *queries[] = {deviceAddress(0x9000000000), validArgs().q};
  fakecuda::addAllocation(queries[0], kAllocationBytes, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      attn_paged_decode_args args = validArgs();
      args.q = queries[t % 2];
      args.out = deviceAddress(0x6000000000 + t * 256);
      for (int i = 0; i < kCallsPerThread; ++i) {
        if (decode(args) != ATTN_SUCCESS)
          ++failures;
      }
      if (fakecuda::currentContext() != fakecuda::primaryContext(t % 2))
        ++failures;
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(fakecuda::primaryRetains(0), 1);
  EXPECT_EQ(fakecuda::primaryRetains(1), 1);
  // One pointer query per thread: its first call makes the context current.
  EXPECT_EQ(fakecuda::calls("cuPointerGetAttribute"), kThreads);
  EXPECT_EQ(fakecuda::calls("cuCtxSetCurrent"), kThreads);
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u * kThreads * kCallsPerThread);
  for (const fakecuda::Launch &launch : launches) {
    size_t outParam = launch.function.rfind("decode", 0) == 0
                          ? size_t{kDecodeOut}
                          : size_t{kCombineOut};
    uint64_t t = (param<uint64_t>(launch, outParam) - 0x6000000000) / 256;
    EXPECT_EQ(launch.contextId,
              fakecuda::contextId(fakecuda::primaryContext(t % 2)));
  }
  // Decode and combine loaded once in each primary context.
  EXPECT_EQ(fakecuda::moduleLoads().size(), 2u * 2);
}

TEST_F(ContextTest, ACurrentContextIsUsedWithoutAPointerQuery) {
  CUcontext own = fakecuda::createContext(0);
  fakecuda::setCurrentContext(own);
  // q is unknown to the driver: the current context is used without asking.
  attn_paged_decode_args decodeArgs = validArgs();
  decodeArgs.q = deviceAddress(0xa000000000);
  attn_varlen_prefill_args prefillArgs = validPrefillArgs();
  prefillArgs.q = decodeArgs.q;
  ASSERT_EQ(decode(decodeArgs), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(prefill(prefillArgs), ATTN_SUCCESS) << lastError();
  for (const fakecuda::Launch &launch : fakecuda::launches())
    EXPECT_EQ(launch.contextId, fakecuda::contextId(own));
  EXPECT_EQ(fakecuda::currentContext(), own);
  for (const char *call : {"cuPointerGetAttribute", "cuDeviceGet",
                           "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent"})
    EXPECT_EQ(fakecuda::calls(call), 0) << call;
}

TEST_F(ContextTest, UnknownQIsAnInvalidArgumentNamingQ) {
  attn_paged_decode_args args = validArgs();
  args.q = deviceAddress(0xb000000000); // host memory, say
  onFreshThread([&] {
    EXPECT_EQ(decode(args), ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(
        lastError(),
        AllOf(StartsWith("attn_paged_decode_workspace_size: no CUDA context "
                         "is current on the calling thread, and 'q' "
                         "(0xb000000000) is not device memory the CUDA driver "
                         "knows, so no device's context can be chosen for the "
                         "call: cuPointerGetAttribute(&ordinal, "
                         "CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, pointer) "
                         "failed with CUDA_ERROR_INVALID_VALUE (1)"),
              HasSubstr("[runtime/device.cpp:")));
    EXPECT_EQ(fakecuda::currentContext(), nullptr);
  });
  EXPECT_TRUE(fakecuda::launches().empty());
  EXPECT_EQ(fakecuda::calls("cuDevicePrimaryCtxRetain"), 0);
}

TEST_F(ContextTest, FailedPointerQueryIsADriverErrorNamingQ) {
  fakeConfig.failingCall = "cuPointerGetAttribute";
  fakeConfig.failure = CUDA_ERROR_INVALID_CONTEXT;
  resetFake();
  onFreshThread([&] {
    EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
    EXPECT_THAT(lastError(),
                StartsWith("attn_paged_decode_workspace_size: no CUDA context "
                           "is current on the calling thread; finding the "
                           "device of 'q': cuPointerGetAttribute("));
  });
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(ContextTest, FailedRetainIsADriverErrorAndIsTriedAgain) {
  fakeConfig.failingCall = "cuDevicePrimaryCtxRetain";
  fakeConfig.failure = CUDA_ERROR_OUT_OF_MEMORY;
  resetFake();
  fakecuda::addAllocation(validArgs().q, kAllocationBytes, 1);
  onFreshThread([&] {
    EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
    EXPECT_THAT(lastError(),
                HasSubstr("cuDevicePrimaryCtxRetain(&primary, device) failed "
                          "with CUDA_ERROR_OUT_OF_MEMORY"));
    EXPECT_EQ(fakecuda::currentContext(), nullptr);
  });
  fakeConfig.failingCall.clear();
  resetFake();
  fakecuda::addAllocation(validArgs().q, kAllocationBytes, 1);
  onFreshThread(
      [&] { EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError(); });
  EXPECT_EQ(fakecuda::primaryRetains(1), 1);
}

} // namespace
} // namespace attn::test
