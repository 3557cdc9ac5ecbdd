// Finds the kernel pack, chooses its target and reads manifests and images.
#include "runtime/pack.h"

#include "runtime/embedded_pack.h"
#include "runtime/lz.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace attn {

// Paths in the pack built into the library start with this.
const char kEmbeddedPackDir[] = "<embedded>";

namespace {

struct Target {
  const char *name;
  int arch;
};
// sm_80 holds PTX only, for the JIT on sm_80 to sm_88 GPUs; sm_90a the
// wgmma prefill kernels, which run on sm_90 GPUs only, over sm_90's.
constexpr Target kTargets[] = {
    {"sm_80", 80}, {"sm_89", 89}, {"sm_90", 90}, {"sm_90a", 90}};
constexpr const char kHopperOverlay[] = "sm_90a";
constexpr int kMinArch = 80;

std::string archName(const DeviceInfo &device) {
  return "sm_" + std::to_string(device.computeMajor) +
         std::to_string(device.computeMinor);
}

const Target *findTarget(const std::string &name) {
  for (const Target &target : kTargets) {
    if (name == target.name)
      return &target;
  }
  return nullptr;
}

Status readEmbeddedFile(const std::string &path, std::string *contents) {
  // The name after "<embedded>/".
  std::string name = path.substr(sizeof(kEmbeddedPackDir));
  for (uint64_t i = 0; i < attnrt_pack_file_count; ++i) {
    const EmbeddedFile &file = attnrt_pack_files[i];
    if (name != file.name)
      continue;
    // Decompressed up to the file's end: blocks are a few MB at most.
    const char *error = lzDecompress(file.block, file.blockSize,
                                     file.offset + file.size, contents);
    if (error == nullptr && contents->size() != file.offset + file.size)
      error = "shorter than the table says";
    if (error != nullptr) {
      return makeStatus(ATTN_ERROR_PACK,
                        "cannot read %s: its compressed block in "
                        "libattnrt.so is corrupt (%s)",
                        path.c_str(), error);
    }
    contents->erase(0, file.offset);
    return Status();
  }
  if (attnrt_pack_file_count == 0) {
    return makeStatus(ATTN_ERROR_PACK,
                      "cannot read %s: libattnrt.so was built without the "
                      "kernel pack (ATTN_EMBED_PACK=OFF); set ATTN_PACK_DIR",
                      path.c_str());
  }
  return makeStatus(ATTN_ERROR_PACK,
                    "cannot read %s: no such file in the pack built into "
                    "libattnrt.so",
                    path.c_str());
}

} // namespace

const std::string &packDir() {
  static const std::string dir = [] {
    const char *value = std::getenv("ATTN_PACK_DIR");
    return std::string(value != nullptr && *value != '\0' ? value
                                                          : kEmbeddedPackDir);
  }();
  return dir;
}

std::vector<std::string> packTargets() {
  std::vector<std::string> found;
  for (const Target &target : kTargets) {
    std::string manifest = std::string(target.name) + "/manifest.txt";
    bool present = false;
    if (packDir() == kEmbeddedPackDir) {
      for (uint64_t i = 0; i < attnrt_pack_file_count && !present; ++i)
        present = manifest == attnrt_pack_files[i].name;
    } else {
      std::FILE *file = std::fopen((packDir() + "/" + manifest).c_str(), "rb");
      present = file != nullptr;
      if (file != nullptr)
        std::fclose(file);
    }
    if (present)
      found.push_back(target.name);
  }
  return found;
}

Status readPackFile(const std::string &path, std::string *contents) {
  if (path.compare(0, sizeof(kEmbeddedPackDir) - 1, kEmbeddedPackDir) == 0)
    return readEmbeddedFile(path, contents);
  std::FILE *file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return makeStatus(ATTN_ERROR_PACK, "cannot read %s: %s", path.c_str(),
                      std::strerror(errno));
  }
  contents->clear();
  char buffer[1 << 16];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file)) > 0)
    contents->append(buffer, count);
  int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) {
    return makeStatus(ATTN_ERROR_PACK, "cannot read %s: %s", path.c_str(),
                      std::strerror(error));
  }
  return Status();
}

Status chooseTarget(const DeviceInfo &device, std::string *target) {
  static const std::string requested = [] {
    const char *value = std::getenv("ATTN_TARGET");
    return std::string(value == nullptr ? "" : value);
  }();
  const Target *forced = nullptr;
  if (!requested.empty()) {
    forced = findTarget(requested);
    if (forced == nullptr) {
      return makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                        "ATTN_TARGET='%s' is not a pack target (expected "
                        "sm_80, sm_89, sm_90 or sm_90a)",
                        requested.c_str());
    }
  }
  if (device.arch() < kMinArch) {
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "the GPU is %s; the kernel pack needs sm_80 or newer",
                      archName(device).c_str());
  }
  if (forced != nullptr) {
    // PTX runs on its own arch and newer ones, never on older ones; sm_90a's
    // on sm_90 only.
    bool archSpecific = std::string(forced->name) == kHopperOverlay;
    if (forced->arch > device.arch() ||
        (archSpecific && forced->arch != device.arch())) {
      return makeStatus(ATTN_ERROR_UNSUPPORTED,
                        "ATTN_TARGET=%s cannot run on this %s GPU",
                        forced->name, archName(device).c_str());
    }
    *target = forced->name;
    return Status();
  }
  if (device.arch() == 90) {
    // sm_90a's wgmma kernels where the pack has them.
    static const bool hasOverlay = [] {
      std::vector<std::string> targets = packTargets();
      return std::find(targets.begin(), targets.end(), kHopperOverlay) !=
             targets.end();
    }();
    *target = hasOverlay ? kHopperOverlay : "sm_90";
    return Status();
  }
  *target = device.arch() < 89 ? "sm_80" : "sm_89";
  return Status();
}

namespace {

// Reads and parses <dir>/<target>/manifest.txt into `manifest`; its kernels'
// files are in its dir.
Status readManifest(const std::string &dir, const std::string &target,
                    Manifest *manifest) {
  manifest->dir = dir + "/" + target;
  std::string path = manifest->dir + "/manifest.txt";
  std::string text;
  Status status = readPackFile(path, &text);
  if (!status.ok() && dir != kEmbeddedPackDir) {
    status = Status(status.code(), status.message() +
                                       " (the pack is read from "
                                       "ATTN_PACK_DIR when set, else from "
                                       "libattnrt.so itself)");
  }
  ATTN_RETURN_IF_ERROR(status);
  ATTN_RETURN_IF_ERROR(parseManifest(text, path, target, manifest));
  for (KernelInfo &kernel : manifest->kernels)
    kernel.dir = manifest->dir;
  return Status();
}

} // namespace

Status getManifest(const std::string &target, const Manifest **manifest) {
  const std::string &dir = packDir();

  // Manifests are never erased, so the pointers handed out stay valid. A
  // failed read is not cached: fixing the pack does not need a restart.
  static std::mutex mutex;
  static auto *manifests = new std::map<std::string, std::unique_ptr<Manifest>>;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Manifest> &cached = (*manifests)[target];
  if (cached == nullptr) {
    auto parsed = std::make_unique<Manifest>();
    if (target == kHopperOverlay) {
      // sm_90a's kernels over sm_90's (which has every kernel).
      Manifest overlay;
      ATTN_RETURN_IF_ERROR(readManifest(dir, "sm_90", parsed.get()));
      ATTN_RETURN_IF_ERROR(readManifest(dir, target, &overlay));
      overlayManifest(parsed.get(), std::move(overlay));
    } else {
      ATTN_RETURN_IF_ERROR(readManifest(dir, target, parsed.get()));
    }
    cached = std::move(parsed);
  }
  *manifest = cached.get();
  return Status();
}

Status readKernelImage(const Manifest &manifest, const KernelInfo &kernel,
                       const DeviceInfo &device, KernelImage *image) {
  image->isCubin = !kernel.cubinFile.empty() &&
                   findTarget(manifest.target)->arch == device.arch();
  const std::string &dir = kernelDir(manifest, kernel);
  std::string ptxPath = dir + "/" + kernel.ptxFile;
  std::string cubinPath = dir + "/" + kernel.cubinFile;
  image->path = image->isCubin ? cubinPath : ptxPath;
  if (!image->isCubin && kernel.ptxFile.empty())
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "kernel '%s' of %s is a cubin for %s only, without the "
                      "PTX another GPU would JIT-compile (the embedded pack "
                      "keeps sm_90's and sm_90a's kernels as cubins): pick "
                      "another ATTN_TARGET or point ATTN_PACK_DIR at a pack "
                      "built with attn-pack",
                      kernel.name.c_str(), dir.c_str(),
                      manifest.target.c_str());
  if (kernel.hash.empty())
    return readPackFile(image->path, &image->bytes);

  std::string ptx;
  std::string cubin;
  if (!kernel.ptxFile.empty())
    ATTN_RETURN_IF_ERROR(readPackFile(ptxPath, &ptx));
  if (!kernel.cubinFile.empty())
    ATTN_RETURN_IF_ERROR(readPackFile(cubinPath, &cubin));
  char actual[17];
  std::snprintf(actual, sizeof(actual), "%016" PRIx64,
                fnv1a64(cubin, fnv1a64(ptx)));
  if (kernel.hash != actual) {
    return makeStatus(ATTN_ERROR_PACK,
                      "the manifest's hash=%s does not match its files, which "
                      "hash to %s (%s%s%s)",
                      kernel.hash.c_str(), actual, kernel.ptxFile.c_str(),
                      kernel.cubinFile.empty() ? "" : " then ",
                      kernel.cubinFile.c_str());
  }
  image->bytes = std::move(image->isCubin ? cubin : ptx);
  return Status();
}

} // namespace attn
