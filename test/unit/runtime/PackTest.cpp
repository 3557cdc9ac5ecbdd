// Pack tests: where the pack is, which target and image a GPU gets, bad input.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include <gmock/gmock.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>

namespace attn::test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string readFile(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

class PackTest : public RuntimeTest {
protected:
  // Runs the default decode step and returns the image its decode kernel was
  // loaded from, e.g. "cubin decode_bf16_... .target sm_90".
  std::string decodeImage() {
    EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::ModuleLoad> loads = fakecuda::moduleLoads();
    return loads.empty() ? "" : loads.front().image;
  }

  void setDevice(int major, int minor) {
    fakeConfig.computeMajor = major;
    fakeConfig.computeMinor = minor;
    resetFake();
  }

  // Writes the default sm_90 pack with `field` of every kernel cleared (no
  // hash, no PTX).
  void writePackWithout(bool TestKernel::*field) {
    std::vector<TestKernel> kernels = defaultKernels();
    for (TestKernel &kernel : kernels)
      kernel.*field = false;
    writePack(packDir(), "sm_90", kernels);
  }

  // The default decode step through a fresh copy of the library (one that
  // has read no environment and no manifest yet): its error is
  // fresh->lastError().
  attn_status freshDecode(std::unique_ptr<RuntimeLibrary> *fresh) {
    *fresh = std::make_unique<RuntimeLibrary>(tempDir + "/fresh");
    attn_paged_decode_args args = validArgs();
    return (*fresh)->pagedDecode(&args, deviceAddress(kWorkspace), 1 << 30,
                                 nullptr);
  }
};

TEST_F(PackTest, Sm90UsesTheSm90Cubin) {
  setDevice(9, 0);
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("cubin "), HasSubstr(".target sm_90")));
}

// A pack with sm_90a's wgmma prefill kernels over sm_90's (the default pack
// and the sm_90a one: the packed causal bf16 prefill kernel, 256 threads).
class HopperOverlayTest : public PackTest {
protected:
  void SetUp() override {
    PackTest::SetUp();
    TestKernel wgmma = prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/1);
    wgmma.threads = 256;
    wgmma.blockM = 128;
    writePack(packDir(), "sm_90a", {wgmma, ownCombineKernel(wgmma)});
  }
  // The image the prefill kernel came from and its block size.
  std::pair<std::string, unsigned> prefillImage() {
    EXPECT_EQ(prefill(validPrefillArgs()), ATTN_SUCCESS) << lastError();
    std::vector<fakecuda::ModuleLoad> loads = fakecuda::moduleLoads();
    std::vector<fakecuda::Launch> launches = fakecuda::launches();
    if (loads.empty() || launches.empty())
      return {"", 0};
    return {loads.back().image, launches.back().block[0]};
  }
};

TEST_F(HopperOverlayTest, Sm90TakesTheSm90aPrefillKernelAndSm90Decode) {
  setDevice(9, 0);
  // Decode has no sm_90a kernel: sm_90's serves (decode runs first, so its
  // image is the first module loaded).
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("cubin "), HasSubstr(".target sm_90\n")));
  auto [image, threads] = prefillImage();
  EXPECT_THAT(image, AllOf(StartsWith("cubin "), HasSubstr(".target sm_90a")));
  EXPECT_EQ(threads, 256u);
}

TEST_F(HopperOverlayTest, TargetSm90KeepsTheMmaSyncKernels) {
  setDevice(9, 0);
  setenv("ATTN_TARGET", "sm_90", 1);
  auto [image, threads] = prefillImage();
  EXPECT_THAT(image, HasSubstr(".target sm_90\n"));
  EXPECT_EQ(threads, 128u);
}

TEST_F(HopperOverlayTest, OtherGpusNeverTakeSm90a) {
  setDevice(12, 0);
  EXPECT_THAT(prefillImage().first, HasSubstr(".target sm_89"));
}

TEST_F(HopperOverlayTest, TargetSm90aRunsOnSm90Only) {
  setDevice(12, 0);
  setenv("ATTN_TARGET", "sm_90a", 1);
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(), HasSubstr("ATTN_TARGET=sm_90a cannot run on this "
                                     "sm_120 GPU"));
}

TEST_F(PackTest, Sm89UsesTheSm89Cubin) {
  setDevice(8, 9);
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("cubin "), HasSubstr(".target sm_89")));
}

TEST_F(PackTest, Sm120JitCompilesTheSm89Ptx) {
  setDevice(12, 0);
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("ptx "), HasSubstr(".target sm_89")));
}

TEST_F(PackTest, KernelWithoutCubinUsesItsPtx) {
  std::vector<TestKernel> kernels = defaultKernels();
  for (TestKernel &kernel : kernels)
    kernel.cubin = false;
  writePack(packDir(), "sm_90", kernels);
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("ptx "), HasSubstr(".target sm_90")));
}

TEST_F(PackTest, TargetOverrideRunsSm89PtxOnSm90) {
  setenv("ATTN_TARGET", "sm_89", 1);
  EXPECT_THAT(decodeImage(),
              AllOf(StartsWith("ptx "), HasSubstr(".target sm_89")));
}

TEST_F(PackTest, TargetOverrideMustNameAPackTarget) {
  setenv("ATTN_TARGET", "sm_86", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(lastError(),
            "attn_paged_decode_workspace_size: ATTN_TARGET='sm_86' "
            "is not a pack target (expected sm_80, sm_89, sm_90 or "
            "sm_90a)");
}

TEST_F(PackTest, TargetOverrideCannotRunOnAnOlderArch) {
  setDevice(8, 9);
  setenv("ATTN_TARGET", "sm_90", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(lastError(),
              HasSubstr("ATTN_TARGET=sm_90 cannot run on this sm_89 GPU"));
}

TEST_F(PackTest, Sm80To88GpusJitTheSm80Ptx) {
  std::vector<TestKernel> kernels = defaultKernels();
  for (TestKernel &kernel : kernels)
    kernel.cubin = false;
  writePack(packDir(), "sm_80", kernels);
  for (int minor : {0, 6, 7}) {
    setDevice(8, minor);
    EXPECT_THAT(decodeImage(),
                AllOf(StartsWith("ptx "), HasSubstr(".target sm_80")))
        << "sm_8" << minor;
  }
}

TEST_F(PackTest, ArchBelowSm80IsUnsupported) {
  setDevice(7, 5);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_UNSUPPORTED);
  EXPECT_EQ(lastError(), "attn_paged_decode_workspace_size: the GPU is sm_75; "
                         "the kernel pack needs sm_80 or newer");
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(PackTest, PackDirOverride) {
  std::string elsewhere = tempDir + "/elsewhere";
  std::vector<TestKernel> kernels = defaultKernels();
  for (TestKernel &kernel : kernels) {
    if (kernel.op == "decode")
      kernel.threads = 256;
  }
  writePack(elsewhere, "sm_90", kernels);
  setenv("ATTN_PACK_DIR", elsewhere.c_str(), 1);
  ASSERT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
  EXPECT_EQ(fakecuda::launches().at(0).block[0], 256u);
}

TEST_F(PackTest, WithoutPackDirThePackBuiltIntoTheLibraryIsRead) {
  unsetenv("ATTN_PACK_DIR");
#if ATTNRT_EMBEDS_PACK
  // The fake driver cannot run a real image, but records the one it gets:
  // the PTX of a kernel the build wrote, its hash checked.
  setenv("ATTN_TARGET", "sm_89", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(), AllOf(HasSubstr(" of <embedded>/sm_89: "),
                                 HasSubstr("CUDA_ERROR_NOT_FOUND")));
  EXPECT_EQ(prefill(validPrefillArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(), HasSubstr("CUDA_ERROR_NOT_FOUND"));
  std::vector<fakecuda::ModuleLoad> loads = fakecuda::moduleLoads();
  ASSERT_EQ(loads.size(), 2u);
  for (const fakecuda::ModuleLoad &load : loads) {
    EXPECT_THAT(load.image, HasSubstr(".target sm_89"));
    bool found = false;
    for (const auto &entry :
         std::filesystem::directory_iterator(ATTN_BUILT_PACK_DIR "/sm_89")) {
      found = found || (entry.path().extension() == ".ptx" &&
                        readFile(entry.path()) == load.image);
    }
    EXPECT_TRUE(found) << load.image.substr(0, 200);
  }
#else
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_EQ(lastError(), "attn_paged_decode_workspace_size: cannot read "
                         "<embedded>/sm_90/manifest.txt: libattnrt.so was "
                         "built without the kernel pack (ATTN_EMBED_PACK=OFF); "
                         "set ATTN_PACK_DIR");
#endif
}

#if ATTNRT_EMBEDS_PACK
TEST_F(PackTest, TheEmbeddedSm90KernelsAreCubinsCheckedByTheirHash) {
  // attn-packz --cubin-only=sm_90,sm_90a: the cubin is read, its hash over
  // the cubin alone matches (else ATTN_ERROR_PACK), and it goes to the
  // driver, which the fake one refuses (it takes text images only).
  unsetenv("ATTN_PACK_DIR");
  setDevice(9, 0);
  setenv("ATTN_TARGET", "sm_90", 1);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_DRIVER);
  EXPECT_THAT(lastError(),
              AllOf(HasSubstr("loading <embedded>/sm_90/"
                              "attn_decode_bf16_d128_g2_paged_causal.cubin"),
                    HasSubstr("CUDA_ERROR_INVALID_IMAGE")));

  setDevice(10, 0);
  std::unique_ptr<RuntimeLibrary> fresh;
  EXPECT_EQ(freshDecode(&fresh), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(fresh->lastError(), HasSubstr("is a cubin for sm_90 only"));
}
#endif

TEST_F(PackTest, MissingPackNamesThePathAndHowItIsFound) {
  std::filesystem::remove_all(packDir());
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(),
              AllOf(HasSubstr("cannot read " + packDir() +
                              "/sm_90/manifest.txt: No such file or directory"),
                    HasSubstr("ATTN_PACK_DIR")));
}

TEST_F(PackTest, MissingKernelImageIsAPackError) {
  std::remove(
      (packDir() + "/sm_90/decode_bf16_d128_g2_paged_causal.cubin").c_str());
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(),
              HasSubstr("cannot read " + packDir() +
                        "/sm_90/decode_bf16_d128_g2_paged_causal.cubin"));
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(PackTest, KernelFilesThatDoNotMatchTheirHashAreAPackError) {
  const std::string kernel = "decode_bf16_d128_g2_paged_causal";
  const std::string stem = packDir() + "/sm_90/" + kernel;
  const std::string ptx = readFile(stem + ".ptx");
  const std::string cubin = readFile(stem + ".cubin");
  const std::string truncated = cubin.substr(0, cubin.size() / 2);
  writeFile(stem + ".cubin", truncated);
  const std::string expected = fnv1a64(ptx + cubin);
  const std::string actual = fnv1a64(ptx + truncated);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_EQ(lastError(),
            "attn_paged_decode: kernel '" + kernel + "' of " + packDir() +
                "/sm_90: the manifest's hash=" + expected +
                " does not match its files, which hash to " + actual + " (" +
                kernel + ".ptx then " + kernel + ".cubin)");
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
  EXPECT_TRUE(fakecuda::launches().empty());

  // The hash covers the cubin when the PTX is what would be loaded.
  setenv("ATTN_TARGET", "sm_89", 1);
  writeFile(packDir() + "/sm_89/" + kernel + ".cubin", "");
  std::unique_ptr<RuntimeLibrary> fresh;
  EXPECT_EQ(freshDecode(&fresh), ATTN_ERROR_PACK);
  EXPECT_THAT(fresh->lastError(),
              AllOf(HasSubstr("kernel '" + kernel + "' of " + packDir() +
                              "/sm_89: the manifest's hash="),
                    HasSubstr("does not match its files")));
}

TEST_F(PackTest, EveryTruncationOfAKernelFileIsAPackError) {
  const std::string stem =
      packDir() + "/sm_90/decode_bf16_d128_g2_paged_causal";
  for (const char *extension : {".ptx", ".cubin"}) {
    const std::string path = stem + extension;
    const std::string bytes = readFile(path);
    for (size_t size = 0; size < bytes.size(); ++size) {
      writeFile(path, bytes.substr(0, size));
      EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK) << path << " " << size;
      EXPECT_THAT(lastError(), HasSubstr("does not match its files"));
    }
    // One flipped bit anywhere.
    for (size_t at = 0; at < bytes.size(); ++at) {
      std::string flipped = bytes;
      flipped[at] = static_cast<char>(flipped[at] ^ 0x10);
      writeFile(path, flipped);
      EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK) << path << " " << at;
    }
    writeFile(path, bytes);
  }
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
  EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
}

TEST_F(PackTest, EveryTruncationOfTheManifestIsAPackError) {
  // Cut anywhere but after a newline; a manifest read whole is cached, so
  // the cuts that leave whole lines are the CorruptManifestTest cases.
  const std::string path = packDir() + "/sm_90/manifest.txt";
  const std::string text = readFile(path);
  for (size_t size = 0; size < text.size(); ++size) {
    if (size > 0 && text[size - 1] == '\n')
      continue;
    writeFile(path, text.substr(0, size));
    EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK) << size;
    EXPECT_THAT(lastError(), HasSubstr(size == 0 ? "the manifest is empty"
                                                 : "the manifest is truncated"))
        << size;
  }
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
  writeFile(path, text);
  EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
}

TEST_F(PackTest, GarbageKernelLinesAreAPackError) {
  const std::string path = packDir() + "/sm_90/manifest.txt";
  std::mt19937 random(20261124);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 300);
  for (int i = 0; i < 500; ++i) {
    std::string line(length(random), '\0');
    for (char &c : line) {
      c = static_cast<char>(byte(random));
      // One line; '=' makes key=value tokens of some of it.
      if (c == '\n')
        c = '=';
    }
    writeFile(path, "attn-pack 1 target=sm_90\nname=a " + line + "\n");
    EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK) << i;
  }
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

TEST_F(PackTest, KernelsWithoutAHashAreLoadedUnchecked) {
  writePackWithout(&TestKernel::hash);
  EXPECT_THAT(decodeImage(), StartsWith("cubin "));
}

TEST_F(PackTest, CubinOnlyKernelsLoadTheirCubinHashedAlone) {
  // The embedded pack keeps sm_90's and sm_90a's kernels without their PTX
  // (attn-packz --cubin-only): no ptx= in the manifest, the hash of the
  // cubin alone.
  writePackWithout(&TestKernel::ptx);
  EXPECT_THAT(decodeImage(), StartsWith("cubin "));

  // Another target's GPU would JIT the PTX there is none of: refused, naming
  // the kernel, before anything is loaded or launched.
  setDevice(10, 0);
  setenv("ATTN_TARGET", "sm_90", 1);
  std::unique_ptr<RuntimeLibrary> fresh;
  EXPECT_EQ(freshDecode(&fresh), ATTN_ERROR_UNSUPPORTED);
  EXPECT_THAT(fresh->lastError(),
              AllOf(HasSubstr("kernel 'decode_bf16_d128_g2_paged_causal' of " +
                              packDir() + "/sm_90 is a cubin for sm_90 only"),
                    HasSubstr("ATTN_PACK_DIR")));
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
  EXPECT_TRUE(fakecuda::launches().empty());
}

TEST_F(PackTest, AKernelWithNeitherPtxNorCubinIsAPackError) {
  TestKernel kernel;
  writeFile(packDir() + "/sm_90/manifest.txt",
            "attn-pack 1 target=sm_90\nname=" + kernel.name() +
                " op=decode dtype=bf16 head_dim=128 group=2 paged=1 causal=1 "
                "block_m=16 block_n=64 stages=2 threads=128 smem=0\n");
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_THAT(lastError(), HasSubstr("2: missing key 'ptx'"));
}

TEST_F(PackTest, ManifestCommentsBlankLinesCrlfAndUnknownKeysAreAccepted) {
  writePack(packDir(), "sm_90", defaultKernels());
  TestKernel kernel;
  writeFile(packDir() + "/sm_90/manifest.txt",
            "attn-pack 1 target=sm_90\r\n"
            "\r\n"
            "   # a comment\n"
            "\tname=" +
                kernel.name() +
                " op=decode dtype=bf16 head_dim=128 "
                "group=2 paged=1 causal=1 threads=128 smem=32768 chunk=512 "
                "ptx=" +
                kernel.name() +
                ".ptx\r\n"
                "name=combine_bf16_d128 op=combine dtype=bf16 head_dim=128 "
                "ptx=combine_bf16_d128.ptx\r\n");
  EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
}

TEST_F(PackTest, FixedManifestIsReadAgain) {
  std::string manifest = packDir() + "/sm_90/manifest.txt";
  std::rename(manifest.c_str(), (manifest + ".good").c_str());
  writeFile(manifest, "attn-pack 1 target=sm_90\nname=x op=decode\n");
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  std::rename((manifest + ".good").c_str(), manifest.c_str());
  EXPECT_EQ(decode(validArgs()), ATTN_SUCCESS) << lastError();
}

struct CorruptCase {
  const char *label;
  std::string manifest;
  const char *message; // after "<path>:"
};

const std::string kHeader = "attn-pack 1 target=sm_90\n";
const std::string kDecodeLine =
    "name=k op=decode dtype=bf16 head_dim=128 group=2 paged=1 causal=1 "
    "threads=128 smem=0 ptx=k.ptx";

// Without its group and block_m.
const std::string kPrefillLine =
    "name=p op=prefill dtype=bf16 head_dim=128 paged=0 causal=1 threads=128 "
    "smem=0 ptx=p.ptx";

std::string decodeLineWith(const std::string &from, const std::string &to) {
  std::string line = kDecodeLine;
  size_t at = line.find(from);
  return line.replace(at, from.size(), to);
}

const CorruptCase kCorruptCases[] = {
    {"empty", "", " the manifest is empty"},
    {"truncated_header", "attn-pa",
     "1: the manifest is truncated (its last line has no newline)"},
    {"cut_header", "attn-pa\n",
     "1: not a kernel pack manifest: the first line must be 'attn-pack 1 "
     "target=sm_90 [key=value ...]'"},
    {"binary",
     std::string("\x7f"
                 "ELF\x02\x01\x01\0\0\0",
                 10) +
         "\n",
     "1: not a kernel pack manifest: the first line must be 'attn-pack 1 "
     "target=sm_90 [key=value ...]'"},
    {"kernel_line_first", kDecodeLine + "\n",
     "1: not a kernel pack manifest: the first line must be 'attn-pack 1 "
     "target=sm_90 [key=value ...]'"},
    {"header_token", "attn-pack 1 target=sm_90 compiler\n",
     "1: not a kernel pack manifest: the first line must be 'attn-pack 1 "
     "target=sm_90 [key=value ...]'"},
    {"version", "attn-pack 2 target=sm_90\n",
     "1: pack format version '2', this runtime reads version 1"},
    {"target", "attn-pack 1 target=sm_89\n",
     "1: header says 'target=sm_89' but the manifest is the sm_90 one"},
    {"truncated_line", kHeader + "name=k op=decode dtype=bf16 head_di",
     "2: the manifest is truncated (its last line has no newline)"},
    {"truncated_kernel_list", kHeader + kDecodeLine + "\n" + kDecodeLine,
     "3: the manifest is truncated (its last line has no newline)"},
    {"cut_line", kHeader + "name=k op=decode dtype=bf16 head_di\n",
     "2: expected key=value, got 'head_di'"},
    {"empty_key", kHeader + kDecodeLine + " =1\n",
     "2: expected key=value, got '=1'"},
    {"empty_value", kHeader + kDecodeLine + " cubin=\n",
     "2: expected key=value, got 'cubin='"},
    {"duplicate_key", kHeader + kDecodeLine + " smem=0\n",
     "2: key 'smem' appears twice"},
    {"missing_ptx", kHeader + decodeLineWith(" ptx=k.ptx", "") + "\n",
     "2: missing key 'ptx'"},
    {"missing_group", kHeader + decodeLineWith(" group=2", "") + "\n",
     "2: missing key 'group'"},
    {"missing_name", kHeader + decodeLineWith("name=k ", "") + "\n",
     "2: missing key 'name'"},
    {"non_numeric",
     kHeader + decodeLineWith("head_dim=128", "head_dim=abc") + "\n",
     "2: 'head_dim' must be an integer in [1, 1024], got 'abc'"},
    {"trailing_garbage",
     kHeader + decodeLineWith("head_dim=128", "head_dim=12x") + "\n",
     "2: 'head_dim' must be an integer in [1, 1024], got '12x'"},
    {"overflow",
     kHeader + decodeLineWith("threads=128", "threads=99999999999") + "\n",
     "2: 'threads' must be an integer in [1, 1024], got '99999999999'"},
    {"negative_smem", kHeader + decodeLineWith("smem=0", "smem=-1") + "\n",
     "2: 'smem' must be an integer in [0, 2147483647], got '-1'"},
    {"flag", kHeader + decodeLineWith("paged=1", "paged=2") + "\n",
     "2: 'paged' must be an integer in [0, 1], got '2'"},
    {"op", kHeader + decodeLineWith("op=decode", "op=encode") + "\n",
     "2: unknown op 'encode' (expected decode, combine or prefill)"},
    {"decode_any_group_block_m",
     kHeader + decodeLineWith("group=2", "group=0") + "\n",
     "2: missing key 'block_m'"},
    {"decode_group", kHeader + decodeLineWith("group=2", "group=-1") + "\n",
     "2: 'group' must be an integer in [0, 1024], got '-1'"},
    {"prefill_group", kHeader + kPrefillLine + " group=-1\n",
     "2: 'group' must be an integer in [0, 1024], got '-1'"},
    {"prefill_block_m", kHeader + kPrefillLine + " group=0\n",
     "2: missing key 'block_m'"},
    {"short_hash", kHeader + kDecodeLine + " hash=0123456789abcde\n",
     "2: 'hash' must be 16 lowercase hex digits, got '0123456789abcde'"},
    {"upper_case_hash", kHeader + kDecodeLine + " hash=0123456789ABCDEF\n",
     "2: 'hash' must be 16 lowercase hex digits, got '0123456789ABCDEF'"},
    {"dtype", kHeader + decodeLineWith("dtype=bf16", "dtype=fp8") + "\n",
     "2: unknown dtype 'fp8' (expected f16 or bf16)"},
    {"path", kHeader + decodeLineWith("ptx=k.ptx", "ptx=../k.ptx") + "\n",
     "2: 'ptx' must be a file name in the manifest's directory, got "
     "'../k.ptx'"},
    {"duplicate_name",
     kHeader + kDecodeLine + "\n" + decodeLineWith("paged=1", "paged=0") + "\n",
     "3: kernel 'k' is already declared on line 2"},
    {"duplicate_variant",
     kHeader + kDecodeLine + "\n# again\n" +
         decodeLineWith("name=k", "name=j") + "\n",
     "4: kernel 'j' is the same variant as 'k' on line 2"},
    {"combine_threads",
     kHeader +
         "name=c op=combine dtype=bf16 head_dim=128 threads=128 ptx=c.ptx\n",
     "2: 'threads' must be an integer in [512, 512], got '128'"},
    {"combine_threads_whole_warps",
     kHeader +
         "name=c op=combine dtype=bf16 head_dim=80 threads=320 ptx=c.ptx\n",
     "2: 'threads' must be an integer in [384, 384], got '320'"},
};

class CorruptManifestTest : public RuntimeTest,
                            public ::testing::WithParamInterface<CorruptCase> {
};

TEST_P(CorruptManifestTest, IsAPackErrorNamingFileAndLine) {
  std::string path = packDir() + "/sm_90/manifest.txt";
  writeFile(path, GetParam().manifest);
  EXPECT_EQ(decode(validArgs()), ATTN_ERROR_PACK);
  EXPECT_EQ(lastError(), "attn_paged_decode_workspace_size: " + path + ":" +
                             GetParam().message);
  EXPECT_TRUE(fakecuda::moduleLoads().empty());
}

INSTANTIATE_TEST_SUITE_P(Pack, CorruptManifestTest,
                         ::testing::ValuesIn(kCorruptCases),
                         [](const ::testing::TestParamInfo<CorruptCase> &info) {
                           return std::string(info.param.label);
                         });

} // namespace
} // namespace attn::test
