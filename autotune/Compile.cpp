// Compiling a bundle's candidates into packs, with their resources.
#include "autotune/Compile.h"

#include "autotune/Bundle.h"
#include "codegen/Codegen.h"
#include "passes/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

#include <nvJitLink.h>

#include <chrono>

using namespace llvm;

namespace attn::tune {

namespace {

/// nvJitLink with -verbose, so that its info log holds ptxas's resource lines.
Error assembleWithInfo(const std::string &ptx, StringRef arch,
                       std::vector<char> &cubin, std::string &info) {
  std::string archOption = ("-arch=" + arch).str();
  const char *options[] = {archOption.c_str(), "-O3", "-verbose"};
  nvJitLinkHandle handle;
  if (nvJitLinkCreate(&handle, 3, options) != NVJITLINK_SUCCESS)
    return createStringError(inconvertibleErrorCode(),
                             "nvJitLinkCreate failed");
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

attn::KernelSpec specOf(const KernelKey &key, const Knobs &knobs,
                        StringRef target) {
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
  spec.decodeLanes = key.op == "decode" ? knobs.lanes : 0;
  spec.decodeKvHeads = key.op == "decode" ? knobs.kvHeads : 1;
  spec.decodeMma = key.op == "decode" && knobs.mma;
  // As attn-pack builds them: sm_90a's prefill copies K/V tiles by TMA.
  spec.tma = target == "sm_90a";
  return spec;
}

void fail(Candidate &c, std::string reason) {
  c.status = CandidateStatus::Failed;
  c.reason = std::move(reason);
}

/// Compiles the kernel `key` of `c` and records its resources; its PTX (and
/// what the lowering recorded) in `ptxModule`, its cubin in `cubin`. False
/// when it does not compile (`c` failed) or needs more shared memory than a
/// block may have (`c` pruned, not assembled). A decode kernel takes the
/// split policy of its entry in `table`, as attn-pack builds it.
bool compileKernel(mlir::MLIRContext &context, Candidate &c,
                   const KernelKey &key, const TargetLimits &limits,
                   const Table &table, attn::KernelSpec &spec,
                   attn::CompiledModule &ptxModule, std::vector<char> &cubin) {
  spec = specOf(key, c.knobs, limits.target);
  const TableEntry *entry = table.lookup(key);
  if (key.op == "decode" && entry && entry->split) {
    spec.splitCtasPerSm = entry->split->ctasPerSm;
    spec.splitMinKeys = entry->split->minKeysPerSplit;
  }
  auto module = attn::buildProblem(context, spec);
  Expected<attn::CompiledModule> compiled =
      attn::compileToPTX(*module, spec, limits.target);
  std::string info;
  Error error = compiled.takeError();
  // Shared memory the target cannot give a block prunes the candidate before
  // ptxas: the lowering knows it, and the record judges it so when resumed.
  if (!error) {
    KernelResources unassembled;
    unassembled.dynamicSmemBytes = compiled->sharedMemoryBytes.at(spec.name());
    unassembled.threads = spec.blockThreads();
    if (unassembled.dynamicSmemBytes > limits.smemPerBlockOptIn) {
      Verdict verdict =
          checkResources(unassembled, limits, /*maxSpillBytes=*/0);
      c.kernels.push_back({key, spec.name(), unassembled, verdict.blocksPerSm});
      c.status = CandidateStatus::Pruned;
      c.reason = spec.name() + ": " + verdict.reason;
      return false;
    }
  }
  // sm_90a's kernels are always whole programs (codegen/Codegen.h).
  if (!error && (c.knobs.wholeProgram || limits.target == "sm_90a")) {
    // ptxas over the kernel's PTX as a whole program, as attn-pack assembles
    // an entry that asks for it; its -v lines are the resources.
    Expected<std::vector<char>> whole = attn::assembleCubin(
        compiled->ptx, limits.target, /*wholeProgram=*/true, &info);
    if (whole)
      cubin = std::move(*whole);
    else
      error = whole.takeError();
  } else if (!error) {
    error = assembleWithInfo(compiled->ptx, limits.target, cubin, info);
  }
  if (error) {
    // Keep the first line: the lowering's diagnostics went to stderr.
    std::string reason = spec.name() + ": " + toString(std::move(error));
    fail(c, StringRef(reason).split('\n').first.str());
    return false;
  }
  Expected<KernelResources> resources = parsePtxasInfo(info, spec.name());
  if (!resources) {
    fail(c, toString(resources.takeError()));
    return false;
  }
  resources->dynamicSmemBytes = compiled->sharedMemoryBytes.at(spec.name());
  resources->threads = spec.blockThreads();
  if (Expected<InstructionCounts> counts =
          countPtxInstructions(compiled->ptx, spec.name())) {
    resources->kernelInstructions = counts->kernel;
    resources->loopInstructions = counts->kvLoop;
  } else {
    consumeError(counts.takeError());
  }
  c.kernels.push_back({key, spec.name(), *resources, 0});
  ptxModule = std::move(*compiled);
  return true;
}

/// Compiles every kernel of `c`, reads its resources, prunes, and writes its
/// pack <bundle>/<id>/<target>/ in attn-pack's format (docs/runtime_abi.md).
/// Its header carries today's table's split policy, its decode kernels their
/// entries' own.
void compileCandidate(mlir::MLIRContext &context, Candidate &c,
                      const TuneOptions &options, const TargetLimits &limits,
                      const Table &table) {
  const DecodeSplit &split = table.split;
  c.kernels.clear();
  std::string manifest =
      manifestHeader(limits.target, options.compiler, split, c.id);
  SmallString<128> dir(options.bundleDir);
  sys::path::append(dir, c.id);
  // Paths under <bundle>/<id>/, and their bytes.
  std::vector<std::pair<std::string, std::string>> files;
  std::string under = limits.target + "/";
  c.status = CandidateStatus::Ok;
  std::vector<KernelKey> all = c.keys;
  all.insert(all.end(), c.checked.begin(), c.checked.end());
  for (auto [index, key] : llvm::enumerate(all)) {
    attn::KernelSpec spec;
    attn::CompiledModule compiled;
    std::vector<char> cubin;
    if (!compileKernel(context, c, key, limits, table, spec, compiled, cubin))
      return;
    if (index >= c.keys.size())
      continue; // checked, not timed: not in the pack
    std::string stem = spec.name();
    manifest += attn::manifestLines(spec, compiled,
                                    StringRef(cubin.data(), cubin.size()));
    files.push_back({under + stem + ".ptx", compiled.ptx});
    files.push_back(
        {under + stem + ".cubin", std::string(cubin.begin(), cubin.end())});
  }
  judge(c, limits, options);
  if (!c.hasPack())
    return;
  files.push_back({under + "manifest.txt", manifest});
  // The runtime reads sm_90a's kernels over sm_90's manifest
  // (docs/runtime_abi.md): a header without kernels stands for it, since the
  // candidate's kernels are sm_90a's alone.
  if (limits.target == "sm_90a")
    files.push_back({"sm_90/manifest.txt",
                     manifestHeader("sm_90", options.compiler, split, c.id)});
  for (auto &[name, bytes] : files) {
    SmallString<128> path(dir);
    sys::path::append(path, name);
    if (std::error_code ec =
            sys::fs::create_directories(sys::path::parent_path(path)))
      return fail(c, "cannot create " + sys::path::parent_path(path).str() +
                         ": " + ec.message());
    if (Error error = writeFile(path, bytes)) {
      errs() << "attn-tune: " << toString(std::move(error)) << "\n";
      return fail(c, "cannot write " + std::string(path));
    }
  }
}

/// Takes the record <bundle>/<id>/candidate.json of an earlier run in place
/// of compiling `c` again, when it is the same candidate, did not fail, and
/// has the pack the limits now ask for.
bool resume(Candidate &c, StringRef record, const TuneOptions &options,
            const TargetLimits &limits) {
  Expected<json::Value> old = readJson(record);
  if (!old) {
    consumeError(old.takeError());
    return false;
  }
  const json::Object *o = old->getAsObject();
  if (!o)
    return false;
  Expected<Candidate> previous = candidateFromJson(*o);
  if (!previous) {
    consumeError(previous.takeError()); // not resumable: compile it again
    return false;
  }
  if (previous->id != c.id || !(previous->knobs == c.knobs) ||
      previous->checked != c.checked ||
      previous->status == CandidateStatus::Failed)
    return false;
  previous->baseline = c.baseline;
  previous->workloads = c.workloads;
  c = std::move(*previous);
  countFromPack(c, options.bundleDir, limits.target);
  // The limits may have changed since: compile again when the candidate now
  // needs the pack it was not given.
  judge(c, limits, options);
  SmallString<128> manifest(options.bundleDir);
  sys::path::append(manifest, c.id, limits.target, "manifest.txt");
  return !c.hasPack() || sys::fs::exists(manifest);
}

void printProgress(const Candidate &c, size_t i, size_t total, double seconds,
                   bool resumed, raw_ostream &log) {
  log << "[" << (i + 1) << "/" << total << " " << format("%.0f", seconds)
      << " s] " << c.id << ": " << (resumed ? "(resumed) " : "")
      << statusName(c.status);
  if (!c.reason.empty())
    log << " (" << c.reason << ")";
  if (!c.kernels.empty())
    log << " [" << describe(c) << "]";
  if (c.isSplit())
    log << " [split policy (" << c.split.ctasPerSm << ", "
        << c.split.minKeysPerSplit << "), timed with the fastest "
        << groupId(c.keys.front()) << " kernel]";
  if (c.baseline)
    log << " [baseline: today's table]";
  log << "\n";
  log.flush();
}

} // namespace

Error compileBundle(const TuneOptions &options, const TargetLimits &limits,
                    const Table &table, const std::vector<Workload> &workloads,
                    raw_ostream &log) {
  std::vector<Candidate> candidates =
      generateCandidates(options.space, table, workloads);
  if (!options.headDims.empty())
    llvm::erase_if(candidates, [&](const Candidate &c) {
      return !c.isSplit() &&
             !llvm::is_contained(options.headDims, c.keys.front().headDim);
    });
  if (std::error_code ec = sys::fs::create_directories(options.bundleDir))
    return createStringError(ec, "cannot create " + options.bundleDir + ": " +
                                     ec.message());
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
      SmallString<128> record(options.bundleDir);
      sys::path::append(record, c.id, "candidate.json");
      resumed = resume(c, record, options, limits);
      if (!resumed) {
        compileCandidate(context, c, options, limits, table);
        SmallString<128> dir(options.bundleDir);
        sys::path::append(dir, c.id);
        sys::fs::create_directories(dir);
        if (Error error =
                writeFile(record, jsonText(candidateToJson(c, options))))
          return error;
      }
    }
    counts[c.isOk() ? 0 : c.status == CandidateStatus::Pruned ? 1 : 2]++;
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    printProgress(c, i, candidates.size(), seconds, resumed, log);
  }
  if (Error error = writeBundle(candidates, workloads, options))
    return error;
  log << "attn-tune: " << candidates.size() << " candidates for "
      << options.target << " (" << candidates.size() - splits
      << " kernel configurations, " << splits
      << " split policies): " << counts[0] << " ok, " << counts[1]
      << " pruned, " << counts[2] << " failed -> " << options.bundleDir
      << "/candidates.json\n";
  return Error::success();
}

} // namespace attn::tune
