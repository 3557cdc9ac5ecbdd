// Compressor of the pack's LZ blocks (runtime/lz.h has the format).
#ifndef ATTN_TOOLS_LZENCODE_H
#define ATTN_TOOLS_LZENCODE_H

#include <string>

namespace attn {

/// One LZ block holding `raw`: matches found over hash chains of 4-byte
/// prefixes (up to 256 candidates a position), as far back as the block's
/// start, parsed lazily (a longer match at the next byte wins, this byte
/// becoming a literal).
std::string lzCompress(const std::string &raw);

} // namespace attn

#endif // ATTN_TOOLS_LZENCODE_H
