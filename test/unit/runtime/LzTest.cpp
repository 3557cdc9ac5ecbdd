// The pack's LZ codec: tools/attn-packz's compressor against the runtime's
// decoder, round trips and corrupt blocks.
#include "runtime/lz.h"
#include "tools/attn-packz/LzEncode.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace {

std::string decompress(const std::string &block, size_t want = SIZE_MAX) {
  std::string out;
  const char *error =
      attn::lzDecompress(block.data(), block.size(), want, &out);
  EXPECT_EQ(error, nullptr) << error;
  return out;
}

std::string ptxLike(size_t lines) {
  std::mt19937 rng(7);
  std::string text = ".version 8.7\n.target sm_90\n";
  for (size_t i = 0; i < lines; ++i)
    text += "\tfma.rn.f32 \t%f" + std::to_string(rng() % 300) + ", %f" +
            std::to_string(rng() % 300) + ", %f" + std::to_string(i) + ";\n";
  return text;
}

TEST(LzTest, RoundTrips) {
  std::mt19937 rng(1);
  std::string random(5000, '\0');
  for (char &c : random)
    c = static_cast<char>(rng());
  for (const std::string &raw :
       {std::string(), std::string("abc"), std::string(1000, 'x'),
        std::string("abcabcabcabcabcabcabcd"), random, ptxLike(20000),
        ptxLike(300) + random + ptxLike(300)}) {
    std::string block = attn::lzCompress(raw);
    EXPECT_EQ(decompress(block), raw);
  }
}

TEST(LzTest, CompressesPtx) {
  std::string raw = ptxLike(20000);
  EXPECT_LT(attn::lzCompress(raw).size() * 2, raw.size());
}

TEST(LzTest, DecompressesAPrefix) {
  std::string raw = ptxLike(5000);
  std::string block = attn::lzCompress(raw);
  for (size_t want : {size_t(0), size_t(1), size_t(4096), raw.size() - 1})
    EXPECT_EQ(decompress(block, want), raw.substr(0, want));
}

TEST(LzTest, RejectsCorruptBlocks) {
  std::string raw = ptxLike(2000);
  std::string block = attn::lzCompress(raw);
  std::string out;
  auto error = [&](const std::string &b) {
    return attn::lzDecompress(b.data(), b.size(), SIZE_MAX, &out);
  };
  EXPECT_STREQ(error("ALZ"), "not an LZ block (no ALZ1 header)");
  std::string badMagic = block;
  badMagic[3] = '2';
  EXPECT_STREQ(error(badMagic), "not an LZ block (no ALZ1 header)");
  // Every truncation fails cleanly.
  for (size_t size = attn::kLzHeaderBytes; size < block.size(); size += 7)
    EXPECT_NE(error(block.substr(0, size)), nullptr) << size;
  // A larger size than the stream holds.
  std::string longer = block;
  longer[4] = static_cast<char>(longer[4] + 1);
  EXPECT_NE(error(longer), nullptr);
  // A first match reaching before the start: header, no literals, match.
  std::string before = std::string(attn::kLzMagic, 4) +
                       std::string("\x10\0\0\0\0\0\0\0", 8) +
                       std::string("\x00\x01\x05", 3);
  EXPECT_STREQ(error(before), "match out of bounds");
  // Literals past the declared size.
  std::string over = std::string(attn::kLzMagic, 4) +
                     std::string("\x02\0\0\0\0\0\0\0", 8) +
                     std::string("\x03xyz\x00", 5);
  EXPECT_STREQ(error(over), "truncated or oversized literals");
  // Random bytes after a valid header never crash.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::string junk = block.substr(0, attn::kLzHeaderBytes);
    for (int i = 0; i < 64; ++i)
      junk.push_back(static_cast<char>(rng()));
    (void)error(junk);
  }
}

} // namespace
