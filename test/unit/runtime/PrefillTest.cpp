// Varlen prefill tests: kernel choice, grid, parameters, split-KV and its
// workspace, empty input, bad input.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <array>
#include <cstring>
#include <functional>
#include <limits>

namespace attn::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::StrEq;

using Dims = std::array<unsigned, 3>;

Dims dims(const unsigned (&values)[3]) {
  return {values[0], values[1], values[2]};
}

uint64_t address(const void *pointer) {
  return reinterpret_cast<uintptr_t>(pointer);
}

class PrefillTest : public RuntimeTest {};

TEST_F(PrefillTest, LaunchesThePackedKernelWithAbiGridAndParameters) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.lse = static_cast<float *>(deviceAddress(0x8000000000));
  void *stream = deviceAddress(0x5eed);
  ASSERT_EQ(runtime->varlenPrefill(&args, nullptr, 0, stream), ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);

  const fakecuda::Launch &launch = launches[0];
  EXPECT_EQ(launch.function, "prefill_bf16_d128_g0_contiguous_causal");
  // Hq, B, ceil(1024 / block_m=64) row tiles.
  EXPECT_EQ(dims(launch.grid), (Dims{16, 16, 16}));
  EXPECT_EQ(dims(launch.block), (Dims{128, 1, 1}));
  EXPECT_EQ(launch.sharedBytes, 64u * 1024);
  EXPECT_EQ(launch.stream, stream);
  ASSERT_EQ(launch.params.size(), prefillParamSizes().size());
  EXPECT_EQ(param<uint64_t>(launch, kPrefillQ), address(args.q));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillK), address(args.k));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillV), address(args.v));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillCuSeqlensQ),
            address(args.cu_seqlens_q));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillCuSeqlensK),
            address(args.cu_seqlens_k));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillBlockTable), 0u);
  EXPECT_EQ(param<uint64_t>(launch, kPrefillOut), address(args.out));
  EXPECT_EQ(param<uint64_t>(launch, kPrefillLse), address(args.lse));
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(param<int64_t>(launch, kPrefillQStrides + i), args.q_strides[i]);
    EXPECT_EQ(param<int64_t>(launch, kPrefillOutStrides + i),
              args.out_strides[i]);
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(launch, kPrefillKStrides + i), args.k_strides[i]);
    EXPECT_EQ(param<int64_t>(launch, kPrefillVStrides + i), args.v_strides[i]);
  }
  EXPECT_EQ(param<int64_t>(launch, kPrefillKStrides), 0);
  EXPECT_EQ(param<int64_t>(launch, kPrefillBlockTableStride), 0);
  EXPECT_EQ(param<int32_t>(launch, kPrefillNumKvHeads), 8);
  EXPECT_EQ(param<int32_t>(launch, kPrefillPageSize), 0);
  EXPECT_EQ(param<int32_t>(launch, kPrefillTotalQ), 4000);
  EXPECT_EQ(param<float>(launch, kPrefillSoftmaxScale), args.softmax_scale);
  EXPECT_EQ(param<int32_t>(launch, kPrefillNumHeads), 16);
  // 2^4 >= 16 heads; ceil(2^32 / G=2).
  EXPECT_EQ(param<int32_t>(launch, kPrefillHeadShift), 4);
  EXPECT_EQ(param<uint64_t>(launch, kPrefillGroupMagic), uint64_t{1} << 31);
  EXPECT_EQ(param<int32_t>(launch, kPrefillHeadDim), 128);
  // 4096 CTAs fill 132 SMs: no split, out and lse written directly.
  EXPECT_EQ(param<uint64_t>(launch, kPrefillPartO), 0u);
  EXPECT_EQ(param<uint64_t>(launch, kPrefillPartLse), 0u);
  EXPECT_EQ(param<int32_t>(launch, kPrefillNumSplits), 1);
  // 64 KB of dynamic shared memory needs the opt-in.
  std::vector<fakecuda::AttributeSet> sets = fakecuda::attributeSets();
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].function, launch.function);
  EXPECT_EQ(sets[0].value, 64 * 1024);
}

// As torch does, a dimension of size 1 may have any stride; the kernels get 0.
TEST_F(PrefillTest, SizeOneDimensionsTakeAnyStrideAndLaunchWithStrideZero) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = 1;
  args.total_q = 1;
  args.max_seqlen_q = 1;
  args.num_heads = 1;
  args.num_kv_heads = 1;
  args.q_strides[0] = 5;  // total_q = 1
  args.q_strides[1] = -1; // Hq = 1
  args.out_strides[0] = 0;
  args.out_strides[1] = int64_t{1} << 40;
  args.k_strides[2] = 1; // Hkv = 1
  args.v_strides[2] = 0;
  args.num_splits = 1;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(param<int64_t>(launches[0], kPrefillQStrides + i), 0);
    EXPECT_EQ(param<int64_t>(launches[0], kPrefillOutStrides + i), 0);
  }
  const int64_t keyStrides[] = {0, args.k_strides[1], 0};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(param<int64_t>(launches[0], kPrefillKStrides + i), keyStrides[i]);
    EXPECT_EQ(param<int64_t>(launches[0], kPrefillVStrides + i), keyStrides[i]);
  }

  // One sequence reads one row of block_table.
  args = validPagedPrefillArgs();
  args.batch = 1;
  args.total_q = 1000;
  args.block_table_stride = -4;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(
      param<int64_t>(fakecuda::launches().back(), kPrefillBlockTableStride), 0);
}

TEST_F(PrefillTest, PagedKeysPassTheBlockTableAndPageSize) {
  attn_varlen_prefill_args args = validPagedPrefillArgs();
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].function, "prefill_bf16_d128_g0_paged_causal");
  EXPECT_EQ(param<uint64_t>(launches[0], kPrefillBlockTable),
            address(args.block_table));
  EXPECT_EQ(param<int64_t>(launches[0], kPrefillBlockTableStride), 4);
  EXPECT_EQ(param<int64_t>(launches[0], kPrefillKStrides), 256 * 8 * 128);
  EXPECT_EQ(param<int64_t>(launches[0], kPrefillVStrides), 256 * 8 * 128);
  EXPECT_EQ(param<int32_t>(launches[0], kPrefillPageSize), 256);
}

// One prompt of 128 new tokens over 4096 keys (a prefix-cache hit): 16 heads x
// 2 row tiles = 32 CTAs on 132 SMs.
attn_varlen_prefill_args smallGridArgs() {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = 1;
  args.total_q = 128;
  args.max_seqlen_q = 128;
  args.max_seqlen_k = 4096;
  return args;
}

// smallGridArgs' split: min(ceil(2 * 132 / 32), ceil(4096 / 512), 64) = 8
// splits of total_q x Hq rows of the kernel's 128 floats, then their lse.
constexpr uint64_t kSmallGridRows = uint64_t{8} * 128 * 16;
constexpr uint64_t kSmallGridPartOBytes = kSmallGridRows * 128 * sizeof(float);
constexpr uint64_t kSmallGridWorkspaceBytes =
    kSmallGridPartOBytes + kSmallGridRows * sizeof(float);

TEST_F(PrefillTest, SplitsASmallGridThenCombinesWithAbiParameters) {
  attn_varlen_prefill_args args = smallGridArgs();
  args.lse = static_cast<float *>(deviceAddress(0x8000000000));
  size_t bytes = 0;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(bytes, kSmallGridWorkspaceBytes);

  void *stream = deviceAddress(0x5eed);
  ASSERT_EQ(
      runtime->varlenPrefill(&args, deviceAddress(kWorkspace), bytes, stream),
      ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);

  const fakecuda::Launch &prefill = launches[0];
  EXPECT_EQ(prefill.function, "prefill_bf16_d128_g0_contiguous_causal");
  // splits << ceil(log2(Hq)), B, row tiles.
  EXPECT_EQ(dims(prefill.grid), (Dims{8 << 4, 1, 2}));
  EXPECT_EQ(dims(prefill.block), (Dims{128, 1, 1}));
  EXPECT_EQ(prefill.stream, stream);
  ASSERT_EQ(prefill.params.size(), prefillParamSizes().size());
  EXPECT_EQ(param<uint64_t>(prefill, kPrefillOut), address(args.out));
  EXPECT_EQ(param<uint64_t>(prefill, kPrefillLse), address(args.lse));
  EXPECT_EQ(param<int32_t>(prefill, kPrefillTotalQ), 128);
  EXPECT_EQ(param<uint64_t>(prefill, kPrefillPartO), kWorkspace);
  EXPECT_EQ(param<uint64_t>(prefill, kPrefillPartLse),
            kWorkspace + kSmallGridPartOBytes);
  EXPECT_EQ(param<int32_t>(prefill, kPrefillNumSplits), 8);

  // The decode combine as B = 1, Lq = total_q: grid (Hq, total_q, 1).
  const fakecuda::Launch &combine = launches[1];
  EXPECT_EQ(combine.function,
            "combine_bf16_d128_for_prefill_bf16_d128_g0_contiguous_causal");
  EXPECT_EQ(dims(combine.grid), (Dims{16, 128, 1}));
  EXPECT_EQ(dims(combine.block), (Dims{128, 1, 1}));
  EXPECT_EQ(combine.sharedBytes, 0u);
  EXPECT_EQ(combine.stream, stream);
  ASSERT_EQ(combine.params.size(), combineParamSizes().size());
  EXPECT_EQ(param<uint64_t>(combine, kCombinePartO), kWorkspace);
  EXPECT_EQ(param<uint64_t>(combine, kCombinePartLse),
            kWorkspace + kSmallGridPartOBytes);
  EXPECT_EQ(param<uint64_t>(combine, kCombineOut), address(args.out));
  EXPECT_EQ(param<uint64_t>(combine, kCombineLse), address(args.lse));
  EXPECT_EQ(param<int64_t>(combine, kCombineOutStrides), 0);
  EXPECT_EQ(param<int64_t>(combine, kCombineOutStrides + 1),
            args.out_strides[0]);
  EXPECT_EQ(param<int64_t>(combine, kCombineOutStrides + 2),
            args.out_strides[1]);
  EXPECT_EQ(param<int32_t>(combine, kCombineNumSplits), 8);
  EXPECT_EQ(param<int32_t>(combine, kCombineHeadDim), 128);
}

// As decode's: a pack with pads_head_dim=1 runs head_dim 72 on its 128
// kernels (the next larger it has), the call's head_dim their parameter, the
// partials of 128 columns.
TEST_F(PrefillTest, HeadDimWithoutKernelRunsZeroPaddedOnTheNextLarger) {
  writePack(packDir(), "sm_90", defaultKernels(), " pads_head_dim=1");
  attn_varlen_prefill_args args = smallGridArgs();
  args.head_dim = 72;
  args.q_strides[0] = args.out_strides[0] = int64_t{16} * 72;
  args.q_strides[1] = args.out_strides[1] = 72;
  for (int64_t *strides : {args.k_strides, args.v_strides}) {
    strides[1] = int64_t{8} * 72;
    strides[2] = 72;
  }
  size_t bytes = 0;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  // The partials have the kernel's 128 columns.
  EXPECT_EQ(bytes, kSmallGridWorkspaceBytes);
  ASSERT_EQ(
      runtime->varlenPrefill(&args, deviceAddress(kWorkspace), bytes, nullptr),
      ATTN_SUCCESS)
      << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(launches[0].function, "prefill_bf16_d128_g0_contiguous_causal");
  EXPECT_EQ(param<int32_t>(launches[0], kPrefillHeadDim), 72);
  EXPECT_EQ(param<int64_t>(launches[0], kPrefillQStrides + 1), 72);
  EXPECT_EQ(param<int32_t>(launches[1], kCombineHeadDim), 72);
  EXPECT_EQ(param<uint64_t>(launches[1], kCombinePartLse),
            kWorkspace + kSmallGridPartOBytes);
}

struct PrefillSplitCase {
  const char *label;
  int smCount;
  int32_t batch;
  int32_t totalQ;
  int32_t maxSeqlenQ;
  int32_t maxSeqlenK;
  int32_t numHeads;
  int32_t numSplits;
  int expectedSplits;
  unsigned gridZ; // GridZRanksRowTilesAgainstMaxSeqlenK
};

class PrefillSplitTest
    : public RuntimeTest,
      public ::testing::WithParamInterface<PrefillSplitCase> {};

TEST_P(PrefillSplitTest, ChoosesSplitsAndGrid) {
  const PrefillSplitCase &c = GetParam();
  fakeConfig.smCount = c.smCount;
  resetFake();
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = c.batch;
  args.total_q = c.totalQ;
  args.max_seqlen_q = c.maxSeqlenQ;
  args.max_seqlen_k = c.maxSeqlenK;
  args.num_heads = c.numHeads;
  args.num_kv_heads = c.numHeads / 2;
  args.num_splits = c.numSplits;
  size_t bytes = 0;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(bytes == 0, c.expectedSplits == 1);
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();

  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), c.expectedSplits > 1 ? 2u : 1u);
  // x = split << ceil(log2(Hq)) | head: Hq with one split.
  int shift = 0;
  while ((1 << shift) < c.numHeads)
    ++shift;
  unsigned gridX = c.expectedSplits == 1 ? unsigned(c.numHeads)
                                         : unsigned(c.expectedSplits) << shift;
  EXPECT_EQ(dims(launches[0].grid), (Dims{gridX, unsigned(c.batch), c.gridZ}));
  EXPECT_EQ(param<int32_t>(launches[0], kPrefillNumHeads), c.numHeads);
  EXPECT_EQ(param<int32_t>(launches[0], kPrefillHeadShift), shift);
  // G = 2 in every case: ceil(2^32 / 2).
  EXPECT_EQ(param<uint64_t>(launches[0], kPrefillGroupMagic),
            uint64_t{1} << 31);
  EXPECT_EQ(param<int32_t>(launches[0], kPrefillNumSplits), c.expectedSplits);
  EXPECT_EQ(param<uint64_t>(launches[0], kPrefillPartO) != 0,
            c.expectedSplits > 1);
  EXPECT_EQ(param<uint64_t>(launches[0], kPrefillPartLse) != 0,
            c.expectedSplits > 1);
  if (c.expectedSplits > 1) {
    EXPECT_EQ(dims(launches[1].grid),
              (Dims{unsigned(c.numHeads), unsigned(c.totalQ), 1}));
    EXPECT_EQ(param<int32_t>(launches[1], kCombineNumSplits), c.expectedSplits);
  }
}

// With CTAs = Hq * B * ceil(max_seqlen_q / 64): one split when CTAs >= SMs,
// else min(ceil(2 * SMs / CTAs), ceil(max_seqlen_k / 512), 64), >= 1; one
// split without keys or with more query rows than the combine grid's y
// holds. num_splits > 0 overrides it, capped at 64.
INSTANTIATE_TEST_SUITE_P(
    Prefill, PrefillSplitTest,
    ::testing::Values(
        PrefillSplitCase{"nanovllm_prefill", 132, 16, 4000, 1024, 1024, 16, 0,
                         1, 16},
        PrefillSplitCase{"one_wave", 64, 4, 4, 1, 8192, 16, 0, 1, 1},
        PrefillSplitCase{"short_of_a_wave", 65, 4, 4, 1, 8192, 16, 0, 3, 1},
        PrefillSplitCase{"prefix_cache_hit", 132, 1, 128, 128, 4096, 16, 0, 8,
                         2},
        PrefillSplitCase{"length_bound", 132, 1, 64, 64, 1000, 16, 0, 2, 1},
        PrefillSplitCase{"one_chunk_of_keys", 132, 1, 64, 64, 512, 16, 0, 1, 1},
        PrefillSplitCase{"capped_at_64", 132, 1, 1, 1, 1 << 20, 2, 0, 64, 1},
        PrefillSplitCase{"no_keys", 132, 1, 64, 64, 0, 16, 0, 1, 1},
        PrefillSplitCase{"rows_beyond_the_combine_grid", 4000, 1, 70000, 70000,
                         70000, 2, 0, 1, 1094},
        PrefillSplitCase{"requested", 132, 16, 4000, 1024, 1024, 16, 3, 3, 16},
        PrefillSplitCase{"requested_capped", 132, 1, 64, 64, 1024, 16, 100, 64,
                         1},
        PrefillSplitCase{"requested_one", 132, 1, 128, 128, 4096, 16, 1, 1, 2},
        PrefillSplitCase{"requested_no_keys", 132, 1, 64, 64, 0, 16, 5, 5, 1},
        // 24 heads: split x spaced 32 apart, the last 8 CTAs of each idle.
        PrefillSplitCase{"heads_not_a_power_of_two", 132, 1, 64, 64, 4096, 24,
                         0, 8, 1}),
    [](const ::testing::TestParamInfo<PrefillSplitCase> &info) {
      return std::string(info.param.label);
    });

TEST_F(PrefillTest, PartLseStartsAtTheNext256ByteBoundary) {
  TestKernel smallHead = prefillKernel("bf16", 16, /*paged=*/0, /*causal=*/1);
  writePack(packDir(), "sm_90", {smallHead, ownCombineKernel(smallHead)});
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = 1;
  args.total_q = 1;
  args.max_seqlen_q = 1;
  args.num_heads = 2;
  args.num_kv_heads = 1;
  args.head_dim = 16;
  args.q_strides[0] = args.out_strides[0] = 2 * 16;
  args.q_strides[1] = args.out_strides[1] = 16;
  for (int64_t *strides : {args.k_strides, args.v_strides}) {
    strides[1] = 16;
    strides[2] = 16;
  }
  args.num_splits = 3;
  // part_o: 3 splits x 1 row x 2 heads x 16 floats = 384 bytes, so part_lse
  // at 512.
  size_t bytes = 0;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(bytes, 512 + sizeof(float) * 3 * 2);
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 2u);
  EXPECT_EQ(param<uint64_t>(launches[0], kPrefillPartLse), kWorkspace + 512);
  EXPECT_EQ(param<uint64_t>(launches[1], kCombinePartLse), kWorkspace + 512);
  // A whole warp, the threads past column 16 storing nothing.
  EXPECT_EQ(dims(launches[1].block), (Dims{32, 1, 1}));
}

TEST_F(PrefillTest, WorkspaceMissingTooSmallOrMisalignedLaunchesNothing) {
  attn_varlen_prefill_args args = smallGridArgs(); // 8 splits
  size_t bytes = 0;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  ASSERT_EQ(bytes, 8454144u);
  void *workspace = deviceAddress(kWorkspace);

  EXPECT_EQ(runtime->varlenPrefill(&args, nullptr, bytes, nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_EQ(lastError(), "attn_varlen_prefill: 'workspace' must hold 8454144 "
                         "bytes for 8 splits, got 0 bytes (NULL)");
  EXPECT_EQ(runtime->varlenPrefill(&args, workspace, bytes - 1, nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_EQ(lastError(), "attn_varlen_prefill: 'workspace' must hold 8454144 "
                         "bytes for 8 splits, got 8454143 bytes");
  EXPECT_EQ(runtime->varlenPrefill(&args, deviceAddress(kWorkspace + 128),
                                   bytes, nullptr),
            ATTN_ERROR_WORKSPACE);
  EXPECT_THAT(lastError(), HasSubstr("'workspace' must be 256-byte aligned"));
  EXPECT_TRUE(fakecuda::launches().empty());
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(PrefillTest, SplitsNeedACombineKernel) {
  writePack(packDir(), "sm_90",
            {prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/1)});
  attn_varlen_prefill_args args = smallGridArgs();
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(lastError(),
            "attn_varlen_prefill_workspace_size: the sm_90 pack has no "
            "combine kernel for dtype=bf16 head_dim=128, which split-KV "
            "prefill needs (num_splits=1 needs none)");
  EXPECT_EQ(runtime->varlenPrefill(&args, deviceAddress(kWorkspace), 1 << 30,
                                   nullptr),
            ATTN_ERROR_UNSUPPORTED);
  EXPECT_TRUE(fakecuda::launches().empty());
  // A grid that needs no split needs no combine kernel.
  args.num_splits = 1;
  EXPECT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().size(), 2u);
}

// A TMA prefill kernel (tma=1): the packed K and V as tensor maps after the
// kernel's own parameters (abi::tma), encoded per call.
class PrefillTmaTest : public RuntimeTest {
protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    TestKernel tma = prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/1);
    tma.tma = 1;
    writePack(packDir(), "sm_90", {tma, ownCombineKernel(tma)},
              " pads_head_dim=1");
  }
  static constexpr size_t kMaps = kPrefillHeadDim + 1;
  // The words fake_cuda's encode writes into a map.
  static std::array<uint64_t, 16> mapWords(const fakecuda::Launch &launch,
                                           size_t index) {
    std::array<uint64_t, 16> words{};
    EXPECT_EQ(launch.params.at(index).size(), 128u);
    std::memcpy(words.data(), launch.params.at(index).data(), 128);
    return words;
  }
};

TEST_F(PrefillTmaTest, PassesKAndVMapsAfterTheKernelsParameters) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.head_dim = 120; // the map's columns are the call's
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  ASSERT_EQ(launches[0].params.size(), prefillParamSizes().size() + 3);
  EXPECT_EQ(param<int32_t>(launches[0], kMaps + 2), 1);
  std::vector<fakecuda::TensorMapEncode> encodes = fakecuda::tensorMapEncodes();
  ASSERT_EQ(encodes.size(), 2u);
  for (int which = 0; which < 2; ++which) {
    const fakecuda::TensorMapEncode &map = encodes[which];
    const void *base = which ? args.v : args.k;
    const int64_t *strides = which ? args.v_strides : args.k_strides;
    SCOPED_TRACE(which ? "v" : "k");
    EXPECT_EQ(map.type, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16);
    EXPECT_EQ(map.base, address(base));
    // [rows, Hkv, head_dim], innermost first; byte strides of head and row.
    EXPECT_EQ(map.dims[0], 120u);
    EXPECT_EQ(map.dims[1], 8u);
    EXPECT_EQ(map.dims[2], 0x7fffffffu);
    EXPECT_EQ(map.strides[0], uint64_t(strides[2]) * 2);
    EXPECT_EQ(map.strides[1], uint64_t(strides[1]) * 2);
    // 64 columns (128 bytes) by the kernel's block_n rows.
    EXPECT_EQ(map.box[0], 64u);
    EXPECT_EQ(map.box[1], 1u);
    EXPECT_EQ(map.box[2], 64u);
    EXPECT_EQ(map.swizzle, CU_TENSOR_MAP_SWIZZLE_128B);
    EXPECT_EQ(map.fill, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    // The launch passes the encoded bytes by value.
    std::array<uint64_t, 16> words = mapWords(launches[0], kMaps + which);
    EXPECT_EQ(words[0], address(base));
    EXPECT_EQ(words[1], 120u);
    EXPECT_EQ(words[8], 64u);
  }
}

TEST_F(PrefillTmaTest, RepeatedTensorsReuseTheirMaps) {
  // The same k and v again (the next call, the next layer): no encode; a new
  // k: its map alone; each launch gets the maps of its own tensors.
  attn_varlen_prefill_args args = validPrefillArgs();
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::tensorMapEncodes().size(), 2u);
  args.k = deviceAddress(0x2100000000);
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::TensorMapEncode> encodes = fakecuda::tensorMapEncodes();
  ASSERT_EQ(encodes.size(), 3u);
  EXPECT_EQ(encodes[2].base, address(args.k));
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 3u);
  EXPECT_EQ(mapWords(launches[1], kMaps), mapWords(launches[0], kMaps));
  EXPECT_EQ(mapWords(launches[1], kMaps + 1), mapWords(launches[0], kMaps + 1));
  EXPECT_EQ(mapWords(launches[2], kMaps)[0], address(args.k));
  EXPECT_EQ(mapWords(launches[2], kMaps + 1)[0], address(args.v));
  // A different shape of the same k is another map.
  args.head_dim = 64;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::tensorMapEncodes().size(), 5u);
}

TEST_F(PrefillTmaTest, ALocalKernelsMapsFollowItsWindowAndSoftcap) {
  // Kind, then abi::local, then abi::tma.
  TestKernel local = prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/0);
  local.local = 1;
  local.tma = 1;
  writePack(packDir(), "sm_90", {local, ownCombineKernel(local)});
  attn_varlen_prefill_args args = validPrefillArgs();
  args.local.has_window = 1;
  args.local.window_left = 4096;
  args.local.softcap = 50.0f;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  const fakecuda::Launch &launch = launches[0];
  ASSERT_EQ(launch.params.size(), prefillParamSizes().size() + 6);
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + kLocalWindowLeft), 4096);
  EXPECT_EQ(param<float>(launch, kPrefillLocal + kLocalSoftcap), 50.0f);
  EXPECT_EQ(mapWords(launch, kPrefillLocal + 3)[0], address(args.k));
  EXPECT_EQ(mapWords(launch, kPrefillLocal + 4)[0], address(args.v));
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + 5), 1);
}

TEST_F(PrefillTmaTest, ASingleKvHeadsZeroStrideMapsWithTheRowsBytes) {
  // Hkv = 1: the checks pass the head stride as 0 (a size-1 dimension's),
  // which TMA refuses; the map takes head_dim's bytes there.
  attn_varlen_prefill_args args = validPrefillArgs();
  args.num_heads = 2;
  args.num_kv_heads = 1;
  args.q_strides[0] = 2 * 128;
  args.out_strides[0] = 2 * 128;
  for (int64_t *strides : {args.k_strides, args.v_strides})
    strides[1] = 128, strides[2] = 128;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::TensorMapEncode> encodes = fakecuda::tensorMapEncodes();
  ASSERT_EQ(encodes.size(), 2u);
  for (const fakecuda::TensorMapEncode &map : encodes) {
    EXPECT_EQ(map.dims[1], 1u);
    EXPECT_EQ(map.strides[0], 256u);
    EXPECT_EQ(map.strides[1], 256u);
  }
  EXPECT_EQ(param<int32_t>(fakecuda::launches().at(0), kMaps + 2), 1);
}

TEST_F(PrefillTmaTest, TmaOffInTheEnvironmentLeavesTheMapsZero) {
  ASSERT_EQ(setenv("ATTN_PREFILL_TMA", "0", 1), 0);
  ASSERT_EQ(prefill(validPrefillArgs()), ATTN_SUCCESS) << lastError();
  unsetenv("ATTN_PREFILL_TMA");
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  ASSERT_EQ(launches[0].params.size(), prefillParamSizes().size() + 3);
  EXPECT_EQ(param<int32_t>(launches[0], kMaps + 2), 0);
  EXPECT_EQ(mapWords(launches[0], kMaps), (std::array<uint64_t, 16>{}));
  EXPECT_EQ(mapWords(launches[0], kMaps + 1), (std::array<uint64_t, 16>{}));
  EXPECT_TRUE(fakecuda::tensorMapEncodes().empty());
}

TEST_F(PrefillTmaTest, AMapTheDriverRefusesFailsTheCallBeforeAnyLaunch) {
  fakeConfig.failingCall = "cuTensorMapEncodeTiled";
  fakeConfig.failure = CUDA_ERROR_INVALID_VALUE;
  resetFake();
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              AllOf(HasSubstr("cuTensorMapEncodeTiled"),
                    HasSubstr("the tensor map of 'k' for kernel "
                              "'prefill_bf16_d128_g0_contiguous_causal'")));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(PrefillTmaTest, PagedMapsArePagesOfRows) {
  TestKernel paged = prefillKernel("bf16", 128, /*paged=*/1, /*causal=*/1);
  paged.tma = 1;
  writePack(packDir(), "sm_90", {paged, ownCombineKernel(paged)});
  attn_varlen_prefill_args args = validPagedPrefillArgs();
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::TensorMapEncode> encodes = fakecuda::tensorMapEncodes();
  ASSERT_EQ(encodes.size(), 2u);
  const fakecuda::TensorMapEncode &k = encodes[0];
  // [pages, page_size, Hkv, D], innermost first: a box is a tile's rows of
  // one page.
  EXPECT_EQ(k.rank, 4u);
  EXPECT_EQ(k.base, address(args.k));
  EXPECT_EQ(k.dims[0], 128u);
  EXPECT_EQ(k.dims[1], 8u);
  EXPECT_EQ(k.dims[2], 256u);
  EXPECT_EQ(k.dims[3], 0x7fffffffu);
  EXPECT_EQ(k.strides[0], uint64_t(args.k_strides[2]) * 2);
  EXPECT_EQ(k.strides[1], uint64_t(args.k_strides[1]) * 2);
  EXPECT_EQ(k.strides[2], uint64_t(args.k_strides[0]) * 2);
  EXPECT_EQ(k.box[2], 64u);
  EXPECT_EQ(k.box[3], 1u);
  EXPECT_EQ(encodes[1].base, address(args.v));
  EXPECT_EQ(param<int32_t>(fakecuda::launches().at(0), kMaps + 2), 1);
}

TEST_F(PrefillTmaTest, OnlyPrefillKernelsTakeMaps) {
  TestKernel decode;
  decode.tma = 1;
  writePack(packDir(), "sm_90", {decode});
  EXPECT_EQ(this->decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(),
              HasSubstr("'tma=1' is for prefill kernels (op=prefill)"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

struct CombineChoiceCase {
  const char *label;
  std::vector<TestKernel> kernels;
  const char *combine;
};

class PrefillCombineChoiceTest
    : public RuntimeTest,
      public ::testing::WithParamInterface<CombineChoiceCase> {};

TEST_P(PrefillCombineChoiceTest, PrefersTheCombineOfThePrefillModule) {
  writePack(packDir(), "sm_90", GetParam().kernels);
  ASSERT_EQ(prefill(smallGridArgs()), ATTN_SUCCESS) << lastError();
  ASSERT_EQ(fakecuda::launches().size(), 2u);
  EXPECT_EQ(fakecuda::launches()[1].function, GetParam().combine);
}

const TestKernel kPacked =
    prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/1);
const TestKernel kPaged = prefillKernel("bf16", 128, /*paged=*/1, /*causal=*/1);

// The kernel's own (for=, same module), else one for any kernel (no for=),
// else another kernel's: every combine kernel has the same ABI.
INSTANTIATE_TEST_SUITE_P(
    Prefill, PrefillCombineChoiceTest,
    ::testing::Values(
        CombineChoiceCase{"own",
                          {combineKernel("bf16", 128), ownCombineKernel(kPaged),
                           kPacked, ownCombineKernel(kPacked)},
                          "combine_bf16_d128_for_prefill_bf16_d128_g0_"
                          "contiguous_causal"},
        CombineChoiceCase{
            "shared",
            {ownCombineKernel(kPaged), kPacked, combineKernel("bf16", 128)},
            "combine_bf16_d128"},
        CombineChoiceCase{"another_kernels",
                          {ownCombineKernel(kPaged), kPacked},
                          "combine_bf16_d128_for_prefill_bf16_d128_g0_paged_"
                          "causal"}),
    [](const ::testing::TestParamInfo<CombineChoiceCase> &info) {
      return std::string(info.param.label);
    });

TEST_F(PrefillTest, AFailedCombineLoadLaunchesNothing) {
  const std::string combine =
      packDir() +
      "/sm_90/combine_bf16_d128_for_prefill_bf16_d128_g0_contiguous_causal";
  writeFile(combine + ".cubin", "cubin truncated");
  EXPECT_EQ(prefill(smallGridArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(),
              AllOf(StartsWith("attn_varlen_prefill: kernel "
                               "'combine_bf16_d128_for_prefill_bf16_d128_g0_"
                               "contiguous_causal'"),
                    HasSubstr("does not match its files")));
  EXPECT_TRUE(fakecuda::launches().empty());
  // A call that does not split does not need it.
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_SUCCESS) << lastError();
}

TEST_F(PrefillTest, ForcedSplitsNeedTheCombineGridToHoldEveryRow) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = 2;
  args.total_q = 70000;
  args.max_seqlen_q = 35000;
  args.num_splits = 2;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(lastError(),
            "attn_varlen_prefill_workspace_size: 'total_q' must be at most "
            "65535 with 'num_splits' = 2 (the combine kernel's grid y "
            "dimension holds one query row each), got 70000; 'num_splits' 0 "
            "or 1 serves it");
  EXPECT_TRUE(fakecuda::launches().empty());
  for (int32_t numSplits : {0, 1}) {
    args.num_splits = numSplits;
    EXPECT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  }
  EXPECT_EQ(fakecuda::launches().size(), 2u);
}

// Grid z: the ranks of row tiles by their visible keys, ceil(max_seqlen_k /
// block_m) of them, at least the row tiles' ceil(max_seqlen_q / block_m)
// and at most twice that; the row tiles alone for one sequence or for at
// most one wave of CTAs (Hq * B * row tiles <= 2 x 132 SMs).
TEST_F(PrefillTest, GridZRanksRowTilesAgainstMaxSeqlenK) {
  struct Case {
    int32_t batch;
    int32_t totalQ;
    int32_t maxSeqlenQ;
    int32_t maxSeqlenK;
    Dims grid;
  };
  const Case cases[] = {
      {16, 4000, 1024, 1024, {16, 16, 16}},
      {16, 4000, 1000, 1024, {16, 16, 16}},
      {8, 8000, 2048, 4096, {16, 8, 64}},
      {8, 8000, 2048, 3000, {16, 8, 47}},
      {8, 8000, 2048, 16384, {16, 8, 64}},
      {3, 3072, 1024, 4096, {16, 3, 32}},
      {2, 256, 128, 4096, {16, 2, 2}},
      {4, 4, 1, 1024, {16, 4, 1}},
      {2, 10, 5, 5, {16, 2, 1}},
      {1, 65, 65, 4096, {16, 1, 2}},
  };
  for (const Case &c : cases) {
    resetFake();
    attn_varlen_prefill_args args = validPrefillArgs();
    args.batch = c.batch;
    args.total_q = c.totalQ;
    args.max_seqlen_q = c.maxSeqlenQ;
    args.max_seqlen_k = c.maxSeqlenK;
    args.num_splits = 1; // the small grids would split (SplitCase below)
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    ASSERT_EQ(fakecuda::launches().size(), 1u);
    EXPECT_EQ(dims(fakecuda::launches()[0].grid), c.grid)
        << c.batch << " sequences, " << c.totalQ << " rows of at most "
        << c.maxSeqlenQ << ", at most " << c.maxSeqlenK << " keys";
  }
}

TEST_F(PrefillTest, SelectsTheVariantOfDtypeLayoutAndMask) {
  struct Case {
    std::function<void(attn_varlen_prefill_args &)> change;
    const char *kernel;
  };
  const Case cases[] = {
      {[](attn_varlen_prefill_args &) {},
       "prefill_bf16_d128_g0_contiguous_causal"},
      {[](attn_varlen_prefill_args &a) { a.dtype = ATTN_DTYPE_F16; },
       "prefill_f16_d128_g0_contiguous_causal"},
      {[](attn_varlen_prefill_args &a) { a = validPagedPrefillArgs(); },
       "prefill_bf16_d128_g0_paged_causal"},
      {[](attn_varlen_prefill_args &a) {
         a = validPagedPrefillArgs();
         a.dtype = ATTN_DTYPE_F16;
       },
       "prefill_f16_d128_g0_paged_causal"},
      {[](attn_varlen_prefill_args &a) { a.causal = 0; },
       "prefill_bf16_d128_g0_contiguous"},
  };
  for (const Case &c : cases) {
    resetFake();
    attn_varlen_prefill_args args = validPrefillArgs();
    c.change(args);
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    ASSERT_EQ(fakecuda::launches().size(), 1u);
    EXPECT_EQ(fakecuda::launches()[0].function, c.kernel);
  }
}

TEST_F(PrefillTest, AnyGroupKernelServesEveryGroupSize) {
  for (int32_t numKvHeads : {16, 8, 4, 1}) {
    resetFake();
    attn_varlen_prefill_args args = validPrefillArgs();
    args.num_kv_heads = numKvHeads;
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    ASSERT_EQ(fakecuda::launches().size(), 1u);
    EXPECT_EQ(param<int32_t>(fakecuda::launches()[0], kPrefillNumKvHeads),
              numKvHeads);
  }
}

TEST_F(PrefillTest, PrefersTheKernelOfTheCallsGroupSize) {
  std::vector<TestKernel> kernels = defaultKernels();
  TestKernel grouped = prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/1);
  grouped.group = 2;
  grouped.blockM = 128;
  kernels.push_back(grouped);
  writePack(packDir(), "sm_90", kernels);
  attn_varlen_prefill_args args = validPrefillArgs();
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(0).function,
            "prefill_bf16_d128_g2_contiguous_causal");
  EXPECT_EQ(fakecuda::launches().at(0).grid[2], 8u); // block_m=128

  args.num_kv_heads = 4;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(1).function,
            "prefill_bf16_d128_g0_contiguous_causal");
}

TEST_F(PrefillTest, UnsupportedConfigsListThePrefillKernels) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.head_dim = 64;
  args.q_strides[0] = args.out_strides[0] = 16 * 64;
  args.q_strides[1] = args.out_strides[1] = 64;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(
      lastError(),
      StrEq("attn_varlen_prefill_workspace_size: the sm_90 pack has no "
            "prefill kernel for head_dim=64: its bf16 prefill kernels take "
            "head_dim 128"));
  EXPECT_EQ(runtime->varlenPrefill(&args, nullptr, 0, nullptr),
            ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), StartsWith("attn_varlen_prefill: the sm_90 pack"));

  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(PrefillTest, PackWithoutPrefillKernelsSaysSo) {
  writePack(packDir(), "sm_90", {TestKernel(), combineKernel("bf16", 128)});
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("its bf16 prefill kernels: none for bf16"));
}

TEST_F(PrefillTest, NoQueryRowLaunchesNothingAndSucceeds) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.total_q = 0;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  args.max_seqlen_q = 0;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  // Empty torch tensors have no data.
  args.q = args.k = args.v = args.out = nullptr;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  // A forced split of no row needs no workspace either.
  args.num_splits = 4;
  size_t bytes = 1;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(bytes, 0u);
  ASSERT_EQ(runtime->varlenPrefill(&args, nullptr, 0, nullptr), ATTN_SUCCESS)
      << lastError();
  EXPECT_TRUE(fakecuda::launches().empty());
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
  // An empty call still needs a kernel for its configuration.
  args.head_dim = 64;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
}

TEST_F(PrefillTest, OneSplitNeedsNoWorkspaceAndIgnoresOne) {
  attn_varlen_prefill_args args = validPrefillArgs();
  size_t bytes = 1;
  ASSERT_EQ(runtime->prefillWorkspaceSize(&args, &bytes), ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(bytes, 0u);
  ASSERT_EQ(
      runtime->varlenPrefill(&args, deviceAddress(kWorkspace + 3), 5, nullptr),
      ATTN_SUCCESS)
      << lastError();
  EXPECT_EQ(fakecuda::launches().size(), 1u);
}

TEST_F(PrefillTest, GridLimitsAreUnsupported) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.batch = 70000;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("'batch' must be at most 65535 (the "
                                     "grid's y dimension), got 70000"));
  args = validPrefillArgs();
  args.max_seqlen_q = 65536 * 64;
  args.total_q = args.max_seqlen_q;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("ceil('max_seqlen_q' / block_m) must be at most 65535 "
                        "(the grid's z dimension), got 65536"));
  // At most 65535 heads (the kernel's head / G) and 64 splits: the grid's x,
  // at most 64 << 16, fits.
  args = validPrefillArgs();
  args.num_heads = args.num_kv_heads = 1 << 16;
  EXPECT_EQ(prefill(args), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("'num_heads' must be at most 65535 for prefill, got "
                        "65536"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(PrefillTest, LaunchFailureNamesTheKernel) {
  fakeConfig.failingCall = "cuLaunchKernel";
  fakeConfig.failure = CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  resetFake();
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              StartsWith("attn_varlen_prefill: kernel "
                         "'prefill_bf16_d128_g0_contiguous_causal': "
                         "cuLaunchKernel("));
}

TEST_F(PrefillTest, SharedMemoryAboveTheDeviceLimitIsUnsupported) {
  fakeConfig.maxSharedOptin = 48 * 1024;
  resetFake();
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("kernel 'prefill_bf16_d128_g0_contiguous_causal' of " +
                        packDir() +
                        "/sm_90: needs 65536 bytes of dynamic shared memory "
                        "per block; this GPU allows at most 49152"));
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

struct InvalidCase {
  const char *label;
  std::function<void(attn_varlen_prefill_args &)> change;
  const char *message; // after "attn_varlen_prefill: "
};

void *misaligned(const void *pointer, uintptr_t offset) {
  return deviceAddress(address(pointer) + offset);
}

const InvalidCase kInvalidCases[] = {
    {"dtype",
     [](auto &a) {
       const int dtype = -1;
       std::memcpy(&a.dtype, &dtype, sizeof(dtype));
     },
     "'dtype' must be ATTN_DTYPE_F16 (0) or ATTN_DTYPE_BF16 (1), got -1"},
    {"batch", [](auto &a) { a.batch = 0; }, "'batch' must be >= 1, got 0"},
    {"total_q", [](auto &a) { a.total_q = -1; },
     "'total_q' must be >= 0, got -1"},
    {"num_heads", [](auto &a) { a.num_heads = -16; },
     "'num_heads' must be >= 1, got -16"},
    {"num_kv_heads", [](auto &a) { a.num_kv_heads = 0; },
     "'num_kv_heads' must be >= 1, got 0"},
    {"gqa_ratio",
     [](auto &a) {
       a.num_heads = 32;
       a.num_kv_heads = 5;
     },
     "'num_heads' (32) must be a multiple of 'num_kv_heads' (5)"},
    {"head_dim", [](auto &a) { a.head_dim = 100; },
     "'head_dim' must be a multiple of 8 in [8, 256], got 100"},
    {"page_size", [](auto &a) { a.page_size = 8; },
     "'page_size' must be 0 or a multiple of 16, got 8"},
    {"max_seqlen_q", [](auto &a) { a.max_seqlen_q = -1; },
     "'max_seqlen_q' must be >= 0, got -1"},
    {"max_seqlen_k", [](auto &a) { a.max_seqlen_k = -2; },
     "'max_seqlen_k' must be >= 0, got -2"},
    {"total_q_bound", [](auto &a) { a.max_seqlen_q = 200; },
     "'total_q' (4000) must be at most 'batch' * 'max_seqlen_q' (16 * 200 = "
     "3200)"},
    {"total_q_without_rows", [](auto &a) { a.max_seqlen_q = 0; },
     "'total_q' (4000) must be at most 'batch' * 'max_seqlen_q' (16 * 0 = "
     "0)"},
    {"causal", [](auto &a) { a.causal = -1; },
     "'causal' must be 0 or 1, got -1"},
    {"softmax_scale", [](auto &a) { a.softmax_scale = 0; },
     "'softmax_scale' must be positive and finite, got 0"},
    {"num_splits", [](auto &a) { a.num_splits = -1; },
     "'num_splits' must be >= 0 (0 = chosen by the runtime), got -1"},
    {"softmax_scale_nan",
     [](auto &a) { a.softmax_scale = std::numeric_limits<float>::quiet_NaN(); },
     "'softmax_scale' must be positive and finite, got nan"},
    {"q", [](auto &a) { a.q = nullptr; }, "'q' must not be NULL"},
    {"k", [](auto &a) { a.k = nullptr; }, "'k' must not be NULL"},
    {"v", [](auto &a) { a.v = nullptr; }, "'v' must not be NULL"},
    {"cu_seqlens_q", [](auto &a) { a.cu_seqlens_q = nullptr; },
     "'cu_seqlens_q' must not be NULL"},
    {"cu_seqlens_k", [](auto &a) { a.cu_seqlens_k = nullptr; },
     "'cu_seqlens_k' must not be NULL"},
    {"cu_seqlens_k_empty_batch",
     [](auto &a) {
       a.total_q = 0;
       a.cu_seqlens_k = nullptr;
     },
     "'cu_seqlens_k' must not be NULL"},
    {"out", [](auto &a) { a.out = nullptr; }, "'out' must not be NULL"},
    {"q_aligned", [](auto &a) { a.q = misaligned(a.q, 2); },
     "'q' must be 16-byte aligned, got 0x1000000002"},
    {"q_aligned_empty_batch",
     [](auto &a) {
       a.total_q = 0;
       a.q = misaligned(a.q, 2);
     },
     "'q' must be 16-byte aligned, got 0x1000000002"},
    {"k_aligned", [](auto &a) { a.k = misaligned(a.k, 8); },
     "'k' must be 16-byte aligned, got 0x2000000008"},
    {"v_aligned", [](auto &a) { a.v = misaligned(a.v, 4); },
     "'v' must be 16-byte aligned, got 0x3000000004"},
    {"cu_seqlens_q_aligned",
     [](auto &a) {
       a.cu_seqlens_q =
           static_cast<const int32_t *>(misaligned(a.cu_seqlens_q, 2));
     },
     "'cu_seqlens_q' must be 4-byte aligned, got 0x4000000002"},
    {"out_aligned", [](auto &a) { a.out = misaligned(a.out, 1); },
     "'out' must be 16-byte aligned, got 0x6000000001"},
    {"lse_aligned",
     [](auto &a) { a.lse = static_cast<float *>(misaligned(nullptr, 0x12)); },
     "'lse' must be 4-byte aligned, got 0x12"},
    {"block_table_unexpected",
     [](auto &a) { a.block_table = validPagedPrefillArgs().block_table; },
     "'block_table' must be NULL when page_size is 0 (packed k and v)"},
    {"block_table_missing",
     [](auto &a) {
       a = validPagedPrefillArgs();
       a.block_table = nullptr;
     },
     "'block_table' must not be NULL when page_size is 256 (paged cache)"},
    {"block_table_stride",
     [](auto &a) {
       a = validPagedPrefillArgs();
       a.block_table_stride = -4;
     },
     "'block_table_stride' must be >= 1, got -4"},
    {"packed_k_block_stride", [](auto &a) { a.k_strides[0] = 1024; },
     "'k_strides[0]' must be 0 when page_size is 0 (packed k and v), got "
     "1024"},
    {"packed_v_block_stride", [](auto &a) { a.v_strides[0] = -1; },
     "'v_strides[0]' must be 0 when page_size is 0 (packed k and v), got -1"},
    {"packed_k_token_stride", [](auto &a) { a.k_strides[1] = 0; },
     "'k_strides[1]' must be a positive multiple of 8 elements (16 bytes), "
     "got 0: stride 0 broadcasts the dimension, which the kernels do not "
     "support (only a dimension of size 1 may have any stride)"},
    {"packed_v_head_stride", [](auto &a) { a.v_strides[2] = 129; },
     "'v_strides[2]' must be a positive multiple of 8 elements (16 bytes), "
     "got 129"},
    {"paged_k_block_stride",
     [](auto &a) {
       a = validPagedPrefillArgs();
       a.k_strides[0] = 0;
     },
     "'k_strides[0]' must be a positive multiple of 8 elements (16 bytes), "
     "got 0: stride 0 broadcasts the dimension, which the kernels do not "
     "support (only a dimension of size 1 may have any stride)"},
    {"q_strides", [](auto &a) { a.q_strides[0] = 2044; },
     "'q_strides[0]' must be a positive multiple of 8 elements (16 bytes), "
     "got 2044"},
    {"out_strides", [](auto &a) { a.out_strides[1] = 0; },
     "'out_strides[1]' must be a positive multiple of 8 elements (16 bytes), "
     "got 0: stride 0 broadcasts the dimension of size 16, which the kernels "
     "do not support (only a dimension of size 1 may have any stride)"},

};

class PrefillInvalidArgumentTest
    : public RuntimeTest,
      public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(PrefillInvalidArgumentTest, NamesTheArgumentAndLaunchesNothing) {
  attn_varlen_prefill_args args = validPrefillArgs();
  GetParam().change(args);
  size_t bytes = 0;
  EXPECT_EQ(runtime->prefillWorkspaceSize(&args, &bytes),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), std::string("attn_varlen_prefill_workspace_size: ") +
                             GetParam().message);
  EXPECT_EQ(runtime->varlenPrefill(&args, nullptr, 0, nullptr),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            std::string("attn_varlen_prefill: ") + GetParam().message);
  EXPECT_TRUE(fakecuda::launches().empty());
}

INSTANTIATE_TEST_SUITE_P(Prefill, PrefillInvalidArgumentTest,
                         ::testing::ValuesIn(kInvalidCases),
                         [](const ::testing::TestParamInfo<InvalidCase> &info) {
                           return std::string(info.param.label);
                         });

TEST_F(PrefillTest, NullArgumentsAreInvalid) {
  size_t bytes = 0;
  EXPECT_EQ(runtime->prefillWorkspaceSize(nullptr, &bytes),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_varlen_prefill_workspace_size: 'args' must not be NULL");
  attn_varlen_prefill_args args = validPrefillArgs();
  EXPECT_EQ(runtime->prefillWorkspaceSize(&args, nullptr),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_varlen_prefill_workspace_size: 'bytes' must not be NULL");
  EXPECT_EQ(runtime->varlenPrefill(nullptr, nullptr, 0, nullptr),
            ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "attn_varlen_prefill: 'args' must not be NULL");
}

} // namespace
} // namespace attn::test

namespace attn::test {
namespace {

class PrefillLocalTest : public RuntimeTest {};

TEST_F(PrefillLocalTest, AWindowAndSoftcapRunTheLocalKernelWithTheirValues) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.local.has_window = 1;
  args.local.window_left = 4096;
  args.local.window_right = 7; // causal: the diagonal instead
  args.local.softcap = 50.0f;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_EQ(launches.size(), 1u);
  const fakecuda::Launch &launch = launches[0];
  EXPECT_EQ(launch.function, "prefill_bf16_d128_g0_contiguous_local");
  ASSERT_EQ(launch.params.size(), prefillParamSizes().size() + 3);
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + kLocalWindowLeft), 4096);
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + kLocalWindowRight), 0);
  EXPECT_EQ(param<float>(launch, kPrefillLocal + kLocalSoftcap), 50.0f);
  EXPECT_EQ(param<int32_t>(launch, kPrefillNumHeads), 16);
}

TEST_F(PrefillLocalTest, ANonCausalWindowKeepsBothBounds) {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.causal = 0;
  args.local.has_window = 1;
  args.local.window_left = -1;
  args.local.window_right = 9;
  ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
  std::vector<fakecuda::Launch> launches = fakecuda::launches();
  ASSERT_FALSE(launches.empty());
  const fakecuda::Launch &launch = launches[0];
  EXPECT_EQ(launch.function, "prefill_bf16_d128_g0_contiguous_local");
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + kLocalWindowLeft), -1);
  EXPECT_EQ(param<int32_t>(launch, kPrefillLocal + kLocalWindowRight), 9);
  EXPECT_EQ(param<float>(launch, kPrefillLocal + kLocalSoftcap), 0.0f);
}

TEST_F(PrefillLocalTest, AWindowThatBoundsNothingRunsThePlainKernels) {
  struct Case {
    int32_t causal, left, right;
    const char *kernel;
  };
  for (Case c : {Case{1, -1, -1, "prefill_bf16_d128_g0_contiguous_causal"},
                 Case{0, -1, 0, "prefill_bf16_d128_g0_contiguous_causal"},
                 Case{0, -1, -1, "prefill_bf16_d128_g0_contiguous"}}) {
    resetFake();
    attn_varlen_prefill_args args = validPrefillArgs();
    args.causal = c.causal;
    args.local.has_window = 1;
    args.local.window_left = c.left;
    args.local.window_right = c.right;
    ASSERT_EQ(prefill(args), ATTN_SUCCESS) << lastError();
    EXPECT_EQ(fakecuda::launches()[0].function, c.kernel)
        << c.causal << " " << c.left << " " << c.right;
  }
}

TEST_F(PrefillLocalTest, BadOptionsNameTheFieldAndLaunchNothing) {
  struct Case {
    int32_t hasWindow;
    float softcap;
    const char *field;
  };
  for (Case c :
       {Case{-1, 0.0f, "'local.has_window'"}, Case{0, -0.5f, "'local.softcap'"},
        Case{1, std::numeric_limits<float>::quiet_NaN(), "'local.softcap'"}}) {
    resetFake();
    attn_varlen_prefill_args args = validPrefillArgs();
    args.local.has_window = c.hasWindow;
    args.local.softcap = c.softcap;
    EXPECT_EQ(prefill(args), ATTN_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(lastError(), HasSubstr(c.field));
    EXPECT_TRUE(fakecuda::launches().empty());
  }
}

} // namespace
} // namespace attn::test
