// One registration function for the dialects and passes every tool needs.
#ifndef ATTN_PASSES_REGISTRATION_H
#define ATTN_PASSES_REGISTRATION_H

namespace mlir {
class DialectRegistry;

namespace attn {

/// Registers the attn dialect, the upstream dialects the attn pipelines lower
/// to (and their extensions), and makes every attn pass, attn pipeline and
/// upstream pass available on the command line.
void registerAttnDialectsAndPasses(DialectRegistry &registry);

} // namespace attn
} // namespace mlir

#endif // ATTN_PASSES_REGISTRATION_H
