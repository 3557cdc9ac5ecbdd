// The kernel pack files built into libattnrt: a table that the build writes
// in assembly (runtime/embed_pack.cmake). A file is a range of an LZ block
// (runtime/lz.h) that tools/attn-packz wrote, decompressed when read.
#ifndef ATTN_RUNTIME_EMBEDDED_PACK_H
#define ATTN_RUNTIME_EMBEDDED_PACK_H

#include <cstdint>

namespace attn {

struct EmbeddedFile {
  const char *name;   // "<target>/<file>", e.g. "sm_90/manifest.txt"
  const char *block;  // the compressed block holding it
  uint64_t blockSize; // compressed
  uint64_t offset;    // of the file in the decompressed block
  uint64_t size;
};

} // namespace attn

// Empty when the library was built with ATTN_EMBED_PACK=OFF.
extern "C" __attribute__((visibility("hidden")))
const attn::EmbeddedFile attnrt_pack_files[];
extern "C" __attribute__((visibility("hidden")))
const uint64_t attnrt_pack_file_count;

#endif // ATTN_RUNTIME_EMBEDDED_PACK_H
