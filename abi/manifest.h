// The pack manifest's format (docs/runtime_abi.md, "Pack layout"): the header
// line attn-pack and attn-tune write and the runtime parses, the keys of a
// kernel line, and the hash that ties a kernel line to its files.
// Header-only, no LLVM, no CUDA.
#ifndef ATTN_ABI_MANIFEST_H
#define ATTN_ABI_MANIFEST_H

#include "abi/split_policy.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace attn {
namespace abi {

// The header's first two tokens: "attn-pack <kPackFormatVersion>".
constexpr const char *kPackMagic = "attn-pack";
constexpr int kPackFormatVersion = 1;

// Keys of the header line, after the magic and the format version.
namespace header {
constexpr const char *kTarget = "target";
constexpr const char *kCompiler = "compiler";
constexpr const char *kVersion = "version";
constexpr const char *kSplitCtasPerSm = "split_ctas_per_sm";
constexpr const char *kSplitMinKeys = "split_min_keys";
// "pads_head_dim=1": every decode, prefill and combine kernel takes the
// call's head_dim as a parameter (abi/kernel_params.h) and zero-pads the
// columns past it, so a call of a head_dim the pack lacks runs on the next
// larger one. Without it, a call runs only on its own head_dim.
constexpr const char *kPadsHeadDim = "pads_head_dim";
} // namespace header

// Keys of a kernel line.
namespace key {
constexpr const char *kName = "name";
constexpr const char *kOp = "op";
constexpr const char *kDtype = "dtype";
constexpr const char *kHeadDim = "head_dim";
constexpr const char *kGroup = "group";
constexpr const char *kPaged = "paged";
constexpr const char *kCausal = "causal";
// 1 on a local kernel (window and softcap parameters); absent: 0.
constexpr const char *kLocal = "local";
// Decode specialised on G: F > 1 on a kernel whose CTA holds the G heads of
// F query tokens (block_m = G x F rows; abi/grid.h's token blocks); absent:
// 1.
constexpr const char *kTokens = "tokens";
// Decode specialised on G, one token a CTA: H > 1 on a kernel whose CTA
// takes H KV heads (abi/grid.h: ceil(Hkv / H) head blocks); absent: 1.
constexpr const char *kKvHeads = "kv_heads";
// 1 on a kernel that takes abi::tma's tensor maps after its other
// parameters (a TMA prefill kernel); absent: 0.
constexpr const char *kTma = "tma";
// 1 on a combine kernel that waits for its split kernel by griddepcontrol
// (sm_90 and newer): the runtime launches it with programmatic stream
// serialization; absent: 0.
constexpr const char *kDependentLaunch = "pdl";
// A decode kernel's own split policy (abi/split_policy.h), from its tuning
// table entry's decode_split: the header's keys, on the kernel line; each
// absent one is the header's.
constexpr const char *kSplitCtasPerSm = header::kSplitCtasPerSm;
constexpr const char *kSplitMinKeys = header::kSplitMinKeys;
constexpr const char *kBlockM = "block_m";
constexpr const char *kBlockN = "block_n";
constexpr const char *kStages = "stages";
constexpr const char *kThreads = "threads";
constexpr const char *kSmem = "smem";
constexpr const char *kFor = "for";
constexpr const char *kPtx = "ptx";
constexpr const char *kCubin = "cubin";
constexpr const char *kHash = "hash";
} // namespace key

// The header line (with its newline) of a manifest for `target`, written by
// `compiler`, of project version `version` (left out when empty), carrying
// `split` and pads_head_dim=1 (what this tree's kernels do), then `extra`
// (" key=value" tokens, or empty).
inline std::string manifestHeader(const std::string &target,
                                  const std::string &compiler,
                                  const std::string &version,
                                  const SplitPolicy &split,
                                  const std::string &extra = "") {
  std::string line =
      std::string(kPackMagic) + " " + std::to_string(kPackFormatVersion) + " " +
      header::kTarget + "=" + target + " " + header::kCompiler + "=" + compiler;
  if (!version.empty())
    line += std::string(" ") + header::kVersion + "=" + version;
  line += std::string(" ") + header::kSplitCtasPerSm + "=" +
          std::to_string(split.ctasPerSm) + " " + header::kSplitMinKeys + "=" +
          std::to_string(split.minKeysPerSplit) + " " + header::kPadsHeadDim +
          "=1";
  return line + extra + "\n";
}

// FNV-1a 64 of `size` bytes at `data`, continuing from `hash`: a kernel line's
// hash is that of its ptx file's bytes, then its cubin file's.
inline uint64_t fnv1a(const void *data, size_t size,
                      uint64_t hash = 0xcbf29ce484222325ull) {
  const unsigned char *bytes = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

} // namespace abi
} // namespace attn

#endif // ATTN_ABI_MANIFEST_H
