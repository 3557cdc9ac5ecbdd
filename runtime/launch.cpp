// Resolves the driver, context and manifest of a call; launches kernels.
#include "runtime/launch.h"

#include "runtime/pack.h"

namespace attn {

Status resolveLaunchTarget(LaunchTarget *target) {
  ATTN_RETURN_IF_ERROR(getDriver(&target->driver));
  ATTN_RETURN_IF_ERROR(getCurrentContext(*target->driver, &target->current));
  std::string name;
  ATTN_RETURN_IF_ERROR(chooseTarget(*target->current.info, &name));
  return getManifest(name, &target->manifest);
}

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

} // namespace attn
