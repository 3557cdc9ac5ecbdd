// Loads the CUDA driver with dlopen and resolves its entry points once.
#include "runtime/driver.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

#define ATTN_STRINGIFY_(x) #x
// Expands its argument first, so versioned names resolve as cuda.h maps them.
#define ATTN_STRINGIFY(x) ATTN_STRINGIFY_(x)

namespace attn {

namespace {

struct LoadedDriver {
  Driver driver;
  Status status;
};

Status loadDriver(Driver *driver) {
  // Tests point ATTN_LIBCUDA at a fake driver.
  const char *path = std::getenv("ATTN_LIBCUDA");
  if (path == nullptr || *path == '\0')
    path = "libcuda.so.1";
  // Never dlclosed: modules and functions handed out stay valid for the
  // lifetime of the process.
  void *library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    return makeStatus(ATTN_ERROR_DRIVER,
                      "cannot load the CUDA driver '%s' (is an NVIDIA driver "
                      "installed?): %s",
                      path, dlerror());
  }
#define ATTN_CU_SYMBOL(name)                                                   \
  driver->name = reinterpret_cast<decltype(driver->name)>(                     \
      dlsym(library, ATTN_STRINGIFY(name)));                                   \
  if (driver->name == nullptr)                                                 \
    return makeStatus(ATTN_ERROR_DRIVER,                                       \
                      "the CUDA driver '%s' has no entry point %s (a CUDA "    \
                      "12.0 or newer driver is needed)",                       \
                      path, ATTN_STRINGIFY(name));
#include "runtime/driver_symbols.h"
#undef ATTN_CU_SYMBOL
  ATTN_CU_RETURN_IF_ERROR(*driver, cuInit(0));
  return Status();
}

} // namespace

Status getDriver(const Driver **driver) {
  // Leaked on purpose: nothing may call into a torn-down table at exit.
  static const LoadedDriver *loaded = [] {
    auto *result = new LoadedDriver;
    result->status = loadDriver(&result->driver);
    return result;
  }();
  *driver = &loaded->driver;
  return loaded->status;
}

Status driverError(const Driver &driver, CUresult result, const char *call,
                   const char *file, int line) {
  const char *name = nullptr;
  const char *description = nullptr;
  if (driver.cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = "an unknown CUresult";
  if (driver.cuGetErrorString(result, &description) != CUDA_SUCCESS)
    description = "no description";
  // The location reads runtime/<file>.cpp however the compiler was given the
  // path (-fmacro-prefix-map strips the checkout; a compiler cache may pass
  // it relative to the build directory instead).
  const char *fromRuntime = std::strstr(file, "runtime/");
  return makeStatus(ATTN_ERROR_DRIVER, "%s failed with %s (%d): %s [%s:%d]",
                    call, name, static_cast<int>(result), description,
                    fromRuntime ? fromRuntime : file, line);
}

} // namespace attn
