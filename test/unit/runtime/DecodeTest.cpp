// Paged decode tests: kernel choice, splits, grid, parameters, bad input.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <limits>

namespace attn::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Dims = std::array<unsigned, 3>;

Dims dims(const unsigned (&values)[3]) {
  return {values[0], values[1], values[2]};
}

uint64_t address(const void *pointer) {
  return reinterpret_cast<uintptr_t>(pointer);
}

class DecodeTest : public RuntimeTest {};

TEST_F(DecodeTest, LaunchesSplitDecodeThenCombineWithAbiParameters) {
  attn_paged_decode_args args = validArgs();
  args.lse = static_cast<float *>(deviceAddress(0x8000000000));
  args.max_seqlen_k = 8192;
  args.block_table_stride = 8192 / 256;
  // 4 sequences x 8 KV heads = 32 CTAs on 132 SMs:
  // min(next_pow2(ceil(528 / 32)), ceil(8192 / 1024)) = 8 splits.
  const uint64_t rows = uint64_t{8} * 4 * 1 * 16;
  const uint64_t partOBytes = rows * 128 * sizeof(float);
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(bytes, partOBytes + rows * sizeof(float));

  void *stream = deviceAddress(0x5eed);
  ASSERT_EQ(
      runtime->pagedDecode(&args, deviceAddress(kWorkspace), bytes, stream),
      ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);

  const fakecuda::Launch &decode = launches[0];
  EXPECT_EQ(decode.function, "decode_bf16_d128_g2_paged_causal");
  EXPECT_EQ(dims(decode.grid), (Dims{8, 8, 4}));
  EXPECT_EQ(dims(decode.block), (Dims{128, 1, 1}));
  EXPECT_EQ(decode.sharedBytes, 32u * 1024);
  EXPECT_EQ(decode.stream, stream);
  ASSERT_EQ(decode.params.size(), decodeParamSizes().size());
  EXPECT_EQ(param<uint64_t>(decode, kDecodeQ), address(args.q));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeKCache), address(args.k_cache));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeVCache), address(args.v_cache));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeCacheSeqlens),
            address(args.cache_seqlens));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeBlockTable),
            address(args.block_table));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeOut), address(args.out));
  EXPECT_EQ(param<uint64_t>(decode, kDecodeLse), address(args.lse));
  EXPECT_EQ(param<uint64_t>(decode, kDecodePartO), kWorkspace);
  EXPECT_EQ(param<uint64_t>(decode, kDecodePartLse), kWorkspace + partOBytes);
  // The token stride of Lq = 1 is never stepped along: the kernels get 0.
  const int64_t qStrides[] = {args.q_strides[0], 0, args.q_strides[2]};
  const int64_t outStrides[] = {args.out_strides[0], 0, args.out_strides[2]};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(decode, kDecodeQStrides + i), qStrides[i]);
    EXPECT_EQ(param<int64_t>(decode, kDecodeKStrides + i), args.k_strides[i]);
    EXPECT_EQ(param<int64_t>(decode, kDecodeVStrides + i), args.v_strides[i]);
    EXPECT_EQ(param<int64_t>(decode, kDecodeOutStrides + i), outStrides[i]);
  }
  EXPECT_EQ(param<int64_t>(decode, kDecodeBlockTableStride), 32);
  EXPECT_EQ(param<int32_t>(decode, kDecodeSeqlenQ), 1);
  EXPECT_EQ(param<int32_t>(decode, kDecodePageSize), 256);
  EXPECT_EQ(param<int32_t>(decode, kDecodeNumSplits), 8);
  EXPECT_EQ(param<float>(decode, kDecodeSoftmaxScale), args.softmax_scale);
  EXPECT_EQ(param<int32_t>(decode, kDecodeNumHeads), 16);
  EXPECT_EQ(param<int32_t>(decode, kDecodeNumKvHeads), 8);
  EXPECT_EQ(param<int32_t>(decode, kDecodeHeadDim), 128);

  const fakecuda::Launch &combine = launches[1];
  EXPECT_EQ(combine.function, "combine_bf16_d128");
  EXPECT_EQ(dims(combine.grid), (Dims{16, 1, 4}));
  EXPECT_EQ(dims(combine.block), (Dims{128, 1, 1}));
  EXPECT_EQ(combine.sharedBytes, 0u);
  EXPECT_EQ(combine.stream, stream);
  ASSERT_EQ(combine.params.size(), combineParamSizes().size());
  EXPECT_EQ(param<uint64_t>(combine, kCombinePartO), kWorkspace);
  EXPECT_EQ(param<uint64_t>(combine, kCombinePartLse), kWorkspace + partOBytes);
  EXPECT_EQ(param<uint64_t>(combine, kCombineOut), address(args.out));
  EXPECT_EQ(param<uint64_t>(combine, kCombineLse), address(args.lse));
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(param<int64_t>(combine, kCombineOutStrides + i), outStrides[i]);
  EXPECT_EQ(param<int32_t>(combine, kCombineNumSplits), 8);
  EXPECT_EQ(param<int32_t>(combine, kCombineHeadDim), 128);
}

// validArgs() with q and out of `headDim` columns (contiguous, 16 heads).
void setQueryHeadDim(attn_paged_decode_args &args, int headDim) {
  args.head_dim = headDim;
  args.q_strides[0] = args.q_strides[1] = int64_t{16} * headDim;
  args.q_strides[2] = headDim;
  for (int i = 0; i < 3; ++i)
    args.out_strides[i] = args.q_strides[i];
}

// A pack whose header says pads_head_dim=1 serves a head_dim it has no kernel
// for on the next larger one: the call's head_dim is the kernels' parameter,
// and the split partials take the kernel's.
TEST_F(DecodeTest, HeadDimWithoutKernelRunsZeroPaddedOnTheNextLarger) {
  writePack(packDir(), "sm_90", defaultKernels(), " pads_head_dim=1");
  attn_paged_decode_args args = validArgs();
  setQueryHeadDim(args, 96);
  args.num_splits = 2;
  const uint64_t partOBytes = uint64_t{2} * 4 * 16 * 128 * sizeof(float);
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(bytes, partOBytes + 2 * 4 * 16 * sizeof(float));
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].function, "decode_bf16_d128_g2_paged_causal");
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeHeadDim), 96);
  EXPECT_EQ(param<int64_t>(launches[0], kDecodeQStrides + 2), 96);
  EXPECT_EQ(launches[1].function, "combine_bf16_d128");
  EXPECT_EQ(dims(launches[1].block), (Dims{128, 1, 1}));
  EXPECT_EQ(param<int32_t>(launches[1], kCombineHeadDim), 96);
  EXPECT_EQ(param<uint64_t>(launches[1], kCombinePartLse),
            kWorkspace + partOBytes);

  // Past the largest head_dim of the pack (128 here) nothing serves it.
  args.head_dim = 136;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("no decode kernel for head_dim=136"));
  EXPECT_EQ(fakecuda::launches().size(), 2u);
}

// A head_dim that is no multiple of 32 runs its combine in whole warps: D 80's
// group is 96 threads (manifest threads=384, four groups), its head_dim
// parameter 80. The launch takes a group a run of 8 splits, at most 4, and
// with more than one their shared memory (abi::combineGroups).
TEST_F(DecodeTest, CombineOfAPartialWarpHeadDimRunsWholeWarps) {
  TestKernel split;
  split.headDim = 80;
  TestKernel combine = ownCombineKernel(split);
  EXPECT_EQ(combine.threads, 384);
  writePack(packDir(), "sm_90", {split, combine});
  attn_paged_decode_args args = validArgs();
  setQueryHeadDim(args, 80);
  args.k_strides[0] = int64_t{256} * 8 * 80;
  args.k_strides[1] = int64_t{8} * 80;
  args.k_strides[2] = 80;
  for (int i = 0; i < 3; ++i)
    args.v_strides[i] = args.k_strides[i];
  struct Case {
    int splits;
    unsigned threads, sharedBytes;
  };
  for (Case c :
       {Case{2, 96, 0}, Case{8, 96, 0}, Case{9, 192, 768}, Case{20, 288, 1152},
        Case{40, 384, 1536}, Case{64, 384, 1536}}) {
    SCOPED_TRACE(c.splits);
    size_t before = fakecuda::launches().size();
    args.num_splits = c.splits;
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), before + 2);
    const fakecuda::Launch &merge = launches.back();
    EXPECT_EQ(merge.function, combine.name());
    EXPECT_EQ(dims(merge.block), (Dims{c.threads, 1, 1}));
    EXPECT_EQ(merge.sharedBytes, c.sharedBytes);
    EXPECT_EQ(param<int32_t>(merge, kCombineHeadDim), 80);
    EXPECT_EQ(param<int32_t>(merge, kCombineNumSplits), c.splits);
  }
}

// Without pads_head_dim (a pack of kernels that take no head_dim parameter)
// a head_dim runs only on its own kernels.
TEST_F(DecodeTest, PackWithoutPaddingServesOnlyItsHeadDims) {
  attn_paged_decode_args args = validArgs();
  args.head_dim = 96;
  args.q_strides[2] = args.out_strides[2] = 96;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("no decode kernel for head_dim=96: its bf16 decode "
                        "kernels take head_dim 64, 128"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DecodeTest, SingleSplitWritesOutDirectlyWithoutWorkspace) {
  attn_paged_decode_args args = validArgs();
  args.batch = 256; // 2048 CTAs already fill 132 SMs
  size_t bytes = 1;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(bytes, 0u);
  ASSERT_EQ(runtime->pagedDecode(&args, nullptr, 0, nullptr), ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(dims(launches[0].grid), (Dims{1, 8, 256}));
  EXPECT_EQ(param<uint64_t>(launches[0], kDecodePartO), 0u);
  EXPECT_EQ(param<uint64_t>(launches[0], kDecodePartLse), 0u);
  EXPECT_EQ(param<uint64_t>(launches[0], kDecodeLse), 0u);
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumSplits), 1);
}

TEST_F(DecodeTest, ContiguousCachePassesNoBlockTable) {
  attn_paged_decode_args args = validArgs();
  args.page_size = 0;
  args.block_table = nullptr;
  args.block_table_stride = 0;
  args.batch = 256;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].function, "decode_bf16_d128_g2_contiguous_causal");
  EXPECT_EQ(param<uint64_t>(launches[0], kDecodeBlockTable), 0u);
  EXPECT_EQ(param<int32_t>(launches[0], kDecodePageSize), 0);
}

// torch calls a tensor contiguous whatever the stride of a size-1 dimension
// (q of shape [B, 1, Hq, D] made by a permute has token stride 1): the
// runtime takes any stride there and the kernels get 0.
TEST_F(DecodeTest, SizeOneDimensionsTakeAnyStrideAndLaunchWithStrideZero) {
  attn_paged_decode_args args = validArgs();
  args.batch = 1;
  args.num_heads = 2;
  args.num_kv_heads = 1;
  args.q_strides[0] = -3;  // B = 1
  args.q_strides[1] = 1;   // Lq = 1: the permuted q
  args.q_strides[2] = 128; // Hq = 2: checked as before
  args.k_strides[2] = 5;   // Hkv = 1
  args.v_strides[2] = int64_t{1} << 40;
  args.block_table_stride = 0; // one row
  args.out_strides[0] = 0;
  args.out_strides[1] = 7;
  args.out_strides[2] = 128;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  // One CTA over 2048 keys: 2 splits and the combine.
  ASSERT_EQ(launches.size(), 2u);
  const int64_t queryStrides[] = {0, 0, 128};
  const int64_t keyStrides[] = {args.k_strides[0], args.k_strides[1], 0};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(launches[0], kDecodeQStrides + i),
              queryStrides[i]);
    EXPECT_EQ(param<int64_t>(launches[0], kDecodeKStrides + i), keyStrides[i]);
    EXPECT_EQ(param<int64_t>(launches[0], kDecodeVStrides + i), keyStrides[i]);
    EXPECT_EQ(param<int64_t>(launches[0], kDecodeOutStrides + i),
              queryStrides[i]);
    EXPECT_EQ(param<int64_t>(launches[1], kCombineOutStrides + i),
              queryStrides[i]);
  }
  EXPECT_EQ(param<int64_t>(launches[0], kDecodeBlockTableStride), 0);
}

// Only row 0 of a contiguous cache is read when max_seqlen_k <= 1, and only
// sequence 0's when B = 1.
TEST_F(DecodeTest, ContiguousCacheOfOneKeyTakesAnyRowStride) {
  attn_paged_decode_args args = validArgs();
  args.page_size = 0;
  args.block_table = nullptr;
  args.block_table_stride = 0;
  args.batch = 1;
  args.max_seqlen_k = 1;
  args.k_strides[0] = 0;
  args.k_strides[1] = 3;
  args.v_strides[0] = 1;
  args.v_strides[1] = -8;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  for (size_t first : {kDecodeKStrides, kDecodeVStrides}) {
    EXPECT_EQ(param<int64_t>(launches[0], first), 0);
    EXPECT_EQ(param<int64_t>(launches[0], first + 1), 0);
    EXPECT_EQ(param<int64_t>(launches[0], first + 2), 128);
  }

  args.max_seqlen_k = 2;
  EXPECT_EQ(decode(args), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_paged_decode_workspace_size: 'k_strides[1]' must be a "
            "positive multiple of 8 elements (16 bytes), got 3");
}

TEST_F(DecodeTest, EmptyCachesLaunchOneSplit) {
  attn_paged_decode_args args = validArgs();
  args.max_seqlen_k = 0;
  args.num_splits = 8; // nothing to split, whatever was asked
  size_t bytes = 1;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(bytes, 0u);
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(dims(launches[0].grid), (Dims{1, 8, 4}));
}

TEST_F(DecodeTest, PartLseStartsAtTheNext256ByteBoundary) {
  TestKernel smallHead;
  smallHead.headDim = 16;
  writePack(packDir(), "sm_90", {smallHead, combineKernel("bf16", 16)});
  attn_paged_decode_args args = validArgs();
  args.batch = 1;
  args.num_heads = 2;
  args.num_kv_heads = 1;
  args.head_dim = 16;
  args.num_splits = 3;
  // part_o: 3 splits x 2 heads x 16 floats = 384 bytes, so part_lse at 512.
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(bytes, 512 + sizeof(float) * 3 * 2);
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(param<uint64_t>(launches[0], kDecodePartLse), kWorkspace + 512);
  EXPECT_EQ(param<uint64_t>(launches[1], kCombinePartLse), kWorkspace + 512);
}

struct SplitCase {
  const char *label;
  int smCount;
  int32_t batch;
  int32_t numKvHeads;
  int32_t seqlenQ;
  int32_t maxSeqlenK;
  int32_t numSplits;
  int expectedSplits;
};

class SplitHeuristicTest : public RuntimeTest,
                           public ::testing::WithParamInterface<SplitCase> {};

TEST_P(SplitHeuristicTest, ChoosesSplitsAndGrid) {
  const SplitCase &c = GetParam();
  fakeConfig.smCount = c.smCount;
  resetFake();
  attn_paged_decode_args args = validArgs();
  args.batch = c.batch;
  args.num_kv_heads = c.numKvHeads;
  args.num_heads = 2 * c.numKvHeads;
  args.seqlen_q = c.seqlenQ;
  args.max_seqlen_k = c.maxSeqlenK;
  args.block_table_stride = std::max(1, (c.maxSeqlenK + 255) / 256);
  args.num_splits = c.numSplits;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();

  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), c.expectedSplits > 1 ? 2u : 1u);
  EXPECT_EQ(dims(launches[0].grid),
            (Dims{unsigned(c.expectedSplits),
                  unsigned(c.numKvHeads * c.seqlenQ), unsigned(c.batch)}));
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumSplits), c.expectedSplits);
  if (c.expectedSplits > 1) {
    EXPECT_EQ(dims(launches[1].grid),
              (Dims{unsigned(args.num_heads), unsigned(c.seqlenQ),
                    unsigned(c.batch)}));
  }
}

// splits = min(next_pow2(ceil(4 * SMs / CTAs)), ceil(max_seqlen_k / 1024), 64),
// >= 1, with CTAs = B * Hkv * Lq; num_splits > 0 overrides it, capped at 64.
INSTANTIATE_TEST_SUITE_P(
    Decode, SplitHeuristicTest,
    ::testing::Values(
        SplitCase{"nanovllm_step", 132, 4, 8, 1, 2048, 0, 2},
        SplitCase{"large_batch", 132, 256, 8, 1, 2048, 0, 1},
        SplitCase{"long_batch", 132, 32, 8, 1, 8192, 0, 4},
        SplitCase{"one_long_sequence", 132, 1, 8, 1, 32768, 0, 32},
        SplitCase{"capped_at_64", 132, 1, 1, 1, 1 << 20, 0, 64},
        SplitCase{"short_keys", 132, 4, 8, 1, 1500, 0, 2},
        SplitCase{"one_chunk_of_keys", 132, 4, 8, 1, 1024, 0, 1},
        SplitCase{"no_keys", 132, 4, 8, 1, 0, 0, 1},
        SplitCase{"few_sms", 16, 4, 8, 1, 2048, 0, 2},
        SplitCase{"occupancy_bound", 16, 8, 8, 1, 8192, 0, 1},
        SplitCase{"multi_query", 132, 1, 8, 4, 4096, 0, 4},
        SplitCase{"requested", 132, 4, 8, 1, 2048, 5, 5},
        SplitCase{"requested_capped", 132, 4, 8, 1, 2048, 100, 64},
        SplitCase{"requested_no_keys", 132, 4, 8, 1, 0, 5, 1}),
    [](const ::testing::TestParamInfo<SplitCase> &info) {
      return std::string(info.param.label);
    });

TEST_F(DecodeTest, SelectsTheVariantOfDtypeLayoutHeadDimAndGroup) {
  struct Case {
    std::function<void(attn_paged_decode_args &)> change;
    const char *decodeKernel;
    const char *combineKernel;
  };
  const Case cases[] = {
      {[](attn_paged_decode_args &) {}, "decode_bf16_d128_g2_paged_causal",
       "combine_bf16_d128"},
      {[](attn_paged_decode_args &a) { a.dtype = ATTN_DTYPE_F16; },
       "decode_f16_d128_g2_paged_causal", "combine_f16_d128"},
      {[](attn_paged_decode_args &a) {
         a.page_size = 0;
         a.block_table = nullptr;
       },
       "decode_bf16_d128_g2_contiguous_causal", "combine_bf16_d128"},
      {[](attn_paged_decode_args &a) {
         a.head_dim = 64;
         a.num_heads = 32;
         for (int64_t *strides : {a.q_strides, a.out_strides}) {
           strides[0] = strides[1] = int64_t{32} * 64;
           strides[2] = 64;
         }
       },
       "decode_bf16_d64_g4_paged_causal", "combine_bf16_d64"},
      // One query sees every key under the causal mask too.
      {[](attn_paged_decode_args &a) { a.causal = 0; },
       "decode_bf16_d128_g2_paged_causal", "combine_bf16_d128"},
  };
  for (const Case &c : cases) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    c.change(args);
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), 2u);
    EXPECT_EQ(launches[0].function, c.decodeKernel);
    EXPECT_EQ(launches[1].function, c.combineKernel);
  }
}

TEST_F(DecodeTest, GroupSizesWithoutAKernelUseTheAnyGroupKernel) {
  // The pack of defaultKernels() plus an any-group kernel with 4 heads per
  // CTA: G = 2 keeps its specialised kernel, other G take head blocks of 4.
  std::vector<TestKernel> kernels = defaultKernels();
  TestKernel anyGroup;
  anyGroup.group = 0;
  anyGroup.blockM = 4;
  kernels.push_back(anyGroup);
  writePack(packDir(), "sm_90", kernels);
  struct Case {
    int numHeads, numKvHeads;
    const char *kernel;
    unsigned gridY; // Hkv (specialised) or Hkv * ceil(G / 4), times Lq = 1
  };
  const Case cases[] = {
      {16, 8, "decode_bf16_d128_g2_paged_causal", 8},
      {12, 4, "decode_bf16_d128_g0_paged_causal", 4}, // G=3: 1 block
      {20, 4, "decode_bf16_d128_g0_paged_causal", 8}, // G=5: 2 blocks
      {16, 1, "decode_bf16_d128_g0_paged_causal", 4}, // G=16: 4 blocks
      {8, 8, "decode_bf16_d128_g0_paged_causal", 8},  // G=1
  };
  for (const Case &c : cases) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.num_heads = c.numHeads;
    args.num_kv_heads = c.numKvHeads;
    args.max_seqlen_k = 256; // one split: no workspace
    for (int64_t *strides : {args.q_strides, args.out_strides}) {
      strides[0] = strides[1] = int64_t{c.numHeads} * 128;
      strides[2] = 128;
    }
    for (int64_t *strides : {args.k_strides, args.v_strides}) {
      strides[0] = int64_t{256} * c.numKvHeads * 128;
      strides[1] = int64_t{c.numKvHeads} * 128;
      strides[2] = 128;
    }
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), 1u) << c.numHeads << "/" << c.numKvHeads;
    EXPECT_EQ(launches[0].function, c.kernel);
    EXPECT_EQ(dims(launches[0].grid), (Dims{1, c.gridY, 4}));
    EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumHeads), c.numHeads);
    EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumKvHeads), c.numKvHeads);
  }
}

TEST_F(DecodeTest, SplitsUseTheCombineKernelOfTheDecodeModule) {
  std::vector<TestKernel> kernels = defaultKernels();
  TestKernel own = combineKernel("bf16", 128);
  own.combineFor = "decode_bf16_d128_g2_paged_causal";
  kernels.push_back(own);
  writePack(packDir(), "sm_90", kernels);
  attn_paged_decode_args args = validArgs();
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(fakecuda::launches().size(), 2u);
  EXPECT_EQ(fakecuda::launches()[1].function,
            "combine_bf16_d128_for_decode_bf16_d128_g2_paged_causal");
  // A decode kernel without its own combine takes the one for any kernel.
  resetFake();
  args.page_size = 0;
  args.block_table = nullptr;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(fakecuda::launches().size(), 2u);
  EXPECT_EQ(fakecuda::launches()[0].function,
            "decode_bf16_d128_g2_contiguous_causal");
  EXPECT_EQ(fakecuda::launches()[1].function, "combine_bf16_d128");
}

// A combine kernel that waits for its split kernel (pdl=1) is launched with
// programmatic stream serialization, on the same stream, with the same
// shape and parameters; one without it as before.
TEST_F(DecodeTest, DependentCombineLaunchesProgrammatically) {
  std::vector<TestKernel> kernels = defaultKernels();
  for (TestKernel &kernel : kernels)
    if (kernel.op == "combine" && kernel.dtype == "bf16" &&
        kernel.headDim == 128)
      kernel.dependentLaunch = 1;
  writePack(packDir(), "sm_90", kernels);
  attn_paged_decode_args args = validArgs();
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_FALSE(launches[0].programmatic);
  const fakecuda::Launch &combine = launches[1];
  EXPECT_EQ(combine.function, "combine_bf16_d128");
  EXPECT_TRUE(combine.programmatic);
  EXPECT_EQ(combine.stream, launches[0].stream);
  EXPECT_EQ(dims(combine.grid), (Dims{16, 1, 4}));
  EXPECT_EQ(dims(combine.block), (Dims{128, 1, 1}));
  EXPECT_EQ(combine.sharedBytes, 0u);
  EXPECT_EQ(param<int32_t>(combine, kCombineNumSplits),
            param<int32_t>(launches[0], kDecodeNumSplits));
  EXPECT_EQ(param<uint64_t>(combine, kCombinePartO), kWorkspace);

  // The f16 combine says nothing: a plain launch.
  resetFake();
  args.dtype = ATTN_DTYPE_F16;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[1].function, "combine_f16_d128");
  EXPECT_FALSE(launches[1].programmatic);

  // A failed launch names the call and the kernel.
  args.dtype = ATTN_DTYPE_BF16;
  fakeConfig.failingCall = "cuLaunchKernelEx";
  fakeConfig.failure = CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  resetFake();
  EXPECT_EQ(decode(args), ATTN_ERROR_DRIVER);
  EXPECT_NE(lastError().find("cuLaunchKernelEx(config, function, params"),
            std::string::npos)
      << lastError();
  EXPECT_NE(lastError().find("combine_bf16_d128"), std::string::npos)
      << lastError();
}

TEST_F(DecodeTest, PrefersAnExactNonCausalKernel) {
  std::vector<TestKernel> kernels = defaultKernels();
  TestKernel nonCausal;
  nonCausal.causal = 0;
  kernels.push_back(nonCausal);
  writePack(packDir(), "sm_90", kernels);
  attn_paged_decode_args args = validArgs();
  args.causal = 0;
  for (int32_t seqlenQ : {1, 4}) {
    resetFake();
    args.seqlen_q = seqlenQ;
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::launches().at(0).function, "decode_bf16_d128_g2_paged");
  }
}

// Adds to `kernels` the G = 2 decode kernel folding `tokens` tokens a CTA
// (2 x tokens rows) and its own combine kernel.
void addFoldKernel(std::vector<TestKernel> &kernels, int tokens) {
  TestKernel fold;
  fold.tokens = tokens;
  fold.blockM = 2 * tokens;
  kernels.push_back(fold);
  kernels.push_back(ownCombineKernel(fold));
}

TEST_F(DecodeTest, CausalMultiQueryTakesTheKernelFoldingTheMostTokens) {
  // G = 2 with kernels folding 2 and 4 tokens: a causal Lq > 1 takes the
  // one of the most tokens at most Lq (ceil(Lq / F) token blocks of Hkv CTAs
  // on grid y, the splits counted by those CTAs); Lq = 1 and non-causal
  // calls keep the plain one.
  std::vector<TestKernel> kernels = defaultKernels();
  for (int tokens : {2, 4})
    addFoldKernel(kernels, tokens);
  TestKernel nonCausal;
  nonCausal.causal = 0;
  kernels.push_back(nonCausal);
  writePack(packDir(), "sm_90", kernels);
  struct Case {
    int seqlenQ, causal;
    const char *kernel;
    unsigned gridY;
  };
  const Case cases[] = {
      {1, 1, "decode_bf16_d128_g2_paged_causal", 8},
      {2, 1, "decode_bf16_d128_g2_paged_causal_fold2", 8},
      {3, 1, "decode_bf16_d128_g2_paged_causal_fold2", 16},
      {4, 1, "decode_bf16_d128_g2_paged_causal_fold4", 8},
      {5, 1, "decode_bf16_d128_g2_paged_causal_fold4", 16},
      {4, 0, "decode_bf16_d128_g2_paged", 32},
  };
  for (const Case &c : cases) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.seqlen_q = c.seqlenQ;
    args.causal = c.causal;
    args.max_seqlen_k = 256; // one split: no workspace
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), 1u) << c.seqlenQ;
    EXPECT_EQ(launches[0].function, c.kernel) << c.seqlenQ;
    EXPECT_EQ(dims(launches[0].grid), (Dims{1, c.gridY, 4})) << c.seqlenQ;
    EXPECT_EQ(param<int32_t>(launches[0], kDecodeSeqlenQ), c.seqlenQ);
  }
  // Splits: 4 sequences x 2 token blocks x 8 KV heads = 64 CTAs on 132
  // SMs: min(next_pow2(ceil(528 / 64)), ceil(8192 / 1024)) = 8 splits,
  // merged by the fold kernel's own combine over every (token, head).
  resetFake();
  attn_paged_decode_args args = validArgs();
  args.seqlen_q = 5;
  args.max_seqlen_k = 8192;
  args.block_table_stride = 8192 / 256;
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  const uint64_t rows = uint64_t{8} * 4 * 5 * 16;
  EXPECT_EQ(bytes, rows * 128 * sizeof(float) + rows * sizeof(float));
  ASSERT_EQ(runtime->pagedDecode(&args, deviceAddress(kWorkspace), bytes,
                                 deviceAddress(0x5eed)),
            ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].function, "decode_bf16_d128_g2_paged_causal_fold4");
  EXPECT_EQ(dims(launches[0].grid), (Dims{8, 16, 4}));
  EXPECT_EQ(launches[1].function,
            "combine_bf16_d128_for_decode_bf16_d128_g2_paged_causal_fold4");
}

TEST_F(DecodeTest, AFoldOfMoreTokensThanTheCallHasIsNotTaken) {
  // The pack folds 4 tokens only: Lq 2 and 3 launch a token a CTA (Lq x Hkv
  // CTAs on grid y), Lq 4 the fold.
  std::vector<TestKernel> kernels = defaultKernels();
  addFoldKernel(kernels, 4);
  writePack(packDir(), "sm_90", kernels);
  for (int seqlenQ : {2, 3, 4}) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.seqlen_q = seqlenQ;
    args.max_seqlen_k = 256; // one split: no workspace
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), 1u) << seqlenQ;
    bool folds = seqlenQ == 4;
    EXPECT_EQ(launches[0].function,
              folds ? "decode_bf16_d128_g2_paged_causal_fold4"
                    : "decode_bf16_d128_g2_paged_causal")
        << seqlenQ;
    EXPECT_EQ(dims(launches[0].grid), (Dims{1, folds ? 8u : 8u * seqlenQ, 4}))
        << seqlenQ;
  }
}

TEST_F(DecodeTest, OnlyGroupDecodeKernelsFoldTokens) {
  TestKernel anyGroup;
  anyGroup.group = 0;
  anyGroup.tokens = 4;
  writePack(packDir(), "sm_90", {anyGroup});
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("'tokens' is for decode kernels "
                                     "specialised on a group"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DecodeTest, AKernelOfSeveralKvHeadsLaunchesCeilHkvOverThemHeadBlocks) {
  // kv_heads=4: a CTA takes 4 KV heads, grid y ceil(Hkv / 4) head blocks a
  // token (the kernel's last lane groups store nothing past Hkv), and the
  // split count weighs those CTAs.
  TestKernel wide;
  wide.kvHeads = 4;
  writePack(packDir(), "sm_90", {wide, ownCombineKernel(wide)});
  struct Case {
    int numKvHeads, seqlenQ;
    unsigned gridY;
  };
  const Case cases[] = {{8, 1, 2}, {6, 1, 2}, {1, 1, 1}, {12, 1, 3}, {8, 3, 6}};
  for (const Case &c : cases) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.num_kv_heads = c.numKvHeads;
    args.num_heads = 2 * c.numKvHeads;
    args.seqlen_q = c.seqlenQ;
    args.q_strides[1] = int64_t{args.num_heads} * 128;
    args.q_strides[0] = c.seqlenQ * args.q_strides[1];
    for (int64_t *strides : {args.k_strides, args.v_strides}) {
      strides[0] = int64_t{256} * c.numKvHeads * 128;
      strides[1] = int64_t{c.numKvHeads} * 128;
    }
    for (int i = 0; i < 3; ++i)
      args.out_strides[i] = args.q_strides[i];
    args.max_seqlen_k = 256; // one split: no workspace
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    ASSERT_EQ(launches.size(), 1u) << c.numKvHeads;
    EXPECT_EQ(dims(launches[0].grid), (Dims{1, c.gridY, 4})) << c.numKvHeads;
    EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumKvHeads), c.numKvHeads);
  }
  // 4 sequences x 2 head blocks = 8 CTAs on 132 SMs: min(next_pow2(ceil(528
  // / 8)), ceil(65536 / 1024)) = 64 splits (with one KV head a CTA, 32 CTAs
  // would take 32).
  resetFake();
  attn_paged_decode_args args = validArgs();
  args.max_seqlen_k = 65536;
  args.block_table_stride = 65536 / 256;
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(runtime->pagedDecode(&args, deviceAddress(kWorkspace), bytes,
                                 deviceAddress(0x5eed)),
            ATTN_SUCCESS)
      << lastError();
  ASSERT_EQ(fakecuda::launches().size(), 2u);
  EXPECT_EQ(dims(fakecuda::launches()[0].grid), (Dims{64, 2, 4}));
}

TEST_F(DecodeTest, OnlyGroupDecodeKernelsOfOneTokenTakeSeveralKvHeads) {
  TestKernel anyGroup;
  anyGroup.group = 0;
  anyGroup.kvHeads = 2;
  TestKernel fold;
  fold.tokens = 2;
  fold.blockM = 4;
  fold.kvHeads = 2;
  for (const TestKernel &kernel : {anyGroup, fold}) {
    resetFake();
    writePack(packDir(), "sm_90", {kernel});
    EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
    EXPECT_THAT(lastError(), HasSubstr("'kv_heads' is for decode kernels "
                                       "specialised on a group with one "
                                       "token a CTA"));
    EXPECT_TRUE(fakecuda::launches().empty());
  }
}

TEST_F(DecodeTest, NonCausalMultiQueryWithoutNonCausalKernelIsUnsupported) {
  attn_paged_decode_args args = validArgs();
  args.causal = 0;
  args.seqlen_q = 4;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              AllOf(StartsWith("attn_paged_decode_workspace_size: "),
                    HasSubstr("no non-causal decode kernel"),
                    HasSubstr("causal=0"), HasSubstr("seqlen_q=4")));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DecodeTest, UnsupportedConfigsListWhatThePackHas) {
  struct Case {
    const char *label;
    std::function<void(attn_paged_decode_args &)> change;
    std::vector<const char *> messageParts;
  };
  const Case cases[] = {
      {"head_dim",
       [](attn_paged_decode_args &a) { a.head_dim = 96; },
       {"no decode kernel for head_dim=96: its bf16 decode kernels take "
        "head_dim 64, 128"}},
      {"group",
       [](attn_paged_decode_args &a) { a.num_heads = 24; },
       {"head_dim=128 group=3 paged=1",
        "its bf16 decode kernels of head_dim=128: ",
        "dtype=bf16 head_dim=128 group=2 paged=1 causal=1",
        "dtype=bf16 head_dim=128 group=2 paged=0 causal=1"}},
      {"dtype",
       [](attn_paged_decode_args &a) {
         a.dtype = ATTN_DTYPE_F16;
         a.head_dim = 64;
         a.num_heads = 32;
       },
       {"no decode kernel for head_dim=64: its f16 decode kernels take "
        "head_dim 128"}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.label);
    attn_paged_decode_args args = validArgs();
    c.change(args);
    size_t bytes = 0;
    EXPECT_EQ(workspaceSize(args, &bytes), ATTN_ERROR_UNSUPPORTED);
    EXPECT_EQ(runtime->pagedDecode(&args, deviceAddress(kWorkspace), 1 << 30,
                                   nullptr),
              ATTN_ERROR_UNSUPPORTED);
    EXPECT_THAT(lastError(), StartsWith("attn_paged_decode: the sm_90 pack "));
    for (const char *part : c.messageParts)
      EXPECT_THAT(lastError(), HasSubstr(part));
  }
  // The f16 list holds no bf16 kernel.
  EXPECT_THAT(lastError(), ::testing::Not(HasSubstr("dtype=bf16")));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(DecodeTest, DtypeWithoutKernelsSaysSo) {
  writePack(packDir(), "sm_90", {TestKernel(), combineKernel("bf16", 128)});
  attn_paged_decode_args args = validArgs();
  args.dtype = ATTN_DTYPE_F16;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("its f16 decode kernels: none for f16"));
}

TEST_F(DecodeTest, SplitsNeedACombineKernel) {
  writePack(packDir(), "sm_90", {TestKernel()});
  attn_paged_decode_args args = validArgs();
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("no combine kernel for dtype=bf16 head_dim=128, "
                        "which split-KV decode needs"));
  args.num_splits = 1;
  EXPECT_EQ(decode(args), ATTN_SUCCESS) << lastError();
}

TEST_F(DecodeTest, WorkspaceMissingTooSmallOrMisalignedLaunchesNothing) {
  attn_paged_decode_args args = validArgs();
  args.max_seqlen_k = 8192; // 8 splits
  args.block_table_stride = 8192 / 256;
  size_t bytes = 0;
  ASSERT_EQ(workspaceSize(args, &bytes), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(bytes, 264192u);
  void *workspace = deviceAddress(kWorkspace);

  EXPECT_EQ(runtime->pagedDecode(&args, nullptr, bytes, nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_EQ(lastError(), "attn_paged_decode: 'workspace' must hold 264192 "
                         "bytes for 8 splits, got 0 bytes (NULL)");
  EXPECT_EQ(runtime->pagedDecode(&args, workspace, bytes - 1, nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_EQ(lastError(), "attn_paged_decode: 'workspace' must hold 264192 "
                         "bytes for 8 splits, got 264191 bytes");
  EXPECT_EQ(runtime->pagedDecode(&args, deviceAddress(kWorkspace + 128), bytes,
                                 nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_THAT(lastError(), HasSubstr("'workspace' must be 256-byte aligned"));
  EXPECT_TRUE(fakecuda::launches().empty());
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(DecodeTest, GridLimitsAreUnsupported) {
  attn_paged_decode_args args = validArgs();
  args.batch = 70000;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("'batch' must be at most 65535"));
  args = validArgs();
  args.seqlen_q = 10000;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("'num_kv_heads' * 'seqlen_q' must be at most 65535"));
}

struct InvalidCase {
  const char *label;
  std::function<void(attn_paged_decode_args &)> change;
  const char *message; // after "attn_paged_decode: "
};

void *misaligned(const void *pointer, uintptr_t offset) {
  return deviceAddress(address(pointer) + offset);
}

const InvalidCase kInvalidCases[] = {
    {"dtype",
     [](auto &a) {
       // What a C caller can store; a C++ enum load of 7 would be undefined.
       const int dtype = 7;
       std::memcpy(&a.dtype, &dtype, sizeof(dtype));
     },
     "'dtype' must be ATTN_DTYPE_F16 (0) or ATTN_DTYPE_BF16 (1), got 7"},
    {"batch", [](auto &a) { a.batch = 0; }, "'batch' must be >= 1, got 0"},
    {"seqlen_q", [](auto &a) { a.seqlen_q = -1; },
     "'seqlen_q' must be >= 1, got -1"},
    {"num_heads", [](auto &a) { a.num_heads = 0; },
     "'num_heads' must be >= 1, got 0"},
    {"num_kv_heads", [](auto &a) { a.num_kv_heads = 0; },
     "'num_kv_heads' must be >= 1, got 0"},
    {"gqa_ratio", [](auto &a) { a.num_heads = 20; },
     "'num_heads' (20) must be a multiple of 'num_kv_heads' (8)"},
    {"group_size",
     [](auto &a) {
       a.num_heads = 32;
       a.num_kv_heads = 1;
     },
     "'num_heads' / 'num_kv_heads' must be at most 16, got 32 / 1 = 32"},
    {"head_dim_zero", [](auto &a) { a.head_dim = 0; },
     "'head_dim' must be a multiple of 8 in [8, 256], got 0"},
    {"head_dim_odd", [](auto &a) { a.head_dim = 100; },
     "'head_dim' must be a multiple of 8 in [8, 256], got 100"},
    {"head_dim_large", [](auto &a) { a.head_dim = 264; },
     "'head_dim' must be a multiple of 8 in [8, 256], got 264"},
    {"page_size", [](auto &a) { a.page_size = 24; },
     "'page_size' must be 0 or a multiple of 16, got 24"},
    {"page_size_negative", [](auto &a) { a.page_size = -16; },
     "'page_size' must be 0 or a multiple of 16, got -16"},
    {"max_seqlen_k", [](auto &a) { a.max_seqlen_k = -1; },
     "'max_seqlen_k' must be >= 0, got -1"},
    {"causal", [](auto &a) { a.causal = 2; }, "'causal' must be 0 or 1, got 2"},
    {"softmax_scale_zero", [](auto &a) { a.softmax_scale = 0; },
     "'softmax_scale' must be positive and finite, got 0"},
    {"softmax_scale_negative", [](auto &a) { a.softmax_scale = -0.5f; },
     "'softmax_scale' must be positive and finite, got -0.5"},
    {"softmax_scale_nan",
     [](auto &a) { a.softmax_scale = std::numeric_limits<float>::quiet_NaN(); },
     "'softmax_scale' must be positive and finite, got nan"},
    {"softmax_scale_inf",
     [](auto &a) { a.softmax_scale = std::numeric_limits<float>::infinity(); },
     "'softmax_scale' must be positive and finite, got inf"},
    {"num_splits", [](auto &a) { a.num_splits = -1; },
     "'num_splits' must be >= 0 (0 = chosen by the runtime), got -1"},
    {"q", [](auto &a) { a.q = nullptr; }, "'q' must not be NULL"},
    {"k_cache", [](auto &a) { a.k_cache = nullptr; },
     "'k_cache' must not be NULL"},
    {"v_cache", [](auto &a) { a.v_cache = nullptr; },
     "'v_cache' must not be NULL"},
    {"cache_seqlens", [](auto &a) { a.cache_seqlens = nullptr; },
     "'cache_seqlens' must not be NULL"},
    {"out", [](auto &a) { a.out = nullptr; }, "'out' must not be NULL"},
    {"q_aligned", [](auto &a) { a.q = misaligned(a.q, 8); },
     "'q' must be 16-byte aligned, got 0x1000000008"},
    {"out_aligned", [](auto &a) { a.out = misaligned(a.out, 2); },
     "'out' must be 16-byte aligned, got 0x6000000002"},
    {"lse_aligned",
     [](auto &a) { a.lse = static_cast<float *>(misaligned(nullptr, 0x102)); },
     "'lse' must be 4-byte aligned, got 0x102"},
    {"block_table_missing", [](auto &a) { a.block_table = nullptr; },
     "'block_table' must not be NULL when page_size is 256 (paged cache)"},
    {"block_table_unexpected", [](auto &a) { a.page_size = 0; },
     "'block_table' must be NULL when page_size is 0 (contiguous cache)"},
    {"block_table_stride", [](auto &a) { a.block_table_stride = 0; },
     "'block_table_stride' must be >= 1, got 0"},
    {"q_strides", [](auto &a) { a.q_strides[0] = 0; },
     "'q_strides[0]' must be a positive multiple of 8 elements (16 bytes), "
     "got 0: stride 0 broadcasts the dimension of size 4, which the kernels "
     "do not support (only a dimension of size 1 may have any stride)"},
    {"k_strides_broadcast", [](auto &a) { a.k_strides[0] = 0; },
     "'k_strides[0]' must be a positive multiple of 8 elements (16 bytes), "
     "got 0: stride 0 broadcasts the dimension, which the kernels do not "
     "support (only a dimension of size 1 may have any stride)"},
    {"k_strides", [](auto &a) { a.k_strides[1] = -1024; },
     "'k_strides[1]' must be a positive multiple of 8 elements (16 bytes), "
     "got -1024"},
    {"v_strides", [](auto &a) { a.v_strides[2] = 132; },
     "'v_strides[2]' must be a positive multiple of 8 elements (16 bytes), "
     "got 132"},
    {"out_strides", [](auto &a) { a.out_strides[2] = 4; },
     "'out_strides[2]' must be a positive multiple of 8 elements (16 bytes), "
     "got 4"},
    {"q_token_stride",
     [](auto &a) {
       a.seqlen_q = 2;
       a.q_strides[1] = 1;
     },
     "'q_strides[1]' must be a positive multiple of 8 elements (16 bytes), "
     "got 1"},
};

class InvalidArgumentTest : public RuntimeTest,
                            public ::testing::WithParamInterface<InvalidCase> {
};

TEST_P(InvalidArgumentTest, NamesTheArgumentAndLaunchesNothing) {
  attn_paged_decode_args args = validArgs();
  GetParam().change(args);
  size_t bytes = 0;
  EXPECT_EQ(workspaceSize(args, &bytes), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), std::string("attn_paged_decode_workspace_size: ") +
                             GetParam().message);
  EXPECT_EQ(
      runtime->pagedDecode(&args, deviceAddress(kWorkspace), 1 << 30, nullptr),
      ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            std::string("attn_paged_decode: ") + GetParam().message);
  EXPECT_TRUE(fakecuda::launches().empty());
}

INSTANTIATE_TEST_SUITE_P(Decode, InvalidArgumentTest,
                         ::testing::ValuesIn(kInvalidCases),
                         [](const ::testing::TestParamInfo<InvalidCase> &info) {
                           return std::string(info.param.label);
                         });

TEST_F(DecodeTest, NullArgumentsAreInvalid) {
  size_t bytes = 0;
  EXPECT_EQ(runtime->workspaceSize(nullptr, &bytes),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_paged_decode_workspace_size: 'args' must not be NULL");
  attn_paged_decode_args args = validArgs();
  EXPECT_EQ(runtime->workspaceSize(&args, nullptr),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_paged_decode_workspace_size: 'bytes' must not be NULL");
  EXPECT_EQ(runtime->pagedDecode(nullptr, nullptr, 0, nullptr),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "attn_paged_decode: 'args' must not be NULL");
}

// The manifest header's split policy (from the tuning table) replaces the
// defaults: 2 CTAs per SM and 512 keys per split give min(next_pow2(
// ceil(264 / 32)), ceil(2048 / 512)) = 4 splits where the defaults give 2
// (SplitHeuristicTest's nanovllm_step).
TEST_F(DecodeTest, SplitPolicyComesFromTheManifestHeader) {
  writePack(packDir(), "sm_90", defaultKernels(),
            " split_ctas_per_sm=2 split_min_keys=512");
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(0).grid[0], 4u);
}

// A decode kernel's own policy (its tuning table entry's decode_split, on its
// manifest line) replaces the header's for its launches, each key on its own;
// a kernel without one keeps the header's. B 4 x Hkv 8 = 32 CTAs on 132 SMs
// over 2048 keys: (1, 256) gives min(next_pow2(ceil(132 / 32)), 2048 / 256) = 8
// splits, (2, 128) min(16, 16) = 16 and the header's (2, 512) min(16, 4) = 4.
TEST_F(DecodeTest, SplitPolicyComesFromTheKernelLine) {
  int fresh = 0;
  for (auto [extra, splits] :
       {std::pair<const char *, unsigned>{" split_ctas_per_sm=1 "
                                          "split_min_keys=256",
                                          8},
        {" split_min_keys=128", 16},
        {"", 4}}) {
    SCOPED_TRACE(extra);
    std::vector<TestKernel> kernels = defaultKernels();
    kernels.at(0).extra = extra; // bf16 D 128 G 2 paged
    writePack(packDir(), "sm_90", kernels,
              " split_ctas_per_sm=2 split_min_keys=512");
    // A library that has not read the pack yet.
    runtime = std::make_unique<RuntimeLibrary>(tempDir + "/fresh" +
                                               std::to_string(fresh++));
    resetFake();
    ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::launches().at(0).grid[0], splits);
    // The f16 kernel's line has no policy of its own: the header's.
    attn_paged_decode_args f16 = validArgs();
    f16.dtype = ATTN_DTYPE_F16;
    size_t launched = fakecuda::launches().size();
    ASSERT_EQ(decode(f16), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::launches().at(launched).grid[0], 4u);
  }
}

TEST_F(DecodeTest, BadKernelSplitPolicyIsAPackError) {
  std::vector<TestKernel> kernels = defaultKernels();
  kernels.at(0).extra = " split_ctas_per_sm=0";
  writePack(packDir(), "sm_90", kernels);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("'split_ctas_per_sm' must be an integer "
                                     "in [1, 16777216], got '0'"));
  EXPECT_TRUE(fakecuda::launches().empty());
  // Only a decode kernel plans splits by one.
  kernels = defaultKernels();
  for (TestKernel &kernel : kernels)
    if (kernel.op == "prefill")
      kernel.extra = " split_min_keys=256";
  writePack(packDir(), "sm_90", kernels);
  runtime = std::make_unique<RuntimeLibrary>(tempDir + "/fresh");
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("'split_min_keys' is for decode kernels"));
}

TEST_F(DecodeTest, BadSplitPolicyIsAPackError) {
  writePack(packDir(), "sm_90", defaultKernels(), " split_min_keys=0");
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("header's 'split_min_keys' must be an "
                                     "integer in [1, 2^24], got '0'"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

} // namespace
} // namespace attn::test

namespace attn::test {
namespace {

class DecodeLocalTest : public RuntimeTest {};

TEST_F(DecodeLocalTest, AWindowAndSoftcapRunTheLocalKernelWithTheirValues) {
  attn_paged_decode_args args = validArgs();
  args.local.has_window = 1;
  args.local.window_left = 100;
  args.local.window_right = -1;
  args.local.softcap = 50.0f;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  // The window leaves a row 101 of the 2048 keys: one split.
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  const fakecuda::Launch &launch = launches[0];
  EXPECT_EQ(launch.function, "decode_bf16_d128_g0_paged_local");
  ASSERT_EQ(launch.params.size(), decodeParamSizes().size() + 3);
  EXPECT_EQ(param<int32_t>(launch, kDecodeLocal + kLocalWindowLeft), 100);
  // Causal: the right bound is the diagonal.
  EXPECT_EQ(param<int32_t>(launch, kDecodeLocal + kLocalWindowRight), 0);
  EXPECT_EQ(param<float>(launch, kDecodeLocal + kLocalSoftcap), 50.0f);
  EXPECT_EQ(param<int32_t>(launch, kDecodeNumSplits), 1);
  EXPECT_EQ(param<int32_t>(launch, kDecodeNumKvHeads), 8);
}

TEST_F(DecodeLocalTest, ASoftcapAloneSplitsAsThePlainKernelDoes) {
  attn_paged_decode_args plain = validArgs();
  ASSERT_EQ(decode(plain), ATTN_SUCCESS) << lastError();
  int32_t plainSplits =
      param<int32_t>(fakecuda::launches()[0], kDecodeNumSplits);
  ASSERT_GT(plainSplits, 1);
  resetFake();
  attn_paged_decode_args args = validArgs();
  args.local.softcap = 30.0f;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u); // the local kernel, then the combine
  EXPECT_EQ(launches[0].function, "decode_bf16_d128_g0_paged_local");
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeNumSplits), plainSplits);
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeLocal + kLocalWindowLeft), -1);
  EXPECT_EQ(param<int32_t>(launches[0], kDecodeLocal + kLocalWindowRight), 0);
  EXPECT_EQ(param<float>(launches[0], kDecodeLocal + kLocalSoftcap), 30.0f);
}

TEST_F(DecodeLocalTest, ANonCausalWindowKeepsItsRightBound) {
  attn_paged_decode_args args = validArgs();
  args.causal = 0;
  args.local.has_window = 1;
  args.local.window_left = 5;
  args.local.window_right = 3;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_FALSE(launches.empty());
  const fakecuda::Launch &launch = launches[0];
  EXPECT_EQ(launch.function, "decode_bf16_d128_g0_paged_local");
  EXPECT_EQ(param<int32_t>(launch, kDecodeLocal + kLocalWindowLeft), 5);
  EXPECT_EQ(param<int32_t>(launch, kDecodeLocal + kLocalWindowRight), 3);
  EXPECT_EQ(param<float>(launch, kDecodeLocal + kLocalSoftcap), 0.0f);
}

TEST_F(DecodeLocalTest, AWindowThatBoundsNothingRunsThePlainKernels) {
  struct Case {
    int32_t causal, left, right;
  };
  // (-1, -1): every key; (-1, 0) without causal: the causal mask.
  for (Case c : {Case{1, -1, -1}, Case{0, -1, 0}, Case{1, -7, 12}}) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.causal = c.causal;
    args.local.has_window = 1;
    args.local.window_left = c.left;
    args.local.window_right = c.right;
    ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::launches()[0].function,
              "decode_bf16_d128_g2_paged_causal")
        << c.causal << " " << c.left << " " << c.right;
  }
}

TEST_F(DecodeLocalTest, BadOptionsNameTheFieldAndLaunchNothing) {
  struct Case {
    int32_t hasWindow;
    float softcap;
    const char *field;
  };
  for (Case c :
       {Case{2, 0.0f, "'local.has_window'"}, Case{0, -1.0f, "'local.softcap'"},
        Case{0, std::numeric_limits<float>::quiet_NaN(), "'local.softcap'"},
        Case{1, std::numeric_limits<float>::infinity(), "'local.softcap'"}}) {
    resetFake();
    attn_paged_decode_args args = validArgs();
    args.local.has_window = c.hasWindow;
    args.local.softcap = c.softcap;
    EXPECT_EQ(decode(args), ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(lastError(), ::testing::HasSubstr(c.field));
    EXPECT_TRUE(fakecuda::launches().empty());
  }
}

TEST_F(DecodeLocalTest, PrefersTheLocalKernelOfTheCallsGroupSize) {
  std::vector<TestKernel> kernels = defaultKernels();
  TestKernel g2;
  g2.group = 2;
  g2.causal = 0;
  g2.local = 1;
  g2.blockM = 2;
  kernels.push_back(g2);
  writePack(packDir(), "sm_90", kernels);
  attn_paged_decode_args args = validArgs(); // G = 2
  args.local.softcap = 30.0f;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches()[0].function,
            "decode_bf16_d128_g2_paged_local");
  resetFake();
  args.num_kv_heads = 4; // G = 4: the any-group one
  for (int64_t *strides : {args.k_strides, args.v_strides})
    strides[0] = int64_t{256} * 4 * 128, strides[1] = int64_t{4} * 128;
  ASSERT_EQ(decode(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches()[0].function,
            "decode_bf16_d128_g0_paged_local");
}

TEST_F(DecodeLocalTest, APackWithoutLocalKernelsSaysSo) {
  std::vector<TestKernel> kernels;
  for (const TestKernel &kernel : defaultKernels())
    if (!kernel.local)
      kernels.push_back(kernel);
  writePack(packDir(), "sm_90", kernels);
  attn_paged_decode_args args = validArgs();
  args.local.softcap = 30.0f;
  EXPECT_EQ(decode(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), ::testing::HasSubstr("local=1"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

} // namespace
} // namespace attn::test
