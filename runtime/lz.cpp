// Decoder of the pack's LZ blocks (runtime/lz.h has the format).
#include "runtime/lz.h"

#include <cstring>

namespace attn {

namespace {

bool readVarint(const unsigned char *&p, const unsigned char *end,
                uint64_t *value) {
  *value = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    unsigned char byte = *p++;
    *value |= uint64_t(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0)
      return true;
  }
  return false;
}

} // namespace

const char *lzDecompress(const char *data, size_t size, size_t want,
                         std::string *out) {
  if (size < kLzHeaderBytes || std::memcmp(data, kLzMagic, 4) != 0)
    return "not an LZ block (no ALZ1 header)";
  uint64_t total = 0;
  for (int i = 7; i >= 0; --i)
    total = total << 8 | static_cast<unsigned char>(data[4 + i]);
  size_t limit = want < total ? want : size_t(total);
  const auto *p = reinterpret_cast<const unsigned char *>(data) + 12;
  const auto *end = reinterpret_cast<const unsigned char *>(data) + size;
  // Written up to `at`; a match may end past `limit`, never past `total`.
  out->resize(total);
  char *buffer = &(*out)[0];
  size_t at = 0;
  while (at < limit) {
    uint64_t literals = 0, match = 0, offset = 0;
    if (!readVarint(p, end, &literals) || literals > uint64_t(end - p) ||
        literals > total - at)
      return "truncated or oversized literals";
    std::memcpy(buffer + at, p, literals);
    p += literals;
    at += literals;
    if (!readVarint(p, end, &match))
      return "truncated match length";
    if (match == 0)
      break;
    if (!readVarint(p, end, &offset) || offset == 0 || offset > at ||
        total - at < kLzMinMatch - 1 || match > total - at - (kLzMinMatch - 1))
      return "match out of bounds";
    size_t length = match + kLzMinMatch - 1;
    if (offset >= length) {
      std::memcpy(buffer + at, buffer + at - offset, length);
    } else { // overlapping: byte by byte
      for (size_t i = 0; i < length; ++i)
        buffer[at + i] = buffer[at - offset + i];
    }
    at += length;
  }
  if (at < limit)
    return "ends before its decompressed size";
  out->resize(limit);
  return nullptr;
}

} // namespace attn
