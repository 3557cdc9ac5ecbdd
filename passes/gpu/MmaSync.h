// The mma.sync tensor-core unit (sm_80 and later): ldmatrix, the m16n8k16
// MMA and the packing of f32 pairs into 16-bit operand registers. The
// prefill kernel's fragment layout (PrefillKernel.h) is built on these; a
// wgmma unit for sm_90a would sit beside this one.
#ifndef ATTN_PASSES_GPU_MMASYNC_H
#define ATTN_PASSES_GPU_MMASYNC_H

#include "mlir/IR/Builders.h"

namespace mlir {
namespace attn {
namespace mma_sync {

/// ldmatrix .x`count` (2 or 4) of 8x8 b16 matrices at shared `ptr`
/// (transposed with `trans`): `count` b32 registers.
SmallVector<Value> loadMatrices(OpBuilder &b, Location loc, Value ptr,
                                bool trans, int64_t count = 4);
/// D = A B + C for one m16n8k16 tile of `elementType` (f16 or bf16)
/// operands: A four, B two b32 registers, C and the result four f32 values.
SmallVector<Value> mma(OpBuilder &b, Location loc, Type elementType,
                       ArrayRef<Value> a, Value b0, Value b1,
                       ArrayRef<Value> c);
/// Two f32 values as one b32 register of two `elementType` elements.
Value pack(OpBuilder &b, Location loc, Type elementType, Value lo, Value hi);

} // namespace mma_sync
} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_MMASYNC_H
