// The tuning tables autotune/tables/<target>.json: kernel keys, knobs, entries,
// the split policy and provenance; reading and writing (docs/autotune.md).
#ifndef ATTN_AUTOTUNE_TABLE_H
#define ATTN_AUTOTUNE_TABLE_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace attn::tune {

/// What a kernel of the pack is specialised for (the manifest's keys).
struct KernelKey {
  std::string op; // decode or prefill
  std::string dtype;
  int64_t headDim = 0;
  int64_t group = 0; // decode only
  bool paged = false;
  bool causal = false;
  bool operator==(const KernelKey &o) const {
    return op == o.op && dtype == o.dtype && headDim == o.headDim &&
           group == o.group && paged == o.paged && causal == o.causal;
  }
};

/// The pass options of one kernel (AttnPipelineOptions).
struct Knobs {
  int64_t blockM = 0; // prefill; decode: heads per CTA of the any-group kernel
  int64_t blockN = 0;
  int64_t stages = 0;
  int64_t threads = 0;
  /// The table's "assembly": "whole-program" (ptxas over the kernel's PTX as
  /// a whole program) or "relocatable" (nvJitLink, the default; sm_90a is
  /// always whole-program). Measured per entry: the two allocate registers
  /// differently (docs/autotune.md).
  bool wholeProgram = false;
  /// Decode: the table's "lanes", threads sharing a row of head_dim (a power
  /// of two); 0 (left out) for the lowering's choice
  /// (passes/gpu/DecodeLayout.h).
  int64_t lanes = 0;
  /// Decode specialised on G: the table's "kv_heads", KV heads a CTA (a
  /// power of two; 1, left out, for one).
  int64_t kvHeads = 1;
  /// Decode specialised on G: the table's "mma", QK^T and PV through
  /// mma.sync (the lowering's decode-mma; false, left out, for the CUDA-core
  /// kernel).
  bool mma = false;
  bool operator==(const Knobs &o) const {
    return blockM == o.blockM && blockN == o.blockN && stages == o.stages &&
           threads == o.threads && wholeProgram == o.wholeProgram &&
           lanes == o.lanes && kvHeads == o.kvHeads && mma == o.mma;
  }
};

/// The runtime's split-KV policy: splits until about ctasPerSm CTAs per SM, at
/// least minKeysPerSplit keys each (abi/split_policy.h,
/// runtime/decode_plan.cpp). The split count is decodeNumSplits
/// (SplitPolicy.h).
struct DecodeSplit {
  int64_t ctasPerSm = 4;
  int64_t minKeysPerSplit = 1024;
  /// How the policy was chosen ("default", "measured" or "modelled"), with a
  /// line saying from what (the winner's time, the kernel it was timed with).
  /// The table's own only: an entry's policy is the entry's source and note.
  std::string source = "default";
  std::string note;

  bool samePolicy(const DecodeSplit &o) const {
    return ctasPerSm == o.ctasPerSm && minKeysPerSplit == o.minKeysPerSplit;
  }
};

/// An entry matches a kernel when every field it names equals the kernel's;
/// a field left out matches anything (an entry naming only `op` is that op's
/// default).
struct TableEntry {
  std::string op;
  std::optional<std::string> dtype;
  std::optional<int64_t> headDim, group;
  std::optional<bool> paged, causal;
  Knobs knobs;
  /// A decode entry's own split policy (its "decode_split"): its kernels'
  /// launches plan with it in place of the table's (attn-pack writes it on
  /// their manifest lines); none: the table's.
  std::optional<DecodeSplit> split;
  /// How the knobs were chosen: "default", "measured" or "modelled", with a
  /// line saying from what (e.g. the winning time and the runner-up).
  std::string source = "default";
  std::string note;

  bool matches(const KernelKey &key) const;
  /// The number of fields named: the most specific matching entry wins.
  int specificity() const;
  /// Whether `o` names the same fields with the same values (its knobs aside).
  bool sameFields(const TableEntry &o) const;
};

struct Provenance {
  std::string method; // default, measured or modelled
  std::string gpu, driver, date, compiler, notes;
};

struct Table {
  std::string target;
  Provenance provenance;
  DecodeSplit split;
  std::vector<TableEntry> entries;

  /// The most specific entry matching `key` (the first of equals), or null.
  const TableEntry *lookup(const KernelKey &key) const;
  /// Replaces the entry with the same fields as `entry`, else appends it.
  void upsert(const TableEntry &entry);
};

llvm::Expected<Table> parseTable(llvm::StringRef json);
/// Stable JSON text (fixed key order, entries in table order).
std::string printTable(const Table &table);
llvm::Expected<Table> readTable(llvm::StringRef path);
llvm::Error writeTable(llvm::StringRef path, const Table &table);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_TABLE_H
