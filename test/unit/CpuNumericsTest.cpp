// Runs the tiled, split, online-softmax decode program on the host (the
// attn-to-cpu pipeline, JIT-compiled) and compares it with a float64
// reference on random problems: empty sequences, Lq > 1, several group sizes,
// page sizes 16 and 256, contiguous caches, several split counts.
#include "passes/Passes.h"
#include "passes/Registration.h"

#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "llvm/Support/TargetSelect.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <algorithm>

using namespace mlir;

namespace {

struct Problem {
  int batch, seqlenQ, numHeads, numKvHeads, headDim, pageSize, splits;
  std::vector<int> lens;
};

uint16_t toBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7fff + ((bits >> 16) & 1); // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}
float fromBf16(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T, int N>
StridedMemRefType<T, N> view(std::vector<T> &data, std::array<int64_t, N> shape) {
  StridedMemRefType<T, N> m;
  m.basePtr = m.data = data.data();
  m.offset = 0;
  int64_t stride = 1;
  for (int i = N - 1; i >= 0; --i) {
    m.sizes[i] = shape[i];
    m.strides[i] = stride;
    stride *= shape[i];
  }
  return m;
}

std::string moduleText(const Problem &p) {
  std::string hq = std::to_string(p.numHeads), hkv = std::to_string(p.numKvHeads);
  std::string d = std::to_string(p.headDim), page = std::to_string(p.pageSize);
  std::string q = "memref<?x?x" + hq + "x" + d + "xbf16>";
  std::string cache = p.pageSize ? "memref<?x" + page + "x" + hkv + "x" + d + "xbf16>"
                                 : "memref<?x?x" + hkv + "x" + d + "xbf16>";
  std::string lse = "memref<?x" + hq + "x?xf32>";
  std::string scale = std::to_string(1.0 / std::sqrt(p.headDim));
  return "func.func @decode(%q: " + q + ", %k: " + cache + ", %v: " + cache +
         ", %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: " + q + ", %lse: " + lse +
         ") attributes {llvm.emit_c_interface} {\n  attn.paged_decode q(%q : " + q +
         ") k_cache(%k : " + cache + ") v_cache(%v : " + cache +
         ") cache_seqlens(%lens : memref<?xi32>) " +
         (p.pageSize ? "block_table(%bt : memref<?x?xi32>) " : "") + "out(%o : " + q +
         ") lse(%lse : " + lse + ") {num_heads = " + hq + ", num_kv_heads = " + hkv +
         ", head_dim = " + d + ", causal = true, scale = " + scale +
         " : f32, page_size = " + page + "}\n  return\n}\n";
}

class CpuNumericsTest : public ::testing::TestWithParam<Problem> {};

TEST_P(CpuNumericsTest, MatchesFloat64Reference) {
  const Problem &p = GetParam();
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  DialectRegistry registry;
  attn::registerAttnDialectsAndPasses(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(moduleText(p), &context);
  ASSERT_TRUE(module);
  PassManager pm(&context);
  attn::AttnPipelineOptions options;
  options.blockN = 16; // many tiles per split: exercises the recurrence
  attn::buildAttnToCPUPipeline(pm, options);
  ASSERT_TRUE(succeeded(pm.run(*module)));
  auto engine = ExecutionEngine::create(*module);
  ASSERT_TRUE(static_cast<bool>(engine)) << llvm::toString(engine.takeError());
  auto fn = (*engine)->lookup("_mlir_ciface_decode");
  ASSERT_TRUE(static_cast<bool>(fn)) << llvm::toString(fn.takeError());

  std::mt19937 rng(p.batch * 131 + p.numHeads * 7 + p.pageSize + p.seqlenQ);
  std::normal_distribution<float> normal;
  int B = p.batch, Lq = p.seqlenQ, Hq = p.numHeads, Hkv = p.numKvHeads, D = p.headDim;
  int maxLen = *std::max_element(p.lens.begin(), p.lens.end());
  int page = p.pageSize ? p.pageSize : std::max(maxLen, 1);
  int blocksPerSeq = (maxLen + page - 1) / page + 1;
  int numBlocks = p.pageSize ? B * blocksPerSeq : B;
  int rowsPerBlock = p.pageSize ? page : std::max(maxLen, 1);
  std::vector<uint16_t> q(B * Lq * Hq * D), k(numBlocks * rowsPerBlock * Hkv * D),
      v(k.size()), out(q.size(), 0x7fc0 /* NaN: unwritten rows show */);
  for (auto *t : {&q, &k, &v})
    for (uint16_t &x : *t)
      x = toBf16(normal(rng));
  // A random permutation of blocks, -1 past each sequence's last page.
  std::vector<int32_t> table(B * blocksPerSeq, -1), perm(numBlocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j * page < p.lens[b]; ++j)
      table[b * blocksPerSeq + j] = perm[b * blocksPerSeq + j];
  std::vector<int32_t> lens(p.lens.begin(), p.lens.end());
  std::vector<float> lse(B * Hq * Lq, std::nanf(""));
  std::vector<float> partO(p.splits * B * Lq * Hq * D), partLse(p.splits * B * Lq * Hq);

  auto qv = view<uint16_t, 4>(q, {B, Lq, Hq, D});
  auto kv = view<uint16_t, 4>(k, {numBlocks, rowsPerBlock, Hkv, D});
  auto vv = view<uint16_t, 4>(v, {numBlocks, rowsPerBlock, Hkv, D});
  auto lv = view<int32_t, 1>(lens, {B});
  auto bv = view<int32_t, 2>(table, {B, blocksPerSeq});
  auto ov = view<uint16_t, 4>(out, {B, Lq, Hq, D});
  auto sv = view<float, 3>(lse, {B, Hq, Lq});
  auto pov = view<float, 5>(partO, {p.splits, B, Lq, Hq, D});
  auto plv = view<float, 4>(partLse, {p.splits, B, Lq, Hq});
  using Fn = void (*)(void *, void *, void *, void *, void *, void *, void *, void *,
                      void *, int64_t);
  reinterpret_cast<Fn>(*fn)(&qv, &kv, &vv, &lv, &bv, &ov, &sv, &pov, &plv, p.splits);

  // float64 reference, bottom-right causal.
  double errNum = 0, errDen = 0;
  int G = Hq / Hkv;
  double scale = 1.0 / std::sqrt(D);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < Lq; ++t)
      for (int h = 0; h < Hq; ++h) {
        int L = p.lens[b], visible = std::min(L, std::max(0, t + L - Lq + 1));
        auto row = [&](int j) {
          int block = p.pageSize ? table[b * blocksPerSeq + j / page] : b;
          int r = p.pageSize ? j % page : j;
          return ((static_cast<int64_t>(block) * rowsPerBlock + r) * Hkv + h / G) * D;
        };
        std::vector<double> s(visible);
        double mx = -INFINITY;
        for (int j = 0; j < visible; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += fromBf16(q[((b * Lq + t) * Hq + h) * D + d]) * fromBf16(k[row(j) + d]);
          s[j] = dot * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double &x : s)
          sum += (x = std::exp(x - mx));
        for (int d = 0; d < D; ++d) {
          double ref = 0;
          for (int j = 0; j < visible; ++j)
            ref += s[j] * fromBf16(v[row(j) + d]) / sum;
          float got = fromBf16(out[((b * Lq + t) * Hq + h) * D + d]);
          ASSERT_FALSE(std::isnan(got)) << "unwritten output b=" << b << " h=" << h;
          if (visible == 0)
            ASSERT_EQ(got, 0.0f);
          errNum += (got - ref) * (got - ref);
          errDen += ref * ref;
        }
        float gotLse = lse[(b * Hq + h) * Lq + t];
        if (visible == 0)
          EXPECT_EQ(gotLse, std::numeric_limits<float>::infinity());
        else
          EXPECT_NEAR(gotLse, mx + std::log(sum), 1e-3);
      }
  double rel = errDen > 0 ? std::sqrt(errNum / errDen) : 0.0;
  EXPECT_LT(rel, 1e-2) << "relative error " << rel;
  RecordProperty("relative_error", std::to_string(rel));
}

INSTANTIATE_TEST_SUITE_P(
    Decode, CpuNumericsTest,
    ::testing::Values(
        // batch, Lq, Hq, Hkv, D, page, splits, lens
        Problem{3, 1, 2, 2, 32, 16, 1, {37, 0, 5}},        // G=1, an empty sequence
        Problem{2, 1, 4, 2, 64, 256, 3, {300, 17}},        // G=2, page 256, 3 splits
        Problem{3, 4, 6, 2, 32, 16, 2, {40, 3, 0}},        // G=3, Lq=4 causal, Lk<Lq
        Problem{2, 1, 8, 2, 32, 0, 4, {70, 1}},            // G=4, contiguous
        Problem{2, 2, 8, 1, 16, 16, 1, {33, 64}}));        // G=8, Lq=2

} // namespace
