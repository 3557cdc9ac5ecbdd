// Support query tests: the answer and message of a call, without the call.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <cstring>
#include <functional>

namespace attn::test {
namespace {

using ::testing::HasSubstr;

// Qwen3-0.6B's decode: bf16, Hq=16, Hkv=8, D=128, paged, causal, Lq=1.
attn_support_query decodeQuery() {
  attn_support_query query = {};
  query.op = ATTN_OP_PAGED_DECODE;
  query.dtype = ATTN_DTYPE_BF16;
  query.num_heads = 16;
  query.num_kv_heads = 8;
  query.head_dim = 128;
  query.paged = 1;
  query.causal = 1;
  query.seqlen_q = 1;
  return query;
}

// Qwen3-0.6B's prefill: as decodeQuery(), with packed k and v.
attn_support_query prefillQuery() {
  attn_support_query query = decodeQuery();
  query.op = ATTN_OP_VARLEN_PREFILL;
  query.paged = 0;
  query.seqlen_q = 0; // ignored
  return query;
}

class QueryTest : public RuntimeTest {
protected:
  attn_status query(const attn_support_query &query) {
    return runtime->querySupport(&query);
  }
};

TEST_F(QueryTest, ConfigurationsThePackHasAreSupported) {
  const std::function<void(attn_support_query &)> changes[] = {
      [](attn_support_query &) {},
      [](attn_support_query &q) { q.dtype = ATTN_DTYPE_F16; },
      [](attn_support_query &q) { q.paged = 0; },
      [](attn_support_query &q) {
        q.head_dim = 64;
        q.num_heads = 32;
      },
      // One query sees every key under the causal mask too.
      [](attn_support_query &q) { q.causal = 0; },
  };
  for (const auto &change : changes) {
    attn_support_query q = decodeQuery();
    change(q);
    EXPECT_EQ(query(q), ATTN_SUCCESS) << lastError();
  }
  for (int32_t numKvHeads : {16, 8, 2, 1}) {
    attn_support_query q = prefillQuery();
    q.num_kv_heads = numKvHeads;
    EXPECT_EQ(query(q), ATTN_SUCCESS) << lastError();
    q.paged = 1;
    EXPECT_EQ(query(q), ATTN_SUCCESS) << lastError();
  }
  attn_support_query nonCausal = prefillQuery();
  nonCausal.causal = 0;
  EXPECT_EQ(query(nonCausal), ATTN_SUCCESS) << lastError();
  // Answering loads no kernel.
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(QueryTest, LocalConfigurationsAskForTheLocalKernels) {
  // The test pack has the local kernels of bf16 D=128: decode paged, prefill
  // packed.
  attn_support_query decode = decodeQuery();
  decode.local = 1;
  EXPECT_EQ(query(decode), ATTN_SUCCESS) << lastError();
  attn_support_query prefill = prefillQuery();
  prefill.local = 1;
  EXPECT_EQ(query(prefill), ATTN_SUCCESS) << lastError();
  decode.dtype = ATTN_DTYPE_F16;
  EXPECT_EQ(query(decode), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("local=1"));
  prefill.paged = 1;
  EXPECT_EQ(query(prefill), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("local=1"));
}

TEST_F(QueryTest, UnsupportedConfigurationsGetTheCallsMessage) {
  attn_support_query q = decodeQuery();
  q.num_heads = 24; // group 3
  EXPECT_EQ(query(q), ATTN_ERROR_UNSUPPORTED);
  std::string queried = lastError();
  attn_paged_decode_args args = validArgs();
  args.num_heads = 24;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  std::string called = lastError();
  EXPECT_EQ(queried.substr(queried.find(": ")),
            called.substr(called.find(": ")));
  EXPECT_THAT(queried, HasSubstr("attn_query_support: the sm_90 pack has no "
                                 "decode kernel for dtype=bf16 head_dim=128 "
                                 "group=3 paged=1 causal=1"));

  q = decodeQuery();
  q.causal = 0;
  q.seqlen_q = 4;
  EXPECT_EQ(query(q), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("no non-causal decode kernel"));

  q = prefillQuery();
  q.paged = 1;
  q.causal = 0;
  EXPECT_EQ(query(q), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("no prefill kernel for dtype=bf16 head_dim=128 "
                        "group=2 paged=1 causal=0; its bf16 prefill kernels of "
                        "head_dim=128: "));
}

TEST_F(QueryTest, DecodeAndPrefillNeedTheirCombineKernel) {
  // Whether a call splits depends on its sizes: both ops need a combine.
  writePack(packDir(), "sm_90",
            {TestKernel(), prefillKernel("bf16", 128, 1, 1)});
  EXPECT_EQ(query(decodeQuery()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("no combine kernel for dtype=bf16 head_dim=128"));
  attn_support_query q = prefillQuery();
  q.paged = 1;
  EXPECT_EQ(query(q), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("no combine kernel for dtype=bf16 head_dim=128"));
}

TEST_F(QueryTest, AnswersForTheDevicesTarget) {
  // The sm_89 pack has no prefill kernel.
  std::vector<TestKernel> decodeOnly;
  for (const TestKernel &kernel : defaultKernels()) {
    if (kernel.op != "prefill")
      decodeOnly.push_back(kernel);
  }
  writePack(packDir(), "sm_89", decodeOnly);
  fakeConfig.computeMajor = 8;
  fakeConfig.computeMinor = 9;
  resetFake();
  EXPECT_EQ(query(decodeQuery()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(query(prefillQuery()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("the sm_89 pack has no prefill kernel"));

  fakeConfig.computeMajor = 7;
  fakeConfig.computeMinor = 5;
  resetFake();
  fakecuda::setCurrentContext(fakecuda::createContext(1));
  EXPECT_EQ(query(decodeQuery()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("the kernel pack needs sm_80 or newer"));
}

TEST_F(QueryTest, KernelNeedingMoreSharedMemoryThanTheGpuHasIsUnsupported) {
  fakeConfig.maxSharedOptin = 48 * 1024;
  resetFake();
  EXPECT_EQ(query(decodeQuery()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(query(prefillQuery()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("kernel 'prefill_bf16_d128_g0_contiguous_causal' of " +
                        packDir() +
                        "/sm_90: needs 65536 bytes of dynamic shared memory "
                        "per block; this GPU allows at most 49152"));
}

TEST_F(QueryTest, DriverAndPackErrorsAreReported) {
  writeFile(packDir() + "/sm_90/manifest.txt", "attn-pack 1 target=sm_90\nx");
  EXPECT_EQ(query(decodeQuery()), ATTN_ERROR_PACK);
  fakeConfig.failingCall = "cuCtxGetCurrent";
  fakeConfig.failure = CUDA_ERROR_INVALID_CONTEXT;
  resetFake();
  EXPECT_EQ(query(decodeQuery()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(), HasSubstr("cuCtxGetCurrent("));
}

// A thread with no current context is answered for device 0, the CUDA
// runtime's default device, and left without one: a query loads nothing.
TEST_F(QueryTest, WithoutAContextAnswersForDeviceZero) {
  fakecuda::setCurrentContext(nullptr);
  ASSERT_EQ(query(decodeQuery()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::currentContext(), nullptr);
  EXPECT_EQ(fakecuda::calls("cuDeviceGet"), 1);
  EXPECT_EQ(fakecuda::calls("cuDevicePrimaryCtxRetain"), 0);
  EXPECT_EQ(fakecuda::calls("cuCtxSetCurrent"), 0);
}

TEST_F(QueryTest, WithoutAContextOrDevicesIsADriverError) {
  fakeConfig.deviceCount = 0;
  resetFake();
  fakecuda::setCurrentContext(nullptr);
  EXPECT_EQ(query(decodeQuery()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(), HasSubstr("cuDeviceGet(&current->device, 0) failed "
                                     "with CUDA_ERROR_INVALID_DEVICE"));
}

TEST_F(QueryTest, InvalidQueriesNameTheField) {
  struct Case {
    std::function<void(attn_support_query &)> change;
    const char *message;
  };
  const Case cases[] = {
      {[](attn_support_query &q) {
         const int op = 7;
         std::memcpy(&q.op, &op, sizeof(op));
       },
       "'op' must be ATTN_OP_PAGED_DECODE (0) or ATTN_OP_VARLEN_PREFILL (1), "
       "got 7"},
      {[](attn_support_query &q) {
         const int dtype = 2;
         std::memcpy(&q.dtype, &dtype, sizeof(dtype));
       },
       "'dtype' must be ATTN_DTYPE_F16 (0) or ATTN_DTYPE_BF16 (1), got 2"},
      {[](attn_support_query &q) { q.num_heads = 0; },
       "'num_heads' must be >= 1, got 0"},
      {[](attn_support_query &q) { q.num_kv_heads = 3; },
       "'num_heads' (16) must be a multiple of 'num_kv_heads' (3)"},
      {[](attn_support_query &q) {
         q.num_heads = 32;
         q.num_kv_heads = 1;
       },
       "'num_heads' / 'num_kv_heads' must be at most 16, got 32 / 1 = 32"},
      {[](attn_support_query &q) { q.head_dim = 12; },
       "'head_dim' must be a multiple of 8 in [8, 256], got 12"},
      {[](attn_support_query &q) { q.paged = 2; },
       "'paged' must be 0 or 1, got 2"},
      {[](attn_support_query &q) { q.causal = -1; },
       "'causal' must be 0 or 1, got -1"},
      {[](attn_support_query &q) { q.seqlen_q = 0; },
       "'seqlen_q' must be >= 1, got 0"},
      {[](attn_support_query &q) { q.local = 3; },
       "'local' must be 0 or 1, got 3"},
  };
  for (const Case &c : cases) {
    attn_support_query q = decodeQuery();
    c.change(q);
    EXPECT_EQ(query(q), ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_EQ(lastError(), std::string("attn_query_support: ") + c.message);
  }
  EXPECT_EQ(runtime->querySupport(nullptr), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "attn_query_support: 'query' must not be NULL");

  // Prefill takes any group size and ignores seqlen_q.
  attn_support_query q = prefillQuery();
  q.num_heads = 32;
  q.num_kv_heads = 1;
  q.seqlen_q = -5;
  EXPECT_EQ(query(q), ATTN_SUCCESS) << lastError();
}

} // namespace
} // namespace attn::test
