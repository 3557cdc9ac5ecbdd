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

/// One pipeline configuration applied to the kernels of one group (prefill:
/// the packed and the paged kernel of a dtype, D and mask; decode: one kernel).
struct Candidate {
  std::string id;
  std::vector<tune::KernelKey> keys;
  tune::Knobs knobs;
  std::string status = "new"; // ok, pruned, failed
  std::string reason;
  bool baseline = false; // the knobs of today's table: timed even if pruned
  std::vector<KernelRecord> kernels;

  const std::string &op() const { return keys.front().op; }
  bool hasPack() const { return status == "ok" || (baseline && status == "pruned"); }
};

std::string groupId(const tune::KernelKey &key) {
  std::string id = key.op + "_" + key.dtype + "_d" + std::to_string(key.headDim);
  if (key.op == "decode")
    id += "_g" + std::to_string(key.group) + (key.paged ? "_paged" : "_contig");
  return id + (key.causal ? "_causal" : "_full");
}

std::string candidateId(const Candidate &c) {
  const tune::Knobs &k = c.knobs;
  return groupId(c.keys.front()) +
         (c.op() == "prefill" ? "_m" + std::to_string(k.blockM) : "") + "_n" +
         std::to_string(k.blockN) + "_s" + std::to_string(k.stages) + "_t" +
         std::to_string(k.threads);
}

/// The search space: groups of kernel keys and, per op, the knob grid.
std::vector<Candidate> enumerate(StringRef spaceName, const tune::Table &table) {
  bool wide = spaceName == "wide";
  std::vector<std::vector<tune::KernelKey>> groups;
  std::vector<std::string> dtypes = wide ? std::vector<std::string>{"bf16", "f16"}
                                         : std::vector<std::string>{"bf16"};
  std::vector<int64_t> dims = wide ? std::vector<int64_t>{128, 64}
                                   : std::vector<int64_t>{128};
  for (const std::string &dtype : dtypes)
    for (int64_t d : dims) {
      groups.push_back({{"prefill", dtype, d, 0, false, true},
                        {"prefill", dtype, d, 0, true, true}});
      for (int64_t g : wide ? std::vector<int64_t>{1, 2, 4, 8}
                            : std::vector<int64_t>{2})
        groups.push_back({{"decode", dtype, d, g, true, true}});
    }
  std::vector<Candidate> candidates;
  for (const auto &keys : groups) {
    const tune::TableEntry *current = table.lookup(keys.front());
    std::vector<tune::Knobs> grid;
    if (keys.front().op == "prefill") {
      // The lowering keeps 4 warps: block_m = 64 R (R row blocks per warp).
      for (int64_t m : {64, 128})
        for (int64_t n : wide ? std::vector<int64_t>{32, 64, 128}
                              : std::vector<int64_t>{32, 64})
          for (int64_t s : wide ? std::vector<int64_t>{2, 3, 4}
                                : std::vector<int64_t>{2, 3})
            grid.push_back({m, n, s, 128});
    } else {
      for (int64_t t : wide ? std::vector<int64_t>{128, 256}
                            : std::vector<int64_t>{128})
        for (int64_t n : {32, 64, 128})
          for (int64_t s : {2, 3, 4})
            grid.push_back({0, n, s, t});
    }
    for (const tune::Knobs &knobs : grid) {
      Candidate c;
      c.keys = keys;
      c.knobs = knobs;
      c.baseline = current && current->knobs == knobs;
      c.id = candidateId(c);
      candidates.push_back(std::move(c));
    }
  }
  return candidates;
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

json::Value candidateToJson(const Candidate &c) {
  json::Array keys, kernels;
  for (const tune::KernelKey &k : c.keys)
    keys.push_back(keyToJson(k));
  for (const KernelRecord &k : c.kernels) {
    const tune::KernelResources &r = k.resources;
    kernels.push_back(json::Object{
        {"name", k.name},
        {"key", keyToJson(k.key)},
        {"registers", r.registers},
        {"spill_stores", r.spillStoreBytes},
        {"spill_loads", r.spillLoadBytes},
        {"stack", r.stackBytes},
        {"static_smem", r.staticSmemBytes},
        {"dynamic_smem", r.dynamicSmemBytes},
        {"threads", r.threads},
        {"blocks_per_sm", k.blocksPerSm}});
  }
  return json::Object{
      {"id", c.id},
      {"keys", std::move(keys)},
      {"knobs", json::Object{{"block_m", c.knobs.blockM},
                             {"block_n", c.knobs.blockN},
                             {"stages", c.knobs.stages},
                             {"threads", c.knobs.threads}}},
      {"status", c.status},
      {"reason", c.reason},
      {"baseline", c.baseline},
      {"pack", c.hasPack() ? json::Value(c.id) : json::Value(nullptr)},
      {"kernels", std::move(kernels)}};
}

Candidate candidateFromJson(const json::Object &o) {
  Candidate c;
  c.id = o.getString("id").value_or("").str();
  if (const json::Array *keys = o.getArray("keys"))
    for (const json::Value &k : *keys)
      if (const json::Object *ko = k.getAsObject())
        c.keys.push_back(keyFromJson(*ko));
  if (const json::Object *k = o.getObject("knobs"))
    c.knobs = {k->getInteger("block_m").value_or(0),
               k->getInteger("block_n").value_or(0),
               k->getInteger("stages").value_or(0),
               k->getInteger("threads").value_or(0)};
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
      rec.resources = {k->getInteger("registers").value_or(0),
                       k->getInteger("spill_stores").value_or(0),
                       k->getInteger("spill_loads").value_or(0),
                       k->getInteger("stack").value_or(0),
                       k->getInteger("static_smem").value_or(0),
                       k->getInteger("dynamic_smem").value_or(0),
                       k->getInteger("threads").value_or(0)};
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
void compileCandidate(mlir::MLIRContext &context, Candidate &c,
                      const tune::TargetLimits &limits) {
  c.kernels.clear();
  std::string manifest = "attn-pack 1 target=" + limits.target +
                         " compiler=" ATTN_COMPILER_VERSION " tune=" + c.id +
                         "\n";
  SmallString<128> dir(bundleDir);
  sys::path::append(dir, c.id, limits.target);
  std::vector<std::pair<std::string, std::string>> files; // path, bytes
  c.status = "ok";
  for (const tune::KernelKey &key : c.keys) {
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
    tune::Verdict verdict = tune::checkResources(*resources, limits, maxSpillBytes);
    c.kernels.push_back({key, spec.name(), *resources, verdict.blocksPerSm});
    if (!verdict.ok && c.status == "ok") {
      c.status = "pruned";
      c.reason = spec.name() + ": " + verdict.reason;
    }
    std::string stem = spec.name();
    // The module of a decode kernel also holds the combine kernel.
    manifest += attn::manifestLines(spec, *ptx,
                                    StringRef(cubin.data(), cubin.size()),
                                    key.op == "decode");
    files.push_back({stem + ".ptx", *ptx});
    files.push_back({stem + ".cubin", std::string(cubin.begin(), cubin.end())});
  }
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

std::string describe(const Candidate &c) {
  std::string text;
  for (const KernelRecord &k : c.kernels)
    text += (text.empty() ? "" : "; ") + std::to_string(k.resources.registers) +
            " regs, " + std::to_string(k.resources.spillStoreBytes) +
            " B spills, " +
            std::to_string((k.resources.staticSmemBytes +
                            k.resources.dynamicSmemBytes + 1023) / 1024) +
            " KB smem, " + std::to_string(k.blocksPerSm) + " CTAs/SM";
  return text;
}

std::string defaultTablePath() {
  return tablePath.empty()
             ? std::string(ATTN_SOURCE_DIR "/autotune/tables/") + target + ".json"
             : std::string(tablePath);
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
  return candidates;
}

int writeCandidates(const std::vector<Candidate> &candidates) {
  json::Array list;
  for (const Candidate &c : candidates)
    list.push_back(candidateToJson(c));
  json::Object root{{"format", "attn-tune-bundle 1"},
                    {"target", std::string(target)},
                    {"compiler", ATTN_COMPILER_VERSION},
                    {"space", std::string(space)},
                    {"max_spill_bytes", int64_t(maxSpillBytes)},
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
  std::vector<Candidate> candidates = enumerate(space, *table);
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
  for (auto [i, c] : llvm::enumerate(candidates)) {
    SmallString<128> record(bundleDir);
    sys::path::append(record, c.id, "candidate.json");
    bool resumed = false;
    if (Expected<json::Value> old = readJson(record)) {
      if (const json::Object *o = old->getAsObject()) {
        Candidate previous = candidateFromJson(*o);
        if (previous.id == c.id && previous.knobs == c.knobs &&
            previous.status != "failed") {
          previous.baseline = c.baseline;
          c = previous;
          resumed = true;
        }
      }
    } else {
      consumeError(old.takeError());
    }
    if (!resumed) {
      compileCandidate(context, c, limits);
      SmallString<128> dir(bundleDir);
      sys::path::append(dir, c.id);
      sys::fs::create_directories(dir);
      if (!writeFile(record, jsonText(candidateToJson(c))))
        return 1;
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
    if (c.baseline)
      outs() << " [baseline: today's table]";
    outs() << "\n";
    outs().flush();
  }
  if (writeCandidates(candidates))
    return 1;
  outs() << "attn-tune: " << candidates.size() << " candidates for " << target
         << ": " << counts[0] << " ok, " << counts[1] << " pruned, " << counts[2]
         << " failed -> " << bundleDir << "/candidates.json\n";
  return 0;
}

using Times = std::map<std::string, std::map<std::string, double>>;

struct Timings {
  std::string gpu, driver, date;
  Times times;
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
            {}};
  for (const auto &[id, perWorkload] : *times)
    if (const json::Object *o = perWorkload.getAsObject())
      for (const auto &[workload, ms] : *o)
        if (std::optional<double> v = ms.getAsNumber())
          t.times[id.str()][workload.str()] = *v;
  return t;
}

/// The benchmark workloads of `key`, by name.
std::vector<std::string> workloadsOf(const std::vector<tune::Workload> &all,
                                     const tune::KernelKey &key) {
  std::vector<std::string> names;
  for (const tune::Workload &w : all) {
    tune::KernelKey k = w.kernelKey();
    if (k.op == key.op && k.dtype == key.dtype && k.headDim == key.headDim &&
        (k.op != "decode" || k.group == key.group) && k.paged == key.paged &&
        k.causal == key.causal)
      names.push_back(w.name);
  }
  return names;
}

double geomean(const std::map<std::string, double> &times,
               const std::vector<std::string> &names) {
  double logSum = 0;
  for (const std::string &name : names) {
    auto it = times.find(name);
    if (it == times.end() || !(it->second > 0))
      return std::nan("");
    logSum += std::log(it->second);
  }
  return names.empty() ? std::nan("") : std::exp(logSum / names.size());
}

/// Model times of every candidate with resources on every workload.
Times modelTimes(const std::vector<Candidate> &candidates,
                 const std::vector<tune::Workload> &workloads,
                 const tune::TargetLimits &limits, const tune::DecodeSplit &split) {
  Times times;
  for (const Candidate &c : candidates)
    for (const KernelRecord &k : c.kernels)
      for (const tune::Workload &w : workloads)
        if (!workloadsOf({w}, k.key).empty())
          times[c.id][w.name] = tune::modelTimeMs(limits, c.knobs, k.resources,
                                                  k.blocksPerSm, w, split);
  return times;
}

/// Chooses per kernel key and updates the table; returns the report.
std::string choose(const std::vector<Candidate> &candidates,
                   const std::vector<tune::Workload> &workloads,
                   const Times &times, tune::Table &table, StringRef source,
                   const Times *baselineTimes) {
  std::string report;
  raw_string_ostream os(report);
  std::vector<std::pair<tune::KernelKey, std::vector<const Candidate *>>> keys;
  for (const Candidate &c : candidates)
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
  os << "| kernel | workload | default (ms) | tuned (ms) | speed-up | tuned "
        "knobs |\n|---|---|---|---|---|---|\n";
  for (auto &[key, group] : keys) {
    std::vector<std::string> names = workloadsOf(workloads, key);
    std::vector<std::string> ok;
    const Candidate *baseline = nullptr;
    for (const Candidate *c : group) {
      if (c->status == "ok")
        ok.push_back(c->id);
      if (c->baseline)
        baseline = c;
    }
    std::string best = tune::selectFastest(ok, names, times);
    std::string kernelName =
        groupId(key) + (key.op == "prefill" ? (key.paged ? " paged" : " packed")
                                            : "");
    if (best.empty()) {
      outs() << "attn-tune: " << kernelName
             << ": no candidate with a time for each of its "
             << names.size() << " workloads; its entry is left as it was\n";
      continue;
    }
    const Candidate &winner =
        **llvm::find_if(group, [&](const Candidate *c) { return c->id == best; });
    double score = geomean(times.at(best), names);
    tune::TableEntry entry;
    entry.op = key.op;
    entry.dtype = key.dtype;
    entry.headDim = key.headDim;
    if (key.op == "decode")
      entry.group = key.group;
    entry.paged = key.paged;
    entry.causal = key.causal;
    entry.knobs = winner.knobs;
    entry.source = source.str();
    entry.note = best + ": geometric mean " + formatv("{0:F3}", score).str() +
                 " ms over " + std::to_string(names.size()) + " workload(s), " +
                 std::to_string(ok.size()) + " candidates";
    table.upsert(entry);
    outs() << "attn-tune: " << kernelName << " -> " << best << " ("
           << formatv("{0:F3}", score) << " ms)\n";
    const Times &base = baselineTimes ? *baselineTimes : times;
    for (const std::string &name : names) {
      double tuned = times.at(best).at(name);
      double before = std::nan("");
      if (baseline && base.count(baseline->id) &&
          base.at(baseline->id).count(name))
        before = base.at(baseline->id).at(name);
      os << "| " << kernelName << " | " << name << " | "
         << (std::isnan(before) ? std::string("-")
                                : formatv("{0:F3}", before).str())
         << " | " << formatv("{0:F3}", tuned) << " | "
         << (std::isnan(before) ? std::string("-")
                                : formatv("{0:F2}x", before / tuned).str())
         << " | " << best << " |\n";
    }
  }
  return report;
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
  Expected<json::Value> workloadJson = readJson(workloadsPath);
  if (!workloadJson) {
    errs() << "attn-tune: " << toString(workloadJson.takeError()) << "\n";
    return 1;
  }
  std::string workloadText = jsonText(*workloadJson);
  Expected<std::vector<tune::Workload>> workloads =
      tune::parseWorkloads(workloadText);
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
  std::string report;
  if (!ingest.empty()) {
    Expected<Timings> timings = readTimings(ingest);
    if (!timings) {
      errs() << "attn-tune: " << toString(timings.takeError()) << "\n";
      return 1;
    }
    report = "# Tuned against untuned, " + limits.target + " on " +
             timings->gpu + " (driver " + timings->driver + "), " +
             timings->date + "\n\n`attn-tune --ingest` over the bundle's " +
             std::to_string(candidates->size()) +
             " candidates; default = today's table before tuning (the "
             "baseline candidate), tuned = the fastest unpruned candidate "
             "(geometric mean over the kernel's benchmark workloads).\n\n" +
             choose(*candidates, *workloads, timings->times, *table,
                    "measured", nullptr);
    table->provenance = {"measured", timings->gpu, timings->driver,
                         timings->date, ATTN_COMPILER_VERSION,
                         "attn-tune --ingest: fastest unpruned candidate per "
                         "kernel over the benchmark workloads (CUDA events, "
                         "median); other kernels keep the default entries"};
  } else {
    Times modelled = modelTimes(*candidates, *workloads, limits, table->split);
    report = "# Model ranking, " + limits.target + " (" + limits.modelDevice +
             " figures), " + today() + "\n\nTimes are the model's "
             "(docs/autotune.md); default = today's table.\n\n" +
             choose(*candidates, *workloads, modelled, *table, "modelled",
                    nullptr);
    table->provenance = {"modelled", limits.modelDevice + " (model figures)",
                         "", today(), ATTN_COMPILER_VERSION,
                         "attn-tune --model: roofline + occupancy model of "
                         "docs/autotune.md over the benchmark workloads; "
                         "other kernels keep the default entries"};
    if (!timingsPath.empty()) {
      Expected<Timings> timings = readTimings(timingsPath);
      if (!timings) {
        errs() << "attn-tune: " << toString(timings.takeError()) << "\n";
        return 1;
      }
      // Rank correlation per benchmark workload over the candidates timed.
      report += "\n## Model against measurement (" + timings->gpu + ")\n\n"
                "| workload | candidates | Spearman rho |\n|---|---|---|\n";
      double sum = 0;
      int count = 0;
      for (const tune::Workload &w : *workloads) {
        std::vector<double> measured, predicted;
        for (const Candidate &c : *candidates) {
          if (c.status != "ok" || !modelled.count(c.id) ||
              !modelled[c.id].count(w.name) || !timings->times.count(c.id) ||
              !timings->times[c.id].count(w.name))
            continue;
          measured.push_back(timings->times[c.id][w.name]);
          predicted.push_back(modelled[c.id][w.name]);
        }
        double rho = tune::spearman(measured, predicted);
        if (!std::isnan(rho)) {
          sum += rho;
          ++count;
        }
        report += "| " + w.name + " | " + std::to_string(measured.size()) +
                  " | " + formatv("{0:F2}", rho).str() + " |\n";
        outs() << "attn-tune: Spearman rho " << formatv("{0:F2}", rho) << " on "
               << w.name << " (" << measured.size() << " candidates)\n";
      }
      if (count)
        outs() << "attn-tune: mean Spearman rho " << formatv("{0:F2}", sum / count)
               << " over " << count << " workloads\n";
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
