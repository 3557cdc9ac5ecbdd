// The kernel pack manifest (docs/runtime_abi.md): one target's kernel list,
// and the kernel a launch asks it for.
#ifndef ATTN_RUNTIME_MANIFEST_H
#define ATTN_RUNTIME_MANIFEST_H

#include "abi/manifest.h"
#include "runtime/status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace attn {

enum class KernelOp { Decode, Combine, Prefill };

const char *opName(KernelOp op);
const char *dtypeName(attn_dtype dtype);

// The most query tokens a decode kernel's CTA may fold (manifest tokens=).
constexpr int kMaxTokensPerCta = 16;
static_assert(kMaxTokensPerCta < 32, "Manifest::foldTokens is a 32-bit mask");

// What a kernel is compiled for, or what a launch needs.
struct KernelVariant {
  KernelOp op = KernelOp::Decode;
  attn_dtype dtype = ATTN_DTYPE_F16;
  int headDim = 0;
  // Decode and prefill: the query heads per KV head (a kernel's 0 serves any)
  // and the flags; combine kernels leave them 0.
  int groupSize = 0;
  bool paged = false;
  bool causal = false;
  // A local kernel: window and softcap parameters, no causal mask of its own.
  bool local = false;
  // Decode specialised on G: the query tokens a CTA holds (tokens=, 1 to
  // kMaxTokensPerCta; > 1 folds speculative decoding's Lq into its rows).
  int tokensPerCta = 1;

  bool operator==(const KernelVariant &other) const {
    return op == other.op && dtype == other.dtype && headDim == other.headDim &&
           groupSize == other.groupSize && paged == other.paged &&
           causal == other.causal && local == other.local &&
           tokensPerCta == other.tokensPerCta;
  }
};

// The variant a launch of validated sizes needs: group Hq / Hkv; a local one
// (not causal: the window carries it) when `local`.
KernelVariant wantedVariant(KernelOp op, attn_dtype dtype, int headDim,
                            int numHeads, int numKvHeads, bool paged,
                            bool causal, bool local = false);

// "dtype=bf16 head_dim=128 group=2 paged=1 causal=1" (" local=1" for a local
// one, " tokens=F" for one folding F query tokens).
std::string describeVariant(const KernelVariant &variant);

// The split-KV heuristic's parameters, from the tuning table through the
// manifest.
using abi::SplitPolicy;

struct KernelInfo {
  std::string name;
  KernelVariant variant;
  // The launch shape. For combine kernels these are the ABI's largest block
  // (abi::combineThreads) and 0: their launch takes its block and shared
  // memory from the split count (abi::combineGroups).
  int threads = 0;
  int sharedBytes = 0;
  // Query rows (prefill) or heads (any-group decode) per CTA.
  int blockM = 0;
  // A TMA prefill kernel (tma=1): it takes abi::tma's tensor maps, whose
  // boxes are blockN (its block_n) rows.
  bool tma = false;
  int blockN = 0;
  // Decode specialised on G, one token a CTA: the KV heads a CTA takes
  // (kv_heads=, abi/grid.h), 1 without the key.
  int kvHeads = 1;
  // Decode: the split policy its launches plan with (runtime/decode_plan.cpp):
  // the kernel line's split_ctas_per_sm and split_min_keys, each absent one
  // the manifest header's (the tuning table's).
  SplitPolicy split;
  // Combine only: the decode kernel it belongs to (its module holds both);
  // empty: any decode kernel of its dtype and head_dim.
  std::string combineFor;
  // Combine only (pdl=1): it waits for its split kernel by griddepcontrol,
  // so it is launched with programmatic stream serialization.
  bool dependentLaunch = false;
  // File names in the manifest's directory; cubinFile may be empty.
  std::string ptxFile;
  std::string cubinFile;
  // FNV-1a 64 of the ptx then the cubin bytes, 16 hex digits; may be empty.
  std::string hash;
  // The directory of its files: its own manifest's dir (getManifest sets
  // it; an sm_90a manifest's kernels from sm_90 keep sm_90's); empty: the
  // manifest's it is looked up in.
  std::string dir;
};

struct Manifest {
  std::string target;  // "sm_80", "sm_89", "sm_90" or "sm_90a"
  std::string version; // the header's version= (the project's), "" if none
  // The header's pads_head_dim=1: findKernel may serve a head_dim on the
  // next larger one of `headDims`.
  bool padsHeadDim = false;
  std::string dir; // where manifest.txt and the kernels are (pack.h)
  std::vector<KernelInfo> kernels;
  // findKernel's index of the decode and prefill kernels: (variantKey, the
  // position in `kernels`), sorted by key (parseManifest builds it; without
  // one, findKernel searches `kernels` in full).
  std::vector<std::pair<uint64_t, size_t>> index;
  // The head dims of its decode and prefill kernels, ascending (built with
  // the index).
  std::vector<int> headDims;
  // Bit F set where a decode kernel folds F > 1 tokens a CTA (built with the
  // index), so a launch looks up only the folds the pack has.
  uint32_t foldTokens = 0;
};

// `overlay` over `base`: overlay's header and directory, its kernels, and
// those of `base` that it has none of the same name of (sm_90a's wgmma
// kernels over sm_90's); the index rebuilt.
void overlayManifest(Manifest *base, Manifest overlay);

// The directory of `kernel`'s files when looked up in `manifest`.
inline const std::string &kernelDir(const Manifest &manifest,
                                    const KernelInfo &kernel) {
  return kernel.dir.empty() ? manifest.dir : kernel.dir;
}

// The variant as one integer, equal for equal variants.
uint64_t variantKey(const KernelVariant &variant);

// Parses manifest.txt `text` read from `path` and expected to describe
// `target`. Every error names `path` and the offending line.
Status parseManifest(const std::string &text, const std::string &path,
                     const std::string &target, Manifest *manifest);

// The decode or prefill kernel of `manifest` for a launch of `wanted`: the one
// specialised for its group size, else one for any group size; where the
// manifest pads head dims and has neither for wanted's head_dim, the same for
// the next larger head_dim that has one; null if none.
const KernelInfo *findKernel(const Manifest &manifest,
                             const KernelVariant &wanted);

// findKernel, or ATTN_ERROR_UNSUPPORTED listing the manifest's kernels of the
// wanted op and dtype.
Status selectKernel(const Manifest &manifest, const KernelVariant &wanted,
                    const KernelInfo **kernel);

// The combine kernel for the splits of `kernel` (decode or prefill): the one
// whose manifest line names it (`for=`, same module), else one of its dtype
// and head_dim, preferring one without `for=`.
Status selectCombine(const Manifest &manifest, const KernelInfo &kernel,
                     const KernelInfo **combine);

} // namespace attn

#endif // ATTN_RUNTIME_MANIFEST_H
