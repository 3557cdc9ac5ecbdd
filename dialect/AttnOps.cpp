// Verifiers and memory effects of the attn problem ops.
#include "dialect/AttnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>

using namespace mlir;
using namespace mlir::attn;

namespace {

constexpr int64_t kDynamicPageSize = -1;

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

/// Checks operands of a problem op against the attributes; every diagnostic
/// names the operand or attribute, the expected and the actual value.
class ProblemChecker {
public:
  ProblemChecker(Operation *op, int64_t numHeads, int64_t numKvHeads,
                 int64_t headDim)
      : op(op), numHeads(numHeads), numKvHeads(numKvHeads), headDim(headDim) {}

  LogicalResult checkAttributes(float scale, int64_t pageSize,
                                bool hasBlockTable) {
    if (numHeads <= 0)
      return op->emitOpError("'num_heads' must be positive, got ") << numHeads;
    if (numKvHeads <= 0)
      return op->emitOpError("'num_kv_heads' must be positive, got ")
             << numKvHeads;
    if (numHeads % numKvHeads != 0)
      return op->emitOpError("'num_heads' (")
             << numHeads << ") must be a multiple of 'num_kv_heads' ("
             << numKvHeads << ")";
    if (headDim < 16 || headDim > 256 || headDim % 16 != 0)
      return op->emitOpError(
                 "'head_dim' must be a multiple of 16 in [16, 256], got ")
             << headDim;
    if (!(scale > 0.0f) || !std::isfinite(scale))
      return op->emitOpError("'scale' must be positive and finite, got ")
             << scale;
    if (pageSize != kDynamicPageSize && (pageSize < 0 || pageSize % 16 != 0))
      return op->emitOpError("'page_size' must be 0 (contiguous K/V), -1 "
                             "(paged, size known at run time) or a positive "
                             "multiple of 16, got ")
             << pageSize;
    if (pageSize != 0 && !hasBlockTable)
      return op->emitOpError("'block_table' is required when 'page_size' is "
                             "non-zero (paged K/V), page_size = ")
             << pageSize;
    if (pageSize == 0 && hasBlockTable)
      return op->emitOpError("'block_table' must be absent when 'page_size' "
                             "is 0 (contiguous K/V)");
    return success();
  }

  /// A q/k/v/out buffer: element type f16/bf16 (equal to `elementType` when
  /// given), the expected rank, static dims equal to `dims` where both are
  /// known, and a unit stride in the last dimension.
  LogicalResult checkBuffer(Value value, StringRef name, StringRef layout,
                            ArrayRef<int64_t> dims, Type elementType = {}) {
    auto type = cast<MemRefType>(value.getType());
    Type elt = type.getElementType();
    if (!elementType && !elt.isF16() && !elt.isBF16())
      return op->emitOpError("'") << name << "' element type must be f16 or "
                                  << "bf16, got " << elt;
    if (elementType && elt != elementType)
      return op->emitOpError("'") << name << "' element type must match 'q' ("
                                  << elementType << "), got " << elt;
    if (failed(checkShape(type, name, layout, dims)))
      return failure();
    return checkUnitInnerStride(type, name);
  }

  /// An index buffer: i32 of the given rank.
  LogicalResult checkIndexBuffer(Value value, StringRef name, int64_t rank) {
    auto type = cast<MemRefType>(value.getType());
    if (!type.getElementType().isSignlessInteger(32) || type.getRank() != rank)
      return op->emitOpError("'") << name << "' must be a rank-" << rank
                                  << " memref of i32, got " << type;
    return success();
  }

  /// The optional log-sum-exp output: f32 with the given layout.
  LogicalResult checkLse(Value value, StringRef layout,
                         ArrayRef<int64_t> dims) {
    auto type = cast<MemRefType>(value.getType());
    if (!type.getElementType().isF32())
      return op->emitOpError("'lse' element type must be f32, got ")
             << type.getElementType();
    return checkShape(type, "lse", layout, dims);
  }

  /// Two buffers whose static dims must agree where both are known.
  LogicalResult checkSameShape(Value a, StringRef aName, Value b,
                               StringRef bName) {
    auto at = cast<MemRefType>(a.getType());
    auto bt = cast<MemRefType>(b.getType());
    for (auto [i, da, db] : llvm::enumerate(at.getShape(), bt.getShape())) {
      if (!ShapedType::isDynamic(da) && !ShapedType::isDynamic(db) && da != db)
        return op->emitOpError("'")
               << bName << "' dimension " << i << " must match '" << aName
               << "' (" << da << "), got " << db;
    }
    return success();
  }

private:
  LogicalResult checkShape(MemRefType type, StringRef name, StringRef layout,
                           ArrayRef<int64_t> dims) {
    if (type.getRank() != static_cast<int64_t>(dims.size()))
      return op->emitOpError("'")
             << name << "' must have rank " << dims.size() << " (" << layout
             << "), got rank " << type.getRank();
    for (auto [i, want, got] : llvm::enumerate(dims, type.getShape())) {
      if (ShapedType::isDynamic(want) || ShapedType::isDynamic(got) ||
          want == got)
        continue;
      return op->emitOpError("'") << name << "' dimension " << i << " must be "
                                  << want << " (" << layout << "), got " << got;
    }
    return success();
  }

  LogicalResult checkUnitInnerStride(MemRefType type, StringRef name) {
    SmallVector<int64_t> strides;
    int64_t offset;
    if (failed(type.getStridesAndOffset(strides, offset)) || strides.empty())
      return op->emitOpError("'") << name << "' must have a strided layout";
    if (strides.back() != 1)
      return op->emitOpError("'")
             << name << "' must be contiguous in its last dimension (stride 1)"
             << ", got stride " << dimString(strides.back());
    return success();
  }

  Operation *op;
  int64_t numHeads, numKvHeads, headDim;
};

constexpr int64_t kDyn = ShapedType::kDynamic;

/// A `window` operand list is empty or `[left, right]`.
LogicalResult checkWindow(Operation *op, ValueRange window) {
  if (window.empty() || window.size() == 2)
    return success();
  return op->emitOpError("'window' takes no value or two ([left, right]), "
                         "got ")
         << window.size();
}

} // namespace

LogicalResult VarlenPrefillOp::verify() {
  if (failed(checkWindow(*this, getWindow())))
    return failure();
  int64_t hq = getNumHeads(), hkv = getNumKvHeads(), d = getHeadDim();
  int64_t page = getPageSize();
  ProblemChecker check(*this, hq, hkv, d);
  if (failed(check.checkAttributes(getScale().convertToFloat(), page,
                                   static_cast<bool>(getBlockTable()))))
    return failure();
  if (failed(check.checkBuffer(getQ(), "q", "[total_q, num_heads, head_dim]",
                               {kDyn, hq, d})))
    return failure();
  Type elt = getQ().getType().getElementType();
  if (page == 0) {
    for (auto [value, name] :
         {std::pair<Value, StringRef>{getK(), "k"}, {getV(), "v"}})
      if (failed(check.checkBuffer(value, name,
                                   "[total_k, num_kv_heads, head_dim]",
                                   {kDyn, hkv, d}, elt)))
        return failure();
  } else {
    for (auto [value, name] :
         {std::pair<Value, StringRef>{getK(), "k"}, {getV(), "v"}})
      if (failed(check.checkBuffer(
              value, name, "[num_blocks, page_size, num_kv_heads, head_dim]",
              {kDyn, page == kDynamicPageSize ? kDyn : page, hkv, d}, elt)))
        return failure();
    if (failed(check.checkIndexBuffer(getBlockTable(), "block_table", 2)))
      return failure();
  }
  if (failed(check.checkSameShape(getK(), "k", getV(), "v")) ||
      failed(check.checkBuffer(getOut(), "out",
                               "[total_q, num_heads, head_dim]", {kDyn, hq, d},
                               elt)) ||
      failed(check.checkSameShape(getQ(), "q", getOut(), "out")) ||
      failed(check.checkIndexBuffer(getCuSeqlensQ(), "cu_seqlens_q", 1)) ||
      failed(check.checkIndexBuffer(getCuSeqlensK(), "cu_seqlens_k", 1)))
    return failure();
  if (Value lse = getLse()) {
    int64_t totalQ = getQ().getType().getDimSize(0);
    if (failed(check.checkLse(lse, "[num_heads, total_q]", {hq, totalQ})))
      return failure();
  }
  return success();
}

LogicalResult PagedDecodeOp::verify() {
  if (failed(checkWindow(*this, getWindow())))
    return failure();
  int64_t hq = getNumHeads(), hkv = getNumKvHeads(), d = getHeadDim();
  int64_t page = getPageSize();
  ProblemChecker check(*this, hq, hkv, d);
  if (failed(check.checkAttributes(getScale().convertToFloat(), page,
                                   static_cast<bool>(getBlockTable()))))
    return failure();
  if (failed(check.checkBuffer(getQ(), "q", "[B, Lq, num_heads, head_dim]",
                               {kDyn, kDyn, hq, d})))
    return failure();
  Type elt = getQ().getType().getElementType();
  StringRef cacheLayout = page == 0 ? "[B, Lmax, num_kv_heads, head_dim]"
                                    : "[num_blocks, page_size, num_kv_heads, "
                                      "head_dim]";
  int64_t rowsPerBlock = page <= 0 ? kDyn : page;
  for (auto [value, name] :
       {std::pair<Value, StringRef>{getKCache(), "k_cache"},
        {getVCache(), "v_cache"}})
    if (failed(check.checkBuffer(value, name, cacheLayout,
                                 {kDyn, rowsPerBlock, hkv, d}, elt)))
      return failure();
  if (page != 0 &&
      failed(check.checkIndexBuffer(getBlockTable(), "block_table", 2)))
    return failure();
  if (failed(check.checkSameShape(getKCache(), "k_cache", getVCache(),
                                  "v_cache")) ||
      failed(check.checkBuffer(getOut(), "out", "[B, Lq, num_heads, head_dim]",
                               {kDyn, kDyn, hq, d}, elt)) ||
      failed(check.checkSameShape(getQ(), "q", getOut(), "out")) ||
      failed(check.checkIndexBuffer(getCacheSeqlens(), "cache_seqlens", 1)))
    return failure();
  if (Value lse = getLse()) {
    auto qType = getQ().getType();
    if (failed(check.checkLse(lse, "[B, num_heads, Lq]",
                              {qType.getDimSize(0), hq, qType.getDimSize(1)})))
      return failure();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Tile-level ops
//===----------------------------------------------------------------------===//

/// attn.load_q's and attn.store's rows_per_token: positive, dividing the
/// tile's rows.
static LogicalResult checkRowsPerToken(Operation *op,
                                       std::optional<uint64_t> rowsPerToken,
                                       RankedTensorType tile) {
  if (!rowsPerToken)
    return success();
  int64_t r = static_cast<int64_t>(*rowsPerToken);
  if (r <= 0 || tile.getDimSize(0) % r != 0)
    return op->emitOpError("'rows_per_token' must be positive and divide the "
                           "tile's ")
           << tile.getDimSize(0) << " rows, got " << r;
  return success();
}

LogicalResult LoadQOp::verify() {
  auto qType = cast<MemRefType>(getQ().getType());
  auto tile = cast<RankedTensorType>(getTile().getType());
  if (qType.getRank() != 4)
    return emitOpError("'q' must have rank 4 ([B, Lq, H, D]), got rank ")
           << qType.getRank();
  if (tile.getRank() != 2 || tile.getDimSize(1) != qType.getShape().back())
    return emitOpError("result must be [rows, ")
           << qType.getShape().back() << "], got " << tile;
  return checkRowsPerToken(*this, getRowsPerToken(), tile);
}

LogicalResult StoreOp::verify() {
  return checkRowsPerToken(*this, getRowsPerToken(),
                           cast<RankedTensorType>(getTile().getType()));
}

LogicalResult LoadQRowsOp::verify() {
  auto qType = cast<MemRefType>(getQ().getType());
  auto tile = cast<RankedTensorType>(getTile().getType());
  if (tile.getRank() != 2 || tile.getDimSize(1) != qType.getShape().back())
    return emitOpError("result must be [rows, ")
           << qType.getShape().back() << "], got " << tile;
  return success();
}

LogicalResult StoreRowsOp::verify() {
  // Direct: out [total_q, Hq, D], lse [Hq, total_q]; partial (with split):
  // out [S, total_q, Hq, D] and lse [S, total_q, Hq], both f32.
  bool partial = static_cast<bool>(getSplit());
  int64_t rank = partial ? 4 : 3;
  auto outType = cast<MemRefType>(getOut().getType());
  if (outType.getRank() != rank)
    return emitOpError("'out' must have rank ")
           << rank
           << (partial ? " ([S, total_q, Hq, D], with a split)"
                       : " ([total_q, Hq, D])")
           << ", got rank " << outType.getRank();
  if (partial && !outType.getElementType().isF32())
    return emitOpError("partial 'out' must be f32, got ")
           << outType.getElementType();
  if (getLse()) {
    auto lseType = cast<MemRefType>(getLse().getType());
    if (lseType.getRank() != rank - 1 || !lseType.getElementType().isF32())
      return emitOpError("'lse' must be an f32 memref of rank ")
             << rank - 1
             << (partial ? " ([S, total_q, Hq])" : " ([Hq, total_q])")
             << ", got " << lseType;
  }
  return success();
}

LogicalResult AttendOp::verify() { return checkWindow(*this, getWindow()); }

LogicalResult MaskOp::verify() { return checkWindow(*this, getWindow()); }

LogicalResult QKOp::verify() {
  auto q = cast<RankedTensorType>(getQ().getType());
  auto k = cast<RankedTensorType>(getK().getType());
  auto s = cast<RankedTensorType>(getScores().getType());
  if (q.getRank() != 2 || k.getRank() != 2 || s.getRank() != 2 ||
      q.getDimSize(1) != k.getDimSize(1) ||
      s.getDimSize(0) != q.getDimSize(0) || s.getDimSize(1) != k.getDimSize(0))
    return emitOpError("expects [M, D] x [N, D] -> [M, N], got ")
           << q << ", " << k << " -> " << s;
  return success();
}

LogicalResult PVAccOp::verify() {
  auto p = cast<RankedTensorType>(getP().getType());
  auto v = cast<RankedTensorType>(getV().getType());
  auto acc = cast<RankedTensorType>(getAcc().getType());
  if (p.getRank() != 2 || v.getRank() != 2 || acc.getRank() != 2 ||
      p.getDimSize(1) != v.getDimSize(0) ||
      acc.getDimSize(0) != p.getDimSize(0) ||
      acc.getDimSize(1) != v.getDimSize(1))
    return emitOpError("expects [M, D] + [M, N] x [N, D], got acc ")
           << acc << ", p " << p << ", v " << v;
  return success();
}

std::pair<Value, Value> SplitRangeOp::expand(OpBuilder &b, Location loc,
                                             Value length, Value split,
                                             Value numSplits, int64_t align) {
  Value alignment = arith::ConstantIndexOp::create(b, loc, align);
  // Key counts and split counts fit in 32 bits, whose division is far
  // cheaper than a 64-bit one.
  Type i32 = b.getI32Type();
  Value perSplit = arith::IndexCastUIOp::create(
      b, loc, b.getIndexType(),
      arith::CeilDivUIOp::create(
          b, loc, arith::IndexCastUIOp::create(b, loc, i32, length),
          arith::IndexCastUIOp::create(b, loc, i32, numSplits)));
  Value per = arith::MulIOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, perSplit, alignment),
      alignment);
  Value begin = arith::MinUIOp::create(
      b, loc, arith::MulIOp::create(b, loc, split, per), length);
  Value end = arith::MinUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, begin, per), length);
  return {begin, end};
}

#define GET_OP_CLASSES
#include "dialect/AttnOps.cpp.inc"
