// The kernel pack: its location, a device's target, kernel images.
#ifndef ATTN_RUNTIME_PACK_H
#define ATTN_RUNTIME_PACK_H

#include "abi/manifest.h"
#include "runtime/device.h"
#include "runtime/manifest.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attn {

// packDir()'s value for the pack built into libattnrt.so.
extern const char kEmbeddedPackDir[];

// Where the pack is read from: $ATTN_PACK_DIR when set (read once), else
// kEmbeddedPackDir.
const std::string &packDir();

// The targets (sm_80, sm_89, sm_90, sm_90a, in that order) whose manifest.txt
// the pack has.
std::vector<std::string> packTargets();

// Reads `path`, a file under packDir().
Status readPackFile(const std::string &path, std::string *contents);

// FNV-1a 64 of `bytes`, continuing from `hash`: how the manifest hashes a
// kernel's files (abi/manifest.h).
inline uint64_t fnv1a64(const std::string &bytes) {
  return abi::fnv1a(bytes.data(), bytes.size());
}
inline uint64_t fnv1a64(const std::string &bytes, uint64_t hash) {
  return abi::fnv1a(bytes.data(), bytes.size(), hash);
}

// The pack target for `device`: $ATTN_TARGET when set, else sm_90a (sm_90 if
// the pack has no sm_90a) for a compute capability 9.0 device, sm_80 (PTX only,
// JIT-compiled by the driver) for 8.0 to 8.8, and sm_89 (PTX JIT-compiled where
// the arch differs) for any other of 8.9 or newer.
Status chooseTarget(const DeviceInfo &device, std::string *target);

// The manifest of `target`, read once from $ATTN_PACK_DIR/<target>/ when
// ATTN_PACK_DIR is set, else from the pack built into libattnrt.so, whose
// Manifest::dir is "<embedded>/<target>". The result lives as long as the
// process.
Status getManifest(const std::string &target, const Manifest **manifest);

struct KernelImage {
  std::string path;
  std::string bytes; // NUL-terminated through std::string, as PTX must be
  bool isCubin = false;
};

// The image to load `kernel` from on `device`: its cubin when the device's
// arch is exactly the manifest's target, else its PTX. ATTN_ERROR_PACK when
// the kernel's files do not have its manifest hash.
Status readKernelImage(const Manifest &manifest, const KernelInfo &kernel,
                       const DeviceInfo &device, KernelImage *image);

} // namespace attn

#endif // ATTN_RUNTIME_PACK_H
