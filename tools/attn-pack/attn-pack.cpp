// attn-pack: compiles every kernel the pack ships, for sm_89 and sm_90, into
// <out>/<target>/{manifest.txt, <kernel>.ptx, <kernel>.cubin}, tiled as the
// tuning tables autotune/tables/<target>.json say; and for sm_80 PTX only,
// which the driver JIT-compiles on the sm_80 to sm_88 GPUs (A100, RTX 30),
// tiled like sm_89 (the same 99 KB of shared memory per block on sm_86).
// sm_90a holds the wgmma prefill kernels only: the runtime takes the rest
// from sm_90.
#include "abi/manifest.h"
#include "autotune/Resources.h"
#include "autotune/Tuning.h"
#include "codegen/Codegen.h"
#include "passes/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace llvm;

static cl::opt<std::string> outputDir("o", cl::desc("Pack directory"),
                                      cl::init("attn_pack"));
static cl::list<std::string>
    targets("target", cl::desc("sm_80, sm_89, sm_90, sm_90a (default: all)"),
            cl::CommaSeparated);
static cl::list<int64_t>
    headDims("head-dims",
             cl::desc("Head dims to build (default: all the pack ships)"),
             cl::CommaSeparated);
static cl::opt<std::string>
    tablesDir("tables",
              cl::desc("Directory of the tuning tables <target>.json"),
              cl::init(ATTN_SOURCE_DIR "/autotune/tables"));
// Overrides of the tables' prefill tiling, for sweeps (0: from the table).
static cl::opt<unsigned>
    numJobs("j", cl::desc("Targets built at once (default: the cores)"),
            cl::init(0));
static cl::opt<int64_t> prefillBlockM("prefill-block-m",
                                      cl::desc("Query rows per prefill CTA"),
                                      cl::init(0));
static cl::opt<int64_t> prefillBlockN("prefill-block-n",
                                      cl::desc("Keys per prefill KV tile"),
                                      cl::init(0));
static cl::opt<int64_t> prefillStages("prefill-stages",
                                      cl::desc("Prefill cp.async stages"),
                                      cl::init(0));
static cl::opt<bool>
    tmaPrefill("tma",
               cl::desc("sm_90a: prefill kernels copy whole K/V tiles by TMA "
                        "(manifest tma=1; default on; --tma=false builds the "
                        "cp.async producer, for an A/B)"),
               cl::init(true));

namespace {

/// The head dims the pack ships (docs/runtime_abi.md).
constexpr int64_t kPackHeadDims[] = {32, 64, 80, 96, 128, 160, 192, 256};

/// Rows of a causal decode kernel that folds query tokens (G x F = 8, the
/// rows of the G 8 kernel, whose tuning it takes).
constexpr int64_t kFoldRows = 8;

/// The variants the pack ships: decode kernels specialised per group size
/// (and, causal, folding 8 / G tokens where G < 8) and one for every group
/// size (group 0), prefill kernels for every group size; causal and not;
/// then the local kernels.
std::vector<attn::KernelSpec> packSpecs(ArrayRef<int64_t> dims) {
  std::vector<attn::KernelSpec> specs;
  for (const char *dtype : {"f16", "bf16"})
    for (int64_t headDim : dims)
      for (bool paged : {false, true})
        for (bool causal : {true, false}) {
          for (int64_t group : {1, 2, 4, 8, 0}) {
            attn::KernelSpec spec;
            spec.dtype = dtype;
            spec.headDim = headDim;
            spec.group = group;
            spec.paged = paged;
            spec.causal = causal;
            specs.push_back(spec);
            // Speculative decoding (Lq > 1, causal): G < 8 folds 8 / G
            // tokens into a CTA of 8 rows, so K/V is read once for them.
            if (causal && group > 0 && group < kFoldRows) {
              spec.tokensPerCta = kFoldRows / group;
              specs.push_back(spec);
            }
          }
          attn::KernelSpec spec;
          spec.op = attn::KernelSpec::Op::Prefill;
          spec.dtype = dtype;
          spec.headDim = headDim;
          spec.paged = paged;
          spec.causal = causal;
          specs.push_back(spec);
        }
  // Local kernels (sliding window, softcap; causal as the window's right
  // bound 0): decode specialised per group size and for any (the any-group
  // kernel computes blockM rows whatever G is: at G = 2 it ran 3.3x slower
  // than the G = 2 kernel on an H200), and prefill.
  for (const char *dtype : {"f16", "bf16"})
    for (int64_t headDim : dims)
      for (bool paged : {false, true})
        for (int64_t group : {1, 2, 4, 8, 0, -1}) {
          attn::KernelSpec spec;
          if (group < 0)
            spec.op = attn::KernelSpec::Op::Prefill;
          spec.dtype = dtype;
          spec.headDim = headDim;
          spec.group = std::max<int64_t>(group, 0);
          spec.paged = paged;
          spec.causal = false;
          spec.local = true;
          specs.push_back(spec);
        }
  return specs;
}

/// The kernels of `target` among `specs`: sm_90a's are the wgmma prefill
/// kernels (every head dim).
std::vector<attn::KernelSpec> targetSpecs(const std::string &target,
                                          std::vector<attn::KernelSpec> specs) {
  if (target != "sm_90a")
    return specs;
  llvm::erase_if(specs, [](const attn::KernelSpec &spec) {
    return spec.op != attn::KernelSpec::Op::Prefill;
  });
  for (attn::KernelSpec &spec : specs)
    spec.tma = tmaPrefill;
  return specs;
}

/// Sets the knobs of `spec` from the most specific entry of `table`.
bool applyTable(const attn::tune::Table &table, attn::KernelSpec &spec) {
  // A local kernel takes the tuning of the causal one of its shape: its
  // windows and causal calls mask on the diagonal as that one does. A
  // kernel folding tokens takes that of the group of its rows.
  attn::tune::KernelKey key{spec.opName(), spec.dtype,
                            spec.headDim,  spec.group * spec.tokensPerCta,
                            spec.paged,    spec.causal || spec.local};
  const attn::tune::TableEntry *entry = table.lookup(key);
  if (!entry) {
    errs() << "attn-pack: the " << table.target << " tuning table has no entry "
           << "for " << spec.name() << " (and no default entry for op "
           << spec.opName() << ")\n";
    return false;
  }
  if (spec.op == attn::KernelSpec::Op::Prefill)
    spec.blockM = entry->knobs.blockM;
  else if (spec.group == 0) // heads per CTA of the any-group decode kernel
    spec.blockM = entry->knobs.blockM > 0 ? entry->knobs.blockM
                                          : attn::KernelSpec::kAnyGroupHeads;
  spec.blockN = entry->knobs.blockN;
  spec.stages = entry->knobs.stages;
  spec.threads = entry->knobs.threads;
  spec.wholeProgram = entry->knobs.wholeProgram;
  if (spec.op == attn::KernelSpec::Op::Decode) {
    spec.decodeLanes = entry->knobs.lanes;
    // KV heads a CTA: for the kernels specialised on G, one token a CTA.
    if (spec.group != 0 && spec.tokensPerCta == 1)
      spec.decodeKvHeads = entry->knobs.kvHeads;
    // Tensor cores: for the kernels specialised on G (the folded ones too).
    if (spec.group != 0)
      spec.decodeMma = entry->knobs.mma;
    if (entry->split) {
      spec.splitCtasPerSm = entry->split->ctasPerSm;
      spec.splitMinKeys = entry->split->minKeysPerSplit;
    }
  }
  if (spec.op == attn::KernelSpec::Op::Prefill) {
    if (prefillBlockM)
      spec.blockM = prefillBlockM;
    if (prefillBlockN)
      spec.blockN = prefillBlockN;
    if (prefillStages)
      spec.stages = prefillStages;
  }
  return true;
}

bool writeFile(const std::string &path, StringRef bytes) {
  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec) {
    errs() << "attn-pack: cannot write " << path << ": " << ec.message()
           << "\n";
    return false;
  }
  os << bytes;
  return true;
}

/// Builds the pack of one target into <out>/<target>, in its own context
/// (targets build on threads of their own); sets *numKernels.
/// Serialises the progress lines of the targets' threads.
std::mutex outputMutex;
/// Serialises nvJitLink, which is not safe to call from two threads at once
/// (two concurrent links corrupted the heap).
std::mutex linkMutex;

bool buildTarget(const mlir::DialectRegistry &registry,
                 const std::string &target, ArrayRef<int64_t> dims,
                 size_t *numKernels) {
  mlir::MLIRContext context(registry, mlir::MLIRContext::Threading::DISABLED);
  context.loadAllAvailableDialects();
  // sm_80 ships PTX only, tiled by the sm_89 table.
  bool ptxOnly = target == "sm_80";
  std::string tableTarget = ptxOnly ? "sm_89" : target;
  SmallString<128> tablePath(tablesDir);
  sys::path::append(tablePath, tableTarget + ".json");
  Expected<attn::tune::Table> table = attn::tune::readTable(tablePath);
  if (!table) {
    errs() << "attn-pack: " << toString(table.takeError()) << "\n";
    return false;
  }
  if (table->target != tableTarget) {
    errs() << "attn-pack: " << tablePath << " is the table of " << table->target
           << ", not " << target << "\n";
    return false;
  }
  std::vector<attn::KernelSpec> specs = targetSpecs(target, packSpecs(dims));
  for (attn::KernelSpec &spec : specs)
    if (!applyTable(*table, spec))
      return false;
  *numKernels = specs.size();
  SmallString<128> dir(outputDir);
  sys::path::append(dir, target);
  if (std::error_code ec = sys::fs::create_directories(dir)) {
    errs() << "attn-pack: cannot create " << dir << ": " << ec.message()
           << "\n";
    return false;
  }
  // The header carries the pack's version (attn_get_pack_info reads it)
  // and the table's split-KV heuristic for the runtime.
  std::string manifest = attn::abi::manifestHeader(
      target, ATTN_COMPILER_VERSION, ATTN_VERSION,
      {int(table->split.ctasPerSm), int(table->split.minKeysPerSplit)});
  for (auto [i, spec] : llvm::enumerate(specs)) {
    std::unique_lock<std::mutex> lock(outputMutex);
    outs() << "[" << target << " " << (i + 1) << "/" << specs.size() << "] "
           << spec.name() << "\n";
    outs().flush();
    lock.unlock();
    auto module = attn::buildProblem(context, spec);
    Expected<attn::CompiledModule> compiled =
        attn::compileToPTX(*module, spec, target);
    if (!compiled) {
      errs() << "attn-pack: " << toString(compiled.takeError()) << "\n";
      return false;
    }
    // A kernel the target's GPUs cannot give its shared memory would be
    // refused at every launch: refuse it here.
    if (const attn::tune::TargetLimits *limits =
            attn::tune::limitsFor(tableTarget))
      for (const auto &[kernel, bytes] : compiled->sharedMemoryBytes)
        if (bytes > limits->smemPerBlockOptIn) {
          errs() << "attn-pack: " << kernel << " (" << target << ") needs "
                 << bytes << " bytes of shared memory, more than the "
                 << limits->smemPerBlockOptIn
                 << " a block may have; lower its block_n or stages\n";
          return false;
        }
    std::vector<char> cubin;
    if (!ptxOnly) {
      std::unique_lock<std::mutex> linkLock(linkMutex);
      Expected<std::vector<char>> assembled =
          attn::assembleCubin(compiled->ptx, target, spec.wholeProgram);
      linkLock.unlock();
      if (!assembled) {
        errs() << "attn-pack: " << toString(assembled.takeError()) << "\n";
        return false;
      }
      cubin = std::move(*assembled);
    }
    std::string stem = spec.name();
    SmallString<128> ptxPath(dir), cubinPath(dir);
    sys::path::append(ptxPath, stem + ".ptx");
    sys::path::append(cubinPath, stem + ".cubin");
    if (!writeFile(std::string(ptxPath), compiled->ptx) ||
        (!ptxOnly && !writeFile(std::string(cubinPath),
                                StringRef(cubin.data(), cubin.size()))))
      return false;
    manifest += attn::manifestLines(spec, *compiled,
                                    StringRef(cubin.data(), cubin.size()));
  }
  SmallString<128> manifestPath(dir);
  sys::path::append(manifestPath, "manifest.txt");
  if (!writeFile(std::string(manifestPath), manifest))
    return false;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  cl::ParseCommandLineOptions(argc, argv, "attn-pack: build the kernel pack\n");
  std::vector<std::string> targetList(targets.begin(), targets.end());
  if (targetList.empty())
    targetList = {"sm_80", "sm_89", "sm_90", "sm_90a"};
  for (const std::string &target : targetList)
    if (target != "sm_80" && target != "sm_89" && target != "sm_90" &&
        target != "sm_90a") {
      errs() << "attn-pack: --target must be sm_80, sm_89, sm_90 or sm_90a, "
             << "got '" << target << "'\n";
      return 1;
    }
  std::vector<int64_t> dims(headDims.begin(), headDims.end());
  if (dims.empty())
    dims.assign(std::begin(kPackHeadDims), std::end(kPackHeadDims));
  for (int64_t d : dims)
    if (!llvm::is_contained(kPackHeadDims, d)) {
      errs() << "attn-pack: --head-dims: " << d << " is not a head dim the "
             << "pack ships (32, 64, 80, 96, 128, 160, 192, 256)\n";
      return 1;
    }
  // Targets build in parallel on `jobs` threads, each taking the next
  // target left (each target its own context; its kernels, and so the pack,
  // are the same either way). sm_80 (PTX only, the fastest) goes last.
  // Registration writes the global pass registry: once, before the threads,
  // which only read the registry (registering from every thread corrupted
  // the heap).
  mlir::DialectRegistry registry;
  mlir::attn::registerAttnDialectsAndPasses(registry);
  unsigned jobs = numJobs ? unsigned(numJobs)
                          : std::max(1u, std::thread::hardware_concurrency());
  std::stable_partition(targetList.begin(), targetList.end(),
                        [](const std::string &t) { return t != "sm_80"; });
  auto start = std::chrono::steady_clock::now();
  std::vector<size_t> counts(targetList.size(), 0);
  std::vector<char> ok(targetList.size(), 0);
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < std::min<size_t>(jobs, targetList.size()); ++t)
    threads.emplace_back([&] {
      for (size_t i = next++; i < targetList.size(); i = next++)
        ok[i] = buildTarget(registry, targetList[i], dims, &counts[i]);
    });
  for (std::thread &thread : threads)
    thread.join();
  if (llvm::is_contained(ok, 0))
    return 1;
  size_t numKernels = 0;
  for (size_t count : counts)
    numKernels += count;
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  outs() << "attn-pack: " << numKernels << " kernels in "
         << format("%.1f", seconds) << " s -> " << outputDir << "\n";
  return 0;
}
