// The knob grids of the search spaces.
#include "autotune/SearchSpace.h"
#include "passes/gpu/DecodeLayout.h"

using namespace llvm;

namespace attn::tune {

bool decodeKnobsValid(int64_t headDim, int64_t rows, const Knobs &knobs) {
  if (knobs.mma) {
    // The tensor-core kernel (passes/gpu/DecodeKernel.h,
    // DecodeMmaKernelEmitter): at most 16 rows of a kernel specialised on G,
    // a head_dim of whole 16-column steps, whole warps of 16-key steps, the
    // warps split evenly between the KV heads of a CTA.
    int64_t warps = knobs.threads / 32;
    if (!(rows >= 1 && rows <= 16 && headDim % 16 == 0 && headDim >= 16 &&
          headDim <= 256 && knobs.lanes == 0 && knobs.threads % 32 == 0 &&
          warps > 0 && ::attn::decodeKvHeadsValid(knobs.kvHeads) &&
          warps % knobs.kvHeads == 0))
      return false;
    int64_t headWarps = warps / knobs.kvHeads;
    return knobs.blockN > 0 && knobs.blockN % (16 * headWarps) == 0;
  }
  // The lowering's row layout (passes/gpu/DecodeLayout.h).
  if (headDim < 8 || headDim > 256 || headDim % 8 != 0 || knobs.threads <= 0 ||
      !::attn::decodeLanesValid(headDim, knobs.lanes))
    return false;
  ::attn::DecodeLayout layout =
      ::attn::decodeLayout(headDim, rows, knobs.lanes);
  if (!::attn::decodeKvHeadsValid(knobs.kvHeads))
    return false;
  int64_t rowThreads = layout.lanes * knobs.kvHeads;
  if (knobs.threads % rowThreads != 0)
    return false;
  int64_t rowGroups = knobs.threads / rowThreads;
  return knobs.blockN > 0 && knobs.blockN % rowGroups == 0;
}

bool spaceHasSplitPolicies(StringRef space) {
  return space != "head-dims" && space != "decode-lanes" &&
         space != "decode-kv-heads" && space != "decode-mma" &&
         space != "decode-mma-kv-heads" && space != "decode-lagging" &&
         space != "wgmma";
}

bool isSearchSpace(StringRef space) {
  return space == "gpu" || space == "wide" || space == "head-dims" ||
         space == "decode-lanes" || space == "decode-kv-heads" ||
         space == "decode-mma" || space == "decode-mma-kv-heads" ||
         space == "decode-lagging" || space == "wgmma";
}

StringRef spaceTarget(StringRef space) {
  return space == "wgmma" ? "sm_90a" : "";
}

/// A decode entry names dtype, D and G: it sets the four layouts and masks,
/// of which the benchmark times the paged causal one; `knobs` less those the
/// lowering rejects.
static SpaceGroup decodeGroup(const std::string &dtype, int64_t d, int64_t g,
                              const std::vector<Knobs> &knobs) {
  SpaceGroup group{{{"decode", dtype, d, g, true, true}},
                   {{"decode", dtype, d, g, true, false},
                    {"decode", dtype, d, g, false, true},
                    {"decode", dtype, d, g, false, false}},
                   {}};
  for (const Knobs &k : knobs)
    if (decodeKnobsValid(d, g, k))
      group.grid.push_back(k);
  return group;
}

/// The decode G 2 (the benchmark's), bf16 kernels of the head dims other than
/// 128, assembled as a whole program (relocatable assembly allocates more
/// registers at these head dims: docs/autotune.md).
static std::vector<SpaceGroup> headDimSpace() {
  std::vector<Knobs> grid;
  for (int64_t t : {128, 256})
    for (int64_t n : {32, 64, 128})
      for (int64_t s : {2, 3, 4})
        grid.push_back({0, n, s, t, /*wholeProgram=*/true});
  std::vector<SpaceGroup> result;
  for (int64_t d : {32, 64, 80, 96, 160, 192, 256})
    result.push_back(decodeGroup("bf16", d, 2, grid));
  return result;
}

/// The decode G 2 bf16 kernels of the head dims below 90% of copy bandwidth
/// on the H200 (bench/results/head_dims_rank_h200_2026-12-04.md), with lanes
/// a row other than the lowering's choice: fewer lanes repeat the per-key
/// softmax work on fewer threads and need fewer shuffles, but hold more
/// chunks (registers); more lanes the reverse. Whole-program, 128 threads
/// (the head-dims space's winners); the baseline is the table's entry.
static std::vector<SpaceGroup> decodeLanesSpace() {
  const std::pair<int64_t, std::vector<int64_t>> lanesOf[] = {
      {32, {1, 2}}, {64, {2, 4}}, {80, {2, 8}}, {96, {8}}, {160, {4, 16}}};
  std::vector<SpaceGroup> result;
  for (const auto &[d, lanes] : lanesOf) {
    std::vector<Knobs> grid;
    for (int64_t l : lanes)
      for (int64_t n : {64, 128})
        for (int64_t s : {2, 3})
          grid.push_back({0, n, s, 128, /*wholeProgram=*/true, l});
    result.push_back(decodeGroup("bf16", d, 2, grid));
  }
  return result;
}

/// The decode G 2 bf16 kernels of the head dims below 96% of copy bandwidth,
/// with 2 or 4 KV heads a CTA (the tables' kv_heads): a head's row of these
/// head dims is 64-320 bytes of the cache's row, and the heads of a CTA read
/// theirs side by side (bench/results/decode_kv_heads_h100_2026-12-05.md).
/// Whole-program, 128 threads, block_n 32 or 64, 2-4 stages; the baseline is
/// the table's entry.
static std::vector<SpaceGroup> decodeKvHeadsSpace() {
  std::vector<Knobs> grid;
  for (int64_t h : {2, 4})
    for (int64_t n : {32, 64})
      for (int64_t s : {2, 3, 4})
        grid.push_back({0, n, s, 128, /*wholeProgram=*/true, 0, h});
  std::vector<SpaceGroup> result;
  for (int64_t d : {32, 64, 80, 96, 160})
    result.push_back(decodeGroup("bf16", d, 2, grid));
  return result;
}

/// The tensor-core decode kernels (the tables' mma) of G 2, 4 and 8 at every
/// head dim of the pack, bf16: the scalar kernel's rows are FMAs and
/// shuffles, and at G 8 (255 registers) and the small head dims it stays
/// below 90% of copy bandwidth (docs/attention_implementation.md section 9).
/// Whole-program; 2 or 4 warps of 16 or 32 keys a tile; the baseline is the
/// table's entry.
static std::vector<SpaceGroup> decodeMmaSpace() {
  std::vector<Knobs> grid;
  for (int64_t t : {64, 128})
    for (int64_t keysPerWarp : {16, 32})
      for (int64_t s : {2, 3})
        grid.push_back({0, keysPerWarp * t / 32, s, t, /*wholeProgram=*/true, 0,
                        1, /*mma=*/true});
  std::vector<SpaceGroup> result;
  for (int64_t d : {32, 64, 80, 96, 128, 160, 192, 256})
    for (int64_t g : {2, 4, 8})
      result.push_back(decodeGroup("bf16", d, g, grid));
  return result;
}

/// The tensor-core decode kernels with 2 or 4 KV heads a CTA (a warp's KV
/// head, the others' of its keys beside it) where the one-head kernel lost
/// to the CUDA-core kernels of several heads a CTA
/// (bench/results/decode_mma_h100_2026-12-05.md): D 32 at G 1, 2 and 4, D 64
/// at G 1 and 2, bf16. Whole-program, 4 warps of 16 or 32 keys a tile, 2 or
/// 3 stages; the baseline is the table's entry.
static std::vector<SpaceGroup> decodeMmaKvHeadsSpace() {
  std::vector<Knobs> grid;
  for (int64_t h : {2, 4})
    for (int64_t keysPerWarp : {16, 32})
      for (int64_t s : {2, 3})
        grid.push_back({0, keysPerWarp * 4 / h, s, 128,
                        /*wholeProgram=*/true, 0, h, /*mma=*/true});
  std::vector<SpaceGroup> result;
  for (int64_t g : {1, 2, 4})
    result.push_back(decodeGroup("bf16", 32, g, grid));
  for (int64_t g : {1, 2})
    result.push_back(decodeGroup("bf16", 64, g, grid));
  return result;
}

/// The decode kernels still below 90% of copy bandwidth on the H200 after the
/// tensor-core entries (bench/results/decode_mma_landed_h200_2026-12-06.md),
/// bf16, whole-program, with what no space has timed at them: at D 32 (a KV
/// head's row is 64 bytes of the cache's 512-byte row) all 8 KV heads a CTA,
/// so a CTA reads whole rows: the CUDA-core kernels of G 1, 2 and 4 (4 or 8
/// warps, 64 keys a tile in 3 stages or 128 in 2), the tensor-core ones of
/// G 2, 4 and 8 (a warp a head, 16 or 32 keys, 2 or 3 stages) and G 8 on
/// tensor cores with 4 heads; at D 80 the tensor-core kernels of G 1 and 2
/// (one head, 4 warps of 16 or 32 keys) and 2 KV heads a CTA on tensor cores
/// at every G; at D 96 (closer to 90%) G 1 on tensor cores and 2 KV heads a
/// CTA at G 2, 4 and 8; at D 160, 192 and 256 the tensor-core kernels of G 4
/// and 8 (untimed so far; 4 warps of 16 keys, 2 or 3 stages: a stage of 128
/// keys would not fit beside another), and their CUDA-core kernels at 128
/// threads (the head dims' default takes 256: 1 CTA an SM at D 160 G 4). The
/// baseline is the table's entry.
static std::vector<SpaceGroup> decodeLaggingSpace() {
  auto mmaGrid = [](int64_t heads, int64_t threads,
                    std::vector<int64_t> keysPerWarps = {16, 32}) {
    std::vector<Knobs> grid;
    int64_t headWarps = threads / 32 / heads;
    for (int64_t keysPerWarp : keysPerWarps)
      for (int64_t s : {2, 3})
        grid.push_back({0, keysPerWarp * headWarps, s, threads,
                        /*wholeProgram=*/true, 0, heads, /*mma=*/true});
    return grid;
  };
  std::vector<Knobs> scalar8;
  for (int64_t t : {128, 256})
    for (auto [n, s] : {std::pair<int64_t, int64_t>{64, 3}, {128, 2}})
      scalar8.push_back({0, n, s, t, /*wholeProgram=*/true, 0, 8});
  std::vector<SpaceGroup> result;
  for (int64_t g : {1, 2, 4, 8}) {
    std::vector<Knobs> grid;
    if (g < 8)
      grid = scalar8;
    if (g > 1)
      llvm::append_range(grid, mmaGrid(8, 256));
    if (g == 8)
      llvm::append_range(grid, mmaGrid(4, 128));
    result.push_back(decodeGroup("bf16", 32, g, grid));
  }
  for (int64_t g : {1, 2, 4, 8}) {
    std::vector<Knobs> grid = mmaGrid(2, 128);
    if (g < 4)
      llvm::append_range(grid, mmaGrid(1, 128));
    result.push_back(decodeGroup("bf16", 80, g, grid));
    result.push_back(decodeGroup("bf16", 96, g, mmaGrid(g == 1 ? 1 : 2, 128)));
  }
  for (int64_t d : {160, 192, 256})
    for (int64_t g : {4, 8}) {
      std::vector<Knobs> grid = mmaGrid(1, 128, {16});
      for (auto [n, s] : {std::pair<int64_t, int64_t>{32, 2}, {32, 3}, {64, 2}})
        grid.push_back({0, n, s, 128, /*wholeProgram=*/true});
      result.push_back(decodeGroup("bf16", d, g, grid));
    }
  return result;
}

/// sm_90a's wgmma prefill kernels (bf16, causal, packed and paged) of every
/// head dim of the pack. The CTA is fixed by the lowering (two consumer
/// warpgroups of 64 query rows and a producer warpgroup: block_m 128, 384
/// threads, the register split setmaxnreg gives them); the knobs are the K/V
/// tile's keys (what the lowering takes: a multiple of 64 up to 256) and the
/// ring's stages, whose product with the head dim the 227 KB of shared memory
/// bounds: the tuner prunes the rest before assembling them.
static std::vector<SpaceGroup> wgmmaSpace() {
  std::vector<Knobs> grid;
  for (int64_t n : {64, 128, 192, 256})
    for (int64_t s : {2, 3, 4})
      grid.push_back({128, n, s, 384});
  // The table's entry names D and the layout alone (autotune/Selection.h):
  // the f16 and the non-causal kernels take the knobs, so they are compiled
  // and judged with the timed ones.
  std::vector<SpaceGroup> result;
  for (int64_t d : {32, 64, 80, 96, 128, 160, 192, 256}) {
    SpaceGroup group{{}, {}, grid};
    for (bool paged : {false, true}) {
      group.keys.push_back({"prefill", "bf16", d, 0, paged, true});
      group.checked.push_back({"prefill", "f16", d, 0, paged, true});
      group.checked.push_back({"prefill", "bf16", d, 0, paged, false});
    }
    result.push_back(std::move(group));
  }
  return result;
}

std::vector<SpaceGroup> searchSpace(StringRef space) {
  if (space == "head-dims")
    return headDimSpace();
  if (space == "decode-lanes")
    return decodeLanesSpace();
  if (space == "decode-kv-heads")
    return decodeKvHeadsSpace();
  if (space == "decode-mma")
    return decodeMmaSpace();
  if (space == "decode-mma-kv-heads")
    return decodeMmaKvHeadsSpace();
  if (space == "decode-lagging")
    return decodeLaggingSpace();
  if (space == "wgmma")
    return wgmmaSpace();
  bool wide = space == "wide";
  using Ints = std::vector<int64_t>;
  std::vector<std::string> dtypes =
      wide ? std::vector<std::string>{"bf16", "f16"}
           : std::vector<std::string>{"bf16"};
  Ints dims = wide ? Ints{128, 64} : Ints{128};
  // G 2 is the benchmark's (Qwen3-0.6B); G 8 spills with the default knobs.
  Ints groups = wide ? Ints{1, 2, 4, 8} : Ints{2, 8};
  std::vector<Knobs> prefill, decode;
  // The prefill lowering keeps 4 warps: block_m = 64 R (R row blocks a warp).
  for (int64_t m : {64, 128})
    for (int64_t n : wide ? Ints{32, 64, 128} : Ints{32, 64})
      for (int64_t s : wide ? Ints{2, 3, 4} : Ints{2, 3})
        prefill.push_back({m, n, s, 128});
  // Decode: 4 or 8 warps of row groups.
  for (int64_t t : {128, 256})
    for (int64_t n : {16, 32, 64, 128})
      for (int64_t s : {2, 3, 4})
        decode.push_back({0, n, s, t});
  std::vector<SpaceGroup> result;
  for (const std::string &dtype : dtypes)
    for (int64_t d : dims) {
      result.push_back({{{"prefill", dtype, d, 0, false, true},
                         {"prefill", dtype, d, 0, true, true}},
                        {},
                        prefill});
      for (int64_t g : groups)
        result.push_back(decodeGroup(dtype, d, g, decode));
    }
  return result;
}

} // namespace attn::tune
