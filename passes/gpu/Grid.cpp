// Grid mapping: which part of the tiled program each CTA runs, from its
// indices (abi/kernel_params.h documents the launch grids); and the prefill
// CTAs' ranking of row tiles by their visible keys.
#include "passes/gpu/DecodeKernel.h"
#include "passes/gpu/PrefillKernel.h"

#include "abi/grid.h"

using namespace mlir;
using namespace mlir::attn;

namespace {
/// abi/grid.h's arithmetic on index values.
struct IndexArith {
  OpBuilder &b;
  Location loc;
  Value constant(int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v);
  }
  Value divU(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value remU(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value shl(Value x, Value y) { return arith::ShLIOp::create(b, loc, x, y); }
  Value shrU(Value x, Value y) { return arith::ShRUIOp::create(b, loc, x, y); }
  Value andI(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
};
} // namespace

void DecodeKernelEmitter::mapGrid() {
  // Grid (abi/grid.h): x = split, y = token * blocks + head block, z =
  // batch, with blocks = Hkv (one KV head per CTA) or Hkv * ceil(G / rows).
  // The head counts are launch parameters, so one kernel serves every head
  // count.
  IndexArith a{b, loc};
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value bz = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
  Value blocks = abi::grid::decodeHeadBlocks(
      a, Value(gpu::GridDimOp::create(b, loc, gpu::Dimension::y)), seqlenQ);
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], bx);
  mapping.map(ivs[1], bz);
  mapping.map(ivs[2], abi::grid::decodeToken(a, by, blocks));
  mapping.map(ivs[3], abi::grid::decodeHeadBlock(a, by, blocks));
}

void PrefillKernelEmitter::mapGrid() {
  // Grid (abi/grid.h): x = split << head_shift | head (2^head_shift >= Hq,
  // so that both come out of shifts and masks, which keep the CTA's indices,
  // and the key range and loop bounds derived from them, in uniform
  // registers; a division by a launch value does not), y = batch, z = rank
  // of the row tile by its visible keys (rankRowTile). The hardware starts
  // CTAs in x, y, z order, so the row tiles with the most keys go first.
  IndexArith a{b, loc};
  Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
  Value shift = toIndex(headShiftArg);
  ValueRange ivs = grid.getInductionVars();
  mapping.map(ivs[0], abi::grid::prefillSplit(a, bx, shift));
  mapping.map(ivs[1], by);
  mapping.map(ivs[2], rankRowTile(by));
  head = abi::grid::prefillHead(a, bx, shift);
  mapping.map(ivs[3], head);
}

Value PrefillKernelEmitter::rankRowTile(Value batch) {
  // Under a causal mask, row tile t of a sequence of Lq rows and Lk keys
  // sees Lk - Lq + min((t + 1) M, Lq) keys: its tiles count down from
  // Lk / M tiles' worth, and those of a sequence with a long cached prefix
  // see more than those of a shorter one. Grid z = Z (>= every sequence's
  // T = ceil(Lq / M) row tiles) ranks them all against Z M keys: sequence b
  // takes z = shift .. shift + T - 1 for its tiles T - 1 .. 0, with shift =
  // max(0, Z - max(ceil(Lk / M), T)), which puts a tile's z near (Z M -
  // its keys) / M; the other z have nothing to do (tile T). Without a mask
  // every tile of a sequence sees Lk keys, and longer sequences go first.
  Type i32t = b.getI32Type();
  auto ceilTiles = [&](Value len) {
    return arith::DivUIOp::create(
        b, loc, arith::AddIOp::create(b, loc, len, i32(rows - 1)), i32(rows));
  };
  auto asI32 = [&](Value v) {
    return arith::IndexCastUIOp::create(b, loc, i32t, v);
  };
  Value tiles = ceilTiles(lengthOf(cuQArg, batch));
  Value keyTiles =
      arith::MaxUIOp::create(b, loc, ceilTiles(lengthOf(cuKArg, batch)), tiles);
  Value z = asI32(gpu::BlockIdOp::create(b, loc, gpu::Dimension::z));
  Value extent = asI32(gpu::GridDimOp::create(b, loc, gpu::Dimension::z));
  Value shift = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, extent, keyTiles), i32(0));
  Value fromLast = arith::SubIOp::create(b, loc, z, shift);
  Value tile = select(
      cmp(arith::CmpIPredicate::ult, fromLast, tiles),
      arith::SubIOp::create(
          b, loc, arith::SubIOp::create(b, loc, tiles, i32(1)), fromLast),
      tiles);
  return arith::IndexCastUIOp::create(b, loc, b.getIndexType(), tile);
}
