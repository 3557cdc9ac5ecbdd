// The K/V tensor maps of a TMA prefill kernel (tensor_map.h).
#include "runtime/tensor_map.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>

namespace attn {

namespace {

// Rows of a packed K or V, or pages of a paged one, as the map declares
// them: the runtime knows neither total_k nor the cache's pages, and the
// kernel boxes only whole tiles of keys before a sequence's end (paged,
// within a page of its block_table), so no box reaches past the tensor.
constexpr cuuint64_t kMapRows = 0x7fffffff;

// ATTN_PREFILL_TMA=0 (read once): the kernels copy every tile with
// cp.async, for an A/B of the same kernels.
bool tmaEnabled() {
  static const bool enabled = [] {
    const char *value = std::getenv("ATTN_PREFILL_TMA");
    return value == nullptr || std::string(value) != "0";
  }();
  return enabled;
}

// What a map is encoded from (the rest is fixed), and the last maps this
// thread encoded: a caller's next call, or the next layer's, usually has
// the same tensors, and an encode is a driver call on the launch path.
struct MapKey {
  uint64_t base;
  cuuint64_t dims[4];
  cuuint64_t strides[3];
  cuuint32_t rank, boxRows, type;
  bool operator==(const MapKey &other) const {
    return std::memcmp(this, &other, sizeof(MapKey)) == 0;
  }
};
struct CachedMap {
  MapKey key;
  abi::TensorMapBytes map;
};
constexpr int kCachedMaps = 8;
thread_local CachedMap cachedMaps[kCachedMaps];
thread_local int cachedCount = 0, nextSlot = 0;

} // namespace

Status encodeKvTensorMaps(const Driver &driver,
                          const attn_varlen_prefill_args &args,
                          const PrefillStrides &strides,
                          const KernelInfo &kernel, abi::tma::Args *maps) {
  *maps = abi::tma::Args{};
  if (!tmaEnabled())
    return Status();
  const int64_t elementBytes = 2; // f16, bf16
  CUtensorMapDataType type = args.dtype == ATTN_DTYPE_BF16
                                 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  auto encode = [&](abi::TensorMapBytes *map, const void *base,
                    const int64_t *stride, const char *name) -> Status {
    static_assert(sizeof(CUtensorMap) == sizeof(abi::TensorMapBytes) &&
                      alignof(CUtensorMap) <= alignof(abi::TensorMapBytes),
                  "abi::TensorMapBytes must hold a CUtensorMap");
    // Innermost first: head_dim, Hkv, rows (packed) or rows of a page and
    // pages (paged); byte strides of all but the first (the checks made them
    // multiples of 16 bytes below 2^32). A single head's stride is 0 (a
    // size-1 dimension's, which nothing reads): it takes head_dim's bytes.
    bool paged = args.page_size != 0;
    cuuint32_t rank = paged ? 4 : 3;
    cuuint64_t dims[4] = {
        cuuint64_t(args.head_dim), cuuint64_t(args.num_kv_heads),
        paged ? cuuint64_t(args.page_size) : kMapRows, kMapRows};
    int64_t headStride = stride[2] != 0 ? stride[2] : args.head_dim;
    cuuint64_t byteStrides[3] = {cuuint64_t(headStride * elementBytes),
                                 cuuint64_t(stride[1] * elementBytes),
                                 cuuint64_t(stride[0] * elementBytes)};
    cuuint32_t box[4] = {abi::kTmaBoxColumns, 1, cuuint32_t(kernel.blockN), 1};
    cuuint32_t elementStrides[4] = {1, 1, 1, 1};
    MapKey key;
    std::memset(&key, 0, sizeof(key)); // the padding too: keys compare bytes
    key.base = reinterpret_cast<uintptr_t>(base);
    std::copy(std::begin(dims), std::end(dims), key.dims);
    std::copy(std::begin(byteStrides), std::end(byteStrides), key.strides);
    key.rank = rank;
    key.boxRows = box[2];
    key.type = type;
    for (int i = 0; i < cachedCount; ++i) {
      if (cachedMaps[i].key == key) {
        *map = cachedMaps[i].map;
        return Status();
      }
    }
    CUresult result = driver.cuTensorMapEncodeTiled(
        reinterpret_cast<CUtensorMap *>(map), type, rank,
        const_cast<void *>(base), dims, byteStrides, box, elementStrides,
        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
        CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (result != CUDA_SUCCESS)
      return withContext(driverError(driver, result,
                                     "cuTensorMapEncodeTiled(map, type, "
                                     "rank, base, dims, strides, box, "
                                     "elementStrides, ...)",
                                     __FILE__, __LINE__),
                         std::string("the tensor map of '") + name +
                             "' for kernel '" + kernel.name + "'");
    cachedMaps[nextSlot] = {key, *map};
    nextSlot = (nextSlot + 1) % kCachedMaps;
    cachedCount = std::min(cachedCount + 1, kCachedMaps);
    return Status();
  };
  ATTN_RETURN_IF_ERROR(encode(&maps->k_map, args.k, strides.k, "k"));
  ATTN_RETURN_IF_ERROR(encode(&maps->v_map, args.v, strides.v, "v"));
  maps->tma = 1;
  return Status();
}

} // namespace attn
