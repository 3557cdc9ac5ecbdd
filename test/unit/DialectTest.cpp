// Unit tests of the attn dialect through its C++ API: parsing, attribute
// accessors, and the verifier's diagnostics as a tool would receive them.
#include "dialect/AttnOps.h"
#include "passes/Registration.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

class AttnDialectTest : public ::testing::Test {
protected:
  AttnDialectTest() {
    DialectRegistry registry;
    attn::registerAttnDialectsAndPasses(registry);
    context.appendDialectRegistry(registry);
    context.loadAllAvailableDialects();
  }

  /// Parses `source`; returns the diagnostics emitted while verifying.
  OwningOpRef<ModuleOp> parse(StringRef source, std::string &diagnostics) {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      diagnostics += diag.str();
      return success();
    });
    return parseSourceString<ModuleOp>(source, &context);
  }

  MLIRContext context;
};

std::string decodeModule(int numHeads, int numKvHeads, int pageSize) {
  std::string hq = std::to_string(numHeads), hkv = std::to_string(numKvHeads);
  std::string page = std::to_string(pageSize);
  return "func.func @f(%q: memref<?x1x" + hq + "x128xbf16>, %kc: memref<?x" +
         page + "x" + hkv + "x128xbf16>, %lens: memref<?xi32>, %bt: " +
         "memref<?x?xi32>, %o: memref<?x1x" + hq + "x128xbf16>) {\n" +
         "  attn.paged_decode q(%q : memref<?x1x" + hq +
         "x128xbf16>) k_cache(%kc : memref<?x" + page + "x" + hkv +
         "x128xbf16>) v_cache(%kc : memref<?x" + page + "x" + hkv +
         "x128xbf16>) cache_seqlens(%lens : memref<?xi32>) block_table(%bt : " +
         "memref<?x?xi32>) out(%o : memref<?x1x" + hq + "x128xbf16>) " +
         "{num_heads = " + hq + ", num_kv_heads = " + hkv +
         ", head_dim = 128, causal = true, scale = 0.125 : f32, page_size = " +
         page + "}\n  return\n}\n";
}

TEST_F(AttnDialectTest, ParsesDecodeAndExposesAttributes) {
  std::string diagnostics;
  OwningOpRef<ModuleOp> module = parse(decodeModule(16, 8, 256), diagnostics);
  ASSERT_TRUE(module) << diagnostics;
  attn::PagedDecodeOp op;
  module->walk([&](attn::PagedDecodeOp found) { op = found; });
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getNumHeads(), 16);
  EXPECT_EQ(op.getNumKvHeads(), 8);
  EXPECT_EQ(op.getPageSize(), 256);
  EXPECT_TRUE(op.getCausal());
  EXPECT_TRUE(op.getBlockTable());
  EXPECT_FALSE(op.getLse());
}

TEST_F(AttnDialectTest, RejectsGroupMismatchWithBothValues) {
  std::string diagnostics;
  OwningOpRef<ModuleOp> module = parse(decodeModule(12, 8, 256), diagnostics);
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("'num_heads' (12) must be a multiple of "
                             "'num_kv_heads' (8)"),
            std::string::npos)
      << diagnostics;
}

TEST_F(AttnDialectTest, RejectsPageSizeNotMultipleOf16) {
  std::string diagnostics;
  OwningOpRef<ModuleOp> module = parse(decodeModule(16, 8, 40), diagnostics);
  EXPECT_FALSE(module);
  EXPECT_NE(diagnostics.find("got 40"), std::string::npos) << diagnostics;
}

} // namespace
