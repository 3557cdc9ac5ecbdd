// The kernel pack manifest (docs/runtime_abi.md): one target's kernel list.
#ifndef ATTN_RUNTIME_MANIFEST_H
#define ATTN_RUNTIME_MANIFEST_H

#include "runtime/status.h"

#include <string>
#include <vector>

namespace attn {

enum class KernelOp { Decode, Combine };

const char *dtypeName(attn_dtype dtype);

struct KernelInfo {
  std::string name;
  KernelOp op = KernelOp::Decode;
  attn_dtype dtype = ATTN_DTYPE_F16;
  int headDim = 0;
  // Decode only: the query heads per KV head, and the variant flags.
  int groupSize = 0;
  bool paged = false;
  bool causal = false;
  // The launch shape. For combine kernels these are the ABI's fixed block
  // (head_dim threads) and no dynamic shared memory.
  int threads = 0;
  int sharedBytes = 0;
  // File names in the manifest's directory; cubinFile may be empty.
  std::string ptxFile;
  std::string cubinFile;
};

struct Manifest {
  std::string target; // "sm_89" or "sm_90"
  std::string dir;    // the directory holding manifest.txt and the kernels
  std::vector<KernelInfo> kernels;
};

// Parses manifest.txt `text` read from `path` and expected to describe
// `target`. Every error names `path` and the offending line.
Status parseManifest(const std::string &text, const std::string &path,
                     const std::string &target, Manifest *manifest);

} // namespace attn

#endif // ATTN_RUNTIME_MANIFEST_H
