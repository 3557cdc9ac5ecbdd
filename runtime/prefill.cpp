// The varlen prefill C API: plan, workspace check, prefill and combine
// launches.
#include "runtime/kernel_cache.h"
#include "runtime/launch.h"
#include "runtime/prefill_plan.h"
#include "runtime/tensor_map.h"

#include <cstdint>

namespace attn {

namespace {

// What a validated call resolved to in its context.
struct PrefillCall {
  LaunchTarget target;
  PrefillPlan plan;
};

Status preparePrefill(const attn_varlen_prefill_args *args, PrefillCall *call) {
  ATTN_RETURN_IF_ERROR(validatePrefillArgs(args));
  ATTN_RETURN_IF_ERROR(resolvePrefillTarget(*args, &call->target));
  return planPrefill(*args, *call->target.manifest,
                     call->target.current.info->smCount, &call->plan);
}

Status launch(const attn_varlen_prefill_args &args, const PrefillCall &call,
              void *workspace, CUstream stream) {
  const Driver &driver = *call.target.driver;
  const PrefillPlan &plan = call.plan;
  // Both kernels are loaded before either is launched, so a failed load
  // launches nothing.
  CUfunction prefill = nullptr;
  CUfunction combine = nullptr;
  ATTN_RETURN_IF_ERROR(getKernelFunction(call.target, *plan.kernel, &prefill));
  if (plan.combine != nullptr) {
    ATTN_RETURN_IF_ERROR(
        getKernelFunction(call.target, *plan.combine, &combine));
  }

  const PrefillStrides &strides = plan.strides;
  LaunchParams<abi::prefill::Args> launchParams(plan.local);
  abi::prefill::Args &params = launchParams.kind;
  params.q = devicePointer(args.q);
  params.k = devicePointer(args.k);
  params.v = devicePointer(args.v);
  params.cu_seqlens_q = devicePointer(args.cu_seqlens_q);
  params.cu_seqlens_k = devicePointer(args.cu_seqlens_k);
  params.block_table = devicePointer(args.block_table);
  params.out = devicePointer(args.out);
  params.lse = devicePointer(args.lse);
  params.q_stride_token = strides.q[0];
  params.q_stride_head = strides.q[1];
  params.k_stride_outer = strides.k[0];
  params.k_stride_row = strides.k[1];
  params.k_stride_head = strides.k[2];
  params.v_stride_outer = strides.v[0];
  params.v_stride_row = strides.v[1];
  params.v_stride_head = strides.v[2];
  params.block_table_stride = strides.blockTable;
  params.out_stride_token = strides.out[0];
  params.out_stride_head = strides.out[1];
  params.num_kv_heads = args.num_kv_heads;
  params.page_size = args.page_size;
  params.total_q = args.total_q;
  params.softmax_scale = args.softmax_scale;
  if (plan.numSplits > 1) {
    params.part_o = devicePointer(workspace);
    params.part_lse = params.part_o + plan.workspace.partLseOffset;
  }
  params.num_splits = plan.numSplits;
  params.num_heads = args.num_heads;
  params.head_shift = plan.headShift;
  params.group_magic = static_cast<int64_t>(plan.groupMagic);
  params.head_dim = args.head_dim;
  if (plan.kernel->tma)
    ATTN_RETURN_IF_ERROR(encodeKvTensorMaps(driver, args, strides, *plan.kernel,
                                            &launchParams.tma));
  // abi/grid.h: grid (Hq or S << head_shift, B, Z); CTA x is
  // split << head_shift | head.
  ATTN_RETURN_IF_ERROR(launchKernel(driver, prefill, *plan.kernel, plan.gridX,
                                    args.batch, plan.gridZ, stream,
                                    launchParams.pointers(*plan.kernel)));
  if (combine == nullptr)
    return Status();

  // The decode combine with B = 1 and Lq = total_q: part_o [S, total_q, Hq,
  // D] and prefill's lse [Hq, total_q] are its layouts, out's token and head
  // strides its last two.
  CombineLaunch merge;
  merge.args.part_o = params.part_o;
  merge.args.part_lse = params.part_lse;
  merge.args.out = params.out;
  merge.args.lse = params.lse;
  merge.args.out_stride_token = strides.out[0];
  merge.args.out_stride_head = strides.out[1];
  merge.args.num_splits = plan.numSplits;
  merge.args.head_dim = args.head_dim;
  merge.grid[0] = unsigned(args.num_heads);
  merge.grid[1] = unsigned(args.total_q);
  return launchCombine(driver, combine, *plan.combine, merge, stream);
}

Status workspaceSize(const attn_varlen_prefill_args *args, size_t *bytes) {
  if (bytes == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'bytes' must not be NULL");
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  *bytes = call.plan.workspace.bytes;
  return Status();
}

Status varlenPrefill(const attn_varlen_prefill_args *args, void *workspace,
                     size_t workspaceBytes, void *stream) {
  PrefillCall call;
  ATTN_RETURN_IF_ERROR(preparePrefill(args, &call));
  ATTN_RETURN_IF_ERROR(checkWorkspace(call.plan.workspace, call.plan.numSplits,
                                      workspace, workspaceBytes));
  // No query row: nothing to compute, nothing to load.
  if (call.plan.rowTiles == 0)
    return Status();
  return launch(*args, call, workspace, static_cast<CUstream>(stream));
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_varlen_prefill_workspace_size(
    const attn_varlen_prefill_args *args, size_t *bytes) {
  return attn::finishCall("attn_varlen_prefill_workspace_size",
                          attn::workspaceSize(args, bytes));
}

ATTN_EXPORT attn_status
attn_varlen_prefill(const attn_varlen_prefill_args *args, void *workspace,
                    size_t workspaceBytes, void *stream) {
  return attn::finishCall(
      "attn_varlen_prefill",
      attn::varlenPrefill(args, workspace, workspaceBytes, stream));
}
