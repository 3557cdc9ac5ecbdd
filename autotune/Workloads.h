// The benchmark workloads (autotune/workloads.json) and the workloads that rank
// a kernel (docs/autotune.md, "Workloads").
#ifndef ATTN_AUTOTUNE_WORKLOADS_H
#define ATTN_AUTOTUNE_WORKLOADS_H

#include "autotune/Table.h"

#include <utility>

namespace attn::tune {

/// A benchmark workload (autotune/workloads.json).
struct Workload {
  std::string name, op, dtype;
  int64_t headDim = 0, numHeads = 0, numKvHeads = 0;
  bool paged = false, causal = true;
  std::vector<std::pair<int64_t, int64_t>> seqlens; // (Lq, Lk) per sequence

  KernelKey kernelKey() const;
};

llvm::Expected<std::vector<Workload>> parseWorkloads(llvm::StringRef json);

/// The workloads that rank kernel `key`: its benchmark workloads of `all`, or
/// for a kernel without any, its op's benchmark workloads (those of its
/// layout, `paged`, when there are) with its dtype, D and mask, and for decode
/// G query heads per KV head (the KV heads kept), each named after its source
/// with the changed fields, e.g. "1 seq, context 32768 [G 8]".
std::vector<Workload> workloadsFor(const std::vector<Workload> &all,
                                   const KernelKey &key);

/// The union of workloadsFor over `keys`: their names, first seen first.
std::vector<std::string> workloadNames(const std::vector<Workload> &all,
                                       const std::vector<KernelKey> &keys);

/// The names of `workloads`, in order.
std::vector<std::string> nameList(const std::vector<Workload> &workloads);

/// Reads and parses the workloads file `path`.
llvm::Expected<std::vector<Workload>> readWorkloads(llvm::StringRef path);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_WORKLOADS_H
