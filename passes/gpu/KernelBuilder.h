// The kernel builder the decode and prefill emitters of attn-lower-to-gpu
// share: the IR-to-kernel value mapping, per-thread fragments of tiles, kernel
// parameters standing for memrefs (from abi/kernel_params.h), and small
// emission helpers. KernelBuilder.cpp has the IR walk and kernel creation,
// PagedAddressing.cpp the cache look-ups, Combine.cpp the combine kernel.
#ifndef ATTN_PASSES_GPU_KERNELBUILDER_H
#define ATTN_PASSES_GPU_KERNELBUILDER_H

#include "abi/kernel_params.h"
#include "dialect/AttnOps.h"
#include "passes/Conventions.h"
#include "passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include <limits>
#include <optional>

namespace mlir {
namespace attn {

/// The compiler-runtime contract (abi/), outside namespace mlir.
namespace abi = ::attn::abi;

constexpr unsigned kGlobalSpace = 1, kSharedSpace = 3;

/// The values one thread holds of a tile; each emitter documents its layout.
struct Fragment {
  SmallVector<Value> values;
};

/// A kernel parameter that stands for a memref: base pointer and strides.
struct Tensor {
  Value ptr;
  SmallVector<Value> strides; // in elements, outermost first (not the last)
};

class KernelEmitterBase {
public:
  /// Programmatic dependent launch (sm_90 and newer): the kernel signals
  /// griddepcontrol.launch_dependents once its KV loop is done, and the
  /// combine kernel of its splits waits (griddepcontrol.wait) before reading
  /// the partials; launched with programmatic stream serialization, the
  /// combine then starts while the split kernel's last CTAs finish.
  void setDependentLaunch(bool on) { dependentLaunch = on; }

protected:
  bool dependentLaunch = false;

  KernelEmitterBase(func::FuncOp func, gpu::GPUModuleOp module,
                    LLVM::GlobalOp smem)
      : func(func), module(module), smem(smem), b(func.getContext()),
        loc(func.getLoc()) {}
  virtual ~KernelEmitterBase() = default;

  /// Emits one op of the tiled program (each emitter's fragment layout).
  virtual LogicalResult emitOp(Operation *op) = 0;
  /// The online-softmax tile ops every kernel lowers, one function each in
  /// its fragment layout (DecodeOps.cpp, PrefillOps.cpp).
  virtual LogicalResult lowerQK(QKOp qk) = 0;
  virtual LogicalResult lowerMask(MaskOp mask) = 0;
  virtual LogicalResult lowerRowMax(RowMaxOp rowMax) = 0;
  virtual LogicalResult lowerRowSum(RowSumOp rowSum) = 0;
  virtual LogicalResult lowerExp2Diff(Exp2DiffOp diff) = 0;
  virtual LogicalResult lowerPV(PVOp pv) = 0;
  virtual LogicalResult lowerScaleRows(ScaleRowsOp scale) = 0;
  virtual LogicalResult lowerNormalize(NormalizeOp normalize) = 0;
  /// Row-wise max (or sum) of a fragment in an mma.sync accumulator layout:
  /// value k belongs to row slot `slotOf(k)` of `slots`; the values of a slot
  /// reduce within the thread, then across the four lanes of a quad (xor 1
  /// and 2), which hold the same rows.
  Fragment reduceQuadRows(const Fragment &in, int64_t slots,
                          function_ref<int64_t(size_t)> slotOf, bool max);
  /// `op` through its lowering above, or nothing when it is none of them.
  std::optional<LogicalResult> emitTileOp(Operation *op);
  /// attn.softcap, elementwise in any fragment layout: cap * tanh(s / cap)
  /// with tanh.approx.f32 (as flash-attn's), the reciprocal once per tile.
  LogicalResult lowerSoftcap(SoftcapOp softcap);
  /// Whether `key` lies in the window [left, right] around `rowDiagonal`
  /// (attn.mask's window): rowDiagonal - left <= key <= rowDiagonal + right.
  Value insideWindow(Value key, Value rowDiagonal, Value left, Value right);
  /// Binds the function arguments marked attn.window_left, attn.window_right
  /// and attn.softcap to the local-attention kernel parameters that follow
  /// the kernel's own (abi::local) from `first` on.
  void bindLocalOptions(Block &entry, unsigned first);
  /// Whether the kernel takes local-attention options (a window or softcap
  /// argument): its parameters are then the kind's, then abi::local's.
  bool hasLocalOptions();
  LogicalResult emitBlock(Block &block);
  /// An scf.if whose results are fragments of `sizes[i]` values each (or
  /// none): the new if yields them flattened.
  LogicalResult emitIf(scf::IfOp ifOp, ArrayRef<unsigned> sizes);
  /// What a KV tile loop of the tiled IR reads: its K and V tile loads and
  /// their shared operands, mapped into the kernel, and the tile count
  /// (0 when the key range is empty).
  struct KvLoop {
    SmallVector<KvTileOp> loads; // K, then V
    Value begin, limit, batch, kvHead, numTiles;
  };
  FailureOr<KvLoop> mapKvLoop(scf::ForOp loop, int64_t blockN);
  /// The KV tile loop: an scf.for over tiles 0 .. numTiles carrying `loop`'s
  /// fragments, flattened. Its body is `head(tile)`, then `loop`'s ops but
  /// the kv_tile loads (which `head` turns into copies), then `tail()`; the
  /// IR's induction variable maps to begin + tile * blockN.
  LogicalResult emitTileLoop(scf::ForOp loop, Value begin, Value numTiles,
                             int64_t blockN, function_ref<void(Value)> head,
                             function_ref<void()> tail);
  /// The fragments of `loop`'s init args, flattened; `sizes` gets each one's
  /// value count.
  SmallVector<Value> flattenedInits(scf::ForOp loop,
                                    SmallVectorImpl<unsigned> &sizes);
  /// maximumf, addf or mulf of two fragments, value by value.
  Fragment emitElementwise(Operation *op);
  static bool isElementwise(Operation *op) {
    return isa<arith::MaximumFOp, arith::AddFOp, arith::MulFOp>(op) &&
           isa<RankedTensorType>(op->getResult(0).getType());
  }

  /// The combine kernel of `combine` (named after the function, suffix
  /// `_combine`): merges the split partials of rows of headDim elements into
  /// `combine`'s output of `elementType`.
  void emitCombineKernel(CombineOp combine, Type elementType, int64_t headDim);
  /// The combine kernel's split weights: the largest split lse, the sum of
  /// the weights and each lane's weights of splits lane and lane + 32
  /// (Combine.cpp).
  struct SplitWeights {
    Value maxLse, sum;
    SmallVector<Value, 2> weight;
  };
  SplitWeights emitSplitWeights(Value thread, Value splits,
                                function_ref<Value(Value)> loadLse,
                                function_ref<Value(Value, Value)> weightOf);
  /// Sets each Value of `required` and `optional` to the function argument
  /// with its role (attn.role), and checks that every memref the program
  /// uses is an argument with a role: a kernel parameter. Fails when a
  /// required role is missing.
  using RoleBinding = std::pair<Value *, ArgRole>;
  LogicalResult bindRoles(ArrayRef<RoleBinding> required,
                          ArrayRef<RoleBinding> optional);
  /// A kernel in `module` named after the function, with the parameters of
  /// `params` (abi/kernel_params.h), with `local` then abi::local's (bound to
  /// the function's local-attention arguments), a known block size and the
  /// bytes of dynamic shared memory it lays out (attn.shared_memory_bytes,
  /// which the manifest's smem= reads); with `tensorMaps`, abi::tma's
  /// parameters last (the maps generic pointers, listed in
  /// attn.tensor_map_args); the builder is left before its terminator.
  Block &createKernelFunc(StringRef name, ArrayRef<abi::ParamInfo> params,
                          int64_t threads, int64_t sharedMemoryBytes,
                          bool local = false, bool tensorMaps = false);

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32(int64_t v) {
    return arith::ConstantIntOp::create(b, loc, b.getI32Type(), v);
  }
  Value f32(double v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                          APFloat(static_cast<float>(v)));
  }
  Value toI64(Value v);
  Value toIndex(Value v) {
    return arith::IndexCastOp::create(b, loc, b.getIndexType(), v);
  }
  Value gep(Value base, Type elt, Value offset) {
    return LLVM::GEPOp::create(b, loc, base.getType(), elt, base,
                               ValueRange{toI64(offset)});
  }
  Value mul(Value a, Value c) { return arith::MulIOp::create(b, loc, a, c); }
  Value add(Value a, Value c) { return arith::AddIOp::create(b, loc, a, c); }
  Value sub(Value a, Value c) { return arith::SubIOp::create(b, loc, a, c); }
  Value select(Value c, Value t, Value f) {
    return arith::SelectOp::create(b, loc, c, t, f);
  }
  Value cmp(arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y);
  }
  /// ex2.approx / lg2.approx: the SFU instructions, no libdevice.
  Value intrinsic(StringRef name, Value x) {
    return LLVM::CallIntrinsicOp::create(b, loc, b.getF32Type(),
                                         b.getStringAttr(name), ValueRange{x})
        .getResult(0);
  }
  Value exp2(Value x) { return intrinsic("llvm.nvvm.ex2.approx.ftz.f32", x); }
  Value log2(Value x) { return intrinsic("llvm.nvvm.lg2.approx.f", x); }
  /// `x == -inf`: a running max or lse of a row (or split) without keys.
  Value isNegInf(Value x) { return conventions::isNoKey(b, loc, x); }
  Value shflXor(Value v, int64_t offset) {
    return NVVM::ShflOp::create(b, loc, v.getType(), i32(-1), v, i32(offset),
                                i32(31), NVVM::ShflKind::bfly, UnitAttr());
  }
  Value elementOffset(const Tensor &t, ArrayRef<Value> indices);
  /// The byte offset of 16-byte chunk `chunk` of row `row` in a tile of rows
  /// of `headDim` 16-bit elements that ldmatrix reads (the mma.sync kernels'
  /// tiles): chunk c of row n at c ^ (n % 8), where a row has 8 or more
  /// chunks; the last 2 or 4 chunks past a multiple of 8 (head_dim 80, 96,
  /// 160) swizzle among themselves by n % 2 or n % 4; the 4 chunks of
  /// head_dim 32 by n % 4.
  Value mmaSwizzled(Value row, Value chunk, int64_t headDim);
  /// The natural-log lse of a row from its log2-unit max and its sum, -inf
  /// (no key) when the max is -inf or the sum is not positive; also returns
  /// that "no key" condition.
  std::pair<Value, Value> rowLse(Value max, Value sum);
  /// Copies 16 bytes from global `src` to shared `dst` (zero-filled when
  /// `valid` is false, in which case `src` is never read).
  /// With `bytes` (an i32, 16 or 0: what the thread's chunk of the row
  /// copies, 0 past the call's head_dim) it copies `bytes` where `valid`.
  void copyAsync(Value dst, Value src, Value valid, Value bytes = Value()) {
    NVVM::CpAsyncOp::create(b, loc, dst, src, 16,
                            NVVM::LoadCacheModifierKind::CG,
                            select(valid, bytes ? bytes : i32(16), i32(0)));
  }
  /// Where key position `pos` of a sequence lives in a KV cache: the outer
  /// index (page, sequence, or none when packed) and the row within it.
  struct KeyLocation {
    Value outer, row;
  };
  /// Locates `pos` for `load`: through block_table when paged (pages of
  /// `pageSize` rows, 32-bit division, or with `pageReciprocal` =
  /// floor((2^32 - 1) / pageSize) a high multiply and one correction), row
  /// `pos` when packed, row `pos` of sequence `batch` otherwise. Where
  /// `valid` is false, position 0 stands in, so that no block_table entry
  /// past a sequence's end is read. K and V tiles of one position share the
  /// location.
  KeyLocation locateKey(KvTileOp load, Value batch, Value pos, Value valid,
                        Value pageSize, Value pageReciprocal = Value());
  /// The block_table entry (an i32 load, nothing waits for it) and the row
  /// in its page of position `pos` of sequence `batch`, which must lie in
  /// the sequence's pages: the paged part of locateKey.
  struct PageLookup {
    Value entry, inPage;
  };
  PageLookup lookupPage(KvTileOp load, Value batch, Value pos, Value pageSize,
                        Value pageReciprocal);
  /// Entry `page` (an i32) of sequence `batch`'s row of block_table `table`.
  Value pageEntry(Tensor &table, Value batch, Value page);
  /// pos / pageSize and pos % pageSize (i32s), as lookupPage divides them;
  /// uniform arithmetic, no load.
  std::pair<Value, Value> dividePosition(Value pos, Value pageSize,
                                         Value pageReciprocal);
  /// The element offset of `at` for `kvHead` in `load`'s cache.
  Value keyRowOffset(KvTileOp load, const KeyLocation &at, Value kvHead) {
    Tensor &cache = tensorFor(load.getCache());
    if (!at.outer)
      return elementOffset(cache, {at.row, kvHead});
    return elementOffset(cache, {at.outer, at.row, kvHead});
  }
  /// The i32 element `index` of the int32 buffer at `ptr`.
  Value loadI32(Value ptr, Value index) {
    return LLVM::LoadOp::create(b, loc, b.getI32Type(),
                                gep(ptr, b.getI32Type(), index));
  }

  Fragment lookup(Value v) { return fragments.lookup(v.getAsOpaquePointer()); }
  void bind(Value v, Fragment f) { fragments[v.getAsOpaquePointer()] = f; }
  Value mapped(Value v) { return mapping.lookupOrDefault(v); }
  Tensor &tensorFor(Value memref) { return tensors[memref]; }
  /// Replaces `to`'s terminator by an scf.yield of the fragments of `from`'s
  /// terminator operands, flattened.
  void yieldFlattened(Block *from, Block *to);
  /// Binds each of `values` to the next `sizes[i]` values of `flat`.
  void bindFlattened(ValueRange values, ValueRange flat,
                     ArrayRef<unsigned> sizes);

  func::FuncOp func;
  gpu::GPUModuleOp module;
  LLVM::GlobalOp smem;
  OpBuilder b;
  Location loc;
  IRMapping mapping;
  llvm::DenseMap<void *, Fragment> fragments;
  llvm::DenseMap<Value, Tensor> tensors;
};

/// Emits the decode kernel of `func` (a split, tiled, online-softmax program
/// over a (split, batch, token, kv_head) grid), and the combine kernel of its
/// splits, into `module` (DecodeKernel.cpp); with `mma` the tensor-core
/// kernel (DecodeMma.cpp).
LogicalResult emitDecodeKernel(func::FuncOp func, gpu::GPUModuleOp module,
                               LLVM::GlobalOp smem, int64_t stages,
                               int64_t threads, int64_t lanes,
                               int64_t kvHeads = 1, bool mma = false,
                               bool dependentLaunch = false);
/// Emits the prefill kernel of `func` (a tiled, online-softmax program over a
/// (split, batch, q_block, head) grid), and the combine kernel of its splits,
/// into `module`, with `threads` / 32 warps, its MMAs mma.sync or, with
/// `wgmma`, wgmma (sm_90a) (PrefillKernel.cpp); with `producer` (wgmma
/// only) the last 128 threads are a producer warpgroup that copies the K/V
/// tiles (PrefillProducer.cpp).
LogicalResult emitPrefillKernel(func::FuncOp func, gpu::GPUModuleOp module,
                                LLVM::GlobalOp smem, int64_t stages,
                                int64_t threads, bool wgmma, bool producer,
                                bool tma = false, bool dependentLaunch = false);

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_GPU_KERNELBUILDER_H
