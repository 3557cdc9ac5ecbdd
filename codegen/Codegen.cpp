// Building the problem module, compiling it to PTX, assembling cubins.
#include "codegen/Codegen.h"
#include "abi/kernel_params.h"
#include "abi/manifest.h"

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <nvJitLink.h>

using namespace mlir;

namespace attn {

namespace {

/// A local kernel's problem takes its window bounds and softcap as function
/// arguments (index, index, f32), after the tensors.
void appendLocalTypes(OpBuilder &b, const KernelSpec &spec,
                      SmallVectorImpl<Type> &args) {
  if (spec.local)
    args.append({b.getIndexType(), b.getIndexType(), b.getF32Type()});
}
std::pair<SmallVector<Value>, Value>
localArguments(const KernelSpec &spec, Block *entry, unsigned next) {
  if (!spec.local)
    return {{}, Value()};
  return {{entry->getArgument(next), entry->getArgument(next + 1)},
          entry->getArgument(next + 2)};
}

OwningOpRef<ModuleOp> buildDecodeProblem(MLIRContext &context,
                                         const KernelSpec &spec) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  int64_t dyn = ShapedType::kDynamic;
  // The kernel is specialised on G (or, with group 0, serves every G with
  // blockM heads per CTA: the problem is written with G = blockM and
  // attn-gqa-broadcast's heads-per-cta reads G at run time). The head counts
  // are launch parameters, so the problem is written with one KV head. The
  // scale is 1: the softmax_scale kernel parameter multiplies it at run time.
  Type elt = spec.dtype == "f16" ? Type(b.getF16Type()) : b.getBF16Type();
  int64_t hkv = 1, hq = spec.group ? spec.group : spec.blockM;
  auto qType = MemRefType::get({dyn, dyn, hq, spec.headDim}, elt);
  auto cacheType = MemRefType::get({dyn, dyn, hkv, spec.headDim}, elt);
  auto lensType = MemRefType::get({dyn}, b.getI32Type());
  auto tableType = MemRefType::get({dyn, dyn}, b.getI32Type());
  SmallVector<Type> args{qType, cacheType, cacheType, lensType};
  if (spec.paged)
    args.push_back(tableType);
  args.push_back(qType);
  // lse [B, Hq, Lq]: the kernel writes it when the launch passes a non-null
  // pointer.
  args.push_back(MemRefType::get({dyn, hq, dyn}, b.getF32Type()));
  appendLocalTypes(b, spec, args);
  b.setInsertionPointToEnd(module->getBody());
  auto func =
      func::FuncOp::create(b, loc, spec.name(), b.getFunctionType(args, {}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  unsigned next = 0;
  Value q = entry->getArgument(next++), k = entry->getArgument(next++);
  Value v = entry->getArgument(next++), lens = entry->getArgument(next++);
  Value table = spec.paged ? entry->getArgument(next++) : Value();
  Value out = entry->getArgument(next++);
  Value lse = entry->getArgument(next++);
  auto [window, softcap] = localArguments(spec, entry, next);
  mlir::attn::PagedDecodeOp::create(
      b, loc, q, k, v, lens, table, out, lse, window, softcap,
      b.getI64IntegerAttr(hq), b.getI64IntegerAttr(hkv),
      b.getI64IntegerAttr(spec.headDim), b.getBoolAttr(spec.causal),
      b.getF32FloatAttr(1.0f), b.getI64IntegerAttr(spec.paged ? -1 : 0));
  func::ReturnOp::create(b, loc);
  return module;
}

OwningOpRef<ModuleOp> buildPrefillProblem(MLIRContext &context,
                                          const KernelSpec &spec) {
  OpBuilder b(&context);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  int64_t dyn = ShapedType::kDynamic;
  // One head each: the kernel maps query heads onto KV heads with the
  // launch's head counts (attn.kv_head), so it serves every group size. The
  // scale is 1, as for decode.
  Type elt = spec.dtype == "f16" ? Type(b.getF16Type()) : b.getBF16Type();
  auto qType = MemRefType::get({dyn, 1, spec.headDim}, elt);
  auto kvType = spec.paged ? MemRefType::get({dyn, dyn, 1, spec.headDim}, elt)
                           : MemRefType::get({dyn, 1, spec.headDim}, elt);
  auto cuType = MemRefType::get({dyn}, b.getI32Type());
  SmallVector<Type> args{qType, kvType, kvType, cuType, cuType};
  if (spec.paged)
    args.push_back(MemRefType::get({dyn, dyn}, b.getI32Type()));
  args.push_back(qType);
  args.push_back(MemRefType::get({1, dyn}, b.getF32Type())); // lse [Hq, T]
  appendLocalTypes(b, spec, args);
  b.setInsertionPointToEnd(module->getBody());
  auto func =
      func::FuncOp::create(b, loc, spec.name(), b.getFunctionType(args, {}));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);
  unsigned next = 0;
  Value q = entry->getArgument(next++), k = entry->getArgument(next++);
  Value v = entry->getArgument(next++), cuQ = entry->getArgument(next++);
  Value cuK = entry->getArgument(next++);
  Value table = spec.paged ? entry->getArgument(next++) : Value();
  Value out = entry->getArgument(next++);
  Value lse = entry->getArgument(next++);
  auto [window, softcap] = localArguments(spec, entry, next);
  mlir::attn::VarlenPrefillOp::create(
      b, loc, q, k, v, cuQ, cuK, table, out, lse, window, softcap,
      b.getI64IntegerAttr(1), b.getI64IntegerAttr(1),
      b.getI64IntegerAttr(spec.headDim), b.getBoolAttr(spec.causal),
      b.getF32FloatAttr(1.0f), b.getI64IntegerAttr(spec.paged ? -1 : 0));
  func::ReturnOp::create(b, loc);
  return module;
}

} // namespace

OwningOpRef<ModuleOp> buildProblem(MLIRContext &context,
                                   const KernelSpec &spec) {
  return spec.op == KernelSpec::Op::Decode ? buildDecodeProblem(context, spec)
                                           : buildPrefillProblem(context, spec);
}

llvm::Expected<CompiledModule> compileToPTX(ModuleOp module,
                                            const KernelSpec &spec,
                                            const std::string &target) {
  mlir::attn::AttnPipelineOptions options;
  options.target = target;
  if (spec.op == KernelSpec::Op::Prefill)
    options.blockM = spec.blockM;
  else if (spec.group == 0)
    options.headsPerCta = spec.blockM;
  else
    options.tokensPerCta = spec.tokensPerCta;
  options.blockN = spec.blockN;
  options.stages = spec.stages;
  options.threads = spec.threads;
  options.tma = spec.tma;
  if (spec.op == KernelSpec::Op::Decode) {
    options.decodeLanes = spec.decodeLanes;
    options.decodeKvHeads = spec.decodeKvHeads;
    options.decodeMma = spec.decodeMma;
  }
  // attn-to-ptx in its two parts, to read what the lowering recorded on the
  // kernels before the gpu.module becomes a binary.
  PassManager toKernels(module.getContext()), toPTX(module.getContext());
  mlir::attn::buildAttnToGpuKernelsPipeline(toKernels, options);
  mlir::attn::buildAttnGpuKernelsToPTXPipeline(toPTX, options);
  auto failure = [&] {
    return llvm::createStringError("attn-to-ptx failed for " + spec.name() +
                                   " (" + target + ")");
  };
  if (failed(toKernels.run(module)))
    return failure();
  CompiledModule compiled;
  compiled.dependentLaunch = mlir::attn::dependentLaunchTarget(target);
  auto smem =
      mlir::attn::AttnDialect::SharedMemoryBytesAttrHelper(module.getContext());
  auto maps =
      mlir::attn::AttnDialect::TensorMapArgsAttrHelper(module.getContext());
  module.walk([&](gpu::GPUFuncOp kernel) {
    if (IntegerAttr bytes = smem.getAttr(kernel))
      compiled.sharedMemoryBytes[kernel.getName().str()] = bytes.getInt();
    if (maps.getAttr(kernel))
      compiled.tensorMapKernels.insert(kernel.getName().str());
  });
  for (const std::string &kernel : {spec.name(), spec.name() + "_combine"})
    if (!compiled.sharedMemoryBytes.count(kernel))
      return llvm::createStringError("attn-lower-to-gpu recorded no " + kernel +
                                     " kernel");
  if (failed(toPTX.run(module)))
    return failure();
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute object : binary.getObjects())
      compiled.ptx = cast<gpu::ObjectAttr>(object).getObject().str();
  });
  if (compiled.ptx.empty())
    return llvm::createStringError("no PTX produced for " + spec.name());
  return compiled;
}

// " key=value", the manifest's token (abi/manifest.h).
static std::string kv(const char *key, const std::string &value) {
  return std::string(" ") + key + "=" + value;
}
static std::string kv(const char *key, int64_t value) {
  return kv(key, std::to_string(value));
}

std::string manifestLines(const KernelSpec &spec,
                          const CompiledModule &compiled,
                          llvm::StringRef cubin) {
  namespace key = abi::key;
  std::string stem = spec.name();
  llvm::StringRef ptx = compiled.ptx;
  // What the lowering recorded (compileToPTX checks that it did).
  auto smem = [&](const std::string &kernel) {
    auto found = compiled.sharedMemoryBytes.find(kernel);
    return found == compiled.sharedMemoryBytes.end() ? int64_t{-1}
                                                     : found->second;
  };
  uint64_t hash = abi::fnv1a(cubin.data(), cubin.size(),
                             abi::fnv1a(ptx.data(), ptx.size()));
  // No cubin: a PTX-only target (the driver JIT-compiles it).
  std::string files =
      kv(key::kPtx, stem + ".ptx") +
      (cubin.empty() ? "" : kv(key::kCubin, stem + ".cubin")) +
      kv(key::kHash, llvm::utohexstr(hash, /*LowerCase=*/true, 16)) + "\n";
  bool decode = spec.op == KernelSpec::Op::Decode;
  std::string lines =
      std::string(key::kName) + "=" + stem + kv(key::kOp, spec.opName()) +
      kv(key::kDtype, spec.dtype) + kv(key::kHeadDim, spec.headDim) +
      kv(key::kGroup, decode ? spec.group : 0) + kv(key::kPaged, spec.paged) +
      kv(key::kCausal, spec.causal) +
      (spec.local ? kv(key::kLocal, 1) : std::string()) +
      (decode && spec.tokensPerCta > 1 ? kv(key::kTokens, spec.tokensPerCta)
                                       : std::string()) +
      (decode && spec.decodeKvHeads > 1 ? kv(key::kKvHeads, spec.decodeKvHeads)
                                        : std::string()) +
      (decode && spec.splitCtasPerSm > 0
           ? kv(key::kSplitCtasPerSm, spec.splitCtasPerSm) +
                 kv(key::kSplitMinKeys, spec.splitMinKeys)
           : std::string()) +
      (compiled.tensorMapKernels.count(stem) ? kv(key::kTma, 1)
                                             : std::string()) +
      kv(key::kBlockM, spec.rowsPerCta()) + kv(key::kBlockN, spec.blockN) +
      kv(key::kStages, spec.stages) + kv(key::kThreads, spec.blockThreads()) +
      kv(key::kSmem, smem(stem)) + files;
  // Every kernel's module also holds the combine kernel of its splits.
  lines += std::string(key::kName) + "=" + stem + "_combine" +
           kv(key::kOp, "combine") + kv(key::kDtype, spec.dtype) +
           kv(key::kHeadDim, spec.headDim) + kv(key::kFor, stem) +
           kv(key::kThreads, abi::combineThreads(spec.headDim)) +
           kv(key::kSmem, smem(stem + "_combine")) +
           (compiled.dependentLaunch ? kv(key::kDependentLaunch, 1)
                                     : std::string()) +
           files;
  return lines;
}

static std::string jitLinkLog(nvJitLinkHandle handle) {
  size_t size = 0;
  if (nvJitLinkGetErrorLogSize(handle, &size) != NVJITLINK_SUCCESS || !size)
    return "";
  std::string log(size, '\0');
  nvJitLinkGetErrorLog(handle, log.data());
  return log;
}

/// ptxas over `ptx` as a whole program (no --compile-only): the wgmma
/// pipeline's instructions stay back to back. nvJitLink cannot do this: it
/// assembles PTX as relocatable code, where ptxas waits after every
/// wgmma.mma_async ("serialized due to the presence of Extern calls",
/// C7509): one HGMMA in flight at a time.
static llvm::Expected<std::vector<char>>
assembleWholeProgram(const std::string &ptx, const std::string &target,
                     std::string *ptxasLog) {
  using namespace llvm;
  SmallString<128> ptxPath, cubinPath, logPath;
  for (auto [path, suffix] :
       {std::pair{&ptxPath, "ptx"}, std::pair{&cubinPath, "cubin"},
        std::pair{&logPath, "log"}})
    if (std::error_code ec =
            sys::fs::createTemporaryFile("attn-ptxas", suffix, *path))
      return createStringError("ptxas: cannot create a temporary file: " +
                               ec.message());
  llvm::scope_exit cleanup([&] {
    for (StringRef path : {ptxPath.str(), cubinPath.str(), logPath.str()})
      sys::fs::remove(path);
  });
  {
    std::error_code ec;
    raw_fd_ostream out(ptxPath, ec);
    if (ec)
      return createStringError("ptxas: cannot write " + ptxPath + ": " +
                               ec.message());
    out << ptx;
  }
  std::string arch = "-arch=" + target;
  SmallVector<StringRef> args = {ATTN_PTXAS, arch, "-O3",    "-v",
                                 ptxPath,    "-o", cubinPath};
  std::optional<StringRef> redirects[] = {std::nullopt, logPath.str(),
                                          logPath.str()};
  std::string error;
  int rc = sys::ExecuteAndWait(ATTN_PTXAS, args, std::nullopt, redirects,
                               /*SecondsToWait=*/0, /*MemoryLimit=*/0, &error);
  ErrorOr<std::unique_ptr<MemoryBuffer>> log = MemoryBuffer::getFile(logPath);
  std::string logText = log ? (*log)->getBuffer().str() : "";
  if (ptxasLog)
    *ptxasLog = logText;
  if (rc != 0)
    return createStringError("ptxas (" + target + ") failed: " + error + " " +
                             logText);
  if (StringRef(logText).contains("wgmma.mma_async instructions are "
                                  "serialized"))
    return createStringError("ptxas (" + target +
                             ") serialises the wgmma pipeline: " + logText);
  ErrorOr<std::unique_ptr<MemoryBuffer>> cubin =
      MemoryBuffer::getFile(cubinPath, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!cubin)
    return createStringError("ptxas: cannot read " + cubinPath);
  StringRef bytes = (*cubin)->getBuffer();
  return std::vector<char>(bytes.begin(), bytes.end());
}

llvm::Expected<std::vector<char>> assembleCubin(const std::string &ptx,
                                                const std::string &target,
                                                bool wholeProgram,
                                                std::string *ptxasLog) {
  if (wholeProgram || llvm::StringRef(target).ends_with("a"))
    return assembleWholeProgram(ptx, target, ptxasLog);
  std::string arch = "-arch=" + target;
  const char *options[] = {arch.c_str(), "-O3"};
  nvJitLinkHandle handle;
  if (nvJitLinkCreate(&handle, 2, options) != NVJITLINK_SUCCESS)
    return llvm::createStringError("nvJitLinkCreate failed for " + target);
  auto fail = [&](const char *what) {
    std::string log = jitLinkLog(handle);
    nvJitLinkDestroy(&handle);
    return llvm::createStringError(std::string(what) + " (" + target +
                                   "): " + log);
  };
  if (nvJitLinkAddData(handle, NVJITLINK_INPUT_PTX, ptx.data(), ptx.size(),
                       "attn.ptx") != NVJITLINK_SUCCESS)
    return fail("nvJitLinkAddData");
  if (nvJitLinkComplete(handle) != NVJITLINK_SUCCESS)
    return fail("nvJitLinkComplete");
  size_t size = 0;
  if (nvJitLinkGetLinkedCubinSize(handle, &size) != NVJITLINK_SUCCESS)
    return fail("nvJitLinkGetLinkedCubinSize");
  std::vector<char> cubin(size);
  if (nvJitLinkGetLinkedCubin(handle, cubin.data()) != NVJITLINK_SUCCESS)
    return fail("nvJitLinkGetLinkedCubin");
  nvJitLinkDestroy(&handle);
  return cubin;
}

} // namespace attn
