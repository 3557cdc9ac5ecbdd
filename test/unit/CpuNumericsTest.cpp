// Runs the tiled, split, online-softmax programs on the host (the attn-to-cpu
// pipeline, JIT-compiled) and compares them with a float64 reference on random
// problems. Decode: empty sequences, Lq > 1, several group sizes, page sizes
// 16 and 256, contiguous caches, several split counts. Prefill: causal and
// not, Lk > Lq (prefix cache), empty sequences, GQA, packed and paged K/V,
// several split counts (empty splits included). Both: sliding windows and
// the softcap.
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

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

using namespace mlir;

namespace {

/// Local attention: a window [left, right] (a negative bound unbounded) and
/// a softcap (0: off), taken by the function as arguments.
struct Local {
  bool enabled = false;
  int64_t left = -1, right = -1;
  float softcap = 0.0f;
};

struct Problem {
  int batch, seqlenQ, numHeads, numKvHeads, headDim, pageSize, splits;
  std::vector<int> lens;
  int headsPerCta = 0; // attn-gqa-broadcast's heads-per-cta (0: G)
  bool causal = true;
  Local local = {};
  int tokensPerCta = 1; // attn-gqa-broadcast's tokens-per-cta
};

/// Whether the row whose diagonal is `d` sees key `j` of `len`.
bool sees(int j, int d, int len, bool causal, const Local &local) {
  if (j >= len || (causal && j > d))
    return false;
  if (local.enabled && local.left >= 0 && j < d - local.left)
    return false;
  if (local.enabled && local.right >= 0 && j > d + local.right)
    return false;
  return true;
}

/// The scaled score as the softmax takes it (softcapped when asked).
double capped(double s, const Local &local) {
  return local.softcap > 0 ? local.softcap * std::tanh(s / local.softcap) : s;
}

/// The extra function arguments and problem-op operands of a local problem.
std::string localArguments(const Local &local) {
  return local.enabled ? ", %wl: index, %wr: index, %cap: f32" : "";
}
std::string localOperands(const Local &local) {
  return local.enabled ? "window [%wl, %wr] softcap(%cap) " : "";
}

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
StridedMemRefType<T, N> view(std::vector<T> &data,
                             std::array<int64_t, N> shape) {
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
  std::string hq = std::to_string(p.numHeads),
              hkv = std::to_string(p.numKvHeads);
  std::string d = std::to_string(p.headDim), page = std::to_string(p.pageSize);
  std::string q = "memref<?x?x" + hq + "x" + d + "xbf16>";
  std::string cache = p.pageSize
                          ? "memref<?x" + page + "x" + hkv + "x" + d + "xbf16>"
                          : "memref<?x?x" + hkv + "x" + d + "xbf16>";
  std::string lse = "memref<?x" + hq + "x?xf32>";
  std::string scale = std::to_string(1.0 / std::sqrt(p.headDim));
  return "func.func @decode(%q: " + q + ", %k: " + cache + ", %v: " + cache +
         ", %lens: memref<?xi32>, %bt: memref<?x?xi32>, %o: " + q +
         ", %lse: " + lse + localArguments(p.local) +
         ") attributes {llvm.emit_c_interface} {\n  attn.paged_decode q(%q : " +
         q + ") k_cache(%k : " + cache + ") v_cache(%v : " + cache +
         ") cache_seqlens(%lens : memref<?xi32>) " +
         (p.pageSize ? "block_table(%bt : memref<?x?xi32>) " : "") +
         "out(%o : " + q + ") lse(%lse : " + lse + ") " +
         localOperands(p.local) + "{num_heads = " + hq +
         ", num_kv_heads = " + hkv + ", head_dim = " + d +
         ", causal = " + (p.causal ? "true" : "false") + ", scale = " + scale +
         " : f32, page_size = " + page + "}\n  return\n}\n";
}

/// Compiles `text` with attn-to-cpu (16-row, 16-key tiles: many tiles per
/// sequence exercise the recurrence) and returns `_mlir_ciface_<name>`.
class HostProgram {
public:
  void compile(const std::string &text, const std::string &name,
               int headsPerCta = 0, int tokensPerCta = 1) {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    attn::registerAttnDialectsAndPasses(registry);
    context = std::make_unique<MLIRContext>(registry);
    context->loadAllAvailableDialects();
    OwningOpRef<ModuleOp> module =
        parseSourceString<ModuleOp>(text, context.get());
    ASSERT_TRUE(module);
    PassManager pm(context.get());
    attn::AttnPipelineOptions options;
    options.blockM = 16;
    options.blockN = 16;
    options.headsPerCta = headsPerCta;
    options.tokensPerCta = tokensPerCta;
    attn::buildAttnToCPUPipeline(pm, options);
    ASSERT_TRUE(succeeded(pm.run(*module)));
    auto created = ExecutionEngine::create(*module);
    ASSERT_TRUE(static_cast<bool>(created))
        << llvm::toString(created.takeError());
    engine = std::move(*created);
    auto fn = engine->lookup("_mlir_ciface_" + name);
    ASSERT_TRUE(static_cast<bool>(fn)) << llvm::toString(fn.takeError());
    entry = *fn;
  }
  void *entry = nullptr;

private:
  DialectRegistry registry;
  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<ExecutionEngine> engine;
};

class CpuNumericsTest : public ::testing::TestWithParam<Problem> {};

TEST_P(CpuNumericsTest, MatchesFloat64Reference) {
  const Problem &p = GetParam();
  HostProgram program;
  ASSERT_NO_FATAL_FAILURE(
      program.compile(moduleText(p), "decode", p.headsPerCta, p.tokensPerCta));
  void *fn = program.entry;

  std::mt19937 rng(p.batch * 131 + p.numHeads * 7 + p.pageSize + p.seqlenQ);
  std::normal_distribution<float> normal;
  int B = p.batch, Lq = p.seqlenQ, Hq = p.numHeads, Hkv = p.numKvHeads,
      D = p.headDim;
  int maxLen = *std::max_element(p.lens.begin(), p.lens.end());
  int page = p.pageSize ? p.pageSize : std::max(maxLen, 1);
  int blocksPerSeq = (maxLen + page - 1) / page + 1;
  int numBlocks = p.pageSize ? B * blocksPerSeq : B;
  int rowsPerBlock = p.pageSize ? page : std::max(maxLen, 1);
  std::vector<uint16_t> q(B * Lq * Hq * D),
      k(numBlocks * rowsPerBlock * Hkv * D), v(k.size()),
      out(q.size(), 0x7fc0 /* NaN: unwritten rows show */);
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
  std::vector<float> partO(p.splits * B * Lq * Hq * D),
      partLse(p.splits * B * Lq * Hq);

  auto qv = view<uint16_t, 4>(q, {B, Lq, Hq, D});
  auto kv = view<uint16_t, 4>(k, {numBlocks, rowsPerBlock, Hkv, D});
  auto vv = view<uint16_t, 4>(v, {numBlocks, rowsPerBlock, Hkv, D});
  auto lv = view<int32_t, 1>(lens, {B});
  auto bv = view<int32_t, 2>(table, {B, blocksPerSeq});
  auto ov = view<uint16_t, 4>(out, {B, Lq, Hq, D});
  auto sv = view<float, 3>(lse, {B, Hq, Lq});
  auto pov = view<float, 5>(partO, {p.splits, B, Lq, Hq, D});
  auto plv = view<float, 4>(partLse, {p.splits, B, Lq, Hq});
  if (p.local.enabled) {
    using Fn = void (*)(void *, void *, void *, void *, void *, void *, void *,
                        int64_t, int64_t, float, void *, void *, int64_t);
    reinterpret_cast<Fn>(fn)(&qv, &kv, &vv, &lv, &bv, &ov, &sv, p.local.left,
                             p.local.right, p.local.softcap, &pov, &plv,
                             p.splits);
  } else {
    using Fn = void (*)(void *, void *, void *, void *, void *, void *, void *,
                        void *, void *, int64_t);
    reinterpret_cast<Fn>(fn)(&qv, &kv, &vv, &lv, &bv, &ov, &sv, &pov, &plv,
                             p.splits);
  }

  // float64 reference, bottom-right causal or not.
  double errNum = 0, errDen = 0;
  int G = Hq / Hkv;
  double scale = 1.0 / std::sqrt(D);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < Lq; ++t)
      for (int h = 0; h < Hq; ++h) {
        int L = p.lens[b];
        std::vector<int> keys;
        for (int j = 0; j < L; ++j)
          if (sees(j, t + L - Lq, L, p.causal, p.local))
            keys.push_back(j);
        int visible = keys.size();
        auto row = [&](int key) {
          int j = keys[key];
          int block = p.pageSize ? table[b * blocksPerSeq + j / page] : b;
          int r = p.pageSize ? j % page : j;
          return ((static_cast<int64_t>(block) * rowsPerBlock + r) * Hkv +
                  h / G) *
                 D;
        };
        std::vector<double> s(visible);
        double mx = -INFINITY;
        for (int j = 0; j < visible; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += fromBf16(q[((b * Lq + t) * Hq + h) * D + d]) *
                   fromBf16(k[row(j) + d]);
          s[j] = capped(dot * scale, p.local);
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
          ASSERT_FALSE(std::isnan(got))
              << "unwritten output b=" << b << " h=" << h;
          if (visible == 0) {
            ASSERT_EQ(got, 0.0f);
          }
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
        Problem{3, 1, 2, 2, 32, 16, 1, {37, 0, 5}}, // G=1, an empty sequence
        Problem{2, 1, 4, 2, 64, 256, 3, {300, 17}}, // G=2, page 256, 3 splits
        Problem{3, 4, 6, 2, 32, 16, 2, {40, 3, 0}}, // G=3, Lq=4 causal, Lk<Lq
        Problem{2, 1, 8, 2, 32, 0, 4, {70, 1}},     // G=4, contiguous
        Problem{2, 2, 8, 1, 16, 16, 1, {33, 64}},   // G=8, Lq=2
        Problem{
            3, 3, 4, 2, 32, 16, 2, {40, 2, 0}, 0, false}, // not causal, Lq=3
        // The any-group kernel's program: heads-per-cta R, G from
        // attn.group_size; the last head block of a KV head is partial.
        Problem{2, 1, 6, 2, 32, 16, 1, {37, 5}, 4},        // G=3 < R=4
        Problem{2, 2, 10, 2, 32, 16, 3, {50, 9}, 2},       // G=5: 3 blocks
        Problem{2, 1, 12, 1, 16, 0, 2, {33, 0}, 8},        // G=12: 8 + 4
        Problem{1, 4, 16, 1, 16, 256, 1, {300}, 8, false}, // G=16, not causal
        Problem{2, 1, 7, 7, 32, 16, 1, {20, 1}, 4},        // G=1, R=4
        // Head dims of the pack that are not powers of two, and the largest.
        Problem{2, 1, 4, 2, 80, 16, 2, {45, 3}},   // D=80, split
        Problem{2, 2, 6, 2, 96, 0, 1, {30, 7}, 4}, // D=96, any-group
        Problem{1, 1, 2, 1, 256, 16, 1, {33}},     // D=256
        // Local attention on the any-group program: windows (causal and
        // not, one side unbounded), the softcap, splits over the window.
        Problem{2, 1, 6, 2, 32, 16, 1, {90, 7}, 4, false, {true, 20, -1, 0}},
        Problem{2, 3, 4, 2, 32, 16, 3, {200, 40}, 4, true, {true, 33, 5, 0}},
        Problem{2, 2, 4, 1, 32, 0, 2, {70, 0}, 4, false, {true, -1, 0, 0}},
        Problem{1, 4, 4, 2, 32, 16, 4, {300}, 4, false, {true, 17, 2, 0}},
        Problem{2, 1, 4, 2, 32, 16, 2, {60, 9}, 4, true, {true, -1, -1, 2.5f}},
        Problem{1, 2, 8, 2, 80, 16, 3, {150}, 4, true, {true, 40, -1, 30.0f}},
        // Speculative decoding folded: tokens-per-cta F puts the G heads of F
        // tokens in one tile (row i on token i / G's diagonal); the last
        // block of tokens is partial where F does not divide Lq; a sequence
        // shorter than Lq leaves its first tokens without keys.
        Problem{3, 3, 4, 2, 32, 16, 3, {40, 2, 0}, 0, true, {}, 4}, // G=2
        Problem{2, 5, 2, 2, 64, 0, 1, {70, 9}, 0, true, {}, 4}, // G=1, 2 blocks
        Problem{2, 2, 8, 2, 32, 256, 2, {300, 33}, 0, true, {}, 2}, // G=4
        Problem{
            2, 4, 4, 2, 80, 16, 2, {50, 3}, 0, false, {}, 2})); // not causal

struct PrefillProblem {
  int numHeads, numKvHeads, headDim, pageSize;
  bool causal;
  std::vector<int> lensQ, lensK;
  int splits = 1;
  Local local = {};
};

std::string prefillText(const PrefillProblem &p) {
  std::string hq = std::to_string(p.numHeads),
              hkv = std::to_string(p.numKvHeads);
  std::string d = std::to_string(p.headDim), page = std::to_string(p.pageSize);
  std::string q = "memref<?x" + hq + "x" + d + "xbf16>";
  std::string kv = p.pageSize
                       ? "memref<?x" + page + "x" + hkv + "x" + d + "xbf16>"
                       : "memref<?x" + hkv + "x" + d + "xbf16>";
  std::string lse = "memref<" + hq + "x?xf32>";
  std::string scale = std::to_string(1.0 / std::sqrt(p.headDim));
  return "func.func @prefill(%q: " + q + ", %k: " + kv + ", %v: " + kv +
         ", %cq: memref<?xi32>, %ck: memref<?xi32>, %bt: memref<?x?xi32>, "
         "%o: " +
         q + ", %lse: " + lse + localArguments(p.local) +
         ") attributes {llvm.emit_c_interface} {\n" +
         "  attn.varlen_prefill q(%q : " + q + ") k(%k : " + kv +
         ") v(%v : " + kv +
         ") cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : "
         "memref<?xi32>) " +
         (p.pageSize ? "block_table(%bt : memref<?x?xi32>) " : "") +
         "out(%o : " + q + ") lse(%lse : " + lse + ") " +
         localOperands(p.local) + "{num_heads = " + hq +
         ", num_kv_heads = " + hkv + ", head_dim = " + d +
         ", causal = " + (p.causal ? "true" : "false") + ", scale = " + scale +
         " : f32, page_size = " + page + "}\n  return\n}\n";
}

class CpuPrefillTest : public ::testing::TestWithParam<PrefillProblem> {};

TEST_P(CpuPrefillTest, MatchesFloat64Reference) {
  const PrefillProblem &p = GetParam();
  HostProgram program;
  ASSERT_NO_FATAL_FAILURE(program.compile(prefillText(p), "prefill"));

  int B = p.lensQ.size(), Hq = p.numHeads, Hkv = p.numKvHeads, D = p.headDim;
  std::mt19937 rng(Hq * 31 + D + p.pageSize + p.causal);
  std::normal_distribution<float> normal;
  std::vector<int32_t> cq(B + 1, 0), ck(B + 1, 0);
  for (int b = 0; b < B; ++b) {
    cq[b + 1] = cq[b] + p.lensQ[b];
    ck[b + 1] = ck[b] + p.lensK[b];
  }
  int totalQ = cq[B], totalK = ck[B];
  int maxK = *std::max_element(p.lensK.begin(), p.lensK.end());
  int page = p.pageSize, blocksPerSeq = page ? (maxK + page - 1) / page + 1 : 1;
  int numBlocks = B * blocksPerSeq;
  int kvRows = page ? numBlocks * page : std::max(totalK, 1);
  std::vector<uint16_t> q(std::max(totalQ, 1) * Hq * D), k(kvRows * Hkv * D),
      v(k.size()), out(q.size(), 0x7fc0 /* NaN: unwritten rows show */);
  for (auto *t : {&q, &k, &v})
    for (uint16_t &x : *t)
      x = toBf16(normal(rng));
  std::vector<int32_t> table(B * blocksPerSeq, -1), perm(numBlocks);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  if (page)
    for (int b = 0; b < B; ++b)
      for (int j = 0; j * page < p.lensK[b]; ++j)
        table[b * blocksPerSeq + j] = perm[b * blocksPerSeq + j];
  std::vector<float> lse(Hq * std::max(totalQ, 1), std::nanf(""));
  // Split-KV partials, NaN so that a partial the combine reads unwritten
  // shows in the output.
  std::vector<float> partO(p.splits * std::max(totalQ, 1) * Hq * D,
                           std::nanf("")),
      partLse(p.splits * std::max(totalQ, 1) * Hq, std::nanf(""));

  auto qv = view<uint16_t, 3>(q, {totalQ, Hq, D});
  StridedMemRefType<uint16_t, 3> kv3, vv3;
  StridedMemRefType<uint16_t, 4> kv4, vv4;
  void *kArg, *vArg;
  if (page) {
    kv4 = view<uint16_t, 4>(k, {numBlocks, page, Hkv, D});
    vv4 = view<uint16_t, 4>(v, {numBlocks, page, Hkv, D});
    kArg = &kv4, vArg = &vv4;
  } else {
    kv3 = view<uint16_t, 3>(k, {totalK, Hkv, D});
    vv3 = view<uint16_t, 3>(v, {totalK, Hkv, D});
    kArg = &kv3, vArg = &vv3;
  }
  auto cqv = view<int32_t, 1>(cq, {B + 1});
  auto ckv = view<int32_t, 1>(ck, {B + 1});
  auto bv = view<int32_t, 2>(table, {B, blocksPerSeq});
  auto ov = view<uint16_t, 3>(out, {totalQ, Hq, D});
  auto sv = view<float, 2>(lse, {Hq, totalQ});
  auto pov = view<float, 4>(partO, {p.splits, totalQ, Hq, D});
  auto plv = view<float, 3>(partLse, {p.splits, totalQ, Hq});
  if (p.local.enabled) {
    using Fn =
        void (*)(void *, void *, void *, void *, void *, void *, void *, void *,
                 int64_t, int64_t, float, void *, void *, int64_t);
    reinterpret_cast<Fn>(program.entry)(&qv, kArg, vArg, &cqv, &ckv, &bv, &ov,
                                        &sv, p.local.left, p.local.right,
                                        p.local.softcap, &pov, &plv, p.splits);
  } else {
    using Fn = void (*)(void *, void *, void *, void *, void *, void *, void *,
                        void *, void *, void *, int64_t);
    reinterpret_cast<Fn>(program.entry)(&qv, kArg, vArg, &cqv, &ckv, &bv, &ov,
                                        &sv, &pov, &plv, p.splits);
  }

  double errNum = 0, errDen = 0, scale = 1.0 / std::sqrt(D);
  int G = Hq / Hkv;
  for (int b = 0; b < B; ++b) {
    int Lq = p.lensQ[b], Lk = p.lensK[b];
    std::vector<int> keys; // the keys the current row sees
    auto keyRow = [&](int j) {
      j = keys[j];
      int64_t r =
          page ? static_cast<int64_t>(table[b * blocksPerSeq + j / page]) *
                         page +
                     j % page
               : ck[b] + j;
      return r;
    };
    for (int i = 0; i < Lq; ++i)
      for (int h = 0; h < Hq; ++h) {
        keys.clear();
        for (int j = 0; j < Lk; ++j)
          if (sees(j, i + Lk - Lq, Lk, p.causal, p.local))
            keys.push_back(j);
        int visible = keys.size();
        int64_t qRow = cq[b] + i;
        std::vector<double> s(visible);
        double mx = -INFINITY;
        for (int j = 0; j < visible; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += fromBf16(q[(qRow * Hq + h) * D + d]) *
                   fromBf16(k[(keyRow(j) * Hkv + h / G) * D + d]);
          s[j] = capped(dot * scale, p.local);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (double &x : s)
          sum += (x = std::exp(x - mx));
        for (int d = 0; d < D; ++d) {
          double ref = 0;
          for (int j = 0; j < visible; ++j)
            ref += s[j] * fromBf16(v[(keyRow(j) * Hkv + h / G) * D + d]) / sum;
          float got = fromBf16(out[(qRow * Hq + h) * D + d]);
          ASSERT_FALSE(std::isnan(got))
              << "unwritten output b=" << b << " i=" << i;
          if (visible == 0) {
            ASSERT_EQ(got, 0.0f);
          }
          errNum += (got - ref) * (got - ref);
          errDen += ref * ref;
        }
        float gotLse = lse[h * totalQ + qRow];
        if (visible == 0)
          EXPECT_EQ(gotLse, std::numeric_limits<float>::infinity());
        else
          EXPECT_NEAR(gotLse, mx + std::log(sum), 1e-3);
      }
  }
  double rel = errDen > 0 ? std::sqrt(errNum / errDen) : 0.0;
  EXPECT_LT(rel, 1e-2) << "relative error " << rel;
  RecordProperty("relative_error", std::to_string(rel));
}

INSTANTIATE_TEST_SUITE_P(
    Prefill, CpuPrefillTest,
    ::testing::Values(
        // Hq, Hkv, D, page, causal, lensQ, lensK[, splits]
        PrefillProblem{
            2, 2, 32, 0, true, {37, 0, 5}, {37, 0, 5}}, // an empty sequence
        PrefillProblem{
            4, 2, 32, 0, false, {20, 33}, {20, 33}}, // non-causal, GQA
        PrefillProblem{
            6, 2, 16, 16, true, {17, 3, 0}, {50, 40, 9}}, // prefix cache, G=3
        PrefillProblem{2, 1, 32, 256, true, {40}, {300}}, // page 256, Lk > Lq
        PrefillProblem{
            4, 4, 16, 0, true, {30, 2}, {18, 1}}, // Lk < Lq: rows see nothing
        PrefillProblem{
            8, 2, 16, 16, false, {5, 19}, {21, 19}}, // paged, non-causal
        // Split-KV: each split attends a share of the keys its row tile sees.
        PrefillProblem{
            2, 2, 32, 0, true, {37, 0, 5}, {37, 0, 5}, 2}, // empty sequence
        PrefillProblem{
            6, 2, 16, 16, true, {17, 3, 0}, {50, 40, 9}, 3}, // prefix cache
        PrefillProblem{
            2, 1, 32, 256, true, {40}, {300}, 5}, // page 256, Lk > Lq
        PrefillProblem{4, 4, 16, 0, true, {30, 2}, {18, 1}, 7}, // empty splits
        PrefillProblem{
            8, 2, 16, 16, false, {5, 19}, {21, 19}, 4}, // paged, non-causal
        PrefillProblem{4, 2, 32, 0, false, {20, 33}, {90, 33}, 64}, // 64 splits
        // Head dims of the pack that are not powers of two, and the largest.
        PrefillProblem{4, 2, 80, 16, true, {17, 3}, {40, 3}}, // D=80, paged
        PrefillProblem{
            3, 1, 160, 0, false, {9, 20}, {9, 20}, 2},  // D=160, split
        PrefillProblem{2, 2, 256, 0, true, {12}, {12}}, // D=256
        // Local attention: windows causal and not (tiles skipped on the left,
        // masked across both bounds), one side unbounded, the softcap alone
        // and with a window, split-KV over the window, paged and packed.
        PrefillProblem{
            2, 1, 32, 0, true, {70, 5}, {70, 40}, 1, {true, 20, -1, 0}},
        PrefillProblem{
            4, 2, 16, 16, false, {50, 9}, {80, 9}, 1, {true, 7, 7, 0}},
        PrefillProblem{2, 2, 32, 0, false, {40}, {40}, 1, {true, -1, 3, 0}},
        PrefillProblem{
            2, 1, 16, 16, false, {33, 0}, {90, 4}, 3, {true, 16, 0, 0}},
        PrefillProblem{
            4, 2, 32, 0, true, {37, 5}, {37, 5}, 1, {true, -1, -1, 2.5f}},
        PrefillProblem{
            2, 2, 32, 16, true, {60}, {200}, 4, {true, 25, -1, 50.0f}},
        PrefillProblem{
            3, 1, 80, 0, false, {20, 30}, {20, 30}, 2, {true, 0, 0, 0}}));

} // namespace
