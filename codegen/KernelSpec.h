// What one kernel of the pack is specialised for, and how it is tuned.
#ifndef ATTN_CODEGEN_KERNELSPEC_H
#define ATTN_CODEGEN_KERNELSPEC_H

#include <cstdint>
#include <string>

namespace attn {

struct KernelSpec {
  std::string dtype = "bf16"; // f16 or bf16
  int64_t headDim = 128;
  int64_t group = 2;   // Hq / Hkv
  bool paged = true;   // paged caches (page size at run time) or contiguous
  bool causal = true;
  // Tuning knobs (pass options).
  int64_t blockN = 64;
  int64_t stages = 3;
  int64_t threads = 128;

  /// The kernel's entry name, e.g. attn_decode_bf16_d128_g2_paged_causal.
  std::string name() const;
  /// Dynamic shared memory: the cp.async stages, or the row-group merge
  /// buffers of the epilogue if larger.
  int64_t sharedMemoryBytes() const;
};

} // namespace attn

#endif // ATTN_CODEGEN_KERNELSPEC_H
