// The LZ format of the compressed kernel pack built into libattnrt
// (docs/runtime_abi.md, "Embedded pack"): a block is the magic "ALZ1", its
// decompressed size as 8 little-endian bytes, then sequences of
//   varint L, L literal bytes, varint M[, varint offset]
// where M == 0 ends the block and M > 0 copies M + 3 bytes from `offset`
// (>= 1) bytes back in the output. Varints are LEB128 (7 bits a byte, low
// first). tools/attn-packz writes blocks; runtime/lz.cpp reads them.
#ifndef ATTN_RUNTIME_LZ_H
#define ATTN_RUNTIME_LZ_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace attn {

constexpr char kLzMagic[4] = {'A', 'L', 'Z', '1'};
constexpr size_t kLzHeaderBytes = 12;
constexpr size_t kLzMinMatch = 4;

/// Decompresses the first `want` bytes of the block `data` (all of it when
/// `want` exceeds its size) into `out`. Returns nullptr on success, else what
/// is wrong with the block (never reading or writing out of bounds).
const char *lzDecompress(const char *data, size_t size, size_t want,
                         std::string *out);

} // namespace attn

#endif // ATTN_RUNTIME_LZ_H
