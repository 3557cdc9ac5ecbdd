// Resolves the driver, context and manifest of a call; launches kernels;
// lays out and checks the split-KV workspace.
#include "runtime/launch.h"

#include "runtime/pack.h"

namespace attn {

namespace {

using abi::kWorkspaceAlignment;

// The manifest of the pack target that `target->current`'s device runs.
Status resolveManifest(LaunchTarget *target) {
  // Per launch: the target depends only on the device (and ATTN_TARGET, read
  // once), and manifests are never freed, so the thread's last answer holds
  // for the same device. A failure is not kept.
  thread_local const DeviceInfo *lastDevice = nullptr;
  thread_local const Manifest *lastManifest = nullptr;
  if (lastDevice != nullptr && lastDevice == target->current.info) {
    target->manifest = lastManifest;
    return Status();
  }
  std::string name;
  ATTN_RETURN_IF_ERROR(chooseTarget(*target->current.info, &name));
  ATTN_RETURN_IF_ERROR(getManifest(name, &target->manifest));
  lastDevice = target->current.info;
  lastManifest = target->manifest;
  return Status();
}

// The Status of launching `kernel` by `call`, which returned `result`.
Status launched(const Driver &driver, CUresult result, const char *call,
                const KernelInfo &kernel, int line) {
  if (result == CUDA_SUCCESS)
    return Status();
  return withContext(driverError(driver, result, call, __FILE__, line),
                     "kernel '" + kernel.name + "'");
}

} // namespace

Status resolveLaunchTarget(const void *pointer, const char *name,
                           LaunchTarget *target) {
  ATTN_RETURN_IF_ERROR(getDriver(&target->driver));
  ATTN_RETURN_IF_ERROR(
      getCurrentContext(*target->driver, pointer, name, &target->current));
  return resolveManifest(target);
}

Status resolveQueryTarget(LaunchTarget *target) {
  ATTN_RETURN_IF_ERROR(getDriver(&target->driver));
  ATTN_RETURN_IF_ERROR(getQueryDevice(*target->driver, &target->current));
  return resolveManifest(target);
}

Status launchKernel(const Driver &driver, CUfunction function,
                    const KernelInfo &kernel, unsigned gridX, unsigned gridY,
                    unsigned gridZ, unsigned block, unsigned sharedBytes,
                    CUstream stream, void **params) {
  return launched(driver,
                  driver.cuLaunchKernel(function, gridX, gridY, gridZ, block, 1,
                                        1, sharedBytes, stream, params,
                                        nullptr),
                  "cuLaunchKernel(function, grid, block, sharedBytes, stream, "
                  "params, nullptr)",
                  kernel, __LINE__);
}

SplitWorkspace splitWorkspace(int numSplits, size_t rows, int headDim) {
  SplitWorkspace layout;
  if (numSplits <= 1)
    return layout;
  // The callers' grid checks bound these products far below 2^63.
  size_t partRows = size_t(numSplits) * rows;
  size_t partOBytes = partRows * size_t(headDim) * sizeof(float);
  layout.partLseOffset = (partOBytes + kWorkspaceAlignment - 1) /
                         kWorkspaceAlignment * kWorkspaceAlignment;
  layout.bytes = layout.partLseOffset + partRows * sizeof(float);
  return layout;
}

Status checkWorkspace(const SplitWorkspace &layout, int numSplits,
                      const void *workspace, size_t workspaceBytes) {
  if (layout.bytes == 0)
    return Status();
  if (workspace == nullptr || workspaceBytes < layout.bytes) {
    return makeStatus(ATTN_ERROR_WORKSPACE,
                      "'workspace' must hold %zu bytes for %d splits, got %zu "
                      "bytes%s",
                      layout.bytes, numSplits,
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

Status launchCombine(const Driver &driver, CUfunction function,
                     const KernelInfo &kernel, const CombineLaunch &combine,
                     CUstream stream) {
  abi::combine::Args args = combine.args;
  // abi::combineGroups: the block and its shared memory follow the split
  // count, as the kernel derives them.
  int headDim = kernel.variant.headDim;
  unsigned block = unsigned(abi::combineBlock(headDim, args.num_splits));
  unsigned sharedBytes =
      unsigned(abi::combineSharedBytes(headDim, args.num_splits));
  if (!kernel.dependentLaunch)
    return launchKernel(driver, function, kernel, combine.grid[0],
                        combine.grid[1], combine.grid[2], block, sharedBytes,
                        stream, args.pointers().values);
  // A programmatic dependent of the split kernel before it on the stream
  // (and in a captured graph): it may start once every CTA of that kernel
  // has signalled, and waits in the kernel (griddepcontrol.wait) for its
  // partials.
  CUlaunchAttribute attribute{};
  attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
  attribute.value.programmaticStreamSerializationAllowed = 1;
  CUlaunchConfig config{};
  config.gridDimX = combine.grid[0];
  config.gridDimY = combine.grid[1];
  config.gridDimZ = combine.grid[2];
  config.blockDimX = block;
  config.blockDimY = config.blockDimZ = 1;
  config.sharedMemBytes = sharedBytes;
  config.hStream = stream;
  config.attrs = &attribute;
  config.numAttrs = 1;
  return launched(driver,
                  driver.cuLaunchKernelEx(&config, function,
                                          args.pointers().values, nullptr),
                  "cuLaunchKernelEx(config, function, params, nullptr)", kernel,
                  __LINE__);
}

} // namespace attn
