/* attn.h: the C API of libattnrt, the runtime that launches the attention
 * kernels of the kernel pack through the CUDA driver API.
 *
 * No CUDA header is needed to use it: streams are passed as `void *`
 * (a CUstream, NULL for the legacy default stream). Every call uses the
 * caller's current CUDA context, whose device must hold the tensors. On a
 * thread with none (a fresh server thread), the decode and prefill calls and
 * their size queries use the primary context of the device that holds q
 * (cu_seqlens_q for a prefill whose q is NULL), retained once per device for
 * the life of the process, and leave it current on the thread, as the CUDA
 * runtime does; a q the driver does not know (host memory) then fails with
 * ATTN_ERROR_INVALID_ARGUMENT naming it. Calls never allocate, synchronise or
 * read device memory, so they can be captured in a CUDA graph; launch
 * decisions use only the host-known sizes in the argument structs.
 *
 * Strides are in elements and the last dimension of every tensor is
 * contiguous. As in torch, a dimension of size 1 may have any stride (0,
 * negative, unaligned): B, Lq, Hq, Hkv or total_q of 1, a contiguous decode
 * cache's rows when max_seqlen_k <= 1, block_table's rows when B = 1; the
 * kernels get stride 0 there. The other strides (but packed prefill k and v's
 * first, 0) are positive multiples of 8 elements below 2^31: stride 0 (a
 * broadcast dimension) is rejected.
 *
 * Kernels come from the kernel pack built into the library; with
 * ATTN_PACK_DIR=<dir> set they come from <dir>/<target>/ instead.
 * ATTN_TARGET=sm_80|sm_89|sm_90|sm_90a overrides the target chosen from the
 * device (sm_80: PTX only, what sm_80 to sm_88 GPUs run through the driver's
 * JIT; sm_90a: Hopper's wgmma prefill kernels over sm_90's, the default on
 * compute capability 9.0, which ATTN_TARGET=sm_90 turns off).
 *
 * Errors: every call returns an attn_status; on failure attn_last_error()
 * returns a thread-local message naming the argument, the expected and the
 * actual value (or the driver call, its error name and string). Nothing is
 * launched for a rejected call.
 */
#ifndef ATTN_RUNTIME_ATTN_H
#define ATTN_RUNTIME_ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_API_VERSION 4

typedef enum attn_status {
  ATTN_SUCCESS = 0,
  ATTN_ERROR_INVALID_ARGUMENT = 1, /* null pointer, bad shape or stride */
  ATTN_ERROR_UNSUPPORTED = 2,      /* valid, but no kernel in the pack */
  ATTN_ERROR_DRIVER = 3,           /* libcuda missing or a driver call failed */
  ATTN_ERROR_PACK = 4,             /* the kernel pack is missing or corrupt */
  ATTN_ERROR_WORKSPACE = 5,        /* workspace missing or too small */
} attn_status;

typedef enum attn_dtype {
  ATTN_DTYPE_F16 = 0,
  ATTN_DTYPE_BF16 = 1,
} attn_dtype;

typedef enum attn_op {
  ATTN_OP_PAGED_DECODE = 0,   /* attn_paged_decode */
  ATTN_OP_VARLEN_PREFILL = 1, /* attn_varlen_prefill */
} attn_op;

/* ATTN_API_VERSION of the library. */
int attn_api_version(void);

/* The message of the last failed call on this thread ("" if none). */
const char *attn_last_error(void);

/* Local attention (flash-attn 2's window_size and softcap) for both calls;
 * all zero (a zero-initialised argument struct) means none. With has_window,
 * query i of a sequence, whose diagonal is d = i + Lk - Lq (bottom-right
 * aligned, Lk its keys, Lq its queries), sees only the keys j with
 * d - window_left <= j <= d + window_right; a negative bound is unbounded
 * (flash-attn's -1), and causal still keeps j <= d. softcap > 0 replaces each
 * scaled score s by softcap * tanh(s / softcap) before the softmax (Gemma-2);
 * 0 is off, a negative or non-finite value is rejected. A call with a bounded
 * window side or a softcap runs the pack's local kernels
 * (attn_support_query.local); one whose window leaves every key visible runs
 * the plain ones. */
typedef struct attn_local_options {
  int32_t has_window;   /* 0: no window, the two bounds are ignored */
  int32_t window_left;  /* keys left of the diagonal a query sees; < 0: all */
  int32_t window_right; /* keys right of the diagonal; < 0: all */
  float softcap;        /* > 0: cap the scores; 0: off */
} attn_local_options;

/* One decode step (flash-attn 2's flash_attn_with_kvcache).
 * Strides are in elements (see above for size-1 dimensions).
 *   q        [B, Lq, Hq, D]       q_strides = {batch, token, head}
 *   paged (page_size > 0):
 *     k_cache, v_cache [num_blocks, page_size, Hkv, D]  strides = {block, row,
 * head} block_table [B, >= ceil(max_seqlen_k / page_size)] int32, row stride
 *       block_table_stride; entries past a sequence's length may be -1.
 *   contiguous (page_size == 0):
 *     k_cache, v_cache [B, >= max_seqlen_k, Hkv, D]    strides = {batch, row,
 * head} block_table must be NULL. cache_seqlens [B] int32, each in [0,
 * max_seqlen_k]; 0 writes zeros. out      [B, Lq, Hq, D]       out_strides =
 * {batch, token, head} lse      NULL or [B, Hq, Lq] float32, contiguous; +inf
 * for rows that see no key. Query i of Lq sees keys j <= i + cache_seqlens[b] -
 * Lq when causal. */
typedef struct attn_paged_decode_args {
  attn_dtype dtype;
  int32_t batch;        /* B >= 1 */
  int32_t seqlen_q;     /* Lq >= 1 */
  int32_t num_heads;    /* Hq >= 1 */
  int32_t num_kv_heads; /* Hkv >= 1, Hq % Hkv == 0, Hq / Hkv <= 16 */
  int32_t head_dim;     /* D: a multiple of 8 up to 256 (see the pack) */
  int32_t page_size;    /* 0 = contiguous, else a multiple of 16 */
  int32_t max_seqlen_k; /* host-known upper bound of cache_seqlens */
  int32_t causal;       /* 0 or 1 */
  float softmax_scale;  /* > 0; usually 1/sqrt(D) */
  int32_t num_splits;   /* 0 = chosen by the runtime from the sizes above */
  const void *q;
  int64_t q_strides[3];
  const void *k_cache;
  int64_t k_strides[3];
  const void *v_cache;
  int64_t v_strides[3];
  const int32_t *cache_seqlens;
  const int32_t *block_table;
  int64_t block_table_stride;
  void *out;
  int64_t out_strides[3];
  float *lse;
  attn_local_options local; /* window and softcap; zero: none */
} attn_paged_decode_args;

/* Bytes of workspace attn_paged_decode needs for these arguments (0 when it
 * needs none). The workspace is scratch for split-KV partial results. */
attn_status attn_paged_decode_workspace_size(const attn_paged_decode_args *args,
                                             size_t *bytes);

/* Launches the decode on `stream`. `workspace` must hold at least
 * attn_paged_decode_workspace_size() bytes, 256-byte aligned. */
attn_status attn_paged_decode(const attn_paged_decode_args *args,
                              void *workspace, size_t workspace_bytes,
                              void *stream);

/* Variable-length prefill (flash-attn 2's flash_attn_varlen_func).
 * Strides are in elements (see above for size-1 dimensions).
 *   q        [total_q, Hq, D]     q_strides = {token, head}
 *   cu_seqlens_q [B+1] int32, cu_seqlens_q[0] = 0, non-decreasing, last =
 * total_q. cu_seqlens_k [B+1] int32: sequence b has Lk = cu_seqlens_k[b+1] -
 * cu_seqlens_k[b] keys (cached + new), Lk >= Lq when causal, Lk <=
 * max_seqlen_k. packed (page_size == 0): k, v [total_k, Hkv, D]    k_strides =
 * {0, token, head}; key j of sequence b is row cu_seqlens_k[b] + j. block_table
 * must be NULL. paged (page_size > 0, a multiple of 16): k, v [num_blocks,
 * page_size, Hkv, D]  k_strides = {block, row, head} block_table [B, >=
 * ceil(max_seqlen_k / page_size)] int32, row stride block_table_stride; entries
 * past a sequence's length may be -1. out      [total_q, Hq, D]     out_strides
 * = {token, head} lse      NULL or [Hq, total_q] float32, contiguous; +inf for
 * rows that see no key. Query i of a sequence sees keys j <= i + Lk - Lq when
 * causal. With total_q == 0 nothing is launched, and q, k, v and out may be
 * NULL. */
typedef struct attn_varlen_prefill_args {
  attn_dtype dtype;
  int32_t batch;     /* B >= 1 */
  int32_t total_q;   /* rows of q and out, 0 <= total_q <= B * max_seqlen_q */
  int32_t num_heads; /* Hq >= 1 */
  int32_t num_kv_heads; /* Hkv >= 1, Hq % Hkv == 0 */
  int32_t head_dim;     /* D: a multiple of 8 up to 256 (see the pack) */
  int32_t page_size;    /* 0 = packed k, v; else a multiple of 16 */
  int32_t max_seqlen_q; /* host-known upper bound of every Lq */
  int32_t max_seqlen_k; /* host-known upper bound of every Lk */
  int32_t causal;       /* 0 or 1 */
  float softmax_scale;  /* > 0; usually 1/sqrt(D) */
  const void *q;
  int64_t q_strides[2];
  const void *k;
  int64_t k_strides[3];
  const void *v;
  int64_t v_strides[3];
  const int32_t *cu_seqlens_q;
  const int32_t *cu_seqlens_k;
  const int32_t *block_table;
  int64_t block_table_stride;
  void *out;
  int64_t out_strides[2];
  float *lse;
  int32_t num_splits; /* 0 = chosen by the runtime; else split-KV over this
                         many key ranges, at most 64 (more are clamped) */
  attn_local_options local; /* window and softcap; zero: none */
} attn_varlen_prefill_args;

/* Bytes of workspace attn_varlen_prefill needs for these arguments (0 when it
 * needs none). The workspace is scratch for split-KV partial results: the
 * runtime splits the keys when the grid is too small to fill the GPU (few
 * short sequences over long caches), or as num_splits asks. */
attn_status
attn_varlen_prefill_workspace_size(const attn_varlen_prefill_args *args,
                                   size_t *bytes);

/* Launches the prefill on `stream`. `workspace` must hold at least
 * attn_varlen_prefill_workspace_size() bytes, 256-byte aligned (may be NULL
 * when that is 0). */
attn_status attn_varlen_prefill(const attn_varlen_prefill_args *args,
                                void *workspace, size_t workspace_bytes,
                                void *stream);

/* Checked mode (the Python package's ATTN_CHECK=1; off by default). The
 * kernels trust the index tensors: a block_table entry outside the cache, or
 * cu_seqlens past the tensors, is an illegal address that poisons the CUDA
 * context. These calls check the call's arguments as the call would, then
 * copy cache_seqlens and block_table (decode), or cu_seqlens_q, cu_seqlens_k
 * and block_table (prefill), to the host on `stream` after the work queued
 * there, wait for the copy, check the values, and launch nothing. kv_rows is
 * the extent the runtime cannot see: paged, the caches' num_blocks; packed
 * prefill, the rows of k and v; contiguous decode, ignored (max_seqlen_k
 * bounds cache_seqlens). A bad value gives ATTN_ERROR_INVALID_ARGUMENT naming
 * the sequence, the entry and its value:
 *   decode:  0 <= cache_seqlens[b] <= max_seqlen_k; paged, the first
 *            ceil(cache_seqlens[b] / page_size) entries of block_table row b
 *            in [0, kv_rows).
 *   prefill: cu_seqlens_q[0] = 0, non-decreasing, last = total_q, each Lq <=
 *            max_seqlen_q; cu_seqlens_k non-decreasing, each Lk <=
 *            max_seqlen_k; packed, cu_seqlens_k[0] >= 0 and last <= kv_rows;
 *            paged, the first ceil(Lk / page_size) entries of block_table row
 *            b in [0, kv_rows).
 * The host waits for the stream, so a checked call is eager only: on a stream
 * being captured into a CUDA graph it returns ATTN_ERROR_INVALID_ARGUMENT and
 * reads nothing. */
attn_status attn_paged_decode_check_indices(const attn_paged_decode_args *args,
                                            int64_t kv_rows, void *stream);
attn_status
attn_varlen_prefill_check_indices(const attn_varlen_prefill_args *args,
                                  int64_t kv_rows, void *stream);

/* A configuration to ask attn_query_support about: the fields of the call's
 * argument struct that choose its kernels. */
typedef struct attn_support_query {
  attn_op op;
  attn_dtype dtype;
  int32_t num_heads;    /* Hq */
  int32_t num_kv_heads; /* Hkv */
  int32_t head_dim;     /* D */
  int32_t paged;        /* 1: page_size > 0; 0: contiguous or packed k, v */
  int32_t causal;       /* 0 or 1 */
  int32_t seqlen_q;     /* decode: Lq >= 1 (a causal kernel serves causal=0
                           when Lq == 1); ignored for prefill */
  int32_t local;        /* 1: a window with a bounded side or a softcap */
} attn_support_query;

/* Whether the kernel pack has what a call of this configuration launches on
 * the device of the caller's current context (ATTN_TARGET honoured), so that
 * a caller can choose another backend before it allocates or calls. On a
 * thread with no current context it answers for device 0, the CUDA runtime's
 * default device, and makes no context current. Loads no kernel. Returns
 * ATTN_SUCCESS when it does; ATTN_ERROR_UNSUPPORTED when it does not, with
 * attn_last_error() saying what the pack has; the other codes as the calls
 * would (a bad field, no driver or context, a corrupt pack). */
attn_status attn_query_support(const attn_support_query *query);

/* The library's version ("0.2.0"): the project's semantic version, the one
 * its wheels and attn_kernels.__version__ carry. */
const char *attn_version(void);

/* What the kernel pack the library reads (ATTN_PACK_DIR honoured) holds.
 * The strings live as long as the process. */
typedef struct attn_pack_info {
  const char *source;  /* "embedded" (built into the library) or the
                          ATTN_PACK_DIR it is read from */
  const char *version; /* the version attn-pack wrote into the manifests
                          ("" for a pack without one; comma-separated if the
                          targets' manifests disagree) */
  const char *targets; /* the targets it has, in order:
                          "sm_80,sm_89,sm_90,sm_90a" */
  int32_t num_kernels; /* over all targets, combine kernels included */
  const char *hash;    /* 16 hex digits: FNV-1a 64 over each target's
                          manifest.txt in that order; every manifest line
                          carries its kernel's hash of its PTX and cubin
                          (checked when the kernel loads), so this names the
                          pack's whole content */
} attn_pack_info;

/* Sets *info to a description of the pack, read and checked once (no driver
 * or GPU needed). ATTN_ERROR_PACK when there is no pack or a manifest is
 * corrupt; a failure is not remembered. */
attn_status attn_get_pack_info(const attn_pack_info **info);

/* What the library's kernels and calls take (abi/limits.h), for a caller
 * that checks a configuration without a pack or a GPU. */
typedef struct attn_limits {
  int32_t head_dim_multiple;     /* head_dim: a multiple of this, */
  int32_t max_head_dim;          /* at most this */
  int32_t max_decode_group_size; /* decode: Hq / Hkv at most this */
  int32_t max_splits;            /* num_splits at most this */
  uint64_t workspace_alignment;  /* the workspace's alignment in bytes */
} attn_limits;

/* Fills *limits; ATTN_ERROR_INVALID_ARGUMENT when it is NULL. */
attn_status attn_get_limits(attn_limits *limits);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_RUNTIME_ATTN_H */
