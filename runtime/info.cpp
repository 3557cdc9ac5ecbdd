// The version, pack description and limits C API: attn_version,
// attn_get_pack_info, attn_get_limits.
#include "runtime/pack.h"

#include "abi/limits.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <mutex>

namespace attn {

namespace {

// attn_pack_info and the strings it points into.
struct PackInfo {
  std::string source;
  std::string version;
  std::string targets;
  std::string hash;
  attn_pack_info info{};
};

void appendListItem(std::string *list, const std::string &item) {
  if (!list->empty())
    *list += ",";
  *list += item;
}

Status describePack(PackInfo *pack) {
  const std::string &dir = packDir();
  std::vector<std::string> targets = packTargets();
  if (targets.empty()) {
    if (dir == kEmbeddedPackDir) {
      return makeStatus(ATTN_ERROR_PACK,
                        "libattnrt.so was built without the kernel pack "
                        "(ATTN_EMBED_PACK=OFF); set ATTN_PACK_DIR");
    }
    return makeStatus(ATTN_ERROR_PACK,
                      "ATTN_PACK_DIR=%s holds no <target>/manifest.txt "
                      "(expected sm_80, sm_89, sm_90 or sm_90a)",
                      dir.c_str());
  }
  pack->source = dir == kEmbeddedPackDir ? "embedded" : dir;
  uint64_t hash = abi::fnv1a(nullptr, 0);
  int numKernels = 0;
  std::vector<std::string> versions;
  for (const std::string &target : targets) {
    std::string text;
    ATTN_RETURN_IF_ERROR(
        readPackFile(dir + "/" + target + "/manifest.txt", &text));
    hash = fnv1a64(text, hash);
    // Parses and checks the manifest (and caches it for the launches).
    const Manifest *manifest = nullptr;
    ATTN_RETURN_IF_ERROR(getManifest(target, &manifest));
    // Its own kernels (sm_90a's manifest also lists sm_90's).
    for (const KernelInfo &kernel : manifest->kernels)
      numKernels += kernelDir(*manifest, kernel) == manifest->dir;
    appendListItem(&pack->targets, target);
    if (std::find(versions.begin(), versions.end(), manifest->version) ==
        versions.end())
      versions.push_back(manifest->version);
  }
  for (const std::string &version : versions)
    appendListItem(&pack->version, version);
  char digits[17];
  std::snprintf(digits, sizeof(digits), "%016" PRIx64, hash);
  pack->hash = digits;
  pack->info.source = pack->source.c_str();
  pack->info.version = pack->version.c_str();
  pack->info.targets = pack->targets.c_str();
  pack->info.num_kernels = numKernels;
  pack->info.hash = pack->hash.c_str();
  return Status();
}

Status getPackInfo(const attn_pack_info **info) {
  if (info == nullptr)
    return makeStatus(ATTN_ERROR_INVALID_ARGUMENT, "'info' must not be NULL");
  // Described once and never freed, so the pointers handed out stay valid;
  // a failure is not cached, as getManifest does not cache one.
  static std::mutex mutex;
  static PackInfo *described = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (described == nullptr) {
    auto pack = std::make_unique<PackInfo>();
    ATTN_RETURN_IF_ERROR(describePack(pack.get()));
    described = pack.release();
  }
  *info = &described->info;
  return Status();
}

} // namespace

} // namespace attn

ATTN_EXPORT const char *attn_version(void) { return ATTN_VERSION; }

ATTN_EXPORT attn_status attn_get_pack_info(const attn_pack_info **info) {
  return attn::finishCall("attn_get_pack_info", attn::getPackInfo(info));
}

ATTN_EXPORT attn_status attn_get_limits(attn_limits *limits) {
  namespace abi = attn::abi;
  if (limits == nullptr)
    return attn::finishCall("attn_get_limits",
                            attn::makeStatus(ATTN_ERROR_INVALID_ARGUMENT,
                                             "'limits' must not be NULL"));
  limits->head_dim_multiple = abi::kHeadDimMultiple;
  limits->max_head_dim = abi::kMaxHeadDim;
  limits->max_decode_group_size = abi::kMaxDecodeGroupSize;
  limits->max_splits = abi::kMaxSplits;
  limits->workspace_alignment = abi::kWorkspaceAlignment;
  return attn::finishCall("attn_get_limits", attn::Status());
}
