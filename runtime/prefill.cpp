// The varlen prefill C API: plan and launch of the prefill kernel.
#include "runtime/kernel_cache.h"
#include "runtime/prefill_plan.h"

#include <cstdint>

namespace attn {

namespace {

// What a validated call resolved to on the current context.
struct PrefillCall {
  LaunchTarget target;
  PrefillPlan plan;
};

Status preparePrefill(const attn_varlen_prefill_args *args, PrefillCall *call) {
  ATTN_RETURN_IF_ERROR(validatePrefillArgs(args));
  ATTN_RETURN_IF_ERROR(resolveLaunchTarget(&call->target));
  return planPrefill(*args, *call->target.manifest, &call->plan);
}

Status launch(const attn_varlen_prefill_args &args, const PrefillCall &call,
              CUstream stream) {
  const PrefillPlan &plan = call.plan;
  CUfunction prefill = nullptr;
  ATTN_RETURN_IF_ERROR(getKernelFunction(call.target, *plan.kernel, &prefill));

  CUdeviceptr q = devicePointer(args.q);
  CUdeviceptr k = devicePointer(args.k);
  CUdeviceptr v = devicePointer(args.v);
  CUdeviceptr cuSeqlensQ = devicePointer(args.cu_seqlens_q);
  CUdeviceptr cuSeqlensK = devicePointer(args.cu_seqlens_k);
  CUdeviceptr blockTable = devicePointer(args.block_table);
  CUdeviceptr out = devicePointer(args.out);
  CUdeviceptr lse = devicePointer(args.lse);

  // The order of docs/runtime_abi.md, "Prefill kernel".
  void *params[] = {
      &q,
      &k,
      &v,
      &cuSeqlensQ,
      &cuSeqlensK,
      &blockTable,
      &out,
      &lse,
      param(args.q_strides[0]),
      param(args.q_strides[1]),
      param(args.k_strides[0]),
      param(args.k_strides[1]),
      param(args.k_strides[2]),
      param(args.v_strides[0]),
      param(args.v_strides[1]),
      param(args.v_strides[2]),
      param(args.block_table_stride),
      param(args.out_strides[0]),
      param(args.out_strides[1]),
      param(args.num_kv_heads),
      param(args.page_size),
      param(args.total_q),
      param(args.softmax_scale),
  };
  // docs/runtime_abi.md: grid (Hq, B, row tiles).
  return launchKernel(*call.target.driver, prefill, *plan.kernel,
                      args.num_heads, args.batch, plan.rowTiles, stream,
                      params);
}

Status workspaceSize(const attn_varlen_prefill_args *args, size_t *bytes) {
  if (bytes == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'bytes' must not be NULL");
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  // The prefill kernel needs no workspace (docs/runtime_abi.md).
  *bytes = 0;
  return Status();
}

Status varlenPrefill(const attn_varlen_prefill_args *args, void *stream) {
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  // No query row: nothing to compute, nothing to load.
  if (call.plan.rowTiles == 0)
    return Status();
  return launch(*args, call, static_cast<CUstream>(stream));
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_varlen_prefill_workspace_size(
    const attn_varlen_prefill_args *args, size_t *bytes) {
  return attn::finishCall("attn_varlen_prefill_workspace_size",
                          attn::workspaceSize(args, bytes));
}

ATTN_EXPORT attn_status
attn_varlen_prefill(const attn_varlen_prefill_args *args, void * /*workspace*/,
                    size_t /*workspaceBytes*/, void *stream) {
  return attn::finishCall("attn_varlen_prefill",
                          attn::varlenPrefill(args, stream));
}
