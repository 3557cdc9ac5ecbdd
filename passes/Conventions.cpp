// The shared numeric conventions of the tile-op lowerings (see Conventions.h).
#include "passes/Conventions.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <limits>

using namespace mlir;

namespace mlir {
namespace attn {
namespace conventions {

Value f32Constant(OpBuilder &b, Location loc, double value) {
  return arith::ConstantFloatOp::create(b, loc, b.getF32Type(),
                                        APFloat(static_cast<float>(value)));
}

Value noKeyLse(OpBuilder &b, Location loc) {
  return f32Constant(b, loc, -std::numeric_limits<float>::infinity());
}

Value callerNoKeyLse(OpBuilder &b, Location loc) {
  return f32Constant(b, loc, std::numeric_limits<float>::infinity());
}

Value isNoKey(OpBuilder &b, Location loc, Value x, Value negInf) {
  if (!negInf)
    negInf = noKeyLse(b, loc);
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OEQ, x, negInf);
}

Value isEmptyRow(OpBuilder &b, Location loc, Value sum) {
  Value zero = f32Constant(b, loc, 0.0);
  return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLE, sum, zero);
}

Value rowOutput(OpBuilder &b, Location loc, Value empty, Value acc, Value sum) {
  Value quotient = arith::DivFOp::create(b, loc, acc, sum);
  Value zero = f32Constant(b, loc, 0.0);
  return arith::SelectOp::create(b, loc, empty, zero, quotient);
}

Value naturalLse(OpBuilder &b, Location loc, function_ref<Value()> max,
                 function_ref<Value()> log2Sum) {
  Value ln2 = f32Constant(b, loc, kLn2);
  Value logSum = log2Sum();
  Value rowMax = max();
  Value log2Lse = arith::AddFOp::create(b, loc, rowMax, logSum);
  return arith::MulFOp::create(b, loc, log2Lse, ln2);
}

Value lseOrNoKey(OpBuilder &b, Location loc, Value empty, Value noKey,
                 Value lse) {
  return arith::SelectOp::create(b, loc, empty, noKey, lse);
}

Value callerLse(OpBuilder &b, Location loc, Value lse, Value negInf,
                Value posInf) {
  if (!posInf)
    posInf = callerNoKeyLse(b, loc);
  Value none = isNoKey(b, loc, lse, negInf);
  return arith::SelectOp::create(b, loc, none, posInf, lse);
}

Value zeroIfNoKey(OpBuilder &b, Location loc, Value x, Value value,
                  Value negInf) {
  Value none = isNoKey(b, loc, x, negInf);
  Value zero = f32Constant(b, loc, 0.0);
  return arith::SelectOp::create(b, loc, none, zero, value);
}

std::pair<Value, Value> tokenAndHead(OpBuilder &b, Location loc,
                                     std::optional<uint64_t> rowsPerToken,
                                     Value token, Value head, Value row) {
  if (!rowsPerToken)
    return {token, arith::AddIOp::create(b, loc, head, row)};
  Value r = arith::ConstantIndexOp::create(b, loc,
                                           static_cast<int64_t>(*rowsPerToken));
  Value rowToken = arith::AddIOp::create(
      b, loc, token, arith::DivUIOp::create(b, loc, row, r));
  Value rowHead = arith::AddIOp::create(b, loc, head,
                                        arith::RemUIOp::create(b, loc, row, r));
  return {rowToken, rowHead};
}

} // namespace conventions
} // namespace attn
} // namespace mlir
