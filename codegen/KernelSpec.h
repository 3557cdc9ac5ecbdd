// What one kernel of the pack is specialised for, and how it is tuned.
#ifndef ATTN_CODEGEN_KERNELSPEC_H
#define ATTN_CODEGEN_KERNELSPEC_H

#include <cstdint>
#include <string>

namespace attn {

struct KernelSpec {
  enum class Op { Decode, Prefill };
  Op op = Op::Decode;
  std::string dtype = "bf16"; // f16 or bf16
  int64_t headDim = 128;
  int64_t group = 2;   // Hq / Hkv (decode; a prefill kernel serves any G)
  bool paged = true;   // paged caches (page size at run time) or contiguous
  bool causal = true;
  // Tuning knobs (pass options).
  int64_t blockM = 64; // prefill query rows per CTA (16 x warps x row blocks)
  int64_t blockN = 64;
  int64_t stages = 3;
  int64_t threads = 128;

  /// The kernel's entry name, e.g. attn_decode_bf16_d128_g2_paged_causal or
  /// attn_prefill_bf16_d128_contig_causal.
  std::string name() const;
  /// `decode` or `prefill`, the manifest's op.
  const char *opName() const { return op == Op::Decode ? "decode" : "prefill"; }
  /// Threads per CTA.
  int64_t blockThreads() const { return threads; }
  /// Query rows per CTA: the G heads of one token for decode.
  int64_t rowsPerCta() const { return op == Op::Decode ? group : blockM; }
  /// Dynamic shared memory: the cp.async stages of K and V tiles; for
  /// prefill also the Q tile (and the paged row locations), for decode the
  /// row-group merge buffers of the epilogue if larger.
  int64_t sharedMemoryBytes() const;
};

} // namespace attn

#endif // ATTN_CODEGEN_KERNELSPEC_H
