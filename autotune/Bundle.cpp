// The bundle's JSON: candidates.json and the candidates' records.
#include "autotune/Bundle.h"

#include "abi/manifest.h"
#include "autotune/SplitPolicy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace attn::tune {

json::Value keyToJson(const KernelKey &k) {
  return json::Object{
      {"op", k.op},       {"dtype", k.dtype}, {"head_dim", k.headDim},
      {"group", k.group}, {"paged", k.paged}, {"causal", k.causal}};
}

KernelKey keyFromJson(const json::Object &o) {
  return {o.getString("op").value_or("").str(),
          o.getString("dtype").value_or("").str(),
          o.getInteger("head_dim").value_or(0),
          o.getInteger("group").value_or(0),
          o.getBoolean("paged").value_or(false),
          o.getBoolean("causal").value_or(false)};
}

json::Value workloadToJson(const Workload &w) {
  json::Array seqlens;
  for (auto [lq, lk] : w.seqlens)
    seqlens.push_back(json::Array{lq, lk});
  return json::Object{{"name", w.name},
                      {"op", w.op},
                      {"dtype", w.dtype},
                      {"head_dim", w.headDim},
                      {"num_heads", w.numHeads},
                      {"num_kv_heads", w.numKvHeads},
                      {"paged", w.paged},
                      {"causal", w.causal},
                      {"seqlens", std::move(seqlens)}};
}

std::string manifestHeader(StringRef target, StringRef compiler,
                           const DecodeSplit &split, StringRef id) {
  return abi::manifestHeader(target.str(), compiler.str(), /*version=*/"",
                             {int(split.ctasPerSm), int(split.minKeysPerSplit)},
                             (" tune=" + id).str());
}

namespace {

json::Value splitToJson(const DecodeSplit &split) {
  return json::Object{{"ctas_per_sm", split.ctasPerSm},
                      {"min_keys_per_split", split.minKeysPerSplit}};
}

json::Value kernelToJson(const KernelRecord &k) {
  const KernelResources &r = k.resources;
  return json::Object{{"name", k.name},
                      {"key", keyToJson(k.key)},
                      {"registers", r.registers},
                      {"spill_stores", r.spillStoreBytes},
                      {"spill_loads", r.spillLoadBytes},
                      {"stack", r.stackBytes},
                      {"static_smem", r.staticSmemBytes},
                      {"dynamic_smem", r.dynamicSmemBytes},
                      {"threads", r.threads},
                      {"kernel_instructions", r.kernelInstructions},
                      {"loop_instructions", r.loopInstructions},
                      {"blocks_per_sm", k.blocksPerSm}};
}

KernelRecord kernelFromJson(const json::Object &k) {
  KernelRecord rec;
  rec.name = k.getString("name").value_or("").str();
  if (const json::Object *key = k.getObject("key"))
    rec.key = keyFromJson(*key);
  KernelResources &r = rec.resources;
  r.registers = k.getInteger("registers").value_or(0);
  r.spillStoreBytes = k.getInteger("spill_stores").value_or(0);
  r.spillLoadBytes = k.getInteger("spill_loads").value_or(0);
  r.stackBytes = k.getInteger("stack").value_or(0);
  r.staticSmemBytes = k.getInteger("static_smem").value_or(0);
  r.dynamicSmemBytes = k.getInteger("dynamic_smem").value_or(0);
  r.threads = k.getInteger("threads").value_or(0);
  r.kernelInstructions = k.getInteger("kernel_instructions").value_or(0);
  r.loopInstructions = k.getInteger("loop_instructions").value_or(0);
  rec.blocksPerSm = k.getInteger("blocks_per_sm").value_or(0);
  return rec;
}

std::vector<KernelKey> keysFromJson(const json::Array *keys) {
  std::vector<KernelKey> result;
  if (keys)
    for (const json::Value &k : *keys)
      if (const json::Object *ko = k.getAsObject())
        result.push_back(keyFromJson(*ko));
  return result;
}

} // namespace

json::Value candidateToJson(const Candidate &c, const TuneOptions &options) {
  json::Array keys, checked, kernels, workloads;
  for (const KernelKey &k : c.keys)
    keys.push_back(keyToJson(k));
  for (const KernelKey &k : c.checked)
    checked.push_back(keyToJson(k));
  for (const std::string &name : c.workloads)
    workloads.push_back(name);
  for (const KernelRecord &k : c.kernels)
    kernels.push_back(kernelToJson(k));
  json::Object o{
      {"id", c.id},
      {"kind", kindName(c.kind)},
      {"keys", std::move(keys)},
      {"workloads", std::move(workloads)},
      {"status", statusName(c.status)},
      {"reason", c.reason},
      {"baseline", c.baseline},
      {"pack", c.hasPack() ? json::Value(c.id) : json::Value(nullptr)}};
  if (c.isSplit()) {
    o["split"] = splitToJson(c.split);
    // The harness writes the pack: this line, then the manifest lines and
    // files of the fastest decode kernel of the split's key.
    o["manifest_header"] =
        manifestHeader(options.target, options.compiler, c.split, c.id);
  } else {
    o["knobs"] = json::Object{
        {"block_m", c.knobs.blockM},
        {"block_n", c.knobs.blockN},
        {"stages", c.knobs.stages},
        {"threads", c.knobs.threads},
        {"assembly", c.knobs.wholeProgram ? "whole-program" : "relocatable"},
        {"lanes", c.knobs.lanes},
        {"kv_heads", c.knobs.kvHeads},
        {"mma", c.knobs.mma}};
    o["checked_keys"] = std::move(checked);
    o["kernels"] = std::move(kernels);
  }
  return o;
}

Expected<Candidate> candidateFromJson(const json::Object &o) {
  Candidate c;
  c.id = o.getString("id").value_or("").str();
  Expected<CandidateKind> kind =
      parseKind(o.getString("kind").value_or("kernel"));
  Expected<CandidateStatus> status =
      parseStatus(o.getString("status").value_or("new"));
  if (!kind || !status) {
    Error error = joinErrors(kind.takeError(), status.takeError());
    return createStringError(inconvertibleErrorCode(),
                             "candidate '" + c.id +
                                 "': " + toString(std::move(error)));
  }
  c.kind = *kind;
  c.status = *status;
  c.keys = keysFromJson(o.getArray("keys"));
  c.checked = keysFromJson(o.getArray("checked_keys"));
  if (const json::Array *names = o.getArray("workloads"))
    for (const json::Value &name : *names)
      if (std::optional<StringRef> s = name.getAsString())
        c.workloads.push_back(s->str());
  if (const json::Object *k = o.getObject("knobs"))
    c.knobs = {k->getInteger("block_m").value_or(0),
               k->getInteger("block_n").value_or(0),
               k->getInteger("stages").value_or(0),
               k->getInteger("threads").value_or(0),
               k->getString("assembly").value_or("") == "whole-program",
               k->getInteger("lanes").value_or(0),
               k->getInteger("kv_heads").value_or(1),
               k->getBoolean("mma").value_or(false)};
  if (const json::Object *s = o.getObject("split")) {
    c.split.ctasPerSm = s->getInteger("ctas_per_sm").value_or(0);
    c.split.minKeysPerSplit = s->getInteger("min_keys_per_split").value_or(0);
  }
  c.reason = o.getString("reason").value_or("").str();
  c.baseline = o.getBoolean("baseline").value_or(false);
  if (const json::Array *kernels = o.getArray("kernels"))
    for (const json::Value &v : *kernels)
      if (const json::Object *k = v.getAsObject())
        c.kernels.push_back(kernelFromJson(*k));
  return c;
}

Expected<json::Value> readJson(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read " + path.str() + ": " +
                                 buffer.getError().message());
  Expected<json::Value> value = json::parse((*buffer)->getBuffer());
  if (!value)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": " + toString(value.takeError()));
  return value;
}

std::string jsonText(const json::Value &value) {
  std::string text;
  raw_string_ostream os(text);
  os << formatv("{0:2}", value) << "\n";
  return text;
}

Error writeFile(StringRef path, StringRef bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec)
    return createStringError(ec, "cannot write " + path.str() + ": " +
                                     ec.message());
  os << bytes;
  return Error::success();
}

void countFromPack(Candidate &c, StringRef bundleDir, StringRef packTarget) {
  for (KernelRecord &k : c.kernels) {
    if (k.resources.kernelInstructions > 0 || !c.hasPack())
      continue;
    SmallString<128> ptxPath(bundleDir);
    sys::path::append(ptxPath, c.id, packTarget, k.name + ".ptx");
    ErrorOr<std::unique_ptr<MemoryBuffer>> ptx = MemoryBuffer::getFile(ptxPath);
    if (!ptx)
      continue;
    if (Expected<InstructionCounts> counts =
            countPtxInstructions((*ptx)->getBuffer(), k.name)) {
      k.resources.kernelInstructions = counts->kernel;
      k.resources.loopInstructions = counts->kvLoop;
    } else {
      consumeError(counts.takeError());
    }
  }
}

Expected<Bundle> readBundle(StringRef bundleDir) {
  SmallString<128> path(bundleDir);
  sys::path::append(path, "candidates.json");
  Expected<json::Value> value = readJson(path);
  if (!value)
    return value.takeError();
  const json::Object *root = value->getAsObject();
  const json::Array *list = root ? root->getArray("candidates") : nullptr;
  if (!list)
    return createStringError(inconvertibleErrorCode(),
                             std::string(path) + ": no candidates");
  Bundle bundle;
  bundle.target = root->getString("target").value_or("").str();
  for (const json::Value &v : *list)
    if (const json::Object *o = v.getAsObject()) {
      Expected<Candidate> c = candidateFromJson(*o);
      if (!c)
        return createStringError(inconvertibleErrorCode(),
                                 std::string(path) + ": " +
                                     toString(c.takeError()));
      bundle.candidates.push_back(std::move(*c));
    }
  // A bundle written before attn-tune counted instructions: count them in
  // the candidates' packs.
  for (Candidate &c : bundle.candidates)
    countFromPack(c, bundleDir, bundle.target);
  return bundle;
}

Error writeBundle(const std::vector<Candidate> &candidates,
                  const std::vector<Workload> &workloads,
                  const TuneOptions &options) {
  json::Array list, used;
  std::vector<std::string> usedNames;
  for (const Candidate &c : candidates) {
    list.push_back(candidateToJson(c, options));
    for (const KernelKey &key : c.keys)
      for (const Workload &w : workloadsFor(workloads, key))
        if (!llvm::is_contained(usedNames, w.name)) {
          usedNames.push_back(w.name);
          used.push_back(workloadToJson(w));
        }
  }
  json::Object root{{"format", "attn-tune-bundle 1"},
                    {"target", options.target},
                    {"compiler", options.compiler},
                    {"space", options.space},
                    {"max_spill_bytes", options.maxSpillBytes},
                    {"max_prefill_spill_bytes", options.spillLimit("prefill")},
                    {"split_key", keyToJson(splitKernelKey())},
                    {"workloads", std::move(used)},
                    {"candidates", std::move(list)}};
  SmallString<128> path(options.bundleDir);
  sys::path::append(path, "candidates.json");
  return writeFile(path, jsonText(std::move(root)));
}

} // namespace attn::tune
