// The paged decode C API: plan, workspace check, decode and combine launches.
#include "runtime/decode_plan.h"
#include "runtime/kernel_cache.h"
#include "runtime/launch.h"

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

  CUdeviceptr q = devicePointer(args.q);
  CUdeviceptr kCache = devicePointer(args.k_cache);
  CUdeviceptr vCache = devicePointer(args.v_cache);
  CUdeviceptr cacheSeqlens = devicePointer(args.cache_seqlens);
  CUdeviceptr blockTable = devicePointer(args.block_table);
  CUdeviceptr out = devicePointer(args.out);
  CUdeviceptr lse = devicePointer(args.lse);
  CUdeviceptr partO = 0;
  CUdeviceptr partLse = 0;
  if (plan.numSplits > 1) {
    partO = devicePointer(workspace);
    partLse = partO + plan.workspace.partLseOffset;
  }
  int32_t numSplits = plan.numSplits;
  const DecodeStrides &strides = plan.strides;

  // The order of docs/runtime_abi.md, "Decode kernel".
  void *decodeParams[] = {
      &q,
      &kCache,
      &vCache,
      &cacheSeqlens,
      &blockTable,
      &out,
      &lse,
      &partO,
      &partLse,
      param(strides.q[0]),
      param(strides.q[1]),
      param(strides.q[2]),
      param(strides.k[0]),
      param(strides.k[1]),
      param(strides.k[2]),
      param(strides.v[0]),
      param(strides.v[1]),
      param(strides.v[2]),
      param(strides.blockTable),
      param(strides.out[0]),
      param(strides.out[1]),
      param(strides.out[2]),
      param(args.seqlen_q),
      param(args.page_size),
      &numSplits,
      param(args.softmax_scale),
      param(args.num_heads),
      param(args.num_kv_heads),
  };
  ATTN_RETURN_IF_ERROR(launchKernel(driver, decode, *plan.decode, numSplits,
                                    plan.headBlocks * args.seqlen_q,
                                    args.batch, stream, decodeParams));
  if (combine == nullptr)
    return Status();

  // docs/runtime_abi.md: grid (Hq, Lq, B).
  CombineLaunch merge = {
      partO,
      partLse,
      out,
      lse,
      {strides.out[0], strides.out[1], strides.out[2]},
      numSplits,
      {unsigned(args.num_heads), unsigned(args.seqlen_q), unsigned(args.batch)},
  };
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
