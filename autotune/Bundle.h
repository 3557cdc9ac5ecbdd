// The bundle's files: candidates.json, each candidate's record and the JSON of
// candidates, kernel keys and workloads (docs/autotune.md, "Flow"). Kinds and
// statuses are parsed into their enums here.
#ifndef ATTN_AUTOTUNE_BUNDLE_H
#define ATTN_AUTOTUNE_BUNDLE_H

#include "autotune/Candidate.h"

#include "llvm/Support/JSON.h"

namespace attn::tune {

llvm::json::Value keyToJson(const KernelKey &key);
KernelKey keyFromJson(const llvm::json::Object &o);
llvm::json::Value workloadToJson(const Workload &w);

/// The first line of a pack's manifest, carrying a split policy.
std::string manifestHeader(llvm::StringRef target, llvm::StringRef compiler,
                           const DecodeSplit &split, llvm::StringRef id);

/// A candidate's JSON; a split candidate's holds its manifest header for
/// `options.target`.
llvm::json::Value candidateToJson(const Candidate &c,
                                  const TuneOptions &options);
/// A candidate from its JSON: missing fields take their defaults (kind
/// kernel, status new); an unknown kind or status is an error.
llvm::Expected<Candidate> candidateFromJson(const llvm::json::Object &o);

/// Reads and parses a JSON file.
llvm::Expected<llvm::json::Value> readJson(llvm::StringRef path);
/// `value` as indented JSON text with a final newline.
std::string jsonText(const llvm::json::Value &value);
/// Writes `bytes` to `path`.
llvm::Error writeFile(llvm::StringRef path, llvm::StringRef bytes);

/// Counts the instructions of the kernels of `c` in its pack
/// <bundleDir>/<id>/<packTarget>/, for a record written before attn-tune
/// counted them.
void countFromPack(Candidate &c, llvm::StringRef bundleDir,
                   llvm::StringRef packTarget);

/// The candidates of a bundle and the target it was compiled for.
struct Bundle {
  std::string target;
  std::vector<Candidate> candidates;
};

/// Reads <bundleDir>/candidates.json.
llvm::Expected<Bundle> readBundle(llvm::StringRef bundleDir);

/// Writes <options.bundleDir>/candidates.json: the candidates and the
/// definitions of every workload one of them is timed on.
llvm::Error writeBundle(const std::vector<Candidate> &candidates,
                        const std::vector<Workload> &workloads,
                        const TuneOptions &options);

} // namespace attn::tune

#endif // ATTN_AUTOTUNE_BUNDLE_H
