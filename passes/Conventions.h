// The numeric conventions every lowering of the tile ops shares, as IR
// builders, so that each rule is written once.
//
// - A row that sees no key has output 0. Inside the program (attn.normalize,
//   the split-KV partials) its lse is -inf; the lse a caller reads
//   (attn.store and attn.store_rows without a split, attn.combine) is +inf,
//   flash-attn's convention.
// - The online softmax runs in log2 units (attn.qk's scale carries log2 e);
//   every lse leaves in natural log, (max + log2 sum) * ln 2.
// - A value tied to a -inf running max or lse (exp2_diff's terms, a split
//   without keys in attn.combine) weighs 0, never NaN.
// - Row i of an attn.load_q or attn.store tile is head `head + i` of token
//   `token`, or with rows_per_token R token `token + i / R`, head
//   `head + i % R`.
//
// Every builder takes the OpBuilder, its insertion point and Location, and
// Values; it creates its ops in the order its comment gives, so a lowering
// that switches to it keeps its output IR. Constants passed as null Values
// are built at the point of use.
#ifndef ATTN_PASSES_CONVENTIONS_H
#define ATTN_PASSES_CONVENTIONS_H

#include "mlir/IR/Builders.h"

#include <optional>
#include <utility>

namespace mlir {
namespace attn {
namespace conventions {

constexpr double kLn2 = 0.6931471805599453;

/// An f32 constant.
Value f32Constant(OpBuilder &b, Location loc, double value);

/// -inf: the lse (and running max) of a row with no key inside the program.
Value noKeyLse(OpBuilder &b, Location loc);

/// +inf: the lse a caller reads for a row with no key.
Value callerNoKeyLse(OpBuilder &b, Location loc);

/// `x == -inf` for a running max or an lse: the row (or split) saw no key.
/// Builds `negInf` (noKeyLse) first when it is null, then the compare.
Value isNoKey(OpBuilder &b, Location loc, Value x, Value negInf = {});

/// `sum <= 0`: the row's softmax weights sum to nothing, so it saw no key.
/// Builds the 0 constant, then the compare.
Value isEmptyRow(OpBuilder &b, Location loc, Value sum);

/// A row's output element: `empty ? 0 : acc / sum`. Builds the division, the
/// 0 constant, then the select.
Value rowOutput(OpBuilder &b, Location loc, Value empty, Value acc, Value sum);

/// The natural-log lse of a row from its log2-unit max and the log2 of its
/// sum, `(max + log2Sum) * ln 2`. The operands are built lazily, in this
/// order: the ln 2 constant, `log2Sum()`, `max()`, then the add and multiply.
Value naturalLse(OpBuilder &b, Location loc, function_ref<Value()> max,
                 function_ref<Value()> log2Sum);

/// `empty ? noKey : lse`: the lse of a row that may have seen no key, with
/// `noKey` -inf inside the program and +inf for a caller.
Value lseOrNoKey(OpBuilder &b, Location loc, Value empty, Value noKey,
                 Value lse);

/// The lse a caller reads: `lse == -inf ? +inf : lse`. Builds the null
/// constants (+inf, then -inf), the compare, then the select.
Value callerLse(OpBuilder &b, Location loc, Value lse, Value negInf = {},
                Value posInf = {});

/// `x == -inf ? 0 : value`: a term tied to a row or split without keys weighs
/// 0 (exp2_diff's terms, attn.combine's split weights). Builds the compare
/// (and `negInf` before it when null), the 0 constant, then the select.
Value zeroIfNoKey(OpBuilder &b, Location loc, Value x, Value value,
                  Value negInf = {});

/// (token, head) of row `row` of an attn.load_q or attn.store tile whose
/// first row is (`token`, `head`): (`token`, `head` + row), or with
/// `rowsPerToken` R (`token` + row / R, `head` + row % R). Builds the R
/// constant, the division and its add, then the remainder and its add.
std::pair<Value, Value> tokenAndHead(OpBuilder &b, Location loc,
                                     std::optional<uint64_t> rowsPerToken,
                                     Value token, Value head, Value row);

} // namespace conventions
} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_CONVENTIONS_H
