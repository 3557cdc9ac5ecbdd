// attn-tensor-map-params: a kernel's CUtensorMap parameters become 128-byte
// by-value grid constants once the kernel is an llvm.func (Passes.td).
#include "abi/kernel_params.h"
#include "dialect/AttnDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNTENSORMAPPARAMS
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

struct AttnTensorMapParamsPass
    : public mlir::attn::impl::AttnTensorMapParamsBase<
          AttnTensorMapParamsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    AttnDialect::TensorMapArgsAttrHelper maps(context);
    Builder b(context);
    auto bytes =
        LLVM::LLVMArrayType::get(b.getI8Type(), ::attn::abi::kTensorMapBytes);
    WalkResult walk = getOperation().walk([&](LLVM::LLVMFuncOp kernel) {
      DenseI64ArrayAttr indices = maps.getAttr(kernel);
      if (!indices)
        return WalkResult::advance();
      for (int64_t i : indices.asArrayRef()) {
        if (!isa<LLVM::LLVMPointerType>(kernel.getArgumentTypes()[i])) {
          kernel.emitError("tensor-map parameter ")
              << i << " must be a pointer, got "
              << kernel.getArgumentTypes()[i];
          return WalkResult::interrupt();
        }
        kernel.setArgAttr(i, LLVM::LLVMDialect::getByValAttrName(),
                          TypeAttr::get(bytes));
        kernel.setArgAttr(
            i, LLVM::LLVMDialect::getAlignAttrName(),
            b.getI64IntegerAttr(::attn::abi::kTensorMapParamAlign));
        kernel.setArgAttr(i, NVVM::NVVMDialect::getGridConstantAttrName(),
                          b.getUnitAttr());
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};

} // namespace
