// The knob grids of the search spaces.
#include "autotune/SearchSpace.h"

using namespace llvm;

namespace attn::tune {

bool decodeKnobsValid(int64_t headDim, const Knobs &knobs) {
  // head_dim / 8 threads a row, rounded up to a power of two (the lowering's
  // layout, passes/gpu/DecodeKernel.cpp).
  int64_t threadsPerRow = 1;
  while (threadsPerRow < headDim / 8)
    threadsPerRow *= 2;
  if (headDim < 8 || headDim % 8 != 0 || threadsPerRow > 32 ||
      knobs.threads % threadsPerRow != 0)
    return false;
  int64_t rowGroups = knobs.threads / threadsPerRow;
  return knobs.blockN > 0 && knobs.blockN % rowGroups == 0;
}

std::vector<SpaceGroup> searchSpace(StringRef space) {
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
      for (int64_t g : groups) {
        // A decode entry names dtype, D and G: it sets the four layouts and
        // masks, of which the benchmark times the paged causal one.
        SpaceGroup group{{{"decode", dtype, d, g, true, true}},
                         {{"decode", dtype, d, g, true, false},
                          {"decode", dtype, d, g, false, true},
                          {"decode", dtype, d, g, false, false}},
                         {}};
        for (const Knobs &knobs : decode)
          if (decodeKnobsValid(d, knobs))
            group.grid.push_back(knobs);
        result.push_back(std::move(group));
      }
    }
  return result;
}

} // namespace attn::tune
