// The parameters of every kernel kind in the pack, in launch order: the one
// table from which the GPU lowering builds each kernel's signature and the
// runtime builds its argument array (docs/runtime_abi.md shows them and a
// unit test keeps its tables equal to these). Header-only, no LLVM, no CUDA.
//
// Each table is an X-macro: X(name, type, meaning), where type is one of
// Ptr (a 64-bit device address), I64, I32, F32 or TensorMap (a CUtensorMap:
// 128 bytes, passed by value). Strides are in elements.
#ifndef ATTN_ABI_KERNEL_PARAMS_H
#define ATTN_ABI_KERNEL_PARAMS_H

#include <cstddef>
#include <cstdint>

// The split-KV stage of paged decode (op=decode).
#define ATTN_DECODE_PARAMS(X)                                                  \
  X(q, Ptr, "query [B, Lq, Hq, D]")                                            \
  X(k_cache, Ptr, "key cache")                                                 \
  X(v_cache, Ptr, "value cache")                                               \
  X(cache_seqlens, Ptr, "int32 [B]: keys of each sequence")                    \
  X(block_table, Ptr, "int32 [B, pages]; null for a contiguous cache")         \
  X(out, Ptr, "output [B, Lq, Hq, D]")                                         \
  X(lse, Ptr, "float [B, Hq, Lq]; null when not wanted")                       \
  X(part_o, Ptr, "float [S, B, Lq, Hq, D]; used when num_splits > 1")          \
  X(part_lse, Ptr, "float [S, B, Lq, Hq]; used when num_splits > 1")           \
  X(q_stride_batch, I64, "q stride: batch")                                    \
  X(q_stride_token, I64, "q stride: token")                                    \
  X(q_stride_head, I64, "q stride: head")                                      \
  X(k_stride_outer, I64, "k_cache stride: block (paged) or batch")             \
  X(k_stride_row, I64, "k_cache stride: row")                                  \
  X(k_stride_head, I64, "k_cache stride: head")                                \
  X(v_stride_outer, I64, "v_cache stride: block (paged) or batch")             \
  X(v_stride_row, I64, "v_cache stride: row")                                  \
  X(v_stride_head, I64, "v_cache stride: head")                                \
  X(block_table_stride, I64, "block_table row stride")                         \
  X(out_stride_batch, I64, "out stride: batch")                                \
  X(out_stride_token, I64, "out stride: token")                                \
  X(out_stride_head, I64, "out stride: head")                                  \
  X(seqlen_q, I32, "query tokens per sequence (Lq)")                           \
  X(page_size, I32, "rows per page; 0 for a contiguous cache")                 \
  X(num_splits, I32, "key splits (grid x)")                                    \
  X(softmax_scale, F32, "score scale")                                         \
  X(num_heads, I32, "query heads (Hq)")                                        \
  X(num_kv_heads, I32, "key/value heads (Hkv)")                                \
  X(head_dim, I32, "the call's D <= the kernel's (columns past it: zeros)")

// Varlen prefill (op=prefill).
#define ATTN_PREFILL_PARAMS(X)                                                 \
  X(q, Ptr, "query [total_q, Hq, D]")                                          \
  X(k, Ptr, "keys: paged cache or packed [total_k, Hkv, D]")                   \
  X(v, Ptr, "values, as k")                                                    \
  X(cu_seqlens_q, Ptr, "int32 [B + 1]: query row offsets")                     \
  X(cu_seqlens_k, Ptr, "int32 [B + 1]: key offsets (packed) or lengths")       \
  X(block_table, Ptr, "int32 [B, pages]; null for packed keys")                \
  X(out, Ptr, "output [total_q, Hq, D]")                                       \
  X(lse, Ptr, "float [Hq, total_q]; null when not wanted")                     \
  X(q_stride_token, I64, "q stride: token")                                    \
  X(q_stride_head, I64, "q stride: head")                                      \
  X(k_stride_outer, I64, "k stride: block (paged); 0 packed")                  \
  X(k_stride_row, I64, "k stride: row in block (paged) or token (packed)")     \
  X(k_stride_head, I64, "k stride: head")                                      \
  X(v_stride_outer, I64, "v stride: block (paged); 0 packed")                  \
  X(v_stride_row, I64, "v stride: row in block (paged) or token (packed)")     \
  X(v_stride_head, I64, "v stride: head")                                      \
  X(block_table_stride, I64, "block_table row stride")                         \
  X(out_stride_token, I64, "out stride: token")                                \
  X(out_stride_head, I64, "out stride: head")                                  \
  X(num_kv_heads, I32, "key/value heads (Hkv)")                                \
  X(page_size, I32, "rows per page; 0 for packed keys")                        \
  X(total_q, I32, "query rows of all sequences (the row stride of lse)")       \
  X(softmax_scale, F32, "score scale")                                         \
  X(part_o, Ptr, "float [S, total_q, Hq, D]; used when num_splits > 1")        \
  X(part_lse, Ptr, "float [S, total_q, Hq]; used when num_splits > 1")         \
  X(num_splits, I32, "key splits")                                             \
  X(num_heads, I32, "query heads (Hq), at most 65535")                         \
  X(head_shift, I32, "ceil(log2(Hq)): grid x = split << head_shift | head")    \
  X(group_magic, I64, "ceil(2^32 / (Hq / Hkv)): head / G by a multiply-high")  \
  X(head_dim, I32, "the call's D <= the kernel's (columns past it: zeros)")

// The local-attention options (attn.h's attn_local_options), appended to a
// decode or prefill kernel's parameters when the kernel is a local one
// (manifest key local=1). A launch may pass them to any kernel of the kind:
// a kernel reads only the parameters it declares.
#define ATTN_LOCAL_PARAMS(X)                                                   \
  X(window_left, I32, "keys left of the diagonal a query sees; < 0: all")      \
  X(window_right, I32, "keys right of the diagonal; < 0: all")                 \
  X(softcap, F32, "> 0: scores become softcap * tanh(s / softcap); 0: off")

// The tensor maps of a TMA prefill kernel (manifest key tma=1, sm_90a),
// appended after the kind's parameters (and the local ones of a local
// kernel): K and V as [rows, Hkv, head_dim] (packed) or [pages, page_size,
// Hkv, head_dim] (paged) tensors, boxes of 64 columns (128 bytes, 128-byte
// swizzle) by block_n rows, encoded by the runtime per call. With `tma` 0
// the kernel copies every tile with cp.async and reads neither map.
#define ATTN_TMA_PARAMS(X)                                                     \
  X(k_map, TensorMap,                                                          \
    "K as [rows or pages, (page rows,) Hkv, D]: box 64 x 1 x block_n")         \
  X(v_map, TensorMap, "V, as k_map")                                           \
  X(tma, I32, "1: whole K/V tiles through the maps; 0: cp.async only")

// The log-sum-exp merge of split partials (op=combine).
#define ATTN_COMBINE_PARAMS(X)                                                 \
  X(part_o, Ptr, "float split partials")                                       \
  X(part_lse, Ptr, "float split lse")                                          \
  X(out, Ptr, "output")                                                        \
  X(lse, Ptr, "float lse; null when not wanted")                               \
  X(out_stride_batch, I64, "out stride: batch")                                \
  X(out_stride_token, I64, "out stride: token")                                \
  X(out_stride_head, I64, "out stride: head")                                  \
  X(num_splits, I32, "splits to merge, 2 to 64")                               \
  X(head_dim, I32, "the call's D <= the kernel's: out columns written")

namespace attn {
namespace abi {

enum class ParamType { Ptr, I64, I32, F32, TensorMap };

// A CUtensorMap's bytes (cuda.h's layout: 128 bytes; CUDA 13 aligns it to
// 128, CUDA 12 to 64). The kernel parameter is 64-byte aligned, as the PTX
// ISA asks of a tensor map in the parameter space.
struct alignas(128) TensorMapBytes {
  uint64_t words[16];
};
inline constexpr size_t kTensorMapBytes = sizeof(TensorMapBytes);
inline constexpr size_t kTensorMapParamAlign = 64;
// The columns of a TMA box (abi::tma's maps): one 128-byte row of 16-bit
// elements under the 128-byte swizzle, a panel of the kernel's tile.
inline constexpr int32_t kTmaBoxColumns = 64;

// The C type a launch passes for each parameter type.
template <ParamType> struct ParamValue;
template <> struct ParamValue<ParamType::Ptr> { using type = uint64_t; };
template <> struct ParamValue<ParamType::I64> { using type = int64_t; };
template <> struct ParamValue<ParamType::I32> { using type = int32_t; };
template <> struct ParamValue<ParamType::F32> { using type = float; };
template <> struct ParamValue<ParamType::TensorMap> {
  using type = TensorMapBytes;
};

struct ParamInfo {
  const char *name;
  ParamType type;
  const char *meaning;
};

// For each kernel kind K: an enum K::Param of parameter indices, K::kParams
// (the table as data), and K::Args, a struct of one field per parameter with
// pointers() giving the array cuLaunchKernel takes.
#define ATTN_ABI_INDEX(n, t, m) n,
#define ATTN_ABI_INFO(n, t, m) ParamInfo{#n, ParamType::t, m},
#define ATTN_ABI_FIELD(n, t, m) ParamValue<ParamType::t>::type n = {};
#define ATTN_ABI_ADDRESS(n, t, m) &n,
#define ATTN_ABI_KERNEL(kind, TABLE)                                           \
  namespace kind {                                                             \
  enum Param : unsigned { TABLE(ATTN_ABI_INDEX) kCount };                      \
  inline constexpr ParamInfo kParams[] = {TABLE(ATTN_ABI_INFO)};               \
  struct Args {                                                                \
    TABLE(ATTN_ABI_FIELD)                                                      \
    struct Pointers {                                                          \
      void *values[kCount];                                                    \
    };                                                                         \
    Pointers pointers() { return {{TABLE(ATTN_ABI_ADDRESS)}}; }                \
  };                                                                           \
  }

ATTN_ABI_KERNEL(decode, ATTN_DECODE_PARAMS)
ATTN_ABI_KERNEL(prefill, ATTN_PREFILL_PARAMS)
ATTN_ABI_KERNEL(combine, ATTN_COMBINE_PARAMS)
ATTN_ABI_KERNEL(local, ATTN_LOCAL_PARAMS)
ATTN_ABI_KERNEL(tma, ATTN_TMA_PARAMS)

// The combine kernel's block is combineGroups(S) groups of combineWidth(D)
// threads: thread d of a group sums column d (the head_dim rounded up to whole
// warps, every warp reducing the split weights with full-warp shuffles) over
// its share of the S splits, runs of kCombineUnroll splits dealt round-robin
// to the groups, so that a long single sequence's 64 splits take 2 rounds of
// loads rather than 8. With more than one group the groups' sums meet in
// combineSharedBytes of dynamic shared memory and group 0 stores. The kernel
// derives the group count from num_splits as the launch does; the manifest's
// `threads` is the largest block, combineThreads.
inline constexpr int32_t kCombineUnroll = 8;
inline constexpr int32_t kCombineMaxGroups = 4;
inline constexpr int32_t combineWidth(int32_t headDim) {
  return (headDim + 31) / 32 * 32;
}
inline constexpr int32_t combineGroups(int32_t numSplits) {
  int32_t runs = (numSplits + kCombineUnroll - 1) / kCombineUnroll;
  return runs < 1 ? 1 : runs > kCombineMaxGroups ? kCombineMaxGroups : runs;
}
inline constexpr int32_t combineThreads(int32_t headDim) {
  return combineWidth(headDim) * kCombineMaxGroups;
}
inline constexpr int32_t combineBlock(int32_t headDim, int32_t numSplits) {
  return combineWidth(headDim) * combineGroups(numSplits);
}
inline constexpr int32_t combineSharedBytes(int32_t headDim,
                                            int32_t numSplits) {
  return combineGroups(numSplits) > 1
             ? combineBlock(headDim, numSplits) * int32_t(sizeof(float))
             : 0;
}

#undef ATTN_ABI_KERNEL
#undef ATTN_ABI_ADDRESS
#undef ATTN_ABI_FIELD
#undef ATTN_ABI_INFO
#undef ATTN_ABI_INDEX

} // namespace abi
} // namespace attn

#endif // ATTN_ABI_KERNEL_PARAMS_H
