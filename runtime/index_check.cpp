// Checked mode (attn.h, attn_*_check_indices): the index tensors read back to
// the host and checked against the extents the kernels trust.
#include "runtime/decode_plan.h"
#include "runtime/launch.h"
#include "runtime/prefill_plan.h"

#include <cinttypes>
#include <vector>

namespace attn {

namespace {

// Where the values the kernels index with come from: the call's context and
// stream.
struct Reader {
  const Driver &driver;
  CUstream stream;

  // ATTN_ERROR_INVALID_ARGUMENT while `stream` is being captured: a capture
  // records the copy instead of running it, and the host cannot wait.
  Status notCapturing() const {
    CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
    ATTN_CU_RETURN_IF_ERROR(driver, cuStreamIsCapturing(stream, &capture));
    if (capture != CU_STREAM_CAPTURE_STATUS_NONE)
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "checked mode reads the index tensors back to the "
                        "host, which a stream being captured into a CUDA "
                        "graph cannot do: check the call eagerly");
    return Status();
  }

  // `count` int32 at device address `source`, after the stream's earlier
  // work.
  Status read(const int32_t *source, size_t count,
              std::vector<int32_t> *values) const {
    values->resize(count);
    if (count == 0)
      return Status();
    ATTN_CU_RETURN_IF_ERROR(
        driver, cuMemcpyDtoHAsync(values->data(), devicePointer(source),
                                  count * sizeof(int32_t), stream));
    ATTN_CU_RETURN_IF_ERROR(driver, cuStreamSynchronize(stream));
    return Status();
  }
};

// The pages each of the `batch` sequences reads name blocks in
// [0, numBlocks): sequence b reads keys(b) keys (counted by `keysName`), so
// the first ceil(keys(b) / pageSize) entries of its row. The rows' entries
// past ceil(maxKeys / pageSize) are never read, and the rows are read in one
// copy of the span they lie in.
template <typename Keys>
Status checkBlockTable(const Reader &reader, const int32_t *blockTable,
                       int64_t stride, int32_t batch, int32_t maxKeys,
                       int32_t pageSize, int64_t numBlocks,
                       const char *keysName, Keys keys) {
  if (batch <= 1)
    stride = 0;
  int64_t columns = ceilDiv(maxKeys, pageSize);
  size_t span = columns == 0 ? 0 : size_t((batch - 1) * stride + columns);
  std::vector<int32_t> table;
  ATTN_RETURN_IF_ERROR(reader.read(blockTable, span, &table));
  for (int32_t b = 0; b < batch; ++b) {
    int64_t count = keys(b);
    for (int64_t j = 0; j * pageSize < count; ++j) {
      int32_t block = table[size_t(b * stride + j)];
      if (block < 0 || block >= numBlocks)
        return makeStatus(
            ATTN_ERROR_INVALID_ARGUMENT,
            "'block_table'[%d][%" PRId64 "] is %d, outside [0, %" PRId64
            ") (kv_rows, the caches' num_blocks): sequence %d has %" PRId64
            " keys (%s), so its pages 0 to %" PRId64 " of %d keys are read",
            b, j, block, numBlocks, b, count, keysName,
            ceilDiv(count, pageSize) - 1, pageSize);
    }
  }
  return Status();
}

Status checkKvRows(int64_t kvRows, const char *meaning) {
  if (kvRows < 0)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'kv_rows' (%s) must be >= 0, got %" PRId64, meaning,
                      kvRows);
  return Status();
}

Status checkDecodeIndices(const attn_paged_decode_args *args, int64_t kvRows,
                          void *stream) {
  ATTN_RETURN_IF_ERROR(validateDecodeArgs(args));
  LaunchTarget target;
  ATTN_RETURN_IF_ERROR(resolveLaunchTarget(args->q, "q", &target));
  bool paged = args->page_size > 0;
  if (paged)
    ATTN_RETURN_IF_ERROR(checkKvRows(kvRows, "the caches' num_blocks"));
  Reader reader{*target.driver, static_cast<CUstream>(stream)};
  ATTN_RETURN_IF_ERROR(reader.notCapturing());

  std::vector<int32_t> seqlens;
  ATTN_RETURN_IF_ERROR(reader.read(args->cache_seqlens, args->batch, &seqlens));
  for (int32_t b = 0; b < args->batch; ++b) {
    if (seqlens[b] < 0 || seqlens[b] > args->max_seqlen_k)
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'cache_seqlens'[%d] is %d, outside [0, %d] "
                        "(max_seqlen_k)",
                        b, seqlens[b], args->max_seqlen_k);
  }
  if (!paged)
    return Status();
  return checkBlockTable(reader, args->block_table, args->block_table_stride,
                         args->batch, args->max_seqlen_k, args->page_size,
                         kvRows, "cache_seqlens",
                         [&](int32_t b) { return int64_t{seqlens[b]}; });
}

// cu_seqlens `name` of `batch` sequences: non-decreasing, each length at most
// `maxLength` (the argument `maxName`).
Status checkOffsets(const char *name, const std::vector<int32_t> &offsets,
                    int32_t maxLength, const char *maxName) {
  for (size_t b = 0; b + 1 < offsets.size(); ++b) {
    int64_t length = int64_t(offsets[b + 1]) - offsets[b];
    if (length < 0)
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'%s' must be non-decreasing: [%zu] is %d after %d at "
                        "[%zu]",
                        name, b + 1, offsets[b + 1], offsets[b], b);
    if (length > maxLength)
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "sequence %zu has %" PRId64 " rows by '%s' "
                        "([%zu] - [%zu] = %d - %d), more than %s = %d",
                        b, length, name, b + 1, b, offsets[b + 1], offsets[b],
                        maxName, maxLength);
  }
  return Status();
}

Status checkPrefillIndices(const attn_varlen_prefill_args *args, int64_t kvRows,
                           void *stream) {
  ATTN_RETURN_IF_ERROR(validatePrefillArgs(args));
  LaunchTarget target;
  ATTN_RETURN_IF_ERROR(resolvePrefillTarget(*args, &target));
  bool paged = args->page_size > 0;
  ATTN_RETURN_IF_ERROR(checkKvRows(kvRows, paged ? "the caches' num_blocks"
                                                 : "the rows of k and v"));
  // No query row: the call launches nothing and reads no index.
  if (args->total_q == 0)
    return Status();
  Reader reader{*target.driver, static_cast<CUstream>(stream)};
  ATTN_RETURN_IF_ERROR(reader.notCapturing());

  size_t count = size_t(args->batch) + 1;
  std::vector<int32_t> cuQ, cuK;
  ATTN_RETURN_IF_ERROR(reader.read(args->cu_seqlens_q, count, &cuQ));
  ATTN_RETURN_IF_ERROR(reader.read(args->cu_seqlens_k, count, &cuK));
  if (cuQ[0] != 0)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'cu_seqlens_q'[0] must be 0, got %d", cuQ[0]);
  ATTN_RETURN_IF_ERROR(
      checkOffsets("cu_seqlens_q", cuQ, args->max_seqlen_q, "max_seqlen_q"));
  if (cuQ[args->batch] != args->total_q)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                      "'cu_seqlens_q'[%d] (the last) must be total_q = %d, "
                      "got %d",
                      args->batch, args->total_q, cuQ[args->batch]);
  ATTN_RETURN_IF_ERROR(
      checkOffsets("cu_seqlens_k", cuK, args->max_seqlen_k, "max_seqlen_k"));
  if (!paged) {
    if (cuK[0] < 0 || cuK[args->batch] > kvRows)
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "'cu_seqlens_k' spans rows %d to %d, outside [0, "
                        "%" PRId64 "] (kv_rows, the rows of k and v)",
                        cuK[0], cuK[args->batch], kvRows);
    return Status();
  }
  return checkBlockTable(
      reader, args->block_table, args->block_table_stride, args->batch,
      args->max_seqlen_k, args->page_size, kvRows, "cu_seqlens_k",
      [&](int32_t b) { return int64_t{cuK[b + 1]} - cuK[b]; });
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_paged_decode_check_indices(
    const attn_paged_decode_args *args, int64_t kv_rows, void *stream) {
  return attn::finishCall("attn_paged_decode_check_indices",
                          attn::checkDecodeIndices(args, kv_rows, stream));
}

ATTN_EXPORT attn_status attn_varlen_prefill_check_indices(
    const attn_varlen_prefill_args *args, int64_t kv_rows, void *stream) {
  return attn::finishCall("attn_varlen_prefill_check_indices",
                          attn::checkPrefillIndices(args, kv_rows, stream));
}
