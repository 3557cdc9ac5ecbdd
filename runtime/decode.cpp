// The paged decode C API: plan, workspace check, decode and combine launches.
#include "runtime/decode_plan.h"
#include "runtime/kernel_cache.h"
#include "runtime/launch.h"

#include "abi/grid.h"

#include <cstdint>

namespace attn {

namespace {

// What a validated call resolved to in its context.
struct DecodeCall {
  LaunchTarget target;
  DecodePlan plan;
};

Status prepareDecode(const attn_paged_decode_args *args, DecodeCall *call) {
  ATTN_RETURN_IF_ERROR(validateDecodeArgs(args));
  ATTN_RETURN_IF_ERROR(resolveLaunchTarget(args->q, "q", &call->target));
  return planDecode(*args, *call->target.manifest,
                    call->target.current.info->smCount, &call->plan);
}

Status launch(const attn_paged_decode_args &args, const DecodeCall &call,
              void *workspace, CUstream stream) {
  const Driver &driver = *call.target.driver;
  const DecodePlan &plan = call.plan;
  // Both kernels are loaded before either is launched, so a failed load
  // launches nothing.
  CUfunction decode = nullptr;
  CUfunction combine = nullptr;
  ATTN_RETURN_IF_ERROR(getKernelFunction(call.target, *plan.decode, &decode));
  if (plan.combine != nullptr) {
    ATTN_RETURN_IF_ERROR(
        getKernelFunction(call.target, *plan.combine, &combine));
  }

  const DecodeStrides &strides = plan.strides;
  LaunchParams<abi::decode::Args> launchParams(plan.local);
  abi::decode::Args &params = launchParams.kind;
  params.q = devicePointer(args.q);
  params.k_cache = devicePointer(args.k_cache);
  params.v_cache = devicePointer(args.v_cache);
  params.cache_seqlens = devicePointer(args.cache_seqlens);
  params.block_table = devicePointer(args.block_table);
  params.out = devicePointer(args.out);
  params.lse = devicePointer(args.lse);
  if (plan.numSplits > 1) {
    params.part_o = devicePointer(workspace);
    params.part_lse = params.part_o + plan.workspace.partLseOffset;
  }
  params.q_stride_batch = strides.q[0];
  params.q_stride_token = strides.q[1];
  params.q_stride_head = strides.q[2];
  params.k_stride_outer = strides.k[0];
  params.k_stride_row = strides.k[1];
  params.k_stride_head = strides.k[2];
  params.v_stride_outer = strides.v[0];
  params.v_stride_row = strides.v[1];
  params.v_stride_head = strides.v[2];
  params.block_table_stride = strides.blockTable;
  params.out_stride_batch = strides.out[0];
  params.out_stride_token = strides.out[1];
  params.out_stride_head = strides.out[2];
  params.seqlen_q = args.seqlen_q;
  params.page_size = args.page_size;
  params.num_splits = plan.numSplits;
  params.softmax_scale = args.softmax_scale;
  params.num_heads = args.num_heads;
  params.num_kv_heads = args.num_kv_heads;
  params.head_dim = args.head_dim;
  ATTN_RETURN_IF_ERROR(
      launchKernel(driver, decode, *plan.decode, plan.numSplits,
                   unsigned(plan.tokenBlocks * plan.headBlocks), args.batch,
                   stream, launchParams.pointers(*plan.decode)));
  if (combine == nullptr)
    return Status();

  // docs/runtime_abi.md: grid (Hq, Lq, B).
  CombineLaunch merge;
  merge.args.part_o = params.part_o;
  merge.args.part_lse = params.part_lse;
  merge.args.out = params.out;
  merge.args.lse = params.lse;
  merge.args.out_stride_batch = strides.out[0];
  merge.args.out_stride_token = strides.out[1];
  merge.args.out_stride_head = strides.out[2];
  merge.args.num_splits = plan.numSplits;
  merge.args.head_dim = args.head_dim;
  merge.grid[0] = unsigned(args.num_heads);
  merge.grid[1] = unsigned(args.seqlen_q);
  merge.grid[2] = unsigned(args.batch);
  return launchCombine(driver, combine, *plan.combine, merge, stream);
}

Status workspaceSize(const attn_paged_decode_args *args, size_t *bytes) {
  if (bytes == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'bytes' must not be NULL");
  DecodeCall call;
  ATTN_RETURN_IF_ERROR(prepareDecode(args, &call));
  *bytes = call.plan.workspace.bytes;
  return Status();
}

Status pagedDecode(const attn_paged_decode_args *args, void *workspace,
                   size_t workspaceBytes, void *stream) {
  DecodeCall call;
  ATTN_RETURN_IF_ERROR(prepareDecode(args, &call));
  ATTN_RETURN_IF_ERROR(checkWorkspace(call.plan.workspace, call.plan.numSplits,
                                      workspace, workspaceBytes));
  return launch(*args, call, workspace, static_cast<CUstream>(stream));
}

} // namespace

} // namespace attn

ATTN_EXPORT attn_status attn_paged_decode_workspace_size(
    const attn_paged_decode_args *args, size_t *bytes) {
  return attn::finishCall("attn_paged_decode_workspace_size",
                          attn::workspaceSize(args, bytes));
}

ATTN_EXPORT attn_status attn_paged_decode(const attn_paged_decode_args *args,
                                          void *workspace,
                                          size_t workspaceBytes, void *stream) {
  return attn::finishCall(
      "attn_paged_decode",
      attn::pagedDecode(args, workspace, workspaceBytes, stream));
}
