// KernelSpec -> attn module -> PTX (attn-to-ptx) -> cubin (nvJitLink).
#ifndef ATTN_CODEGEN_CODEGEN_H
#define ATTN_CODEGEN_CODEGEN_H

#include "codegen/KernelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace attn {

/// A module holding one function whose body is the attn.paged_decode or
/// attn.varlen_prefill problem the spec describes.
mlir::OwningOpRef<mlir::ModuleOp> buildProblem(mlir::MLIRContext &context,
                                               const KernelSpec &spec);

/// Runs attn-to-ptx on `module` for `target` (sm_89, sm_90); returns the PTX.
llvm::Expected<std::string> compileToPTX(mlir::ModuleOp module,
                                         const KernelSpec &spec,
                                         const std::string &target);

/// The manifest line of `spec`'s kernel, whose files are <name>.ptx and
/// <name>.cubin holding `ptx` and `cubin` (docs/runtime_abi.md, with the
/// content hash; an empty `cubin` is left out); for decode, also the line of
/// the combine kernel that every decode module holds.
std::string manifestLines(const KernelSpec &spec, llvm::StringRef ptx,
                          llvm::StringRef cubin);

/// Assembles PTX into a cubin for `target` with nvJitLink.
llvm::Expected<std::vector<char>> assembleCubin(const std::string &ptx,
                                                const std::string &target);

} // namespace attn

#endif // ATTN_CODEGEN_CODEGEN_H
