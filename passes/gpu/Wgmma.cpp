// wgmma tensor-core operations of the sm_90a prefill kernel: descriptors,
// wgmma.mma_async and its synchronisation.
#include "passes/gpu/Wgmma.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"

using namespace mlir;
using namespace mlir::attn;

static Value i64(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIntOp::create(b, loc, b.getI64Type(), v);
}

Value wgmma::descriptor(OpBuilder &b, Location loc, Value address,
                        int64_t leadingBytes, int64_t strideBytes) {
  // Bits 0-13 the start address, 16-29 the leading and 32-45 the stride
  // byte offset, all in 16-byte units; bits 62-63 the swizzle (1: 128 B).
  Value start = arith::ShRUIOp::create(
      b, loc,
      arith::AndIOp::create(
          b, loc, arith::ExtUIOp::create(b, loc, b.getI64Type(), address),
          i64(b, loc, 0x3FFFF)),
      i64(b, loc, 4));
  int64_t fields = ((leadingBytes >> 4) & 0x3FFF) << 16 |
                   ((strideBytes >> 4) & 0x3FFF) << 32 | int64_t(1) << 62;
  return arith::OrIOp::create(b, loc, start, i64(b, loc, fields));
}

Value wgmma::advance(OpBuilder &b, Location loc, Value desc, int64_t bytes) {
  // The start address field never carries out: shared addresses stay below
  // 2^18 bytes.
  if (bytes == 0)
    return desc;
  return arith::AddIOp::create(b, loc, desc, i64(b, loc, bytes >> 4));
}

SmallVector<Value> wgmma::mma(OpBuilder &b, Location loc, Type elementType,
                              Value descA, Value descB, ArrayRef<Value> acc,
                              bool bAlongN, bool accumulate) {
  MLIRContext *context = b.getContext();
  int64_t n = 2 * static_cast<int64_t>(acc.size());
  SmallVector<Type> fields(acc.size(), b.getF32Type());
  auto type = LLVM::LLVMStructType::getLiteral(context, fields);
  Value in = LLVM::PoisonOp::create(b, loc, type);
  for (auto [i, v] : llvm::enumerate(acc))
    in = LLVM::InsertValueOp::create(b, loc, in, v, i);
  auto operand =
      elementType.isF16() ? NVVM::WGMMATypes::f16 : NVVM::WGMMATypes::bf16;
  auto typeAttr = [&](NVVM::WGMMATypes t) {
    return NVVM::WGMMATypesAttr::get(context, t);
  };
  auto one = NVVM::WGMMAScaleInAttr::get(context, NVVM::WGMMAScaleIn::one);
  // The op's layouts: A row (not transposed: contiguous along K), B col
  // (contiguous along K) or row (transposed: contiguous along N).
  Value out = NVVM::WgmmaMmaAsyncOp::create(
      b, loc, type, in, descA, descB,
      NVVM::MMAShapeAttr::get(context, 64, n, 16), typeAttr(operand),
      typeAttr(operand), typeAttr(NVVM::WGMMATypes::f32),
      NVVM::WGMMAScaleOutAttr::get(context, accumulate
                                                ? NVVM::WGMMAScaleOut::one
                                                : NVVM::WGMMAScaleOut::zero),
      one, one, NVVM::MMALayoutAttr::get(context, NVVM::MMALayout::row),
      NVVM::MMALayoutAttr::get(context, bAlongN ? NVVM::MMALayout::row
                                                : NVVM::MMALayout::col),
      /*satfinite=*/nullptr);
  SmallVector<Value> result;
  for (size_t i = 0; i < acc.size(); ++i)
    result.push_back(LLVM::ExtractValueOp::create(b, loc, out, i));
  return result;
}

void wgmma::fence(OpBuilder &b, Location loc) {
  NVVM::WgmmaFenceAlignedOp::create(b, loc);
}

void wgmma::commit(OpBuilder &b, Location loc) {
  NVVM::WgmmaGroupSyncAlignedOp::create(b, loc);
}

void wgmma::wait(OpBuilder &b, Location loc, int64_t pending) {
  NVVM::WgmmaWaitGroupSyncOp::create(b, loc, pending);
}

void wgmma::commitAndWait(OpBuilder &b, Location loc, int64_t pending) {
  commit(b, loc);
  wait(b, loc, pending);
}

void wgmma::holdAheadOfWait(OpBuilder &b, Location loc) {
  LLVM::FenceOp::create(b, loc, LLVM::AtomicOrdering::acq_rel, "block");
}

void wgmma::fenceSharedForAsync(OpBuilder &b, Location loc) {
  MLIRContext *context = b.getContext();
  NVVM::FenceProxyOp::create(
      b, loc, NVVM::ProxyKindAttr::get(context, NVVM::ProxyKind::async_shared),
      NVVM::SharedSpaceAttr::get(context, NVVM::SharedSpace::shared_cta));
}
