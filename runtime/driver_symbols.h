// The CUDA driver entry points the runtime uses, as an X-macro table.
//
// Include after defining ATTN_CU_SYMBOL(name). Names are spelled as in the
// driver API; where cuda.h maps a name to a versioned one (cuFoo -> cuFoo_v2),
// the macro argument expands to it, so the versioned entry point is the one
// declared and resolved. cuCtxGetId needs a CUDA 12.0 driver.
// cuPointerGetAttribute, cuDeviceGet, cuDevicePrimaryCtxRetain and
// cuCtxSetCurrent serve a thread with no current context (runtime/device.cpp);
// cuMemcpyDtoHAsync, cuStreamSynchronize and cuStreamIsCapturing the checked
// mode (runtime/index_check.cpp); cuTensorMapEncodeTiled the TMA prefill
// kernels' maps (runtime/tensor_map.cpp).
ATTN_CU_SYMBOL(cuInit)
ATTN_CU_SYMBOL(cuGetErrorName)
ATTN_CU_SYMBOL(cuGetErrorString)
ATTN_CU_SYMBOL(cuCtxGetCurrent)
ATTN_CU_SYMBOL(cuCtxGetId)
ATTN_CU_SYMBOL(cuCtxGetDevice)
ATTN_CU_SYMBOL(cuCtxSetCurrent)
ATTN_CU_SYMBOL(cuPointerGetAttribute)
ATTN_CU_SYMBOL(cuDeviceGet)
ATTN_CU_SYMBOL(cuDevicePrimaryCtxRetain)
ATTN_CU_SYMBOL(cuDeviceGetAttribute)
ATTN_CU_SYMBOL(cuModuleLoadDataEx)
ATTN_CU_SYMBOL(cuModuleGetFunction)
ATTN_CU_SYMBOL(cuModuleUnload)
ATTN_CU_SYMBOL(cuFuncGetAttribute)
ATTN_CU_SYMBOL(cuFuncSetAttribute)
ATTN_CU_SYMBOL(cuLaunchKernel)
ATTN_CU_SYMBOL(cuLaunchKernelEx)
ATTN_CU_SYMBOL(cuMemcpyDtoHAsync)
ATTN_CU_SYMBOL(cuStreamSynchronize)
ATTN_CU_SYMBOL(cuStreamIsCapturing)
ATTN_CU_SYMBOL(cuTensorMapEncodeTiled)
