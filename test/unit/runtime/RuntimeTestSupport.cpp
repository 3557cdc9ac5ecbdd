// Fixtures of the libattnrt host tests: library copies, test packs, arguments.
#include "test/unit/runtime/RuntimeTestSupport.h"

#include "abi/kernel_params.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <type_traits>

namespace attn::test {

namespace fs = std::filesystem;

const std::vector<size_t> &decodeParamSizes() {
  // 9 pointers, 13 i64 strides, 3 i32 scalars, the f32 softmax_scale, the
  // i32 head counts and head_dim.
  static const std::vector<size_t> sizes = [] {
    std::vector<size_t> result(9 + 13, 8);
    result.insert(result.end(), 3 + 1 + 3, 4);
    return result;
  }();
  return sizes;
}

const std::vector<size_t> &combineParamSizes() {
  // 4 pointers, 3 i64 strides, the i32 num_splits and head_dim.
  static const std::vector<size_t> sizes = {8, 8, 8, 8, 8, 8, 8, 4, 4};
  return sizes;
}

const std::vector<size_t> &prefillParamSizes() {
  // 8 pointers, 11 i64 strides, 3 i32 scalars, the f32 softmax_scale, the
  // part_o and part_lse pointers, the i32 num_splits, num_heads and
  // head_shift, the i64 group_magic, the i32 head_dim.
  static const std::vector<size_t> sizes = [] {
    std::vector<size_t> result(8 + 11, 8);
    result.insert(result.end(), 3 + 1, 4);
    result.insert(result.end(), {8, 8, 4, 4, 4, 8, 4});
    return result;
  }();
  return sizes;
}

void *deviceAddress(uintptr_t value) {
  return reinterpret_cast<void *>(value); // NOLINT(performance-no-int-to-ptr)
}

std::string TestKernel::name() const {
  std::string name = op + "_" + dtype + "_d" + std::to_string(headDim);
  if (op != "combine") {
    name += "_g" + std::to_string(group) + (paged ? "_paged" : "_contiguous") +
            (causal ? "_causal" : "") + (local ? "_local" : "") +
            (tokens > 1 ? "_fold" + std::to_string(tokens) : "");
  } else if (!combineFor.empty()) {
    name += "_for_" + combineFor;
  }
  return name;
}

TestKernel combineKernel(const std::string &dtype, int headDim) {
  TestKernel kernel;
  kernel.op = "combine";
  kernel.dtype = dtype;
  kernel.headDim = headDim;
  kernel.threads = abi::combineThreads(headDim);
  kernel.smem = 0;
  return kernel;
}

TestKernel ownCombineKernel(const TestKernel &kernel) {
  TestKernel combine = combineKernel(kernel.dtype, kernel.headDim);
  combine.combineFor = kernel.name();
  return combine;
}

TestKernel prefillKernel(const std::string &dtype, int headDim, int paged,
                         int causal) {
  TestKernel kernel;
  kernel.op = "prefill";
  kernel.dtype = dtype;
  kernel.headDim = headDim;
  kernel.group = 0;
  kernel.paged = paged;
  kernel.causal = causal;
  kernel.smem = 64 * 1024;
  kernel.blockM = 64;
  return kernel;
}

std::vector<TestKernel> defaultKernels() {
  std::vector<TestKernel> kernels;
  for (const char *dtype : {"bf16", "f16"}) {
    for (int paged : {1, 0}) {
      TestKernel decode;
      decode.dtype = dtype;
      decode.paged = paged;
      kernels.push_back(decode);
    }
    kernels.push_back(combineKernel(dtype, 128));
  }
  TestKernel smallHead;
  smallHead.headDim = 64;
  smallHead.group = 4;
  kernels.push_back(smallHead);
  kernels.push_back(combineKernel("bf16", 64));
  std::vector<TestKernel> prefills;
  for (const char *dtype : {"bf16", "f16"}) {
    for (int paged : {0, 1})
      prefills.push_back(prefillKernel(dtype, 128, paged, /*causal=*/1));
  }
  prefills.push_back(prefillKernel("bf16", 128, /*paged=*/0, /*causal=*/0));
  TestKernel localPrefill = prefillKernel("bf16", 128, /*paged=*/0, 0);
  localPrefill.local = 1;
  prefills.push_back(localPrefill);
  TestKernel localDecode;
  localDecode.group = 0;
  localDecode.causal = 0;
  localDecode.local = 1;
  localDecode.blockM = 8;
  kernels.push_back(localDecode);
  // attn-pack writes the combine kernel of each prefill kernel's module.
  for (const TestKernel &prefill : prefills) {
    kernels.push_back(prefill);
    kernels.push_back(ownCombineKernel(prefill));
  }
  return kernels;
}

std::string fnv1a64(const std::string &bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx",
                static_cast<unsigned long long>(hash));
  return hex;
}

void writeFile(const std::string &path, const std::string &contents) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream file(path, std::ios::binary);
  file << contents;
  ASSERT_TRUE(file.good()) << path;
}

void writePack(const std::string &packDir, const std::string &target,
               const std::vector<TestKernel> &kernels,
               const std::string &headerExtra) {
  std::string dir = packDir + "/" + target;
  std::ostringstream manifest;
  manifest << "attn-pack 1 target=" << target << " compiler=test" << headerExtra
           << "\n"
           << "# written by the runtime tests\n";
  for (const TestKernel &kernel : kernels) {
    std::vector<size_t> sizes = kernel.op == "decode"    ? decodeParamSizes()
                                : kernel.op == "prefill" ? prefillParamSizes()
                                                         : combineParamSizes();
    if (kernel.local) // window_left, window_right, softcap
      sizes.insert(sizes.end(), {4, 4, 4});
    if (kernel.tma) // k_map, v_map, tma
      sizes.insert(sizes.end(), {128, 128, 4});
    // Like PTX, the image names its entry, parameters and target.
    std::string signature = kernel.name();
    for (size_t size : sizes)
      signature += " " + std::to_string(size);
    signature += " .target " + target + "\n";
    std::string ptx = kernel.ptx ? "ptx " + signature : "";
    std::string cubin = kernel.cubin ? "cubin " + signature : "";
    if (kernel.ptx)
      writeFile(dir + "/" + kernel.name() + ".ptx", ptx);
    manifest << "name=" << kernel.name() << " op=" << kernel.op
             << " dtype=" << kernel.dtype << " head_dim=" << kernel.headDim;
    if (kernel.op != "combine") {
      manifest << " group=" << kernel.group << " paged=" << kernel.paged
               << " causal=" << kernel.causal
               << (kernel.local ? " local=1" : "")
               << (kernel.tma ? " tma=1" : "")
               << (kernel.tokens > 1
                       ? " tokens=" + std::to_string(kernel.tokens)
                       : "")
               << (kernel.kvHeads > 1
                       ? " kv_heads=" + std::to_string(kernel.kvHeads)
                       : "")
               << " block_m=" << kernel.blockM << " block_n=64 stages=2";
    }
    manifest << kernel.extra;
    if (!kernel.combineFor.empty())
      manifest << " for=" << kernel.combineFor;
    if (kernel.dependentLaunch)
      manifest << " pdl=" << kernel.dependentLaunch;
    manifest << " threads=" << kernel.threads << " smem=" << kernel.smem;
    if (kernel.ptx)
      manifest << " ptx=" << kernel.name() << ".ptx";
    if (kernel.cubin) {
      writeFile(dir + "/" + kernel.name() + ".cubin", cubin);
      manifest << " cubin=" << kernel.name() << ".cubin";
    }
    if (kernel.hash)
      manifest << " hash=" << fnv1a64(ptx + cubin);
    manifest << "\n";
  }
  writeFile(dir + "/manifest.txt", manifest.str());
}

RuntimeLibrary::RuntimeLibrary(const std::string &dir) {
  std::string path = dir + "/libattnrt.so";
  fs::create_directories(dir);
  fs::copy_file(ATTNRT_LIBRARY, path, fs::copy_options::overwrite_existing);
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr)
    throw std::runtime_error(dlerror());
  auto resolve = [&](auto *function, const char *name) {
    *function = reinterpret_cast<std::remove_pointer_t<decltype(function)>>(
        dlsym(handle_, name));
    if (*function == nullptr)
      throw std::runtime_error(std::string("libattnrt lacks ") + name);
  };
  resolve(&apiVersion, "attn_api_version");
  resolve(&lastError, "attn_last_error");
  resolve(&workspaceSize, "attn_paged_decode_workspace_size");
  resolve(&pagedDecode, "attn_paged_decode");
  resolve(&prefillWorkspaceSize, "attn_varlen_prefill_workspace_size");
  resolve(&varlenPrefill, "attn_varlen_prefill");
  resolve(&querySupport, "attn_query_support");
  resolve(&checkDecodeIndices, "attn_paged_decode_check_indices");
  resolve(&checkPrefillIndices, "attn_varlen_prefill_check_indices");
}

RuntimeLibrary::~RuntimeLibrary() { dlclose(handle_); }

void RuntimeTest::SetUp() {
  const char *tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
      "/attnrt-test-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  tempDir = pattern;
  setenv("ATTN_LIBCUDA", FAKE_CUDA_LIBRARY, 1);
  unsetenv("ATTN_TARGET");
  setenv("ATTN_PACK_DIR", packDir().c_str(), 1);
  resetFake();
  writePack(packDir(), "sm_89", defaultKernels());
  writePack(packDir(), "sm_90", defaultKernels());
  runtime = std::make_unique<RuntimeLibrary>(tempDir + "/lib");
}

void RuntimeTest::TearDown() {
  runtime.reset();
  std::error_code ignored;
  fs::remove_all(tempDir, ignored);
}

attn_paged_decode_args validArgs() {
  attn_paged_decode_args args = {};
  args.dtype = ATTN_DTYPE_BF16;
  args.batch = 4;
  args.seqlen_q = 1;
  args.num_heads = 16;
  args.num_kv_heads = 8;
  args.head_dim = 128;
  args.page_size = 256;
  args.max_seqlen_k = 2048;
  args.causal = 1;
  args.softmax_scale = 1.0f / std::sqrt(128.0f);
  args.q = deviceAddress(0x1000000000);
  args.k_cache = deviceAddress(0x2000000000);
  args.v_cache = deviceAddress(0x3000000000);
  args.cache_seqlens =
      static_cast<const int32_t *>(deviceAddress(0x4000000000));
  args.block_table = static_cast<const int32_t *>(deviceAddress(0x5000000000));
  args.out = deviceAddress(0x6000000000);
  const int64_t tokenStride = int64_t{16} * 128;
  args.q_strides[0] = tokenStride;
  args.q_strides[1] = tokenStride;
  args.q_strides[2] = 128;
  for (int64_t *strides : {args.k_strides, args.v_strides}) {
    strides[0] = int64_t{256} * 8 * 128;
    strides[1] = int64_t{8} * 128;
    strides[2] = 128;
  }
  args.block_table_stride = 2048 / 256;
  for (int i = 0; i < 3; ++i)
    args.out_strides[i] = args.q_strides[i];
  return args;
}

attn_varlen_prefill_args validPrefillArgs() {
  attn_varlen_prefill_args args = {};
  args.dtype = ATTN_DTYPE_BF16;
  args.batch = 16;
  args.total_q = 4000;
  args.num_heads = 16;
  args.num_kv_heads = 8;
  args.head_dim = 128;
  args.max_seqlen_q = 1024;
  args.max_seqlen_k = 1024;
  args.causal = 1;
  args.softmax_scale = 1.0f / std::sqrt(128.0f);
  args.q = deviceAddress(0x1000000000);
  args.k = deviceAddress(0x2000000000);
  args.v = deviceAddress(0x3000000000);
  args.cu_seqlens_q = static_cast<const int32_t *>(deviceAddress(0x4000000000));
  args.cu_seqlens_k = static_cast<const int32_t *>(deviceAddress(0x4100000000));
  args.out = deviceAddress(0x6000000000);
  args.q_strides[0] = int64_t{16} * 128;
  args.q_strides[1] = 128;
  for (int64_t *strides : {args.k_strides, args.v_strides}) {
    strides[0] = 0;
    strides[1] = int64_t{8} * 128;
    strides[2] = 128;
  }
  args.out_strides[0] = args.q_strides[0];
  args.out_strides[1] = args.q_strides[1];
  return args;
}

attn_varlen_prefill_args validPagedPrefillArgs() {
  attn_varlen_prefill_args args = validPrefillArgs();
  args.page_size = 256;
  args.block_table = static_cast<const int32_t *>(deviceAddress(0x5000000000));
  args.block_table_stride = 1024 / 256;
  for (int64_t *strides : {args.k_strides, args.v_strides})
    strides[0] = int64_t{256} * 8 * 128;
  return args;
}

attn_status RuntimeTest::prefill(const attn_varlen_prefill_args &args) {
  size_t bytes = 0;
  if (attn_status status = runtime->prefillWorkspaceSize(&args, &bytes))
    return status;
  void *workspace = bytes == 0 ? nullptr : deviceAddress(kWorkspace);
  return runtime->varlenPrefill(&args, workspace, bytes, nullptr);
}

attn_status RuntimeTest::workspaceSize(const attn_paged_decode_args &args,
                                       size_t *bytes) {
  return runtime->workspaceSize(&args, bytes);
}

attn_status RuntimeTest::decode(const attn_paged_decode_args &args) {
  size_t bytes = 0;
  if (attn_status status = workspaceSize(args, &bytes))
    return status;
  void *workspace = bytes == 0 ? nullptr : deviceAddress(kWorkspace);
  return runtime->pagedDecode(&args, workspace, bytes, nullptr);
}

} // namespace attn::test
