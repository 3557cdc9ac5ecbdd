// What one kernel of the pack is specialised for, and how it is tuned.
#ifndef ATTN_CODEGEN_KERNELSPEC_H
#define ATTN_CODEGEN_KERNELSPEC_H

#include <cstdint>
#include <string>

namespace attn {

struct KernelSpec {
  enum class Op { Decode, Prefill };
  /// Query heads per CTA of the any-group decode kernel when the tuning
  /// table does not say: G <= 8 reads each K/V byte once.
  static constexpr int64_t kAnyGroupHeads = 8;
  Op op = Op::Decode;
  std::string dtype = "bf16"; // f16 or bf16
  int64_t headDim = 128;
  /// Hq / Hkv of a decode kernel specialised on G; 0 for a decode kernel
  /// that serves every G with blockM query heads per CTA. A prefill kernel
  /// serves any G.
  int64_t group = 2;
  bool paged = true; // paged caches (page size at run time) or contiguous
  bool causal = true;
  /// A local kernel: takes a sliding window and a softcap at run time
  /// (abi::local's parameters); built without the causal mask, which a
  /// launch asks for as the window's right bound 0.
  bool local = false;
  // Tuning knobs (pass options).
  /// Prefill: query rows per CTA (16 x warps x row blocks). Decode with
  /// group 0: query heads per CTA.
  int64_t blockM = 64;
  int64_t blockN = 64;
  int64_t stages = 3;
  int64_t threads = 128;
  /// Assembled by ptxas as a whole program rather than by nvJitLink
  /// (relocatable); sm_90a's kernels always are (codegen/Codegen.h).
  bool wholeProgram = false;
  /// Decode: threads sharing a row of head_dim (attn-lower-to-gpu's
  /// decode-lanes), 0 for the lowering's choice (passes/gpu/DecodeLayout.h).
  int64_t decodeLanes = 0;
  /// Decode specialised on G, one token a CTA: KV heads per CTA
  /// (attn-lower-to-gpu's decode-kv-heads), 1 for one.
  int64_t decodeKvHeads = 1;
  /// Decode specialised on G: QK^T and PV through mma.sync
  /// (attn-lower-to-gpu's decode-mma).
  bool decodeMma = false;
  /// Decode specialised on G: query tokens per CTA (attn-gqa-broadcast's
  /// tokens-per-cta). F > 1 folds F tokens' G heads into G x F rows, for
  /// speculative decoding's Lq > 1; 1: one token's G heads.
  int64_t tokensPerCta = 1;
  /// Decode: the split policy of its launches (abi/split_policy.h), from its
  /// tuning table entry's decode_split; 0 for the pack's (the manifest
  /// header's, the table's decode_split).
  int64_t splitCtasPerSm = 0;
  int64_t splitMinKeys = 0;
  /// sm_90a prefill: the producer copies whole K/V tiles by TMA
  /// (attn-lower-to-gpu's tma; the kernel then takes abi::tma's tensor maps).
  bool tma = false;

  /// The kernel's entry name, e.g. attn_decode_bf16_d128_g2_paged_causal,
  /// attn_decode_f16_d64_gany_contig_full,
  /// attn_decode_bf16_d128_g2_fold4_paged_causal (4 tokens a CTA),
  /// attn_prefill_bf16_d128_contig_causal or
  /// attn_prefill_bf16_d256_paged_local.
  std::string name() const;
  /// `decode` or `prefill`, the manifest's op.
  const char *opName() const { return op == Op::Decode ? "decode" : "prefill"; }
  /// Threads per CTA.
  int64_t blockThreads() const { return threads; }
  /// Query rows per CTA: for decode the query heads of its tokens (G x
  /// tokensPerCta, or blockM for the kernel that serves every G).
  int64_t rowsPerCta() const {
    return op == Op::Decode && group ? group * tokensPerCta : blockM;
  }
};

} // namespace attn

#endif // ATTN_CODEGEN_KERNELSPEC_H
