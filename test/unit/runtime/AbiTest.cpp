// The compiler-runtime contract in abi/: docs/runtime_abi.md shows its
// parameter tables as they are, the split policy and the manifest header
// behave as documented, the grid decoders undo the encoding.
#include "abi/grid.h"
#include "abi/kernel_params.h"
#include "abi/manifest.h"
#include "abi/split_policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using attn::abi::ParamInfo;
using attn::abi::ParamType;

const char *typeName(ParamType type) {
  switch (type) {
  case ParamType::Ptr:
    return "ptr";
  case ParamType::I64:
    return "i64";
  case ParamType::I32:
    return "i32";
  case ParamType::F32:
    return "f32";
  case ParamType::TensorMap:
    return "tensormap";
  }
  return "?";
}

// The rows docs/runtime_abi.md must show for `params`.
std::vector<std::string> expectedRows(const ParamInfo *params, size_t count) {
  std::vector<std::string> rows;
  for (size_t i = 0; i < count; ++i) {
    rows.push_back("| " + std::to_string(i) + " | " + params[i].name + " | " +
                   typeName(params[i].type) + " | " + params[i].meaning + " |");
  }
  return rows;
}

// The parameter tables of docs/runtime_abi.md, in the order they appear.
std::vector<std::vector<std::string>> docTables() {
  std::ifstream file(ATTN_SOURCE_DIR "/docs/runtime_abi.md");
  EXPECT_TRUE(file.good()) << "cannot read docs/runtime_abi.md";
  std::vector<std::vector<std::string>> tables;
  std::string line;
  bool inTable = false;
  while (std::getline(file, line)) {
    if (line.rfind("| # | name | type | meaning |", 0) == 0) {
      tables.emplace_back();
      inTable = true;
      std::getline(file, line); // |---|...
      continue;
    }
    if (inTable && line.rfind("|", 0) == 0)
      tables.back().push_back(line);
    else
      inTable = false;
  }
  return tables;
}

std::string joined(const std::vector<std::string> &rows) {
  std::ostringstream os;
  for (const std::string &row : rows)
    os << row << "\n";
  return os.str();
}

TEST(AbiTest, DocsShowEveryKernelsParametersAsAbiListsThem) {
  namespace abi = attn::abi;
  std::vector<std::vector<std::string>> tables = docTables();
  ASSERT_EQ(tables.size(), 5u)
      << "docs/runtime_abi.md should hold the decode, combine, prefill, "
         "local and tma parameter tables";
  // Each table as it should read (paste from here when the abi changes).
  EXPECT_EQ(joined(tables[0]),
            joined(expectedRows(abi::decode::kParams, abi::decode::kCount)));
  EXPECT_EQ(joined(tables[1]),
            joined(expectedRows(abi::combine::kParams, abi::combine::kCount)));
  EXPECT_EQ(joined(tables[2]),
            joined(expectedRows(abi::prefill::kParams, abi::prefill::kCount)));
  EXPECT_EQ(joined(tables[3]),
            joined(expectedRows(abi::local::kParams, abi::local::kCount)));
  EXPECT_EQ(joined(tables[4]),
            joined(expectedRows(abi::tma::kParams, abi::tma::kCount)));
}

TEST(AbiTest, ArgsPointersFollowTheTableOrder) {
  attn::abi::prefill::Args args;
  args.q = 7;
  args.group_magic = -3;
  auto pointers = args.pointers();
  EXPECT_EQ(pointers.values[attn::abi::prefill::q], &args.q);
  EXPECT_EQ(pointers.values[attn::abi::prefill::group_magic],
            &args.group_magic);
  EXPECT_EQ(attn::abi::prefill::kCount, 30u);
  EXPECT_EQ(attn::abi::decode::kCount, 29u);
  EXPECT_EQ(attn::abi::combine::kCount, 9u);
  EXPECT_EQ(attn::abi::local::kCount, 3u);
  EXPECT_EQ(attn::abi::tma::kCount, 3u);
  // A tensor map travels by value: its launch pointer is the 128 bytes.
  attn::abi::tma::Args maps;
  EXPECT_EQ(maps.pointers().values[attn::abi::tma::v_map], &maps.v_map);
  EXPECT_EQ(sizeof(maps.k_map), 128u);
}

TEST(AbiTest, DecodeSplitsFillTheGpuButKeepEnoughKeysPerSplit) {
  attn::abi::SplitPolicy policy; // 4 CTAs per SM, 1024 keys per split
  // 132 SMs, 8 CTAs: 528 / 8 = 66 -> 128, capped at 64 splits...
  EXPECT_EQ(attn::abi::decodeSplits(policy, 8, 132, 1 << 20), 64);
  // ...and at one split per 1024 keys.
  EXPECT_EQ(attn::abi::decodeSplits(policy, 8, 132, 5000), 5);
  // A full GPU is not split.
  EXPECT_EQ(attn::abi::decodeSplits(policy, 4096, 132, 1 << 20), 1);
  // No key, or no CTA: one split.
  EXPECT_EQ(attn::abi::decodeSplits(policy, 8, 132, 0), 1);
  EXPECT_EQ(attn::abi::decodeSplits(policy, 0, 132, 100), 1);
  // A power of two: 528 / 100 = 6 -> 8.
  EXPECT_EQ(attn::abi::decodeSplits(policy, 100, 132, 1 << 20), 8);
}

TEST(AbiTest, ManifestHeaderIsTheDocumentedLine) {
  attn::abi::SplitPolicy policy{2, 512};
  EXPECT_EQ(attn::abi::manifestHeader("sm_90", "c1", "0.2.0", policy),
            "attn-pack 1 target=sm_90 compiler=c1 version=0.2.0 "
            "split_ctas_per_sm=2 split_min_keys=512 pads_head_dim=1\n");
  EXPECT_EQ(attn::abi::manifestHeader("sm_89", "c1", "", policy, " tune=x"),
            "attn-pack 1 target=sm_89 compiler=c1 split_ctas_per_sm=2 "
            "split_min_keys=512 pads_head_dim=1 tune=x\n");
}

TEST(AbiTest, Fnv1aIsTheReferenceHash) {
  // FNV-1a 64 test vectors: "" and "a".
  EXPECT_EQ(attn::abi::fnv1a("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(attn::abi::fnv1a("a", 1), 0xaf63dc4c8601ec8cull);
  // Continuing from a hash equals hashing the concatenation.
  EXPECT_EQ(attn::abi::fnv1a("b", 1, attn::abi::fnv1a("a", 1)),
            attn::abi::fnv1a("ab", 2));
}

} // namespace

TEST(AbiTest, GridDecodersReadBackWhatTheLaunchEncodes) {
  namespace grid = attn::abi::grid;
  grid::IntegerArith a;
  for (int32_t heads : {1, 2, 3, 8, 28, 64, 65535}) {
    uint64_t shift = uint64_t(grid::prefillHeadShift(heads));
    EXPECT_GE(int64_t{1} << shift, heads);
    EXPECT_LT(int64_t{1} << shift, 2 * int64_t{heads});
    for (uint64_t split : {0, 1, 63})
      for (uint64_t head : {uint64_t{0}, uint64_t(heads - 1)}) {
        uint64_t x = split << shift | head;
        EXPECT_EQ(grid::prefillSplit(a, x, shift), split);
        EXPECT_EQ(grid::prefillHead(a, x, shift), head);
      }
    EXPECT_EQ(grid::prefillGridX(1, heads, int32_t(shift)), uint32_t(heads));
    EXPECT_EQ(grid::prefillGridX(4, heads, int32_t(shift)), 4u << shift);
  }
  // Decode: y = token x head blocks + head block.
  uint64_t tokens = 3, blocks = 5;
  uint64_t extent = uint64_t(grid::decodeGridY(3, 5));
  EXPECT_EQ(grid::decodeHeadBlocks(a, extent, tokens), blocks);
  for (uint64_t y = 0; y < extent; ++y)
    EXPECT_EQ(grid::decodeToken(a, y, blocks) * blocks +
                  grid::decodeHeadBlock(a, y, blocks),
              y);
  // Folding F tokens a CTA: ceil(Lq / F) token blocks.
  for (uint64_t lq : {1, 3, 4, 5, 8}) {
    uint64_t tokenBlocks = grid::decodeTokenBlocks(a, lq, uint64_t{4});
    EXPECT_EQ(tokenBlocks, (lq + 3) / 4);
    uint64_t y = uint64_t(grid::decodeGridY(int64_t(lq), 5, 4));
    EXPECT_EQ(y, tokenBlocks * 5);
    EXPECT_EQ(grid::decodeHeadBlocks(a, y, tokenBlocks), blocks);
  }
}
