// Paged addressing: where a key position of a sequence lives in a paged,
// per-sequence or packed K/V cache (block_table look-ups).
#include "passes/gpu/KernelBuilder.h"

using namespace mlir;
using namespace mlir::attn;

KernelEmitterBase::KeyLocation
KernelEmitterBase::locateKey(KvTileOp load, Value batch, Value pos, Value valid,
                             Value pageSize, Value pageReciprocal) {
  Value safePos = select(valid, pos, idx(0));
  if (load.getPageSize() != 0) {
    PageLookup at = lookupPage(load, batch, safePos, pageSize, pageReciprocal);
    return {select(valid, toIndex(at.entry), idx(0)), at.inPage};
  }
  if (cast<MemRefType>(load.getCache().getType()).getRank() == 3)
    return {Value(), safePos};
  return {batch, safePos};
}

KernelEmitterBase::PageLookup
KernelEmitterBase::lookupPage(KvTileOp load, Value batch, Value pos,
                              Value pageSize, Value pageReciprocal) {
  Tensor &table = tensorFor(load.getBlockTable());
  auto [quotient, inPage] = dividePosition(pos, pageSize, pageReciprocal);
  return {pageEntry(table, batch, quotient),
          arith::IndexCastUIOp::create(b, loc, b.getIndexType(), inPage)};
}

Value KernelEmitterBase::pageEntry(Tensor &table, Value batch, Value page) {
  return loadI32(table.ptr,
                 add(mul(toI64(batch), table.strides[0]), toI64(page)));
}

std::pair<Value, Value>
KernelEmitterBase::dividePosition(Value pos, Value pageSize,
                                  Value pageReciprocal) {
  // Positions and page sizes fit in 32 bits, whose division is far cheaper.
  Type i32t = b.getI32Type();
  Value pos32 = arith::IndexCastUIOp::create(b, loc, i32t, pos);
  Value page32 = arith::IndexCastUIOp::create(b, loc, i32t, pageSize);
  Value quotient, inPage;
  if (pageReciprocal) {
    // q0 = floor(pos m / 2^32) with m = floor((2^32 - 1) / page) is within
    // pos / 2^32 < 1/2 below pos / page (pos < 2^31): q or q - 1.
    Value q0 =
        arith::MulUIExtendedOp::create(b, loc, pos32, pageReciprocal).getHigh();
    Value r0 = arith::SubIOp::create(b, loc, pos32,
                                     arith::MulIOp::create(b, loc, q0, page32));
    Value over = cmp(arith::CmpIPredicate::uge, r0, page32);
    quotient = select(over, arith::AddIOp::create(b, loc, q0, i32(1)), q0);
    inPage = select(over, arith::SubIOp::create(b, loc, r0, page32), r0);
  } else {
    quotient = arith::DivUIOp::create(b, loc, pos32, page32);
    inPage = arith::RemUIOp::create(b, loc, pos32, page32);
  }
  return {quotient, inPage};
}
