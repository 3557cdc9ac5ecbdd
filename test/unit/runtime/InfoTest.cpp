// Version, pack description and limits tests: attn_version,
// attn_get_pack_info, attn_get_limits.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include "abi/limits.h"

#include <gmock/gmock.h>

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace attn::test {
namespace {

using ::testing::HasSubstr;

std::string readFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

class InfoTest : public RuntimeTest {
protected:
  // The fixture's copy of the library, opened again for the calls its
  // RuntimeLibrary does not resolve.
  void SetUp() override {
    RuntimeTest::SetUp();
    handle_ =
        dlopen((tempDir + "/lib/libattnrt.so").c_str(), RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle_, nullptr) << dlerror();
    version_ = reinterpret_cast<decltype(&attn_version)>(
        dlsym(handle_, "attn_version"));
    packInfo_ = reinterpret_cast<decltype(&attn_get_pack_info)>(
        dlsym(handle_, "attn_get_pack_info"));
    limits_ = reinterpret_cast<decltype(&attn_get_limits)>(
        dlsym(handle_, "attn_get_limits"));
    ASSERT_NE(version_, nullptr);
    ASSERT_NE(packInfo_, nullptr);
    ASSERT_NE(limits_, nullptr);
  }

  void TearDown() override {
    if (handle_ != nullptr)
      dlclose(handle_);
    RuntimeTest::TearDown();
  }

  attn_status packInfo(const attn_pack_info **info) { return packInfo_(info); }

  // FNV-1a 64 over the targets' manifests of `dir`, in order.
  static std::string manifestsHash(const std::string &dir,
                                   const std::vector<std::string> &targets) {
    std::string manifests;
    for (const std::string &target : targets)
      manifests += readFile(dir + "/" + target + "/manifest.txt");
    return fnv1a64(manifests);
  }

  decltype(&attn_version) version_ = nullptr;
  decltype(&attn_get_limits) limits_ = nullptr;

private:
  void *handle_ = nullptr;
  decltype(&attn_get_pack_info) packInfo_ = nullptr;
};

TEST_F(InfoTest, VersionIsTheProjects) {
  EXPECT_STREQ(version_(), ATTN_VERSION);
}

TEST_F(InfoTest, DescribesThePackDir) {
  writePack(packDir(), "sm_89", defaultKernels(), " version=9.8.7");
  writePack(packDir(), "sm_90", defaultKernels(), " version=9.8.7");
  const attn_pack_info *info = nullptr;
  ASSERT_EQ(packInfo(&info), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(std::string(info->source), packDir());
  EXPECT_STREQ(info->version, "9.8.7");
  EXPECT_STREQ(info->targets, "sm_89,sm_90");
  EXPECT_EQ(info->num_kernels, 2 * static_cast<int>(defaultKernels().size()));
  EXPECT_EQ(std::string(info->hash),
            manifestsHash(packDir(), {"sm_89", "sm_90"}));
  // Read once: the same description again, at the same address.
  const attn_pack_info *again = nullptr;
  ASSERT_EQ(packInfo(&again), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(again, info);
}

TEST_F(InfoTest, ListsVersionsThatDisagree) {
  writePack(packDir(), "sm_80", defaultKernels(), " version=0.1.0");
  writePack(packDir(), "sm_89", defaultKernels(), " version=0.2.0");
  writePack(packDir(), "sm_90", defaultKernels(), " version=0.1.0");
  const attn_pack_info *info = nullptr;
  ASSERT_EQ(packInfo(&info), ATTN_SUCCESS) << lastError();
  EXPECT_STREQ(info->targets, "sm_80,sm_89,sm_90");
  EXPECT_STREQ(info->version, "0.1.0,0.2.0");
}

TEST_F(InfoTest, PackWithoutVersionHasAnEmptyOne) {
  const attn_pack_info *info = nullptr;
  ASSERT_EQ(packInfo(&info), ATTN_SUCCESS) << lastError();
  EXPECT_STREQ(info->version, "");
}

TEST_F(InfoTest, PackDirWithoutManifestsIsAnErrorUntilFixed) {
  std::filesystem::remove_all(packDir());
  std::filesystem::create_directories(packDir());
  const attn_pack_info *info = nullptr;
  EXPECT_EQ(packInfo(&info), ATTN_ERROR_PACK);
  EXPECT_EQ(lastError(), "attn_get_pack_info: ATTN_PACK_DIR=" + packDir() +
                             " holds no <target>/manifest.txt (expected "
                             "sm_80, sm_89, sm_90 or sm_90a)");
  // A failure is not remembered.
  writePack(packDir(), "sm_90", defaultKernels());
  ASSERT_EQ(packInfo(&info), ATTN_SUCCESS) << lastError();
  EXPECT_STREQ(info->targets, "sm_90");
}

TEST_F(InfoTest, CorruptManifestIsAnError) {
  writeFile(packDir() + "/sm_90/manifest.txt", "not a manifest\n");
  const attn_pack_info *info = nullptr;
  EXPECT_EQ(packInfo(&info), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("sm_90/manifest.txt"));
  EXPECT_THAT(lastError(), HasSubstr("not a kernel pack manifest"));
}

TEST_F(InfoTest, NullInfoIsInvalid) {
  EXPECT_EQ(packInfo(nullptr), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "attn_get_pack_info: 'info' must not be NULL");
}

TEST_F(InfoTest, LimitsAreTheAbis) {
  attn_limits limits{};
  ASSERT_EQ(limits_(&limits), ATTN_SUCCESS);
  EXPECT_EQ(limits.head_dim_multiple, abi::kHeadDimMultiple);
  EXPECT_EQ(limits.max_head_dim, abi::kMaxHeadDim);
  EXPECT_EQ(limits.max_decode_group_size, abi::kMaxDecodeGroupSize);
  EXPECT_EQ(limits.max_splits, abi::kMaxSplits);
  EXPECT_EQ(limits.workspace_alignment, abi::kWorkspaceAlignment);
  EXPECT_EQ(limits_(nullptr), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(), "attn_get_limits: 'limits' must not be NULL");
}

TEST_F(InfoTest, DescribesTheEmbeddedPack) {
  if (!ATTNRT_EMBEDS_PACK)
    GTEST_SKIP() << "libattnrt built with ATTN_EMBED_PACK=OFF";
  unsetenv("ATTN_PACK_DIR");
  const attn_pack_info *info = nullptr;
  ASSERT_EQ(packInfo(&info), ATTN_SUCCESS) << lastError();
  EXPECT_STREQ(info->source, "embedded");
  EXPECT_STREQ(info->version, ATTN_VERSION);
  EXPECT_STREQ(info->targets, "sm_80,sm_89,sm_90,sm_90a");
  EXPECT_GT(info->num_kernels, 0);
  // Over the manifests as embedded: sm_90's and sm_90a's name their cubins
  // alone, hashed alone (attn-packz --cubin-only, docs/runtime_abi.md).
  std::string manifests;
  for (const char *target : {"sm_80", "sm_89", "sm_90", "sm_90a"}) {
    const std::string dir = std::string(ATTN_BUILT_PACK_DIR) + "/" + target;
    std::string text = readFile(dir + "/manifest.txt");
    if (std::string(target) < "sm_90") {
      manifests += text;
      continue;
    }
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream fields(line);
      std::string field, cubin, kept;
      std::vector<std::string> all;
      while (fields >> field) {
        if (field.rfind("cubin=", 0) == 0)
          cubin = field.substr(6);
        all.push_back(field);
      }
      if (line.rfind("name=", 0) != 0 || cubin.empty()) {
        manifests += line + "\n";
        continue;
      }
      for (std::string &f : all) {
        if (f.rfind("ptx=", 0) == 0)
          continue;
        if (f.rfind("hash=", 0) == 0)
          f = "hash=" + fnv1a64(readFile(dir + "/" + cubin));
        kept += (kept.empty() ? "" : " ") + f;
      }
      manifests += kept + "\n";
    }
  }
  EXPECT_EQ(std::string(info->hash), fnv1a64(manifests));
}

} // namespace
} // namespace attn::test
