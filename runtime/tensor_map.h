// The tensor maps of a TMA prefill kernel (manifest tma=1; abi::tma): K and
// V as the kernel's producer reads them.
#ifndef ATTN_RUNTIME_TENSOR_MAP_H
#define ATTN_RUNTIME_TENSOR_MAP_H

#include "abi/kernel_params.h"
#include "runtime/attn.h"
#include "runtime/driver.h"
#include "runtime/manifest.h"
#include "runtime/prefill_plan.h"

namespace attn {

// Encodes abi::tma's parameters for `kernel` and validated `args`:
// K and V as [rows, Hkv, head_dim] (packed) or [pages, page_size, Hkv,
// head_dim] (paged) tensors of the call's element strides (`strides`), boxes
// of 64 columns (128 bytes, 128-byte swizzle) by the kernel's block_n rows,
// out-of-range columns filled with zeros; `tma` 1.
// (The argument checks already give TMA what it needs: 16-byte aligned k and
// v, strides of whole 16 bytes.) A map the driver refuses is an error naming
// cuTensorMapEncodeTiled. The last 8 maps a thread encoded are reused for
// the same tensor, shape, strides and box. With ATTN_PREFILL_TMA=0 in the
// environment (read once) the maps stay zero and `tma` 0: the kernel copies
// every tile with cp.async.
Status encodeKvTensorMaps(const Driver &driver,
                          const attn_varlen_prefill_args &args,
                          const PrefillStrides &strides,
                          const KernelInfo &kernel, abi::tma::Args *maps);

} // namespace attn

#endif // ATTN_RUNTIME_TENSOR_MAP_H
