// Declarations of the attn passes (generated from Passes.td) and pipelines.
#ifndef ATTN_PASSES_PASSES_H
#define ATTN_PASSES_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

namespace mlir {
namespace attn {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Options of the attn pipelines; the tuner and attn-pack set them per kernel.
struct AttnPipelineOptions : public PassPipelineOptions<AttnPipelineOptions> {
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("sm_80, sm_89, sm_90 or sm_90a"),
                             llvm::cl::init("sm_89")};
  Option<int64_t> blockM{*this, "block-m",
                         llvm::cl::desc("Query rows per prefill tile"),
                         llvm::cl::init(64)};
  Option<int64_t> headsPerCta{
      *this, "heads-per-cta",
      llvm::cl::desc("Query heads per decode tile (0: the G heads of one KV "
                     "head; R > 0: a kernel for every group size)"),
      llvm::cl::init(0)};
  Option<int64_t> tokensPerCta{
      *this, "tokens-per-cta",
      llvm::cl::desc("Query tokens per decode tile (with heads-per-cta 0)"),
      llvm::cl::init(1)};
  Option<int64_t> blockN{*this, "block-n", llvm::cl::desc("Keys per KV tile"),
                         llvm::cl::init(64)};
  Option<int64_t> stages{*this, "stages",
                         llvm::cl::desc("cp.async pipeline depth"),
                         llvm::cl::init(3)};
  Option<int64_t> threads{*this, "threads", llvm::cl::desc("Threads per CTA"),
                          llvm::cl::init(128)};
  Option<bool> tma{*this, "tma",
                   llvm::cl::desc("sm_90a prefill: whole K/V tiles by TMA "
                                  "(attn-lower-to-gpu's tma)"),
                   llvm::cl::init(false)};
  Option<int64_t> decodeLanes{
      *this, "decode-lanes",
      llvm::cl::desc("Decode: threads a row (attn-lower-to-gpu's "
                     "decode-lanes; 0: the lowering's choice)"),
      llvm::cl::init(0)};
  Option<int64_t> decodeKvHeads{
      *this, "decode-kv-heads",
      llvm::cl::desc("Decode: KV heads a CTA (attn-lower-to-gpu's "
                     "decode-kv-heads)"),
      llvm::cl::init(1)};
  Option<bool> decodeMma{
      *this, "decode-mma",
      llvm::cl::desc("Decode: tensor-core MMAs (attn-lower-to-gpu's "
                     "decode-mma)"),
      llvm::cl::init(false)};
};

/// Whether `target`'s kernels take programmatic dependent launch
/// (griddepcontrol: sm_90 and sm_90a).
inline bool dependentLaunchTarget(llvm::StringRef target) {
  return target == "sm_90" || target == "sm_90a";
}

/// attn-gqa-broadcast, attn-split-kv, attn-tile, attn-online-softmax: the
/// target-independent part shared by both pipelines.
void buildAttnTiledProgramPipeline(OpPassManager &pm,
                                   const AttnPipelineOptions &options);

/// The tiled program, mapped onto the GPU and lowered through NVVM to PTX
/// (`gpu.binary` with format=isa): buildAttnToGpuKernelsPipeline, then
/// buildAttnGpuKernelsToPTXPipeline.
void buildAttnToPTXPipeline(OpPassManager &pm,
                            const AttnPipelineOptions &options);

/// Its first part: the tiled program, fused and lowered to kernels (a
/// gpu.module whose gpu.func kernels carry attn.shared_memory_bytes).
void buildAttnToGpuKernelsPipeline(OpPassManager &pm,
                                   const AttnPipelineOptions &options);

/// Its second part: the gpu.module through NVVM to PTX.
void buildAttnGpuKernelsToPTXPipeline(OpPassManager &pm,
                                      const AttnPipelineOptions &options);

/// The tiled program lowered to the LLVM dialect for host execution.
void buildAttnToCPUPipeline(OpPassManager &pm,
                            const AttnPipelineOptions &options);

void registerAttnPipelines();

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_PASSES_H
