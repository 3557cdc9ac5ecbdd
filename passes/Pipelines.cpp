// The named attn pipelines: attn-to-ptx and attn-to-cpu.
#include "passes/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::attn;

void mlir::attn::buildAttnTiledProgramPipeline(
    OpPassManager &pm, const AttnPipelineOptions &options) {
  pm.addPass(createAttnGqaBroadcast(AttnGqaBroadcastOptions{
      options.blockM, options.headsPerCta, options.tokensPerCta}));
  pm.addPass(createAttnSplitKv(AttnSplitKvOptions{options.blockN}));
  pm.addPass(createAttnTile(AttnTileOptions{options.blockN}));
  pm.addPass(createAttnOnlineSoftmax());
}

void mlir::attn::buildAttnToPTXPipeline(OpPassManager &pm,
                                        const AttnPipelineOptions &options) {
  buildAttnToGpuKernelsPipeline(pm, options);
  buildAttnGpuKernelsToPTXPipeline(pm, options);
}

void mlir::attn::buildAttnToGpuKernelsPipeline(
    OpPassManager &pm, const AttnPipelineOptions &options) {
  buildAttnTiledProgramPipeline(pm, options);
  pm.addPass(createAttnFuseTileOps());
  // sm_90a's prefill kernels take wgmma and a producer warpgroup; sm_90's
  // and sm_90a's combine kernels start by programmatic dependent launch.
  bool hopper = options.target == "sm_90a";
  pm.addPass(createAttnLowerToGpu(AttnLowerToGpuOptions{
      options.stages, options.threads, hopper, hopper, hopper && options.tma,
      options.decodeLanes, options.decodeKvHeads, options.decodeMma,
      dependentLaunchTarget(options.target)}));
}

void mlir::attn::buildAttnGpuKernelsToPTXPipeline(
    OpPassManager &pm, const AttnPipelineOptions &options) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = options.target;
  target.features = "+ptx80";
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));

  OpPassManager &gpu = pm.nest<gpu::GPUModuleOp>();
  gpu.addPass(createSCFToControlFlowPass());
  ConvertGpuOpsToNVVMOpsOptions nvvm;
  nvvm.indexBitwidth = 64;
  gpu.addPass(createConvertGpuOpsToNVVMOps(nvvm));
  gpu.addPass(createAttnTensorMapParams());
  gpu.addPass(createConvertVectorToLLVMPass());
  gpu.addPass(createConvertMathToLLVMPass());
  gpu.addPass(createArithToLLVMConversionPass());
  gpu.addPass(createConvertIndexToLLVMPass());
  // wgmma (sm_90a) has no LLVM intrinsic: NVVM writes it as inline PTX.
  if (options.target == "sm_90a")
    gpu.addPass(createConvertNVVMToLLVMPass());
  gpu.addPass(createCanonicalizerPass());
  gpu.addPass(createCSEPass());
  gpu.addPass(createReconcileUnrealizedCastsPass());

  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(binary));
}

void mlir::attn::buildAttnToCPUPipeline(OpPassManager &pm,
                                        const AttnPipelineOptions &options) {
  buildAttnTiledProgramPipeline(pm, options);
  pm.addPass(createAttnLowerToCpu());
  pm.addPass(createCanonicalizerPass());
  // bf16 <-> f32 as integer ops: the host has no bf16 conversion instructions.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::attn::registerAttnPipelines() {
  PassPipelineRegistration<AttnPipelineOptions>(
      "attn-to-tiled", "The target-independent attn passes",
      buildAttnTiledProgramPipeline);
  PassPipelineRegistration<AttnPipelineOptions>(
      "attn-to-ptx", "attn problem ops to PTX (gpu.binary, format=isa)",
      buildAttnToPTXPipeline);
  PassPipelineRegistration<AttnPipelineOptions>(
      "attn-to-cpu", "attn problem ops to the LLVM dialect for the host",
      buildAttnToCPUPipeline);
}
