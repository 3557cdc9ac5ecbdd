// The checked mode (attn_*_check_indices): index tensors read back through the
// fake driver from host arrays standing in for device memory.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <numeric>

namespace attn::test {
namespace {

using ::testing::HasSubstr;

CUstream const kStream = reinterpret_cast<CUstream>(0x5);

class IndexCheckTest : public RuntimeTest {
protected:
  // Host arrays the fake driver copies from, as from the device.
  template <typename T> const T *device(const std::vector<T> &values) {
    fakecuda::addAllocation(values.data(), values.size() * sizeof(T), 0);
    return values.data();
  }

  // validArgs() (B 4, page 256, max_seqlen_k 2048: 8 table columns) with
  // cache_seqlens and block_table in host memory; blocks numbered 0..31.
  attn_paged_decode_args decodeArgs() {
    attn_paged_decode_args args = validArgs();
    std::iota(table.begin(), table.end(), 0);
    args.cache_seqlens = device(seqlens);
    args.block_table = device(table);
    return args;
  }

  // validPagedPrefillArgs() (B 16, total_q 4000, page 256, 4 table columns),
  // or validPrefillArgs() (packed) when not `paged`, with 250 queries and 1000
  // keys a sequence.
  attn_varlen_prefill_args prefillArgs(bool paged = true) {
    attn_varlen_prefill_args args =
        paged ? validPagedPrefillArgs() : validPrefillArgs();
    for (int b = 0; b <= 16; ++b) {
      cuQ[b] = 250 * b;
      cuK[b] = 1000 * b;
    }
    std::iota(prefillTable.begin(), prefillTable.end(), 0);
    args.cu_seqlens_q = device(cuQ);
    args.cu_seqlens_k = device(cuK);
    if (paged)
      args.block_table = device(prefillTable);
    return args;
  }

  std::vector<int32_t> seqlens{100, 2048, 0, 257};
  std::vector<int32_t> table = std::vector<int32_t>(4 * 8);
  std::vector<int32_t> cuQ = std::vector<int32_t>(17);
  std::vector<int32_t> cuK = std::vector<int32_t>(17);
  std::vector<int32_t> prefillTable = std::vector<int32_t>(16 * 4);
};

TEST_F(IndexCheckTest, DecodeAcceptsValidTablesAndLaunchesNothing) {
  attn_paged_decode_args args = decodeArgs();
  // Entries past a sequence's pages are not read as blocks.
  table[0 * 8 + 1] = -1;
  table[2 * 8 + 0] = -1;
  table[3 * 8 + 2] = 999;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream), ATTN_SUCCESS)
      << lastError();
  EXPECT_TRUE(fakecuda::launches().empty());
  EXPECT_EQ(fakecuda::calls("cuMemcpyDtoHAsync"), 2);
  EXPECT_EQ(fakecuda::calls("cuStreamSynchronize"), 2);
}

TEST_F(IndexCheckTest, DecodeNamesTheBlockOutsideTheCache) {
  attn_paged_decode_args args = decodeArgs();
  table[3 * 8 + 1] = 32;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(),
              HasSubstr("'block_table'[3][1] is 32, outside [0, 32)"));
  EXPECT_THAT(lastError(), HasSubstr("sequence 3 has 257 keys"));
  table[3 * 8 + 1] = -1;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'block_table'[3][1] is -1"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(IndexCheckTest, DecodeNamesTheSeqlenOutsideTheBound) {
  attn_paged_decode_args args = decodeArgs();
  seqlens[1] = 2049;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cache_seqlens'[1] is 2049, outside "
                                     "[0, 2048] (max_seqlen_k)"));
  seqlens[1] = -3;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cache_seqlens'[1] is -3"));
}

TEST_F(IndexCheckTest, DecodeReadsOnlyTheTableSpanOfItsRows) {
  // Rows of stride 10, 8 columns read: the last row's two spare entries lie
  // past the allocation and must not be read.
  std::vector<int32_t> strided(3 * 10 + 8);
  std::iota(strided.begin(), strided.end(), 0);
  attn_paged_decode_args args = decodeArgs();
  args.block_table = device(strided);
  args.block_table_stride = 10;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 64, kStream), ATTN_SUCCESS)
      << lastError();
  // Row 3, page 1 is entry 31.
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 31, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'block_table'[3][1] is 31"));
}

TEST_F(IndexCheckTest, ContiguousDecodeChecksSeqlensOnly) {
  attn_paged_decode_args args = decodeArgs();
  args.page_size = 0;
  args.block_table = nullptr;
  args.block_table_stride = 0;
  args.k_strides[0] = args.v_strides[0] = int64_t{2048} * 8 * 128;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, -1, kStream), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(fakecuda::calls("cuMemcpyDtoHAsync"), 1);
}

TEST_F(IndexCheckTest, RefusesACapturingStreamBeforeReading) {
  fakeConfig.capturingStream = kStream;
  resetFake();
  attn_paged_decode_args args = decodeArgs();
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("captured into a CUDA graph"));
  EXPECT_EQ(fakecuda::calls("cuMemcpyDtoHAsync"), 0);
}

TEST_F(IndexCheckTest, ChecksTheCallsArgumentsFirst) {
  attn_paged_decode_args args = decodeArgs();
  args.head_dim = 100;
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("head_dim"));
  args = decodeArgs();
  EXPECT_EQ(runtime->checkDecodeIndices(&args, -1, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'kv_rows'"));
  EXPECT_EQ(fakecuda::calls("cuMemcpyDtoHAsync"), 0);
}

TEST_F(IndexCheckTest, DriverFailureIsReported) {
  fakeConfig.failingCall = "cuMemcpyDtoHAsync";
  fakeConfig.failure = CUDA_ERROR_ILLEGAL_ADDRESS;
  resetFake();
  attn_paged_decode_args args = decodeArgs();
  EXPECT_EQ(runtime->checkDecodeIndices(&args, 32, kStream), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(), HasSubstr("cuMemcpyDtoHAsync"));
}

TEST_F(IndexCheckTest, PagedPrefillAcceptsValidTables) {
  attn_varlen_prefill_args args = prefillArgs();
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream), ATTN_SUCCESS)
      << lastError();
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(IndexCheckTest, PagedPrefillNamesTheBlock) {
  attn_varlen_prefill_args args = prefillArgs();
  prefillTable[5 * 4 + 3] = 64;
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'block_table'[5][3] is 64"));
  EXPECT_THAT(lastError(), HasSubstr("1000 keys (cu_seqlens_k)"));
}

TEST_F(IndexCheckTest, PrefillNamesBadOffsets) {
  attn_varlen_prefill_args args = prefillArgs();
  cuQ[0] = 1;
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cu_seqlens_q'[0] must be 0, got 1"));
  cuQ[0] = 0;
  cuQ[7] = 1000; // [6] is 1500
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cu_seqlens_q' must be non-decreasing: "
                                     "[7] is 1000 after 1500 at [6]"));
  cuQ[7] = 1750;
  cuQ[16] = 4001;
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cu_seqlens_q'[16] (the last) must be "
                                     "total_q = 4000, got 4001"));
  cuQ[16] = 4000;
  cuK[3] = 3100; // sequence 2 has 1100 keys, max_seqlen_k is 1024
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("sequence 2 has 1100 rows by "
                                     "'cu_seqlens_k'"));
  EXPECT_THAT(lastError(), HasSubstr("more than max_seqlen_k = 1024"));
}

TEST_F(IndexCheckTest, PackedPrefillChecksTheKeyRows) {
  attn_varlen_prefill_args args = prefillArgs(/*paged=*/false);
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 16000, kStream), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 15999, kStream),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(lastError(), HasSubstr("'cu_seqlens_k' spans rows 0 to 16000, "
                                     "outside [0, 15999]"));
}

TEST_F(IndexCheckTest, EmptyPrefillReadsNothing) {
  attn_varlen_prefill_args args = prefillArgs();
  args.total_q = 0;
  EXPECT_EQ(runtime->checkPrefillIndices(&args, 64, kStream), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(fakecuda::calls("cuMemcpyDtoHAsync"), 0);
}

} // namespace
} // namespace attn::test
