// The state and helpers of attn-lower-to-cpu, and one lowering function per
// op it handles: each tile becomes a stack buffer, each tile op loops over
// buffers. The functions are defined by concern in passes/cpu/*.cpp.
#ifndef ATTN_PASSES_CPU_CPUEMITTER_H
#define ATTN_PASSES_CPU_CPUEMITTER_H

#include "dialect/AttnOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir {
namespace attn {
namespace cpu {

class CpuEmitter {
public:
  explicit CpuEmitter(func::FuncOp func) : func(func), b(func.getContext()) {}

  /// Rewrites the function's body in place.
  LogicalResult run();

private:
  LogicalResult emitBlock(Block &block);
  /// Dispatches to the lowering of `op`; an op without one and without a
  /// tile result is cloned with its operands remapped.
  LogicalResult emitOp(Operation *op);

  // Structure (ControlFlow.cpp): tile constants and element-wise ops, and
  // the scf ops whose tiles become buffers copied at the yields.
  LogicalResult lowerConstant(arith::ConstantOp op);
  LogicalResult lowerElementwise(Operation *op);
  LogicalResult lowerFor(scf::ForOp op);
  LogicalResult lowerIf(scf::IfOp op);
  LogicalResult lowerParallel(scf::ParallelOp op);

  // Index ops (Indexing.cpp).
  LogicalResult lower(SeqLenOp op);
  LogicalResult lower(SeqStartOp op);
  LogicalResult lower(GroupSizeOp op);
  LogicalResult lower(KvHeadOp op);
  LogicalResult lower(SplitRangeOp op);

  // Tile loads (Loads.cpp).
  LogicalResult lower(LoadQOp op);
  LogicalResult lower(LoadQRowsOp op);
  LogicalResult lower(KvTileOp op);

  // Tile arithmetic (Softmax.cpp).
  LogicalResult lower(QKOp op);
  LogicalResult lower(MaskOp op);
  LogicalResult lower(SoftcapOp op);
  LogicalResult lower(RowMaxOp op);
  LogicalResult lower(RowSumOp op);
  LogicalResult lower(Exp2DiffOp op);
  LogicalResult lower(PVOp op);
  LogicalResult lower(ScaleRowsOp op);
  LogicalResult lower(NormalizeOp op);

  // Stores and the split-KV combine (Stores.cpp, Combine.cpp).
  LogicalResult lower(StoreOp op);
  LogicalResult lower(StoreRowsOp op);
  LogicalResult lower(CombineOp op);
  /// Stores row `row` of `tile` at `prefix` + [d] of `out`, narrowed to
  /// `out`'s element type.
  void storeRow(Value tile, Value row, Value out, ArrayRef<Value> prefix,
                int64_t headDim);
  /// One output row of attn.combine: `rowIdx` indexes `out` without its
  /// last (head_dim) dimension; `negInf` and `posInf` are built once.
  void combineRow(CombineOp op, ValueRange rowIdx, Value negInf, Value posInf);

  // Helpers (CpuEmitter.cpp).
  Value idx(int64_t v);
  Value f32(double v);
  Value mapped(Value v) { return mapping.lookupOrDefault(v); }
  Value buffer(Value tensor) { return buffers.lookup(tensor); }
  /// A stack buffer for a tile, allocated once at the function entry.
  Value allocate(Type type);
  Value load(Value memref, ValueRange indices);
  void store(Value value, Value memref, ValueRange indices);
  Value toF32(Value v);
  /// Emits `body(ivs)` inside loops over `shape`.
  void loops(ArrayRef<int64_t> shape, function_ref<void(ValueRange)> body);
  void loopsTo(ArrayRef<Value> ubs, function_ref<void(ValueRange)> body);
  /// A loop over [0, ub) carrying one f32 from `init`; `step(iv, acc)` gives
  /// the next value. Returns the final value. Build `init` before the call.
  Value accumulate(Value ub, Value init,
                   function_ref<Value(Value, Value)> step);
  Value accumulate(int64_t ub, Value init,
                   function_ref<Value(Value, Value)> step);
  void copy(Value from, Value to);
  /// Reduces a [M, N] buffer along N into a fresh [M] buffer.
  Value reduceRows(Value tile, Type resultType, double init,
                   function_ref<Value(Value, Value)> combine);

  func::FuncOp func;
  OpBuilder b;
  Location loc = UnknownLoc();
  Block *entry = nullptr;
  IRMapping mapping;
  llvm::DenseMap<Value, Value> buffers;
};

} // namespace cpu
} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_CPU_CPUEMITTER_H
