// Compressor of the pack's LZ blocks (runtime/lz.h has the format).
#ifndef ATTN_TOOLS_LZENCODE_H
#define ATTN_TOOLS_LZENCODE_H

#include <string>

namespace attn {

/// One LZ block holding `raw`: greedy parsing over hash chains of 4-byte
/// prefixes, matches as far back as the block's start.
std::string lzCompress(const std::string &raw);

} // namespace attn

#endif // ATTN_TOOLS_LZENCODE_H
