// KernelSpec -> attn module -> PTX (attn-to-ptx) -> cubin (nvJitLink).
#ifndef ATTN_CODEGEN_CODEGEN_H
#define ATTN_CODEGEN_CODEGEN_H

#include "codegen/KernelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace attn {

/// A module holding one function whose body is the attn.paged_decode or
/// attn.varlen_prefill problem the spec describes.
mlir::OwningOpRef<mlir::ModuleOp> buildProblem(mlir::MLIRContext &context,
                                               const KernelSpec &spec);

/// What attn-to-ptx made of a spec's module.
struct CompiledModule {
  std::string ptx;
  /// The dynamic shared memory of each kernel, by name, as the GPU lowering
  /// laid it out and recorded it (attn.shared_memory_bytes).
  std::map<std::string, int64_t> sharedMemoryBytes;
  /// The kernels that take abi::tma's tensor maps (attn.tensor_map_args).
  std::set<std::string> tensorMapKernels;
  /// The combine kernel waits for its split kernel by griddepcontrol
  /// (attn-lower-to-gpu's dependent-launch, the target's).
  bool dependentLaunch = false;
};

/// Runs attn-to-ptx on `module` for `target` (sm_89, sm_90); returns the PTX
/// and what the lowering recorded on its kernels.
llvm::Expected<CompiledModule> compileToPTX(mlir::ModuleOp module,
                                            const KernelSpec &spec,
                                            const std::string &target);

/// The manifest line of `spec`'s kernel, whose files are <name>.ptx and
/// <name>.cubin holding `compiled.ptx` and `cubin` (docs/runtime_abi.md,
/// with the content hash; an empty `cubin` is left out); also the line of
/// the combine kernel that every module holds.
std::string manifestLines(const KernelSpec &spec,
                          const CompiledModule &compiled,
                          llvm::StringRef cubin);

/// Assembles PTX into a cubin for `target`: with nvJitLink (relocatable
/// code), or with ptxas as a whole program where `wholeProgram` asks (the
/// tuning table's "assembly") and always for an arch-specific target
/// (sm_90a: in relocatable code ptxas serialises every wgmma.mma_async); a
/// wgmma that ptxas still serialises is an error. `ptxasLog`, where given,
/// receives ptxas's `-v` lines of a whole-program assembly (its resource
/// lines: attn-tune reads them).
llvm::Expected<std::vector<char>>
assembleCubin(const std::string &ptx, const std::string &target,
              bool wholeProgram = false, std::string *ptxasLog = nullptr);

} // namespace attn

#endif // ATTN_CODEGEN_CODEGEN_H
