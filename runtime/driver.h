// The dlopened CUDA driver: its entry points and the Status of a failed call.
#ifndef ATTN_RUNTIME_DRIVER_H
#define ATTN_RUNTIME_DRIVER_H

#include "runtime/status.h"

#include <cuda.h>

namespace attn {

// Driver entry points, resolved once when libcuda is loaded.
struct Driver {
#define ATTN_CU_SYMBOL(name) decltype(&::name) name = nullptr;
#include "runtime/driver_symbols.h"
#undef ATTN_CU_SYMBOL
};

// The process-wide driver: loads libcuda.so.1 (or $ATTN_LIBCUDA) and calls
// cuInit on first use. A failure is sticky: every later call reports it.
Status getDriver(const Driver **driver);

// The Status of a driver call that returned `result`: names the call, the
// driver's error name and description, and where the call was made.
Status driverError(const Driver &driver, CUresult result, const char *call,
                   const char *file, int line);

} // namespace attn

// Calls `driver.call` and returns its error as a Status, e.g.
//   ATTN_CU_RETURN_IF_ERROR(driver, cuCtxGetDevice(&device));
#define ATTN_CU_RETURN_IF_ERROR(driver, call)                                  \
  do {                                                                         \
    CUresult attnResult_ = (driver).call;                                      \
    if (attnResult_ != CUDA_SUCCESS)                                           \
      return ::attn::driverError((driver), attnResult_, #call, __FILE__,       \
                                 __LINE__);                                    \
  } while (false)

#endif // ATTN_RUNTIME_DRIVER_H
