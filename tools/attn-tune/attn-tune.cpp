// attn-tune: compiles tiling candidates into a bundle of packs, prunes them with
// the target's resource model, and turns GPU timings (or the roofline model)
// into the tuning tables autotune/tables/<target>.json (docs/autotune.md).
#include "autotune/Tuning.h"
#include "codegen/Codegen.h"
#include "passes/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nvJitLink.h>

#include <chrono>
#include <cmath>
#include <ctime>

using namespace llvm;
namespace tune = attn::tune;

static cl::opt<std::string> target("target", cl::desc("sm_89 or sm_90"),
                                   cl::init("sm_90"));
static cl::opt<std::string> bundleDir("bundle",
                                      cl::desc("Bundle directory"),
                                      cl::init("tune_bundle"));
static cl::opt<std::string>
    space("space", cl::desc("Candidate space: gpu (small enough to time) or "
                            "wide (for the model)"),
          cl::init("gpu"));
static cl::opt<int64_t>
    maxSpillBytes("max-spill-bytes",
                  cl::desc("Prune candidates spilling more (bytes)"),
                  cl::init(0));
static cl::opt<int64_t> maxPrefillSpillBytes(
    "max-prefill-spill-bytes",
    cl::desc("The limit for prefill kernels (default: --max-spill-bytes)"),
    cl::init(-1));
static cl::opt<std::string> tablePath(
    "table", cl::desc("Tuning table to update (default "
                      "autotune/tables/<target>.json)"),
    cl::init(""));
static cl::opt<std::string>
    workloadsPath("workloads", cl::desc("Benchmark workloads"),
                  cl::init(ATTN_SOURCE_DIR "/autotune/workloads.json"));
static cl::opt<std::string>
    ingest("ingest", cl::desc("timings.json from bench/tune_harness.py: "
                              "choose the fastest candidate per entry"),
           cl::init(""));
static cl::opt<bool> model("model",
                           cl::desc("Rank the bundle's candidates with the "
                                    "roofline + occupancy model"),
                           cl::init(false));
static cl::opt<std::string>
    timingsPath("timings", cl::desc("With --model: measured timings to "
                                    "correlate the model's ranking with"),
                cl::init(""));
static cl::opt<std::string>
    reportPath("report", cl::desc("Markdown report of --ingest or --model"),
               cl::init(""));
static cl::opt<bool> dryRun("dry-run",
                            cl::desc("Print the result, write no table"),
                            cl::init(false));

namespace {

//===----------------------------------------------------------------------===//
// Candidates
//===----------------------------------------------------------------------===//

struct KernelRecord {
  tune::KernelKey key;
  std::string name;
  tune::KernelResources resources;
  int64_t blocksPerSm = 0;
};

/// A candidate: one pipeline configuration applied to the kernels of one
/// group (prefill: the packed and the paged kernel of a dtype, D and mask;
/// decode: one kernel), or one split-KV policy (`split`), timed with the
/// fastest decode kernel of tune::splitKernelKey().
struct Candidate {
  std::string id;
  std::string kind = "kernel"; // kernel or split
  std::vector<tune::KernelKey> keys;    // timed
  std::vector<tune::KernelKey> checked; // compiled and judged, not timed
  tune::Knobs knobs;
  tune::DecodeSplit split;            // of a split candidate
  std::vector<std::string> workloads; // the names of those that rank it
  std::string status = "new";         // ok, pruned, failed
  std::string reason;
  bool baseline = false; // today's table: timed even if pruned
  std::vector<KernelRecord> kernels;

  bool isSplit() const { return kind == "split"; }
  const std::string &op() const { return keys.front().op; }
  bool hasPack() const {
    return status == "ok" || (baseline && status == "pruned");
  }
};

std::string groupId(const tune::KernelKey &key) {
  std::string id = key.op + "_" + key.dtype + "_d" + std::to_string(key.headDim);
  if (key.op == "decode")
    id += "_g" + std::to_string(key.group) + (key.paged ? "_paged" : "_contig");
  return id + (key.causal ? "_causal" : "_full");
}

std::string candidateId(const Candidate &c) {
  if (c.isSplit())
    return "split_c" + std::to_string(c.split.ctasPerSm) + "_k" +
           std::to_string(c.split.minKeysPerSplit);
  const tune::Knobs &k = c.knobs;
  return groupId(c.keys.front()) +
         (c.op() == "prefill" ? "_m" + std::to_string(k.blockM) : "") + "_n" +
         std::to_string(k.blockN) + "_s" + std::to_string(k.stages) + "_t" +
         std::to_string(k.threads);
}

std::vector<std::string>
workloadNames(const std::vector<tune::Workload> &all,
              const std::vector<tune::KernelKey> &keys) {
  std::vector<std::string> names;
  for (const tune::KernelKey &key : keys)
    for (const tune::Workload &w : tune::workloadsFor(all, key))
      if (!llvm::is_contained(names, w.name))
        names.push_back(w.name);
  return names;
}

/// The candidates of `spaceName`: the knob grids of tune::searchSpace, then
/// the split policies of tune::splitSpace.
std::vector<Candidate> enumerate(StringRef spaceName, const tune::Table &table,
                                 const std::vector<tune::Workload> &workloads) {
  std::vector<Candidate> candidates;
  for (const tune::SpaceGroup &group : tune::searchSpace(spaceName)) {
    const tune::TableEntry *current = table.lookup(group.keys.front());
    std::vector<std::string> names = workloadNames(workloads, group.keys);
    for (const tune::Knobs &knobs : group.grid) {
      Candidate c;
      c.keys = group.keys;
      c.checked = group.checked;
      c.knobs = knobs;
      c.baseline = current && current->knobs == knobs;
      c.workloads = names;
      c.id = candidateId(c);
      candidates.push_back(std::move(c));
    }
  }
  std::vector<std::string> names =
      workloadNames(workloads, {tune::splitKernelKey()});
  for (const tune::DecodeSplit &split : tune::splitSpace()) {
    Candidate c;
    c.kind = "split";
    c.keys = {tune::splitKernelKey()};
    c.split = split;
    c.baseline = split.samePolicy(table.split);
    c.workloads = names;
    c.status = "ok";
    c.id = candidateId(c);
    candidates.push_back(std::move(c));
  }
  return candidates;
}

/// The first line of a pack's manifest, carrying a split policy.
std::string manifestHeader(StringRef target, const tune::DecodeSplit &split,
                           StringRef id) {
  return ("attn-pack 1 target=" + target +
          " compiler=" ATTN_COMPILER_VERSION " split_ctas_per_sm=" +
          Twine(split.ctasPerSm) + " split_min_keys=" +
          Twine(split.minKeysPerSplit) + " tune=" + id + "\n")
      .str();
}

attn::KernelSpec specOf(const tune::KernelKey &key, const tune::Knobs &knobs) {
  attn::KernelSpec spec;
  spec.op = key.op == "decode" ? attn::KernelSpec::Op::Decode
                               : attn::KernelSpec::Op::Prefill;
  spec.dtype = key.dtype;
  spec.headDim = key.headDim;
  spec.group = key.op == "decode" ? key.group : 2;
  spec.paged = key.paged;
  spec.causal = key.causal;
  spec.blockM = key.op == "prefill" ? knobs.blockM : 64;
  spec.blockN = knobs.blockN;
  spec.stages = knobs.stages;
  spec.threads = knobs.threads;
  return spec;
}

//===----------------------------------------------------------------------===//
// JSON of the bundle
//===----------------------------------------------------------------------===//

json::Value keyToJson(const tune::KernelKey &k) {
  return json::Object{{"op", k.op},          {"dtype", k.dtype},
                      {"head_dim", k.headDim}, {"group", k.group},
                      {"paged", k.paged},    {"causal", k.causal}};
}

tune::KernelKey keyFromJson(const json::Object &o) {
  return {o.getString("op").value_or("").str(),
          o.getString("dtype").value_or("").str(),
          o.getInteger("head_dim").value_or(0), o.getInteger("group").value_or(0),
          o.getBoolean("paged").value_or(false),
          o.getBoolean("causal").value_or(false)};
}

json::Value splitToJson(const tune::DecodeSplit &split) {
  return json::Object{{"ctas_per_sm", split.ctasPerSm},
                      {"min_keys_per_split", split.minKeysPerSplit}};
}

json::Value workloadToJson(const tune::Workload &w) {
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

json::Value candidateToJson(const Candidate &c) {
  json::Array keys, checked, kernels, workloads;
  for (const tune::KernelKey &k : c.keys)
    keys.push_back(keyToJson(k));
  for (const tune::KernelKey &k : c.checked)
    checked.push_back(keyToJson(k));
  for (const std::string &name : c.workloads)
    workloads.push_back(name);
  for (const KernelRecord &k : c.kernels) {
    const tune::KernelResources &r = k.resources;
    kernels.push_back(
        json::Object{{"name", k.name},
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
                     {"blocks_per_sm", k.blocksPerSm}});
  }
  json::Object o{
      {"id", c.id},
      {"kind", c.kind},
      {"keys", std::move(keys)},
      {"workloads", std::move(workloads)},
      {"status", c.status},
      {"reason", c.reason},
      {"baseline", c.baseline},
      {"pack", c.hasPack() ? json::Value(c.id) : json::Value(nullptr)}};
  if (c.isSplit()) {
    o["split"] = splitToJson(c.split);
    // The harness writes the pack: this line, then the manifest lines and
    // files of the fastest decode kernel of the split's key.
    o["manifest_header"] = manifestHeader(target.getValue(), c.split, c.id);
  } else {
    o["knobs"] = json::Object{{"block_m", c.knobs.blockM},
                              {"block_n", c.knobs.blockN},
                              {"stages", c.knobs.stages},
                              {"threads", c.knobs.threads}};
    o["checked_keys"] = std::move(checked);
    o["kernels"] = std::move(kernels);
  }
  return o;
}

Candidate candidateFromJson(const json::Object &o) {
  Candidate c;
  c.id = o.getString("id").value_or("").str();
  c.kind = o.getString("kind").value_or("kernel").str();
  if (const json::Array *keys = o.getArray("keys"))
    for (const json::Value &k : *keys)
      if (const json::Object *ko = k.getAsObject())
        c.keys.push_back(keyFromJson(*ko));
  if (const json::Array *keys = o.getArray("checked_keys"))
    for (const json::Value &k : *keys)
      if (const json::Object *ko = k.getAsObject())
        c.checked.push_back(keyFromJson(*ko));
  if (const json::Array *names = o.getArray("workloads"))
    for (const json::Value &name : *names)
      if (std::optional<StringRef> s = name.getAsString())
        c.workloads.push_back(s->str());
  if (const json::Object *k = o.getObject("knobs"))
    c.knobs = {k->getInteger("block_m").value_or(0),
               k->getInteger("block_n").value_or(0),
               k->getInteger("stages").value_or(0),
               k->getInteger("threads").value_or(0)};
  if (const json::Object *s = o.getObject("split")) {
    c.split.ctasPerSm = s->getInteger("ctas_per_sm").value_or(0);
    c.split.minKeysPerSplit = s->getInteger("min_keys_per_split").value_or(0);
  }
  c.status = o.getString("status").value_or("new").str();
  c.reason = o.getString("reason").value_or("").str();
  c.baseline = o.getBoolean("baseline").value_or(false);
  if (const json::Array *kernels = o.getArray("kernels"))
    for (const json::Value &v : *kernels) {
      const json::Object *k = v.getAsObject();
      if (!k)
        continue;
      KernelRecord rec;
      rec.name = k->getString("name").value_or("").str();
      if (const json::Object *key = k->getObject("key"))
        rec.key = keyFromJson(*key);
      tune::KernelResources &r = rec.resources;
      r.registers = k->getInteger("registers").value_or(0);
      r.spillStoreBytes = k->getInteger("spill_stores").value_or(0);
      r.spillLoadBytes = k->getInteger("spill_loads").value_or(0);
      r.stackBytes = k->getInteger("stack").value_or(0);
      r.staticSmemBytes = k->getInteger("static_smem").value_or(0);
      r.dynamicSmemBytes = k->getInteger("dynamic_smem").value_or(0);
      r.threads = k->getInteger("threads").value_or(0);
      r.kernelInstructions = k->getInteger("kernel_instructions").value_or(0);
      r.loopInstructions = k->getInteger("loop_instructions").value_or(0);
      rec.blocksPerSm = k->getInteger("blocks_per_sm").value_or(0);
      c.kernels.push_back(std::move(rec));
    }
  return c;
}

Expected<json::Value> readJson(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return createStringError(buffer.getError(), "cannot read " + path.str() +
                                                    ": " +
                                                    buffer.getError().message());
  Expected<json::Value> value = json::parse((*buffer)->getBuffer());
  if (!value)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": " + toString(value.takeError()));
  return value;
}

bool writeFile(StringRef path, StringRef bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec) {
    errs() << "attn-tune: cannot write " << path << ": " << ec.message() << "\n";
    return false;
  }
  os << bytes;
  return true;
}

std::string jsonText(const json::Value &value) {
  std::string text;
  raw_string_ostream os(text);
  os << formatv("{0:2}", value) << "\n";
  return text;
}

std::string today() {
  std::time_t now = std::time(nullptr);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", std::gmtime(&now));
  return buffer;
}

//===----------------------------------------------------------------------===//
// Compiling a candidate into its pack
//===----------------------------------------------------------------------===//

/// nvJitLink with -verbose, so that its info log holds ptxas's resource lines.
Error assembleWithInfo(const std::string &ptx, StringRef arch,
                       std::vector<char> &cubin, std::string &info) {
  std::string archOption = ("-arch=" + arch).str();
  const char *options[] = {archOption.c_str(), "-O3", "-verbose"};
  nvJitLinkHandle handle;
  if (nvJitLinkCreate(&handle, 3, options) != NVJITLINK_SUCCESS)
    return createStringError(inconvertibleErrorCode(), "nvJitLinkCreate failed");
  auto log = [&](bool error) {
    size_t size = 0;
    std::string text;
    if ((error ? nvJitLinkGetErrorLogSize(handle, &size)
               : nvJitLinkGetInfoLogSize(handle, &size)) == NVJITLINK_SUCCESS &&
        size) {
      text.resize(size);
      error ? nvJitLinkGetErrorLog(handle, text.data())
            : nvJitLinkGetInfoLog(handle, text.data());
    }
    return text;
  };
  bool ok = nvJitLinkAddData(handle, NVJITLINK_INPUT_PTX, ptx.data(),
                             ptx.size(), "attn.ptx") == NVJITLINK_SUCCESS &&
            nvJitLinkComplete(handle) == NVJITLINK_SUCCESS;
  size_t size = 0;
  ok = ok && nvJitLinkGetLinkedCubinSize(handle, &size) == NVJITLINK_SUCCESS;
  if (ok) {
    cubin.resize(size);
    ok = nvJitLinkGetLinkedCubin(handle, cubin.data()) == NVJITLINK_SUCCESS;
  }
  info = log(false);
  std::string error = ok ? "" : log(true);
  nvJitLinkDestroy(&handle);
  if (!ok)
    return createStringError(inconvertibleErrorCode(),
                             "nvJitLink failed: " + error);
  return Error::success();
}

/// Compiles every kernel of `c`, reads its resources, prunes, and writes its
/// pack <bundle>/<id>/<target>/ in attn-pack's format (docs/runtime_abi.md).
/// The spill limit of kernels of `op`.
int64_t spillLimit(StringRef op) {
  return op == "prefill" && maxPrefillSpillBytes >= 0 ? maxPrefillSpillBytes
                                                      : maxSpillBytes;
}

/// Prunes a compiled candidate whose kernel spills more than its limit or
/// exceeds a limit of the target, and records each kernel's CTAs per SM.
void judge(Candidate &c, const tune::TargetLimits &limits) {
  c.status = "ok";
  c.reason.clear();
  for (KernelRecord &k : c.kernels) {
    tune::Verdict verdict =
        tune::checkResources(k.resources, limits, spillLimit(k.key.op));
    k.blocksPerSm = verdict.blocksPerSm;
    if (!verdict.ok && c.status == "ok") {
      c.status = "pruned";
      c.reason = k.name + ": " + verdict.reason;
    }
  }
}

/// Its header carries `split`, today's table's policy.
void compileCandidate(mlir::MLIRContext &context, Candidate &c,
                      const tune::TargetLimits &limits,
                      const tune::DecodeSplit &split) {
  c.kernels.clear();
  std::string manifest = manifestHeader(limits.target, split, c.id);
  SmallString<128> dir(bundleDir);
  sys::path::append(dir, c.id, limits.target);
  std::vector<std::pair<std::string, std::string>> files; // path, bytes
  c.status = "ok";
  std::vector<tune::KernelKey> all = c.keys;
  all.insert(all.end(), c.checked.begin(), c.checked.end());
  for (auto [index, key] : llvm::enumerate(all)) {
    attn::KernelSpec spec = specOf(key, c.knobs);
    auto module = attn::buildProblem(context, spec);
    Expected<std::string> ptx = attn::compileToPTX(*module, spec, limits.target);
    std::vector<char> cubin;
    std::string info;
    Error error = ptx ? assembleWithInfo(*ptx, limits.target, cubin, info)
                      : ptx.takeError();
    if (error) {
      c.status = "failed";
      c.reason = spec.name() + ": " + toString(std::move(error));
      // Keep the first line: the lowering's diagnostics went to stderr.
      c.reason = StringRef(c.reason).split('\n').first.str();
      return;
    }
    Expected<tune::KernelResources> resources =
        tune::parsePtxasInfo(info, spec.name());
    if (!resources) {
      c.status = "failed";
      c.reason = toString(resources.takeError());
      return;
    }
    resources->dynamicSmemBytes = spec.sharedMemoryBytes();
    resources->threads = spec.blockThreads();
    if (Expected<tune::InstructionCounts> counts =
            tune::countPtxInstructions(*ptx, spec.name())) {
      resources->kernelInstructions = counts->kernel;
      resources->loopInstructions = counts->kvLoop;
    } else {
      consumeError(counts.takeError());
    }
    c.kernels.push_back({key, spec.name(), *resources, 0});
    if (index >= c.keys.size())
      continue; // checked, not timed: not in the pack
    std::string stem = spec.name();
    manifest += attn::manifestLines(spec, *ptx,
                                    StringRef(cubin.data(), cubin.size()));
    files.push_back({stem + ".ptx", *ptx});
    files.push_back({stem + ".cubin", std::string(cubin.begin(), cubin.end())});
  }
  judge(c, limits);
  if (!c.hasPack())
    return;
  if (std::error_code ec = sys::fs::create_directories(dir)) {
    c.status = "failed";
    c.reason = "cannot create " + std::string(dir) + ": " + ec.message();
    return;
  }
  files.push_back({"manifest.txt", manifest});
  for (auto &[name, bytes] : files) {
    SmallString<128> path(dir);
    sys::path::append(path, name);
    if (!writeFile(path, bytes)) {
      c.status = "failed";
      c.reason = "cannot write " + std::string(path);
      return;
    }
  }
}

/// The resources of the timed kernels, then the worst of the checked ones.
std::string describe(const Candidate &c) {
  std::string text;
  int64_t checked = 0, registers = 0, spills = 0;
  for (const KernelRecord &k : c.kernels) {
    const tune::KernelResources &r = k.resources;
    if (!llvm::is_contained(c.keys, k.key)) {
      ++checked;
      registers = std::max(registers, r.registers);
      spills = std::max(spills, r.spillStoreBytes);
      continue;
    }
    text +=
        (text.empty() ? "" : "; ") + std::to_string(r.registers) + " regs, " +
        std::to_string(r.spillStoreBytes) + " B spills, " +
        std::to_string((r.staticSmemBytes + r.dynamicSmemBytes + 1023) / 1024) +
        " KB smem, " + std::to_string(k.blocksPerSm) + " CTAs/SM";
  }
  if (checked)
    text += "; " + std::to_string(checked) + " more of its entry: up to " +
            std::to_string(registers) + " regs, " + std::to_string(spills) +
            " B spills";
  return text;
}

std::string defaultTablePath() {
  return tablePath.empty()
             ? std::string(ATTN_SOURCE_DIR "/autotune/tables/") + target + ".json"
             : std::string(tablePath);
}

/// Counts the instructions of the kernels of `c` in its pack, for a record
/// written before attn-tune counted them.
void countFromPack(Candidate &c, StringRef packTarget) {
  for (KernelRecord &k : c.kernels) {
    if (k.resources.kernelInstructions > 0 || !c.hasPack())
      continue;
    SmallString<128> ptxPath(bundleDir);
    sys::path::append(ptxPath, c.id, packTarget, k.name + ".ptx");
    ErrorOr<std::unique_ptr<MemoryBuffer>> ptx = MemoryBuffer::getFile(ptxPath);
    if (!ptx)
      continue;
    if (Expected<tune::InstructionCounts> counts =
            tune::countPtxInstructions((*ptx)->getBuffer(), k.name)) {
      k.resources.kernelInstructions = counts->kernel;
      k.resources.loopInstructions = counts->kvLoop;
    } else {
      consumeError(counts.takeError());
    }
  }
}

Expected<std::vector<Candidate>> readBundle(std::string &bundleTarget) {
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
  bundleTarget = root->getString("target").value_or("").str();
  std::vector<Candidate> candidates;
  for (const json::Value &v : *list)
    if (const json::Object *o = v.getAsObject())
      candidates.push_back(candidateFromJson(*o));
  // A bundle written before attn-tune counted instructions: count them in
  // the candidates' packs.
  for (Candidate &c : candidates)
    countFromPack(c, bundleTarget);
  return candidates;
}

Expected<std::vector<tune::Workload>> loadWorkloads() {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(workloadsPath);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read " + workloadsPath + ": " +
                                 buffer.getError().message());
  Expected<std::vector<tune::Workload>> workloads =
      tune::parseWorkloads((*buffer)->getBuffer());
  if (!workloads)
    return createStringError(inconvertibleErrorCode(),
                             workloadsPath + ": " +
                                 toString(workloads.takeError()));
  return workloads;
}

int writeCandidates(const std::vector<Candidate> &candidates,
                    const std::vector<tune::Workload> &workloads) {
  json::Array list, used;
  std::vector<std::string> usedNames;
  for (const Candidate &c : candidates) {
    list.push_back(candidateToJson(c));
    for (const tune::KernelKey &key : c.keys)
      for (const tune::Workload &w : tune::workloadsFor(workloads, key))
        if (!llvm::is_contained(usedNames, w.name)) {
          usedNames.push_back(w.name);
          used.push_back(workloadToJson(w));
        }
  }
  json::Object root{{"format", "attn-tune-bundle 1"},
                    {"target", std::string(target)},
                    {"compiler", ATTN_COMPILER_VERSION},
                    {"space", std::string(space)},
                    {"max_spill_bytes", int64_t(maxSpillBytes)},
                    {"max_prefill_spill_bytes", spillLimit("prefill")},
                    {"split_key", keyToJson(tune::splitKernelKey())},
                    {"workloads", std::move(used)},
                    {"candidates", std::move(list)}};
  SmallString<128> path(bundleDir);
  sys::path::append(path, "candidates.json");
  return writeFile(path, jsonText(std::move(root))) ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// Modes
//===----------------------------------------------------------------------===//

int compileBundle(const tune::TargetLimits &limits) {
  Expected<tune::Table> table = tune::readTable(defaultTablePath());
  if (!table) {
    errs() << "attn-tune: " << toString(table.takeError()) << "\n";
    return 1;
  }
  Expected<std::vector<tune::Workload>> workloads = loadWorkloads();
  if (!workloads) {
    errs() << "attn-tune: " << toString(workloads.takeError()) << "\n";
    return 1;
  }
  std::vector<Candidate> candidates = enumerate(space, *table, *workloads);
  if (std::error_code ec = sys::fs::create_directories(bundleDir)) {
    errs() << "attn-tune: cannot create " << bundleDir << ": " << ec.message()
           << "\n";
    return 1;
  }
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialectsAndPasses(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  auto start = std::chrono::steady_clock::now();
  int counts[3] = {0, 0, 0}; // ok, pruned, failed
  int splits = 0;
  for (auto [i, c] : llvm::enumerate(candidates)) {
    bool resumed = false;
    if (c.isSplit()) {
      ++splits;
    } else {
      SmallString<128> record(bundleDir);
      sys::path::append(record, c.id, "candidate.json");
      if (Expected<json::Value> old = readJson(record)) {
        if (const json::Object *o = old->getAsObject()) {
          Candidate previous = candidateFromJson(*o);
          if (previous.id == c.id && previous.knobs == c.knobs &&
              previous.checked == c.checked && previous.status != "failed") {
            previous.baseline = c.baseline;
            previous.workloads = c.workloads;
            c = previous;
            countFromPack(c, limits.target);
            // The limits may have changed since: compile again when the
            // candidate now needs the pack it was not given.
            judge(c, limits);
            SmallString<128> manifest(bundleDir);
            sys::path::append(manifest, c.id, limits.target, "manifest.txt");
            resumed = !c.hasPack() || sys::fs::exists(manifest);
          }
        }
      } else {
        consumeError(old.takeError());
      }
      if (!resumed) {
        compileCandidate(context, c, limits, table->split);
        SmallString<128> dir(bundleDir);
        sys::path::append(dir, c.id);
        sys::fs::create_directories(dir);
        if (!writeFile(record, jsonText(candidateToJson(c))))
          return 1;
      }
    }
    counts[c.status == "ok" ? 0 : c.status == "pruned" ? 1 : 2]++;
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    outs() << "[" << (i + 1) << "/" << candidates.size() << " "
           << format("%.0f", seconds) << " s] " << c.id << ": "
           << (resumed ? "(resumed) " : "") << c.status;
    if (!c.reason.empty())
      outs() << " (" << c.reason << ")";
    if (!c.kernels.empty())
      outs() << " [" << describe(c) << "]";
    if (c.isSplit())
      outs() << " [split policy (" << c.split.ctasPerSm << ", "
             << c.split.minKeysPerSplit << "), timed with the fastest "
             << groupId(c.keys.front()) << " kernel]";
    if (c.baseline)
      outs() << " [baseline: today's table]";
    outs() << "\n";
    outs().flush();
  }
  if (writeCandidates(candidates, *workloads))
    return 1;
  outs() << "attn-tune: " << candidates.size() << " candidates for " << target
         << " (" << candidates.size() - splits << " kernel configurations, "
         << splits << " split policies): " << counts[0] << " ok, " << counts[1]
         << " pruned, " << counts[2] << " failed -> " << bundleDir
         << "/candidates.json\n";
  return 0;
}

using Times = std::map<std::string, std::map<std::string, double>>;

struct Timings {
  std::string gpu, driver, date;
  Times times;
  /// The decode kernel each split candidate was timed with.
  std::map<std::string, std::string> splitKernel;
};

Expected<Timings> readTimings(StringRef path) {
  Expected<json::Value> value = readJson(path);
  if (!value)
    return value.takeError();
  const json::Object *root = value->getAsObject();
  const json::Object *times = root ? root->getObject("timings") : nullptr;
  if (!times)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": no 'timings' object");
  Timings t{root->getString("gpu").value_or("").str(),
            root->getString("driver").value_or("").str(),
            root->getString("date").value_or("").str(),
            {},
            {}};
  for (const auto &[id, perWorkload] : *times)
    if (const json::Object *o = perWorkload.getAsObject())
      for (const auto &[workload, ms] : *o)
        if (std::optional<double> v = ms.getAsNumber())
          t.times[id.str()][workload.str()] = *v;
  if (const json::Object *kernels = root->getObject("split_kernel"))
    for (const auto &[id, kernel] : *kernels)
      if (std::optional<StringRef> k = kernel.getAsString())
        t.splitKernel[id.str()] = k->str();
  return t;
}

std::vector<std::string>
nameList(const std::vector<tune::Workload> &workloads) {
  std::vector<std::string> result;
  for (const tune::Workload &w : workloads)
    result.push_back(w.name);
  return result;
}

double geomean(const std::map<std::string, double> &times,
               const std::vector<std::string> &workloads) {
  double logSum = 0;
  for (const std::string &name : workloads) {
    auto it = times.find(name);
    if (it == times.end() || !(it->second > 0))
      return std::nan("");
    logSum += std::log(it->second);
  }
  return workloads.empty() ? std::nan("") : std::exp(logSum / workloads.size());
}

std::string ms(double value) {
  return std::isnan(value) ? std::string("-") : formatv("{0:F3}", value).str();
}

const Candidate *findCandidate(const std::vector<Candidate> &candidates,
                               StringRef id) {
  auto it =
      llvm::find_if(candidates, [&](const Candidate &c) { return c.id == id; });
  return it == candidates.end() ? nullptr : &*it;
}

/// Model times of every kernel candidate with resources on its workloads.
Times modelTimes(const std::vector<Candidate> &candidates,
                 const std::vector<tune::Workload> &workloads,
                 const tune::TargetLimits &limits,
                 const tune::DecodeSplit &split) {
  Times times;
  for (const Candidate &c : candidates)
    for (const KernelRecord &k : c.kernels)
      if (llvm::is_contained(c.keys, k.key))
        for (const tune::Workload &w : tune::workloadsFor(workloads, k.key))
          times[c.id][w.name] = tune::modelTimeMs(limits, c.knobs, k.resources,
                                                  k.blocksPerSm, w, split);
  return times;
}

/// Model times of the split candidates, run with kernel candidate `kernel`.
void modelSplitTimes(const std::vector<Candidate> &candidates,
                     const Candidate &kernel,
                     const std::vector<tune::Workload> &workloads,
                     const tune::TargetLimits &limits, Times &times) {
  const KernelRecord &k = kernel.kernels.front();
  for (const Candidate &c : candidates)
    if (c.isSplit())
      for (const tune::Workload &w : tune::workloadsFor(workloads, k.key))
        times[c.id][w.name] = tune::modelTimeMs(
            limits, kernel.knobs, k.resources, k.blocksPerSm, w, c.split);
}

/// The table entry for kernel `key`. A decode entry names dtype, D and G
/// only: the contiguous and the non-causal kernels differ from the paged
/// causal one that the benchmark times only in a key's address and the
/// mask, so they take its knobs.
tune::TableEntry entryFor(const tune::KernelKey &key) {
  tune::TableEntry entry;
  entry.op = key.op;
  entry.dtype = key.dtype;
  entry.headDim = key.headDim;
  if (key.op == "decode") {
    entry.group = key.group;
  } else {
    entry.paged = key.paged;
    entry.causal = key.causal;
  }
  return entry;
}

bool sameFields(const tune::TableEntry &a, const tune::TableEntry &b) {
  return a.op == b.op && a.dtype == b.dtype && a.headDim == b.headDim &&
         a.group == b.group && a.paged == b.paged && a.causal == b.causal;
}

/// Chooses the fastest unpruned candidate per kernel key, updates the table
/// (a modelled choice leaves a measured entry as it is) and writes the
/// report's rows. Returns the winner per kernel name.
std::map<std::string, std::string>
chooseKernels(const std::vector<Candidate> &candidates,
              const std::vector<tune::Workload> &workloads, const Times &times,
              tune::Table &table, StringRef source, raw_ostream &os) {
  std::vector<std::pair<tune::KernelKey, std::vector<const Candidate *>>> keys;
  for (const Candidate &c : candidates) {
    if (c.isSplit())
      continue;
    for (const tune::KernelKey &key : c.keys) {
      auto it = llvm::find_if(keys, [&](auto &p) {
        return groupId(p.first) == groupId(key) && p.first.paged == key.paged;
      });
      if (it == keys.end()) {
        keys.push_back({key, {}});
        it = std::prev(keys.end());
      }
      it->second.push_back(&c);
    }
  }
  std::map<std::string, std::string> winners;
  std::string resources;
  raw_string_ostream rs(resources);
  os << "| kernel | workload | default (ms) | tuned (ms) | speed-up | tuned "
        "knobs |\n|---|---|---|---|---|---|\n";
  for (auto &[key, group] : keys) {
    std::vector<std::string> workloadNames =
        nameList(tune::workloadsFor(workloads, key));
    std::vector<std::string> ok;
    const Candidate *baseline = nullptr;
    for (const Candidate *c : group) {
      if (c->status == "ok")
        ok.push_back(c->id);
      if (c->baseline)
        baseline = c;
    }
    std::string kernelName =
        groupId(key) + (key.op == "prefill" ? (key.paged ? " paged" : " packed")
                                            : "");
    std::string best = tune::selectFastest(ok, workloadNames, times);
    if (best.empty()) {
      std::string why = "no candidate with a time for each of its " +
                        std::to_string(workloadNames.size()) + " workloads";
      if (ok.empty()) {
        // Say how far the nearest one is from the limits.
        const Candidate *least = nullptr;
        auto spill = [](const Candidate *c) {
          int64_t bytes = 0;
          for (const KernelRecord &k : c->kernels)
            bytes = std::max(bytes, k.resources.spillStoreBytes);
          return bytes;
        };
        for (const Candidate *c : group)
          if (c->status == "pruned" && (!least || spill(c) < spill(least)))
            least = c;
        why = "all " + std::to_string(group.size()) + " candidates pruned" +
              (least ? "; the least spilling, " + least->id + ", spills " +
                           std::to_string(spill(least)) + " B"
                     : std::string());
      }
      outs() << "attn-tune: " << kernelName << ": " << why
             << "; its entry is left as it was\n";
      rs << "| " << kernelName << " | - (" << why << ") | - | "
         << (baseline ? baseline->id + ": " + baseline->status : "-") << " |\n";
      continue;
    }
    winners[kernelName] = best;
    const Candidate &winner = *findCandidate(candidates, best);
    double score = geomean(times.at(best), workloadNames);
    tune::TableEntry entry = entryFor(key);
    entry.knobs = winner.knobs;
    entry.source = source.str();
    entry.note = best + ": geometric mean " + formatv("{0:F3}", score).str() +
                 " ms over " + std::to_string(workloadNames.size()) +
                 " workload(s), " + std::to_string(ok.size()) + " candidates";
    auto existing =
        llvm::find_if(table.entries, [&](const tune::TableEntry &e) {
          return sameFields(e, entry);
        });
    if (source == "modelled" && existing != table.entries.end() &&
        existing->source == "measured") {
      outs() << "attn-tune: " << kernelName << " -> " << best
             << " by the model; its measured entry stays\n";
    } else {
      // A decode entry of dtype, D and G replaces those naming the layout or
      // the mask as well (tables before the decode entries were per dtype,
      // D and G), except measured ones when it is modelled.
      if (key.op == "decode")
        llvm::erase_if(table.entries, [&](const tune::TableEntry &e) {
          return e.op == "decode" && e.dtype == entry.dtype &&
                 e.headDim == entry.headDim && e.group == entry.group &&
                 (e.paged || e.causal) &&
                 (source == "measured" || e.source != "measured");
        });
      table.upsert(entry);
      outs() << "attn-tune: " << kernelName << " -> " << best << " ("
             << formatv("{0:F3}", score) << " ms)\n";
    }
    for (const std::string &name : workloadNames) {
      double tuned = times.at(best).at(name);
      double before = std::nan("");
      if (baseline && times.count(baseline->id) &&
          times.at(baseline->id).count(name))
        before = times.at(baseline->id).at(name);
      os << "| " << kernelName << " | " << name << " | " << ms(before) << " | "
         << ms(tuned) << " | "
         << (std::isnan(before) ? std::string("-")
                                : formatv("{0:F2}x", before / tuned).str())
         << " | " << best << " |\n";
    }
    rs << "| " << kernelName << " | " << best << " | " << describe(winner)
       << " | "
       << (baseline
               ? baseline->id + ": " + baseline->status +
                     (baseline->reason.empty() ? std::string()
                                               : " (" + baseline->reason + ")")
               : std::string("-"))
       << " |\n";
  }
  os << "\n| kernel | tuned | its resources | default |\n|---|---|---|---|\n"
     << resources;
  return winners;
}

/// Chooses the fastest split policy, writes it into the table's decode_split
/// (a modelled choice leaves a measured policy as it is) and the report's
/// rows; `kernel` is the decode kernel the policies ran with.
void chooseSplit(const std::vector<Candidate> &candidates,
                 const std::vector<tune::Workload> &workloads,
                 const Times &times, tune::Table &table, StringRef source,
                 StringRef kernel, const tune::TargetLimits &limits,
                 raw_ostream &os) {
  std::vector<const Candidate *> splits;
  std::vector<std::string> ids;
  for (const Candidate &c : candidates)
    if (c.isSplit()) {
      splits.push_back(&c);
      ids.push_back(c.id);
    }
  if (splits.empty())
    return;
  std::vector<tune::Workload> splitWorkloads =
      tune::workloadsFor(workloads, splits.front()->keys.front());
  std::vector<std::string> workloadNames = nameList(splitWorkloads);
  std::string best = tune::selectFastest(ids, workloadNames, times);
  os << "\n## Decode split policy\n\n";
  if (best.empty()) {
    os << "No split policy has a time for each of its workloads; "
          "decode_split is left as it was.\n";
    outs() << "attn-tune: no split policy timed on every workload; "
              "decode_split is left as it was\n";
    return;
  }
  const Candidate &winner = *findCandidate(candidates, best);
  tune::DecodeSplit defaults;
  const Candidate *baseline = nullptr;
  for (const Candidate *c : splits)
    if (c->split.samePolicy(defaults))
      baseline = c;
  double score = geomean(times.at(best), workloadNames);
  double defaultScore = baseline && times.count(baseline->id)
                            ? geomean(times.at(baseline->id), workloadNames)
                            : std::nan("");
  os << "Each policy's pack holds the decode kernel " << kernel
     << "; splits are the runtime's choice on " << limits.smCount << " SMs ("
     << limits.modelDevice << "). Default = (4, 1024), the "
     << "runtime's.\n\n| policy (ctas_per_sm, min_keys_per_split) |";
  for (const std::string &name : workloadNames)
    os << " " << name << " (ms, splits) |";
  os << " geometric mean (ms) |\n|---|";
  for (size_t i = 0; i <= workloadNames.size(); ++i)
    os << "---|";
  os << "\n";
  for (const Candidate *c : splits) {
    os << "| " << c->id << " (" << c->split.ctasPerSm << ", "
       << c->split.minKeysPerSplit << ")" << (c->id == best ? " **tuned**" : "")
       << (c->split.samePolicy(defaults) ? " default" : "") << " |";
    for (const tune::Workload &w : splitWorkloads) {
      int64_t maxLen = 0, ctas = 0;
      for (auto [lq, lk] : w.seqlens) {
        maxLen = std::max(maxLen, lk);
        ctas += lq * w.numKvHeads;
      }
      double t = times.count(c->id) && times.at(c->id).count(w.name)
                     ? times.at(c->id).at(w.name)
                     : std::nan("");
      os << " " << ms(t) << " ("
         << c->split.numSplits(ctas, limits.smCount, maxLen) << ") |";
    }
    os << " "
       << ms(times.count(c->id) ? geomean(times.at(c->id), workloadNames)
                                : std::nan(""))
       << " |\n";
  }
  std::string summary = best + ": geometric mean " +
                        formatv("{0:F3}", score).str() + " ms over " +
                        std::to_string(workloadNames.size()) +
                        " workload(s) with " + kernel.str() +
                        "; default (4, 1024) " + ms(defaultScore) + " ms";
  os << "\nTuned: " << summary << ".\n";
  // A table measured on a GPU keeps its policy: the model fills in kernels.
  if (source == "modelled" && (table.split.source == "measured" ||
                               table.provenance.method == "measured")) {
    outs() << "attn-tune: split policy " << best << " by the model; the "
           << table.target << " table is measured, its decode_split stays\n";
    return;
  }
  table.split.ctasPerSm = winner.split.ctasPerSm;
  table.split.minKeysPerSplit = winner.split.minKeysPerSplit;
  table.split.source = source.str();
  table.split.note = summary;
  outs() << "attn-tune: decode_split -> (" << winner.split.ctasPerSm << ", "
         << winner.split.minKeysPerSplit << ") (" << best << ", "
         << formatv("{0:F3}", score) << " ms; default " << ms(defaultScore)
         << " ms)\n";
}

/// Spearman's rho of the model against measurement per workload, over the
/// candidates of `ids` that have both times; returns the report's rows.
std::string correlate(const std::vector<tune::Workload> &workloads,
                      const std::vector<std::string> &ids,
                      const Times &modelled, const Times &measured,
                      StringRef what, double &sum, int &count) {
  std::string rows;
  for (const tune::Workload &w : workloads) {
    std::vector<double> m, p;
    for (const std::string &id : ids) {
      auto mi = measured.find(id), pi = modelled.find(id);
      if (mi == measured.end() || pi == modelled.end() ||
          !mi->second.count(w.name) || !pi->second.count(w.name))
        continue;
      m.push_back(mi->second.at(w.name));
      p.push_back(pi->second.at(w.name));
    }
    if (m.empty())
      continue;
    double rho = tune::spearman(m, p);
    if (!std::isnan(rho)) {
      sum += rho;
      ++count;
    }
    rows += "| " + what.str() + " | " + w.name + " | " +
            std::to_string(m.size()) + " | " + formatv("{0:F2}", rho).str() +
            " |\n";
    outs() << "attn-tune: Spearman rho " << formatv("{0:F2}", rho) << " on "
           << w.name << " (" << m.size() << " " << what << ")\n";
  }
  return rows;
}

int ingestOrModel(const tune::TargetLimits &limits) {
  std::string bundleTarget;
  Expected<std::vector<Candidate>> candidates = readBundle(bundleTarget);
  if (!candidates) {
    errs() << "attn-tune: " << toString(candidates.takeError()) << "\n";
    return 1;
  }
  if (bundleTarget != limits.target) {
    errs() << "attn-tune: the bundle is for " << bundleTarget << ", not "
           << limits.target << "\n";
    return 1;
  }
  Expected<std::vector<tune::Workload>> workloads = loadWorkloads();
  if (!workloads) {
    errs() << "attn-tune: " << toString(workloads.takeError()) << "\n";
    return 1;
  }
  std::string path = defaultTablePath();
  Expected<tune::Table> table = tune::readTable(path);
  if (!table) {
    errs() << "attn-tune: " << toString(table.takeError()) << "\n";
    return 1;
  }
  std::optional<Timings> timings;
  if (StringRef file = !ingest.empty() ? ingest : timingsPath; !file.empty()) {
    Expected<Timings> read = readTimings(file);
    if (!read) {
      errs() << "attn-tune: " << toString(read.takeError()) << "\n";
      return 1;
    }
    timings = std::move(*read);
  }
  std::string splitGroup = groupId(tune::splitKernelKey());
  std::string report;
  raw_string_ostream os(report);
  if (!ingest.empty()) {
    os << "# Tuned against untuned, " << limits.target << " on " << timings->gpu
       << " (driver " << timings->driver << "), " << timings->date
       << "\n\n`attn-tune --ingest` over the bundle's " << candidates->size()
       << " candidates; default = today's table before tuning (the baseline "
          "candidate, timed even when pruned), tuned = the fastest unpruned "
          "candidate (geometric mean over the kernel's workloads).\n\n";
    std::map<std::string, std::string> winners = chooseKernels(
        *candidates, *workloads, timings->times, *table, "measured", os);
    // The harness timed the policies with the decode kernel it found fastest,
    // by the same rule.
    std::string kernel = winners.count(splitGroup) ? winners[splitGroup] : "";
    for (const auto &[id, used] : timings->splitKernel)
      if (used != kernel) {
        outs() << "attn-tune: warning: " << id << " was timed with " << used
               << ", not the chosen " << kernel << "\n";
        os << "\nWarning: " << id << " was timed with " << used
           << ", not the chosen " << kernel << ".\n";
        kernel = used;
      }
    chooseSplit(*candidates, *workloads, timings->times, *table, "measured",
                kernel, limits, os);
    table->provenance = {"measured",
                         timings->gpu,
                         timings->driver,
                         timings->date,
                         ATTN_COMPILER_VERSION,
                         "attn-tune --ingest: fastest unpruned candidate per "
                         "kernel over its workloads (CUDA events, median), "
                         "then the fastest split policy with the chosen decode "
                         "kernel; entries with source modelled or default are "
                         "not from this GPU run"};
  } else {
    Times modelled = modelTimes(*candidates, *workloads, limits, table->split);
    os << "# Model ranking, " << limits.target << " (" << limits.modelDevice
       << " figures), " << today()
       << "\n\nTimes are the model's (docs/autotune.md); default = today's "
          "table.\n\n";
    std::map<std::string, std::string> winners = chooseKernels(
        *candidates, *workloads, modelled, *table, "modelled", os);
    // The split policies run with the model's decode kernel, or with the one
    // the harness timed them with when the model is checked against it.
    std::string kernel = winners.count(splitGroup) ? winners[splitGroup] : "";
    if (timings && !timings->splitKernel.empty())
      kernel = timings->splitKernel.begin()->second;
    if (const Candidate *k = findCandidate(*candidates, kernel);
        k && !k->kernels.empty()) {
      modelSplitTimes(*candidates, *k, *workloads, limits, modelled);
      chooseSplit(*candidates, *workloads, modelled, *table, "modelled", kernel,
                  limits, os);
    }
    if (table->provenance.method != "measured")
      table->provenance = {"modelled",
                           limits.modelDevice + " (model figures)",
                           "",
                           today(),
                           ATTN_COMPILER_VERSION,
                           "attn-tune --model: roofline + occupancy model of "
                           "docs/autotune.md over the benchmark workloads; "
                           "other kernels keep the default entries"};
    if (timings) {
      std::vector<std::string> kernelIds, splitIds;
      for (const Candidate &c : *candidates)
        if (c.status == "ok")
          (c.isSplit() ? splitIds : kernelIds).push_back(c.id);
      std::vector<tune::Workload> all;
      for (const Candidate &c : *candidates)
        for (const tune::KernelKey &key : c.keys)
          for (const tune::Workload &w : tune::workloadsFor(*workloads, key))
            if (!llvm::any_of(all, [&](const tune::Workload &x) {
                  return x.name == w.name;
                }))
              all.push_back(w);
      double kernelSum = 0, splitSum = 0;
      int kernelCount = 0, splitCount = 0;
      os << "\n## Model against measurement (" << timings->gpu
         << ")\n\n| candidates | workload | timed | Spearman rho |\n"
            "|---|---|---|---|\n"
         << correlate(all, kernelIds, modelled, timings->times, "kernels",
                      kernelSum, kernelCount)
         << correlate(all, splitIds, modelled, timings->times, "split policies",
                      splitSum, splitCount);
      if (kernelCount)
        outs() << "attn-tune: mean Spearman rho "
               << formatv("{0:F2}", kernelSum / kernelCount) << " over "
               << kernelCount << " workloads (kernels)\n";
      if (splitCount)
        outs() << "attn-tune: mean Spearman rho "
               << formatv("{0:F2}", splitSum / splitCount) << " over "
               << splitCount << " workloads (split policies)\n";
    }
  }
  if (!reportPath.empty() && !writeFile(reportPath, report))
    return 1;
  if (dryRun) {
    outs() << tune::printTable(*table);
    return 0;
  }
  if (Error error = tune::writeTable(path, *table)) {
    errs() << "attn-tune: " << toString(std::move(error)) << "\n";
    return 1;
  }
  outs() << "attn-tune: wrote " << path << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv,
                              "attn-tune: tile and chunk sizes per target\n");
  const tune::TargetLimits *limits = tune::limitsFor(target);
  if (!limits) {
    errs() << "attn-tune: --target must be sm_89 or sm_90, got '" << target
           << "'\n";
    return 1;
  }
  if (space != "gpu" && space != "wide") {
    errs() << "attn-tune: --space must be gpu or wide\n";
    return 1;
  }
  if (!ingest.empty() || model)
    return ingestOrModel(*limits);
  return compileBundle(*limits);
}
