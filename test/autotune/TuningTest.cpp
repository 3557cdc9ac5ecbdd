// Tuning tables (round trip, lookup), pruning, selection and the model.
#include "autotune/Tuning.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace attn::tune;

namespace {

Table sampleTable() {
  Table table;
  table.target = "sm_90";
  table.provenance = {"measured", "NVIDIA H100 80GB HBM3", "580.159.04",
                      "2026-11-24", "attn-0.2.0", "test"};
  table.split = {8, 512};
  TableEntry prefill;
  prefill.op = "prefill";
  prefill.knobs = {128, 32, 2, 128};
  TableEntry decode;
  decode.op = "decode";
  decode.knobs = {0, 64, 3, 128};
  TableEntry tuned;
  tuned.op = "decode";
  tuned.dtype = "bf16";
  tuned.headDim = 128;
  tuned.group = 2;
  tuned.paged = true;
  tuned.causal = true;
  tuned.knobs = {0, 32, 4, 128};
  tuned.source = "measured";
  tuned.note = "fastest";
  table.entries = {prefill, decode, tuned};
  return table;
}

TEST(TuningTable, RoundTrip) {
  Table table = sampleTable();
  std::string text = printTable(table);
  llvm::Expected<Table> parsed = parseTable(text);
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_EQ(printTable(*parsed), text);
  EXPECT_EQ(parsed->provenance.gpu, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(parsed->split.ctasPerSm, 8);
  ASSERT_EQ(parsed->entries.size(), 3u);
  EXPECT_EQ(parsed->entries[2].group, 2);
  EXPECT_EQ(parsed->entries[2].knobs, (Knobs{0, 32, 4, 128}));
}

TEST(TuningTable, CheckedInTablesKeepTodaysDefaults) {
  for (const char *target : {"sm_89", "sm_90"}) {
    llvm::Expected<Table> table = readTable(
        std::string(ATTN_SOURCE_DIR "/autotune/tables/") + target + ".json");
    ASSERT_TRUE(bool(table)) << llvm::toString(table.takeError());
    EXPECT_EQ(table->target, target);
    // Kernels outside the tuned ones get the default entries.
    const TableEntry *prefill =
        table->lookup({"prefill", "f16", 64, 0, false, false});
    ASSERT_NE(prefill, nullptr);
    EXPECT_EQ(prefill->knobs, (Knobs{128, 32, 2, 128}));
    const TableEntry *decode =
        table->lookup({"decode", "f16", 64, 8, false, true});
    ASSERT_NE(decode, nullptr);
    EXPECT_EQ(decode->knobs, (Knobs{0, 64, 3, 128}));
  }
}

TEST(TuningTable, MostSpecificEntryWins) {
  Table table = sampleTable();
  EXPECT_EQ(table.lookup({"decode", "bf16", 128, 2, true, true})->knobs.blockN,
            32);
  EXPECT_EQ(table.lookup({"decode", "bf16", 128, 4, true, true})->knobs.blockN,
            64);
  EXPECT_EQ(table.lookup({"prefill", "bf16", 128, 0, true, true})->knobs.blockM,
            128);
  table.entries.erase(table.entries.begin());
  EXPECT_EQ(table.lookup({"prefill", "bf16", 128, 0, true, true}), nullptr);
}

TEST(TuningTable, Upsert) {
  Table table = sampleTable();
  TableEntry entry = table.entries[2];
  entry.knobs.blockN = 128;
  table.upsert(entry);
  EXPECT_EQ(table.entries.size(), 3u);
  EXPECT_EQ(table.entries[2].knobs.blockN, 128);
  entry.group = 4;
  table.upsert(entry);
  EXPECT_EQ(table.entries.size(), 4u);
}

TEST(TuningTable, RejectsBadTables) {
  EXPECT_FALSE(bool(parseTable("{")));
  llvm::Expected<Table> noFormat = parseTable(R"({"target": "sm_90"})");
  ASSERT_FALSE(bool(noFormat));
  EXPECT_NE(llvm::toString(noFormat.takeError()).find("format"),
            std::string::npos);
  llvm::Expected<Table> noBlockM = parseTable(
      R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "entries": [{"op": "prefill", "block_n": 32, "stages": 2,
                       "threads": 128}]})");
  ASSERT_FALSE(bool(noBlockM));
  EXPECT_NE(llvm::toString(noBlockM.takeError()).find("block_m"),
            std::string::npos);
  llvm::Expected<Table> badMethod = parseTable(
      R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "guessed"}, "entries": []})");
  EXPECT_FALSE(bool(badMethod));
  llvm::consumeError(badMethod.takeError());
}

TEST(ResourceModel, Limits) {
  const TargetLimits *sm89 = limitsFor("sm_89");
  const TargetLimits *sm90 = limitsFor("sm_90");
  ASSERT_TRUE(sm89 && sm90);
  EXPECT_EQ(sm89->smemPerBlockOptIn, 99 * 1024);
  EXPECT_EQ(sm89->smemPerSm, 100 * 1024);
  EXPECT_EQ(sm90->smemPerBlockOptIn, 227 * 1024);
  EXPECT_EQ(sm89->regsPerSm, 65536);
  EXPECT_EQ(limitsFor("sm_80"), nullptr);
}

TEST(ResourceModel, Pruning) {
  const TargetLimits &sm89 = *limitsFor("sm_89");
  const TargetLimits &sm90 = *limitsFor("sm_90");
  KernelResources fits{200, 0, 0, 0, 0, 48 * 1024, 128};
  Verdict v = checkResources(fits, sm90);
  EXPECT_TRUE(v.ok) << v.reason;
  // 200 regs -> 6400 per warp (256-aligned): 2 blocks by registers.
  EXPECT_EQ(v.blocksPerSm, 2);

  KernelResources spills = fits;
  spills.spillStoreBytes = 24;
  v = checkResources(spills, sm90);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.reason.find("spills 24 B"), std::string::npos);
  EXPECT_TRUE(checkResources(spills, sm90, /*maxSpillBytes=*/64).ok);

  // 128 KB fits sm_90's 227 KB per block, not sm_89's 99 KB.
  KernelResources big{128, 0, 0, 0, 0, 128 * 1024, 128};
  EXPECT_TRUE(checkResources(big, sm90).ok);
  v = checkResources(big, sm89);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.reason.find("131072 B > 101376 B per block on sm_89"),
            std::string::npos)
      << v.reason;
  // Static shared memory counts as well.
  KernelResources edge{128, 0, 0, 0, 2048, 98 * 1024, 128};
  EXPECT_FALSE(checkResources(edge, sm89).ok);

  KernelResources threads{32, 0, 0, 0, 0, 0, 2048};
  EXPECT_FALSE(checkResources(threads, sm90).ok);
  // 255 regs x 512 threads = 130560 > 64K registers per block.
  KernelResources regs{255, 0, 0, 0, 0, 0, 512};
  v = checkResources(regs, sm90);
  EXPECT_FALSE(v.ok);
  EXPECT_NE(v.reason.find("registers per block"), std::string::npos);
}

TEST(ResourceModel, ParsesPtxasInfo) {
  const char *log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'k_combine' for 'sm_90'\n"
      "ptxas info    : Function properties for k_combine\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 30 registers, used 0 barriers, 400 bytes cmem[0]\n"
      "ptxas info    : Compiling entry function 'k' for 'sm_90'\n"
      "ptxas info    : Function properties for k\n"
      "    40 bytes stack frame, 24 bytes spill stores, 16 bytes spill loads\n"
      "ptxas info    : Used 255 registers, used 1 barriers, 40 bytes cumulative "
      "stack size, 512 bytes smem, 560 bytes cmem[0]\n";
  llvm::Expected<KernelResources> k = parsePtxasInfo(log, "k");
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  EXPECT_EQ(k->registers, 255);
  EXPECT_EQ(k->spillStoreBytes, 24);
  EXPECT_EQ(k->spillLoadBytes, 16);
  EXPECT_EQ(k->staticSmemBytes, 512);
  llvm::Expected<KernelResources> combine = parsePtxasInfo(log, "k_combine");
  ASSERT_TRUE(bool(combine));
  EXPECT_EQ(combine->registers, 30);
  EXPECT_EQ(combine->spillStoreBytes, 0);
  llvm::Expected<KernelResources> missing = parsePtxasInfo(log, "other");
  EXPECT_FALSE(bool(missing));
  llvm::consumeError(missing.takeError());
}

TEST(Selection, FastestByGeometricMean) {
  std::map<std::string, std::map<std::string, double>> times{
      {"a", {{"w1", 1.0}, {"w2", 4.0}}}, // geomean 2
      {"b", {{"w1", 2.0}, {"w2", 1.5}}}, // geomean 1.73
      {"c", {{"w1", 0.1}}},              // incomplete: skipped
  };
  EXPECT_EQ(selectFastest({"a", "b", "c"}, {"w1", "w2"}, times), "b");
  EXPECT_EQ(selectFastest({"a", "c"}, {"w1"}, times), "c");
  EXPECT_EQ(selectFastest({"c"}, {"w1", "w2"}, times), "");
  // Ties go to the smaller name, whatever the order given.
  times["d"] = times["b"];
  EXPECT_EQ(selectFastest({"d", "b"}, {"w1", "w2"}, times), "b");
  EXPECT_EQ(selectFastest({"b", "d"}, {"w1", "w2"}, times), "b");
}

TEST(Selection, Spearman) {
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0);
  EXPECT_DOUBLE_EQ(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0);
  // Ties take average ranks: ranks (1.5, 1.5, 3) against (1, 2, 3).
  EXPECT_NEAR(spearman({5, 5, 7}, {1, 2, 3}), 0.8660254, 1e-6);
  EXPECT_TRUE(std::isnan(spearman({1}, {1})));
}

TEST(Model, WorkloadsAndMonotonicity) {
  auto buffer =
      llvm::MemoryBuffer::getFile(ATTN_SOURCE_DIR "/autotune/workloads.json");
  ASSERT_TRUE(bool(buffer));
  llvm::Expected<std::vector<Workload>> workloads =
      parseWorkloads((*buffer)->getBuffer());
  ASSERT_TRUE(bool(workloads)) << llvm::toString(workloads.takeError());
  ASSERT_EQ(workloads->size(), 8u);
  const TargetLimits &sm90 = *limitsFor("sm_90");
  KernelResources r{128, 0, 0, 0, 0, 48 * 1024, 128};
  for (const Workload &w : *workloads) {
    Knobs knobs{64, 64, 2, 128};
    double t = modelTimeMs(sm90, knobs, r, 2, w, DecodeSplit());
    EXPECT_GT(t, 0) << w.name;
    // Halving the resident CTAs of a compute-bound prefill costs time (wave
    // quantization aside, which decode's uneven lengths expose).
    if (w.op == "prefill") {
      EXPECT_GT(modelTimeMs(sm90, knobs, r, 1, w, DecodeSplit()), t) << w.name;
    }
  }
  // Decode reads the KV cache: the long-context step is near its DRAM floor.
  const Workload &longStep = workloads->back();
  double kvBytes = 32768.0 * 8 * 128 * 2 * 2;
  double floorMs = kvBytes / sm90.dramBytesPerSecond * 1e3;
  double t = modelTimeMs(sm90, {0, 64, 3, 128}, r, 2, longStep, DecodeSplit());
  EXPECT_GE(t, floorMs);
  EXPECT_LE(t, 3 * floorMs);
}

} // namespace
