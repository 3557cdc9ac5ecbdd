// attn-lower-to-cpu: the tiled attn program as scalar loops over stack
// buffers, so that the host can run it and CI can check every pass's
// numerics. The lowering of each op is in passes/cpu/ (CpuEmitter.h).
#include "passes/Passes.h"
#include "passes/cpu/CpuEmitter.h"

namespace mlir {
namespace attn {
#define GEN_PASS_DEF_ATTNLOWERTOCPU
#include "passes/Passes.h.inc"
} // namespace attn
} // namespace mlir

using namespace mlir;
using namespace mlir::attn;

namespace {

struct AttnLowerToCpuPass
    : public attn::impl::AttnLowerToCpuBase<AttnLowerToCpuPass> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> funcs;
    getOperation().walk([&](func::FuncOp f) {
      bool hasAttn = false;
      f.walk([&](Operation *op) {
        hasAttn |= isa<AttnDialect>(op->getDialect());
      });
      if (hasAttn)
        funcs.push_back(f);
    });
    for (func::FuncOp func : funcs) {
      if (failed(cpu::CpuEmitter(func).run()))
        return signalPassFailure();
      // The roles of the arguments (attn.role, the split-KV and
      // local-attention ones) are consumed: the host function takes them as
      // plain arguments (and the LLVM conversion changes their types).
      for (unsigned i = 0; i < func.getNumArguments(); ++i) {
        func.removeArgAttr(i, AttnDialect::NumSplitsAttrHelper::getNameStr());
        func.removeArgAttr(i, AttnDialect::WorkspaceAttrHelper::getNameStr());
        func.removeArgAttr(i, AttnDialect::RoleAttrHelper::getNameStr());
        func.removeArgAttr(i, AttnDialect::WindowLeftAttrHelper::getNameStr());
        func.removeArgAttr(i, AttnDialect::WindowRightAttrHelper::getNameStr());
        func.removeArgAttr(i, AttnDialect::SoftcapAttrHelper::getNameStr());
      }
    }
  }
};

} // namespace
