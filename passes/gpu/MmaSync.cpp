// mma.sync tensor-core operations of the prefill kernel (sm_80 and later):
// ldmatrix, m16n8k16 MMAs and the packing of f32 pairs into 16-bit operands.
#include "passes/gpu/MmaSync.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::attn;

SmallVector<Value> mma_sync::loadMatrices(OpBuilder &b, Location loc, Value ptr,
                                          bool trans, int64_t count) {
  Type i32t = b.getI32Type();
  auto type = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                               SmallVector<Type>(count, i32t));
  Value m = NVVM::LdMatrixOp::create(
      b, loc, type, ptr, count,
      trans ? NVVM::MMALayout::col : NVVM::MMALayout::row,
      NVVM::LdStMatrixShapeAttr::get(b.getContext(), 8, 8),
      NVVM::LdStMatrixEltType::B16);
  SmallVector<Value> regs;
  for (int64_t i = 0; i < count; ++i)
    regs.push_back(LLVM::ExtractValueOp::create(b, loc, m, i));
  return regs;
}

SmallVector<Value> mma_sync::mma(OpBuilder &b, Location loc, Type elementType,
                                 ArrayRef<Value> a, Value b0, Value b1,
                                 ArrayRef<Value> c) {
  Type f32t = b.getF32Type();
  auto resultType = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                     {f32t, f32t, f32t, f32t});
  SmallVector<Value> aRegs(a), bRegs{b0, b1};
  NVVM::MMATypes type = NVVM::MMATypes::bf16;
  if (elementType.isF16()) {
    // f16 operands are <2 x half> registers; bf16 ones stay i32.
    type = NVVM::MMATypes::f16;
    auto half2 = VectorType::get({2}, b.getF16Type());
    for (Value &r : aRegs)
      r = LLVM::BitcastOp::create(b, loc, half2, r);
    for (Value &r : bRegs)
      r = LLVM::BitcastOp::create(b, loc, half2, r);
  }
  Value d = NVVM::MmaOp::create(
      b, loc, resultType, aRegs, bRegs, c, {16, 8, 16}, std::nullopt,
      std::nullopt, std::array<NVVM::MMATypes, 2>{type, type},
      std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                     NVVM::MMALayout::col});
  SmallVector<Value> out;
  for (int64_t i = 0; i < 4; ++i)
    out.push_back(LLVM::ExtractValueOp::create(b, loc, d, i));
  return out;
}

Value mma_sync::pack(OpBuilder &b, Location loc, Type elementType, Value lo,
                     Value hi) {
  auto f32x2 = VectorType::get({2}, b.getF32Type());
  Value v = LLVM::PoisonOp::create(b, loc, f32x2);
  v = vector::InsertOp::create(b, loc, lo, v, 0);
  v = vector::InsertOp::create(b, loc, hi, v, 1);
  v = arith::TruncFOp::create(b, loc, VectorType::get({2}, elementType), v);
  return LLVM::BitcastOp::create(b, loc, b.getI32Type(), v);
}
