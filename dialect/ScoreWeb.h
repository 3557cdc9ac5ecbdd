// The web of a score tile: the attn.qk ops it comes from and the ops it
// reaches through attn.mask and scf.if, which a deferred score scale
// (attn.deferred_scale, attn-fuse-tile-ops) must cover as one.
#ifndef ATTN_DIALECT_SCOREWEB_H
#define ATTN_DIALECT_SCOREWEB_H

#include "dialect/AttnOps.h"

namespace mlir {
namespace attn {

struct ScoreWeb {
  /// The attn.qk ops whose scores reach the seed (and each other).
  SmallVector<QKOp> sources;
  /// The attn.mask ops the scores pass through.
  SmallVector<MaskOp> masks;
  /// The attn.row_max and attn.exp2_diff (as x) ops that consume them.
  SmallVector<Operation *> consumers;
  /// The first op that keeps the web from deferring its scale: a use other
  /// than a mask, an scf.if yield, row_max or exp2_diff's x; a producer
  /// other than a qk, a mask or an scf.if with both branches; or a qk whose
  /// scale differs from the first one's. Null when the scale can be
  /// deferred.
  Operation *offender = nullptr;
};

/// The web of the score tile `scores`, followed both ways: to its producers
/// through attn.mask and scf.if, and to its users.
ScoreWeb findScoreWeb(Value scores);

} // namespace attn
} // namespace mlir

#endif // ATTN_DIALECT_SCOREWEB_H
