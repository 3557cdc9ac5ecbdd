// LZ77 over hash chains with lazy parsing, writing runtime/lz.h's block
// format.
#include "LzEncode.h"

#include "runtime/lz.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

constexpr int kHashBits = 18;
constexpr int kMaxChain = 256;      // candidates tried per position
constexpr size_t kGoodEnough = 256; // stop searching at a match this long

void putVarint(std::string &out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

uint32_t hash4(const unsigned char *p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return (v * 2654435761u) >> (32 - kHashBits);
}

} // namespace

std::string attn::lzCompress(const std::string &raw) {
  std::string out(kLzMagic, 4);
  uint64_t size = raw.size();
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>(size >> (8 * i)));
  const auto *data = reinterpret_cast<const unsigned char *>(raw.data());
  size_t n = raw.size();
  std::vector<int64_t> head(size_t(1) << kHashBits, -1);
  std::vector<int64_t> prev(n, -1);
  auto insert = [&](size_t pos) {
    if (pos + kLzMinMatch > n)
      return;
    uint32_t h = hash4(data + pos);
    prev[pos] = head[h];
    head[h] = static_cast<int64_t>(pos);
  };
  // The longest match at `pos` (the nearest of equal length), as (length,
  // offset); length 0 when none reaches kLzMinMatch.
  auto longest = [&](size_t pos) {
    size_t bestLength = 0, bestOffset = 0;
    if (pos + kLzMinMatch > n)
      return std::pair(bestLength, bestOffset);
    int64_t candidate = head[hash4(data + pos)];
    for (int step = 0; candidate >= 0 && step < kMaxChain; ++step) {
      size_t c = static_cast<size_t>(candidate);
      size_t length = 0;
      while (pos + length < n && data[c + length] == data[pos + length])
        ++length;
      if (length > bestLength) {
        bestLength = length;
        bestOffset = pos - c;
        if (length >= kGoodEnough)
          break;
      }
      candidate = prev[c];
    }
    if (bestLength < kLzMinMatch)
      bestLength = 0;
    return std::pair(bestLength, bestOffset);
  };
  size_t literalStart = 0, pos = 0;
  while (pos + kLzMinMatch <= n) {
    auto [length, offset] = longest(pos);
    if (length == 0) {
      insert(pos++);
      continue;
    }
    // Lazy evaluation: a longer match starting at the next byte wins over
    // this one (this byte becomes a literal).
    insert(pos);
    size_t nextInsert = pos + 1;
    auto [nextLength, nextOffset] = longest(pos + 1);
    if (nextLength > length) {
      ++pos;
      length = nextLength;
      offset = nextOffset;
    }
    putVarint(out, pos - literalStart);
    out.append(raw, literalStart, pos - literalStart);
    putVarint(out, length - (kLzMinMatch - 1));
    putVarint(out, offset);
    for (pos += length; nextInsert < pos; ++nextInsert)
      insert(nextInsert);
    literalStart = pos;
  }
  putVarint(out, n - literalStart);
  out.append(raw, literalStart, n - literalStart);
  putVarint(out, 0);
  return out;
}
