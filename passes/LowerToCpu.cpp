#include "dialect/AttnOps.h"
#include "passes/Passes.h"
namespace mlir { namespace attn {
#define GEN_PASS_DEF_ATTNLOWERTOCPU
#include "passes/Passes.h.inc"
} }
using namespace mlir;
namespace {
struct P : public attn::impl::AttnLowerToCpuBase<P> {
  using AttnLowerToCpuBase::AttnLowerToCpuBase;
  void runOnOperation() override { signalPassFailure(); }
};
}
