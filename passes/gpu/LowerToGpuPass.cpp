// attn-lower-to-gpu: maps the tiled online-softmax programs onto CTAs, one
// kernel per function (decode: DecodeKernel.h, prefill: PrefillKernel.h) and
// the combine kernel of its splits, in one gpu.module.
#include "passes/gpu/KernelBuilder.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNLOWERTOGPU
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

struct AttnLowerToGpuPass
    : public mlir::attn::impl::AttnLowerToGpuBase<AttnLowerToGpuPass> {
  using AttnLowerToGpuBase::AttnLowerToGpuBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    module.walk([&](func::FuncOp f) {
      bool hasGrid = false;
      f.walk([&](scf::ParallelOp p) {
        hasGrid |= p->hasAttr(AttnDialect::GridAttrHelper::getNameStr());
      });
      if (hasGrid)
        funcs.push_back(f);
    });
    if (funcs.empty())
      return;
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    b.getUnitAttr());
    auto gpuModule =
        gpu::GPUModuleOp::create(b, module.getLoc(), "attn_kernels");
    b.setInsertionPointToStart(gpuModule.getBody());
    // The dynamic shared memory of every kernel of the module.
    auto smemType = LLVM::LLVMArrayType::get(b.getI8Type(), 0);
    auto smem = LLVM::GlobalOp::create(
        b, module.getLoc(), smemType, /*isConstant=*/false,
        LLVM::Linkage::External, "attn_dynamic_smem", Attribute(),
        /*alignment=*/16, kSharedSpace);
    for (func::FuncOp func : funcs) {
      bool prefill = false;
      func.walk([&](StoreRowsOp) { prefill = true; });
      LogicalResult emitted =
          prefill ? emitPrefillKernel(func, gpuModule, smem, stages, threads,
                                      wgmma, producer, tma, dependentLaunch)
                  : emitDecodeKernel(func, gpuModule, smem, stages, threads,
                                     decodeLanes, decodeKvHeads, decodeMma,
                                     dependentLaunch);
      if (failed(emitted))
        return signalPassFailure();
      func.erase();
    }
  }
};

} // namespace
