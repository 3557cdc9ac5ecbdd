// The paged decode C API: plan, workspace check, decode and combine launches.
#include "runtime/decode_plan.h"
#include "runtime/device.h"
#include "runtime/driver.h"
#include "runtime/kernel_cache.h"
#include "runtime/pack.h"

#include <cstdint>

namespace attn {

namespace {

constexpr size_t kWorkspaceAlignment = 256;

// What a validated call resolved to on the current context.
struct DecodeCall {
  const Driver *driver = nullptr;
  CurrentContext current;
  const Manifest *manifest = nullptr;
  DecodePlan plan;
};

Status prepareDecode(const attn_paged_decode_args *args, DecodeCall *call) {
  ATTN_RETURN_IF_ERROR(validateDecodeArgs(args));
  ATTN_RETURN_IF_ERROR(getDriver(&call->driver));
  ATTN_RETURN_IF_ERROR(getCurrentContext(*call->driver, &call->current));
  std::string target;
  ATTN_RETURN_IF_ERROR(chooseTarget(*call->current.info, &target));
  ATTN_RETURN_IF_ERROR(getManifest(target, &call->manifest));
  return planDecode(*args, *call->manifest, call->current.info->smCount,
                    &call->plan);
}

Status checkWorkspace(const DecodePlan &plan, const void *workspace,
                      size_t workspaceBytes) {
  if (plan.workspaceBytes == 0)
    return Status();
  if (workspace == nullptr || workspaceBytes < plan.workspaceBytes) {
    return makeStatus(ATTN_ERROR_WORKSPACE,
                      "'workspace' must hold %zu bytes for %d splits, got %zu "
                      "bytes%s",
                      plan.workspaceBytes, plan.numSplits,
                      workspace == nullptr ? 0 : workspaceBytes,
                      workspace == nullptr ? " (NULL)" : "");
  }
  if (reinterpret_cast<uintptr_t>(workspace) % kWorkspaceAlignment != 0) {
    return makeStatus(ATTN_ERROR_WORKSPACE,
                      "'workspace' must be %zu-byte aligned, got %p",
                      kWorkspaceAlignment, workspace);
  }
  return Status();
}

CUdeviceptr devicePointer(const void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

// cuLaunchKernel takes non-const pointers to parameter values it only reads.
template <typename T> void *param(const T &value) {
  return const_cast<T *>(&value);
}

// Launches `kernel` with its block shape and dynamic shared memory; a failure
// names the kernel.
Status launchKernel(const Driver &driver, CUfunction function,
                    const KernelInfo &kernel, unsigned gridX, unsigned gridY,
                    unsigned gridZ, CUstream stream, void **params) {
  CUresult result =
      driver.cuLaunchKernel(function, gridX, gridY, gridZ, kernel.threads, 1, 1,
                            kernel.sharedBytes, stream, params, nullptr);
  if (result == CUDA_SUCCESS)
    return Status();
  return withContext(driverError(driver, result,
                                 "cuLaunchKernel(function, grid, block, "
                                 "sharedBytes, stream, params, nullptr)",
                                 __FILE__, __LINE__),
                     "kernel '" + kernel.name + "'");
}

Status launch(const attn_paged_decode_args &args, const DecodeCall &call,
              void *workspace, CUstream stream) {
  const Driver &driver = *call.driver;
  const DecodePlan &plan = call.plan;
  // Both kernels are loaded before either is launched, so a failed load
  // launches nothing.
  CUfunction decode = nullptr;
  CUfunction combine = nullptr;
  ATTN_RETURN_IF_ERROR(getKernelFunction(driver, call.current, *call.manifest,
                                         *plan.decode, &decode));
  if (plan.combine != nullptr) {
    ATTN_RETURN_IF_ERROR(getKernelFunction(driver, call.current, *call.manifest,
                                           *plan.combine, &combine));
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
    partLse = partO + plan.partLseOffset;
  }
  int32_t numSplits = plan.numSplits;

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
      param(args.q_strides[0]),
      param(args.q_strides[1]),
      param(args.q_strides[2]),
      param(args.k_strides[0]),
      param(args.k_strides[1]),
      param(args.k_strides[2]),
      param(args.v_strides[0]),
      param(args.v_strides[1]),
      param(args.v_strides[2]),
      param(args.block_table_stride),
      param(args.out_strides[0]),
      param(args.out_strides[1]),
      param(args.out_strides[2]),
      param(args.seqlen_q),
      param(args.page_size),
      &numSplits,
      param(args.softmax_scale),
  };
  ATTN_RETURN_IF_ERROR(launchKernel(driver, decode, *plan.decode, numSplits,
                                    args.num_kv_heads * args.seqlen_q,
                                    args.batch, stream, decodeParams));
  if (combine == nullptr)
    return Status();

  // The order of docs/runtime_abi.md, "Combine kernel".
  void *combineParams[] = {
      &partO,
      &partLse,
      &out,
      &lse,
      param(args.out_strides[0]),
      param(args.out_strides[1]),
      param(args.out_strides[2]),
      &numSplits,
  };
  return launchKernel(driver, combine, *plan.combine, args.num_heads,
                      args.seqlen_q, args.batch, stream, combineParams);
}

Status workspaceSize(const attn_paged_decode_args *args, size_t *bytes) {
  if (bytes == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'bytes' must not be NULL");
  DecodeCall call;
  ATTN_RETURN_IF_ERROR(prepareDecode(args, &call));
  *bytes = call.plan.workspaceBytes;
  return Status();
}

Status pagedDecode(const attn_paged_decode_args *args, void *workspace,
                   size_t workspaceBytes, void *stream) {
  DecodeCall call;
  ATTN_RETURN_IF_ERROR(prepareDecode(args, &call));
  ATTN_RETURN_IF_ERROR(checkWorkspace(call.plan, workspace, workspaceBytes));
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
