// Tuning tables (round trip, lookup), pruning, the search space, selection
// and the model.
#include "autotune/Tuning.h"
#include "passes/gpu/DecodeLayout.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

using namespace attn::tune;

namespace {

Table sampleTable() {
  Table table;
  table.target = "sm_90";
  table.provenance = {"measured",   "NVIDIA H100 80GB HBM3",
                      "580.159.04", "2026-11-24",
                      "attn-0.2.0", "test"};
  table.split.ctasPerSm = 8;
  table.split.minKeysPerSplit = 512;
  table.split.source = "measured";
  table.split.note = "split_c8_k512: fastest";
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
  tuned.knobs = {0,
                 32,
                 4,
                 128,
                 /*wholeProgram=*/true,
                 /*lanes=*/2,
                 /*kvHeads=*/4};
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
  EXPECT_EQ(parsed->split.minKeysPerSplit, 512);
  EXPECT_EQ(parsed->split.source, "measured");
  EXPECT_EQ(parsed->split.note, "split_c8_k512: fastest");
  ASSERT_EQ(parsed->entries.size(), 3u);
  EXPECT_EQ(parsed->entries[2].group, 2);
  EXPECT_EQ(parsed->entries[2].knobs, (Knobs{0, 32, 4, 128, true, 2, 4}));
  EXPECT_EQ(parsed->entries[1].knobs.kvHeads, 1);
  EXPECT_FALSE(parsed->entries[1].knobs.wholeProgram);
  EXPECT_EQ(parsed->entries[1].knobs.lanes, 0);
  EXPECT_NE(text.find("\"assembly\": \"whole-program\""), std::string::npos);
  // Lanes are written where an entry names them, and only there.
  EXPECT_NE(text.find("\"lanes\": 2"), std::string::npos);
  EXPECT_EQ(text.find("\"lanes\""), text.rfind("\"lanes\""));
  // So are the KV heads a CTA.
  EXPECT_NE(text.find("\"kv_heads\": 4"), std::string::npos);
  EXPECT_EQ(text.find("\"kv_heads\""), text.rfind("\"kv_heads\""));
}

// A decode entry's own split policy: read, written inside the entry (and the
// table's own policy stays the table's), read back the same; errors name the
// entry.
TEST(TuningTable, EntrySplitPolicy) {
  const char *head = R"({"format": "attn-tune-table 1", "target": "sm_90",
      "provenance": {"method": "default"},
      "decode_split": {"ctas_per_sm": 8, "min_keys_per_split": 1024},
      "entries": [{"op": "decode", "block_n": 64, "stages": 3, "threads": 128},
                  )";
  llvm::Expected<Table> parsed =
      parseTable(std::string(head) +
                 R"({"op": "decode", "head_dim": 256, "group": 8,
                     "block_n": 64, "stages": 2, "threads": 128,
                     "decode_split": {"ctas_per_sm": 1,
                                      "min_keys_per_split": 256}}]})");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_FALSE(parsed->entries[0].split.has_value());
  ASSERT_TRUE(parsed->entries[1].split.has_value());
  EXPECT_EQ(parsed->entries[1].split->ctasPerSm, 1);
  EXPECT_EQ(parsed->entries[1].split->minKeysPerSplit, 256);
  EXPECT_EQ(parsed->split.ctasPerSm, 8);
  KernelKey key{"decode", "bf16", 256, 8, true, true};
  ASSERT_NE(parsed->lookup(key), nullptr);
  EXPECT_EQ(parsed->lookup(key)->split->ctasPerSm, 1);
  std::string text = printTable(*parsed);
  // The table's decode_split and the entry's.
  size_t entries = text.find("\"entries\"");
  EXPECT_LT(text.find("\"decode_split\""), entries);
  EXPECT_GT(text.rfind("\"decode_split\""), entries);
  EXPECT_NE(text.find("\"min_keys_per_split\": 256"), std::string::npos);
  llvm::Expected<Table> again = parseTable(text);
  ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
  EXPECT_EQ(printTable(*again), text);

  for (auto [entry, message] :
       {std::pair<const char *, const char *>{
            R"({"op": "decode", "block_n": 64, "stages": 2, "threads": 128,
                   "decode_split": {"ctas_per_sm": 0,
                                    "min_keys_per_split": 256}})",
            "entry 1: decode_split: 'ctas_per_sm' and "
            "'min_keys_per_split' must be positive"},
        {R"({"op": "decode", "block_n": 64, "stages": 2, "threads": 128,
                "decode_split": {"ctas_per_sm": 2}})",
         "entry 1: decode_split needs an integer 'min_keys_per_split'"},
        {R"({"op": "decode", "block_n": 64, "stages": 2, "threads": 128,
                "decode_split": 3})",
         "entry 1: 'decode_split' must be an object, of a decode entry"},
        {R"({"op": "prefill", "block_m": 128, "block_n": 64, "stages": 2,
                "threads": 128, "decode_split": {"ctas_per_sm": 2,
                "min_keys_per_split": 256}})",
         "entry 1: 'decode_split' must be an object, of a decode entry"}}) {
    llvm::Expected<Table> bad = parseTable(std::string(head) + entry + "]}");
    ASSERT_FALSE(bool(bad)) << entry;
    EXPECT_EQ(llvm::toString(bad.takeError()),
              std::string("tuning table: ") + message);
  }
}

TEST(TuningTable, MmaKnob) {
  const char *head = R"({"format": "attn-tune-table 1", "target": "sm_90",
      "provenance": {"method": "default"}, "entries": [)";
  llvm::Expected<Table> parsed = parseTable(
      std::string(head) +
      R"({"op": "decode", "block_n": 64, "stages": 3, "threads": 128},
         {"op": "decode", "head_dim": 32, "group": 8, "block_n": 64,
          "stages": 2, "threads": 128, "mma": true}]})");
  ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
  EXPECT_FALSE(parsed->entries[0].knobs.mma);
  EXPECT_TRUE(parsed->entries[1].knobs.mma);
  // Written where an entry takes it, and only there; read back the same.
  std::string text = printTable(*parsed);
  EXPECT_NE(text.find("\"mma\": true"), std::string::npos);
  EXPECT_EQ(text.find("\"mma\""), text.rfind("\"mma\""));
  llvm::Expected<Table> again = parseTable(text);
  ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
  EXPECT_EQ(again->entries[1].knobs, parsed->entries[1].knobs);
  // With KV heads a CTA, read back the same.
  llvm::Expected<Table> heads =
      parseTable(std::string(head) +
                 R"({"op": "decode", "head_dim": 32, "group": 2, "block_n": 32,
          "stages": 2, "threads": 128, "kv_heads": 4, "mma": true}]})");
  ASSERT_TRUE(bool(heads)) << llvm::toString(heads.takeError());
  EXPECT_EQ(heads->entries[0].knobs.kvHeads, 4);
  EXPECT_TRUE(heads->entries[0].knobs.mma);
  llvm::Expected<Table> headsAgain = parseTable(printTable(*heads));
  ASSERT_TRUE(bool(headsAgain)) << llvm::toString(headsAgain.takeError());
  EXPECT_EQ(headsAgain->entries[0].knobs, heads->entries[0].knobs);
  // Of a decode entry, a boolean, without lanes.
  for (std::string entry :
       {R"({"op": "prefill", "block_m": 64, "block_n": 32, "stages": 2,
            "threads": 128, "mma": true})",
        R"({"op": "decode", "block_n": 64, "stages": 2, "threads": 128,
            "mma": 1})",
        R"({"op": "decode", "block_n": 64, "stages": 2, "threads": 128,
            "lanes": 2, "mma": true})"}) {
    llvm::Expected<Table> bad = parseTable(std::string(head) + entry + "]}");
    ASSERT_FALSE(bool(bad)) << entry;
    EXPECT_NE(llvm::toString(bad.takeError()).find("'mma'"), std::string::npos)
        << entry;
  }
}

TEST(TuningTable, CheckedInTables) {
  for (const char *target : {"sm_89", "sm_90"}) {
    llvm::Expected<Table> table = readTable(
        std::string(ATTN_SOURCE_DIR "/autotune/tables/") + target + ".json");
    ASSERT_TRUE(bool(table)) << llvm::toString(table.takeError());
    EXPECT_EQ(table->target, target);
    // Kernels outside the search spaces get the op's default entry, the
    // tiling of the pack before there were tables.
    const TableEntry *prefill =
        table->lookup({"prefill", "f16", 48, 0, false, false});
    ASSERT_NE(prefill, nullptr);
    EXPECT_EQ(prefill->knobs, (Knobs{128, 32, 2, 128}));
    EXPECT_EQ(prefill->source, "default");
    // The head dims the pack added have entries of their own, by hand: 8
    // warps at D 256 (32 chunks a row), block_n 16 where 32 spilled.
    const TableEntry *wide =
        table->lookup({"prefill", "f16", 256, 0, false, false});
    ASSERT_NE(wide, nullptr);
    EXPECT_EQ(wide->knobs, (Knobs{128, 16, 2, 256}));
    EXPECT_EQ(wide->source, "default");
    for (int64_t d : {32, 80, 96, 160, 192, 256})
      for (int64_t group : {0, 1, 8}) {
        const TableEntry *entry =
            table->lookup({"decode", "bf16", d, group, true, true});
        ASSERT_NE(entry, nullptr);
        EXPECT_EQ(entry->headDim.value_or(0), d) << "D " << d << " G " << group;
        // sm_90 assembles the decode kernels measured faster so as whole
        // programs (D 64-96, 160-256, and D 32's G 1-4 kernels of 4 KV heads
        // a CTA); D 32's others and D 128 stay relocatable. sm_89 assembles
        // D 80-192 (but the any-group kernel) so: with 3 chunks a lane
        // nvJitLink spills there.
        bool sm90 = std::string(target) == "sm_90";
        bool threeChunks = d != 32 && d != 256;
        bool kvHeads4 = sm90 && d == 32 && group == 1;
        // Every G 8 kernel (sm_89's since 2026-12-07) and sm_90's G 1
        // kernels of D 80 and 96 take tensor cores (whole-program).
        bool mma = group == 8 || (sm90 && group == 1 && (d == 80 || d == 96));
        EXPECT_EQ(entry->knobs.wholeProgram,
                  sm90 ? d != 32 || kvHeads4 || mma
                       : (threeChunks && group != 0) || mma)
            << target << " D " << d << " G " << group;
        EXPECT_EQ(entry->knobs.kvHeads, kvHeads4 ? 4 : 1)
            << target << " D " << d << " G " << group;
        EXPECT_EQ(entry->knobs.mma, mma)
            << target << " D " << d << " G " << group;
      }
    // The tensor-core entries of sm_90 (measured, 2026-12-06: decode-mma by
    // hand, then decode-lagging), both dtypes.
    const std::pair<int64_t, int64_t> mmaEntries[] = {
        {32, 8},  {64, 1},  {64, 4},  {80, 1},  {80, 2},
        {80, 4},  {96, 1},  {96, 2},  {128, 4}, {128, 8},
        {160, 4}, {160, 8}, {192, 4}, {192, 8}, {256, 8}};
    for (auto [d, group] : mmaEntries)
      for (const char *dtype : {"bf16", "f16"}) {
        const TableEntry *entry =
            table->lookup({"decode", dtype, d, group, false, false});
        ASSERT_NE(entry, nullptr);
        bool sm90 = std::string(target) == "sm_90";
        EXPECT_EQ(entry->knobs.mma, sm90 || group == 8)
            << target << " " << dtype << " D " << d << " G " << group;
        // All at 2 stages (D 160's 3 spilled more and ran slower,
        // bench/results/tune_decode_lagging_h100_2026-12-06.md).
        if (entry->knobs.mma) {
          EXPECT_EQ(entry->knobs.stages, 2)
              << target << " " << dtype << " D " << d << " G " << group;
        }
      }
    // sm_89's G 8 entries (every head dim, both dtypes; by rule, not timed):
    // 4 warps of 16 keys where two CTAs of 2 stages fit Ada's 100 KB of
    // shared memory (D <= 96), else 2 warps.
    if (std::string(target) == "sm_89")
      for (int64_t d : {32, 64, 80, 96, 128, 160, 192, 256})
        for (const char *dtype : {"bf16", "f16"}) {
          const TableEntry *entry =
              table->lookup({"decode", dtype, d, 8, true, true});
          ASSERT_NE(entry, nullptr);
          EXPECT_TRUE(entry->knobs.mma) << dtype << " D " << d;
          EXPECT_EQ(entry->knobs.threads, d <= 96 ? 128 : 64)
              << dtype << " D " << d;
          EXPECT_EQ(entry->knobs.blockN, d <= 96 ? 64 : 32)
              << dtype << " D " << d;
        }
    // sm_90's decode kernels of their own split policy (ctas_per_sm,
    // min_keys_per_split), both dtypes (bench/sweep_decode_split_policy.py,
    // decode_split_policy_2026-12-06.md); the others of D 32-256 G 1-8
    // and every sm_89 one keep the table's.
    struct OwnSplit {
      int64_t d, group, ctas, keys;
    };
    const OwnSplit ownSplits[] = {
        {32, 1, 1, 256},   {32, 2, 1, 256},   {32, 4, 4, 1024},
        {32, 8, 2, 1024},  {64, 2, 2, 1024},  {64, 8, 2, 1024},
        {128, 1, 3, 1024}, {128, 2, 6, 1024}, {128, 4, 3, 1024},
        {128, 8, 3, 1024}, {160, 2, 4, 1024}, {160, 4, 3, 1024},
        {160, 8, 3, 1024}, {192, 1, 1, 256},  {192, 2, 3, 1024},
        {192, 4, 3, 1024}, {192, 8, 3, 1024}, {256, 4, 3, 1024},
        {256, 8, 1, 256}};
    for (int64_t d : {32, 64, 80, 96, 128, 160, 192, 256})
      for (int64_t group : {1, 2, 4, 8})
        for (const char *dtype : {"bf16", "f16"}) {
          const TableEntry *entry =
              table->lookup({"decode", dtype, d, group, true, true});
          ASSERT_NE(entry, nullptr);
          const OwnSplit *own = nullptr;
          for (const OwnSplit &s : ownSplits)
            if (s.d == d && s.group == group)
              own = &s;
          std::string where = std::string(target) + " " + dtype + " D " +
                              std::to_string(d) + " G " + std::to_string(group);
          if (std::string(target) == "sm_90" && own) {
            ASSERT_TRUE(entry->split.has_value()) << where;
            EXPECT_TRUE(
                entry->split->samePolicy(DecodeSplit{own->ctas, own->keys}))
                << where;
          } else {
            EXPECT_FALSE(entry->split.has_value()) << where;
          }
        }
    // sm_90's D 256 G 4 decode runs 128 threads (decode-lagging); sm_89's
    // takes the head dim's 256.
    const TableEntry *d256 =
        table->lookup({"decode", "bf16", 256, 4, true, true});
    ASSERT_NE(d256, nullptr);
    EXPECT_EQ(d256->knobs.threads, std::string(target) == "sm_90" ? 128 : 256)
        << target;
    const TableEntry *d128 =
        table->lookup({"decode", "bf16", 128, 2, true, true});
    ASSERT_NE(d128, nullptr);
    EXPECT_FALSE(d128->knobs.wholeProgram);
    const TableEntry *decode =
        table->lookup({"decode", "f16", 64, 3, false, true});
    ASSERT_NE(decode, nullptr);
    EXPECT_EQ(decode->knobs, (Knobs{0, 64, 3, 128}));
    // The wide space's decode kernels are tuned, every layout and mask by
    // the entry of its dtype, D and G (sm_89's G 8 spills whatever the
    // knobs: it keeps the default, docs/autotune.md).
    for (int64_t group : {1, 2, 4, 8}) {
      if (std::string(target) == "sm_89" && group == 8)
        continue;
      for (bool paged : {false, true}) {
        const TableEntry *tuned =
            table->lookup({"decode", "f16", 64, group, paged, !paged});
        ASSERT_NE(tuned, nullptr);
        EXPECT_NE(tuned->source, "default") << target << " G " << group;
      }
    }
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
  llvm::Expected<Table> badAssembly = parseTable(
      R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "entries": [{"op": "decode", "block_n": 32, "stages": 2,
                       "threads": 128, "assembly": "nvcc"}]})");
  ASSERT_FALSE(bool(badAssembly));
  EXPECT_NE(llvm::toString(badAssembly.takeError())
                .find("'assembly' must be whole-program or relocatable, got "
                      "'nvcc'"),
            std::string::npos);
  // The decode layout knobs: a power of two, of a decode entry only.
  for (std::string key : {"lanes", "kv_heads"}) {
    for (std::string value : {"3", "0", "-4"}) {
      llvm::Expected<Table> bad = parseTable(
          R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "entries": [{"op": "decode", "block_n": 32, "stages": 2,
                       "threads": 128, ")" +
          key + "\": " + value + "}]}");
      ASSERT_FALSE(bool(bad)) << key << " " << value;
      EXPECT_NE(llvm::toString(bad.takeError())
                    .find("'" + key +
                          "' must be a power of two, of a decode entry, got " +
                          value),
                std::string::npos);
    }
    llvm::Expected<Table> prefill = parseTable(
        R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "entries": [{"op": "prefill", "block_m": 64, "block_n": 32,
                       "stages": 2, "threads": 128, ")" +
        key + "\": 2}]}");
    ASSERT_FALSE(bool(prefill)) << key;
    llvm::consumeError(prefill.takeError());
  }
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
      "ptxas info    : Used 255 registers, used 1 barriers, 40 bytes "
      "cumulative "
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
  auto buffer = llvm::MemoryBuffer::getFile(ATTN_SOURCE_DIR
                                            "/test/autotune/workloads.json");
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

TEST(TuningTable, SplitPolicyWithoutProvenanceIsTheDefault) {
  llvm::Expected<Table> table = parseTable(
      R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "decode_split": {"ctas_per_sm": 2, "min_keys_per_split": 2048},
          "entries": []})");
  ASSERT_TRUE(bool(table)) << llvm::toString(table.takeError());
  EXPECT_EQ(table->split.ctasPerSm, 2);
  EXPECT_EQ(table->split.source, "default");
  EXPECT_EQ(table->split.note, "");
  llvm::Expected<Table> zero = parseTable(
      R"({"format": "attn-tune-table 1", "target": "sm_90",
          "provenance": {"method": "default"},
          "decode_split": {"ctas_per_sm": 0, "min_keys_per_split": 1024},
          "entries": []})");
  ASSERT_FALSE(bool(zero));
  EXPECT_NE(llvm::toString(zero.takeError()).find("positive"),
            std::string::npos);
}

TEST(SearchSpace, DecodeVariesWarpsPrefillKeepsFour) {
  std::vector<SpaceGroup> gpu = searchSpace("gpu");
  int decodeGroups = 0;
  for (const SpaceGroup &group : gpu) {
    const KernelKey &key = group.keys.front();
    ASSERT_FALSE(group.grid.empty());
    std::set<int64_t> threads;
    for (const Knobs &knobs : group.grid)
      threads.insert(knobs.threads);
    if (key.op == "prefill") {
      // The prefill lowering keeps 4 warps (block_m = 64 R).
      EXPECT_EQ(threads, (std::set<int64_t>{128}));
      EXPECT_EQ(group.keys.size(), 2u);
      continue;
    }
    ++decodeGroups;
    EXPECT_EQ(threads, (std::set<int64_t>{128, 256})) << key.group;
    for (const Knobs &knobs : group.grid)
      EXPECT_TRUE(decodeKnobsValid(key.headDim, key.group, knobs));
    // G 8 keeps block_n 16 and 32 and 256 threads, which do not spill.
    if (key.group == 8) {
      EXPECT_TRUE(llvm::is_contained(group.grid, (Knobs{0, 16, 4, 128})));
      EXPECT_TRUE(llvm::is_contained(group.grid, (Knobs{0, 32, 4, 256})));
    }
  }
  EXPECT_EQ(decodeGroups, 2); // G 2 (the benchmark's) and G 8
}

TEST(SearchSpace, DecodeKnobsFollowTheLowering) {
  // D 128: 16 threads a row; 128 threads = 8 row groups, 256 = 16.
  EXPECT_TRUE(decodeKnobsValid(128, 2, {0, 16, 2, 128}));
  EXPECT_TRUE(decodeKnobsValid(128, 2, {0, 16, 2, 256}));
  EXPECT_FALSE(decodeKnobsValid(128, 2, {0, 8, 2, 256}));
  // D 64: 8 threads a row; 256 threads = 32 row groups.
  EXPECT_FALSE(decodeKnobsValid(64, 2, {0, 16, 2, 256}));
  EXPECT_TRUE(decodeKnobsValid(64, 2, {0, 32, 2, 256}));
  // A row must fit a warp: D 512 would take 64 threads.
  EXPECT_FALSE(decodeKnobsValid(512, 2, {0, 64, 2, 128}));
  EXPECT_FALSE(decodeKnobsValid(128, 2, {0, 32, 2, 100}));
  // D 96 (12 chunks): at G 1 and 2 4 lanes of 3 chunks (128 threads = 32 row
  // groups), at G 4 and more 16 lanes of one (8 row groups).
  EXPECT_FALSE(decodeKnobsValid(96, 2, {0, 16, 2, 128}));
  EXPECT_TRUE(decodeKnobsValid(96, 2, {0, 32, 2, 128}));
  EXPECT_TRUE(decodeKnobsValid(96, 4, {0, 16, 2, 128}));
  // KV heads a CTA: D 32 with 4 heads is 16 lanes a row group (128 threads =
  // 8 row groups); D 96 at G 2 with 2 heads 8 lanes of 3 chunks (16 groups).
  EXPECT_TRUE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 0, 4}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 4, 2, 128, true, 0, 4}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 0, 3}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 0, 64}));
  EXPECT_TRUE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 2, 2}));
  EXPECT_TRUE(decodeKnobsValid(96, 2, {0, 32, 2, 128, true, 0, 2}));
  EXPECT_FALSE(decodeKnobsValid(96, 2, {0, 8, 2, 128, true, 0, 2}));
  // Tensor cores: up to 16 rows, D of 16s, 16 keys or more a warp, no lanes,
  // warps split evenly between the KV heads, and no any-group kernel (G 0).
  Knobs mma{0, 64, 2, 128, true, 0, 1, /*mma=*/true};
  EXPECT_TRUE(decodeKnobsValid(32, 2, mma));
  EXPECT_TRUE(decodeKnobsValid(80, 16, mma));
  EXPECT_FALSE(decodeKnobsValid(80, 17, mma));
  EXPECT_FALSE(decodeKnobsValid(128, 0, mma));
  EXPECT_FALSE(decodeKnobsValid(40, 2, mma));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 32, 2, 128, true, 0, 1, true}));
  EXPECT_TRUE(decodeKnobsValid(32, 2, {0, 32, 2, 64, true, 0, 1, true}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 100, true, 0, 1, true}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 2, 1, true}));
  EXPECT_TRUE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 0, 2, true}));
  EXPECT_TRUE(decodeKnobsValid(32, 2, {0, 16, 2, 128, true, 0, 4, true}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 16, 2, 128, true, 0, 2, true}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 64, true, 0, 4, true}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, {0, 64, 2, 128, true, 0, 3, true}));
  // The layout itself: lanes x chunks a lane.
  using LanesChunks = std::pair<int64_t, int64_t>;
  auto layout = [](int64_t d, int64_t rows) {
    attn::DecodeLayout l = attn::decodeLayout(d, rows);
    return LanesChunks{l.lanes, l.chunks};
  };
  EXPECT_EQ(layout(128, 2), LanesChunks(16, 1));
  EXPECT_EQ(layout(32, 1), LanesChunks(4, 1));
  EXPECT_EQ(layout(256, 2), LanesChunks(32, 1));
  EXPECT_EQ(layout(80, 2), LanesChunks(4, 3));
  EXPECT_EQ(layout(96, 1), LanesChunks(4, 3));
  EXPECT_EQ(layout(160, 2), LanesChunks(8, 3));
  EXPECT_EQ(layout(192, 2), LanesChunks(8, 3));
  EXPECT_EQ(layout(192, 4), LanesChunks(32, 1));
  EXPECT_EQ(layout(80, 8), LanesChunks(16, 1));
  // The wide space leaves out what the lowering rejects.
  for (const SpaceGroup &group : searchSpace("wide")) {
    if (group.keys.front().op == "decode" && group.keys.front().headDim == 64) {
      EXPECT_FALSE(llvm::is_contained(group.grid, (Knobs{0, 16, 2, 256})));
    }
  }
}

TEST(SearchSpace, SplitPolicies) {
  std::vector<DecodeSplit> splits = splitSpace();
  ASSERT_EQ(splits.size(), 9u);
  EXPECT_TRUE(llvm::any_of(splits, [](const DecodeSplit &s) {
    return s.samePolicy(DecodeSplit());
  }));
  std::set<std::pair<int64_t, int64_t>> policies;
  for (const DecodeSplit &s : splits)
    policies.insert({s.ctasPerSm, s.minKeysPerSplit});
  EXPECT_EQ(policies.size(), 9u);
  EXPECT_TRUE(policies.count({2, 512}) && policies.count({8, 2048}));
}

TEST(SearchSpace, SplitCountsAsTheRuntime) {
  DecodeSplit policy; // (4, 1024)
  // 256 sequences x 8 KV heads fill 132 SMs: no split.
  EXPECT_EQ(decodeNumSplits(policy, 256 * 8, 132, 2045), 1);
  // 32 x 8 CTAs: ceil(528 / 256) = 3 -> 4; 8076 keys allow 8.
  EXPECT_EQ(decodeNumSplits(policy, 32 * 8, 132, 8076), 4);
  // One sequence: 128 for occupancy, 32 for its 32768 keys.
  EXPECT_EQ(decodeNumSplits(policy, 8, 132, 32768), 32);
  DecodeSplit wide;
  wide.ctasPerSm = 8;
  wide.minKeysPerSplit = 512;
  EXPECT_EQ(decodeNumSplits(wide, 8, 132, 32768), 64); // at most 64
  EXPECT_EQ(decodeNumSplits(wide, 8, 132, 0), 1);
}

TEST(Workloads, DerivedForKernelsWithoutTheirOwn) {
  auto buffer = llvm::MemoryBuffer::getFile(ATTN_SOURCE_DIR
                                            "/test/autotune/workloads.json");
  ASSERT_TRUE(bool(buffer));
  llvm::Expected<std::vector<Workload>> all =
      parseWorkloads((*buffer)->getBuffer());
  ASSERT_TRUE(bool(all)) << llvm::toString(all.takeError());
  std::vector<Workload> own =
      workloadsFor(*all, {"decode", "bf16", 128, 2, true, true});
  ASSERT_EQ(own.size(), 3u);
  EXPECT_EQ(own[2].name, "1 seq, context 32768");
  std::vector<Workload> g8 =
      workloadsFor(*all, {"decode", "bf16", 128, 8, true, true});
  ASSERT_EQ(g8.size(), 3u);
  EXPECT_EQ(g8[2].name, "1 seq, context 32768 [G 8]");
  EXPECT_EQ(g8[2].numHeads, 64);
  EXPECT_EQ(g8[2].numKvHeads, 8);
  EXPECT_EQ(g8[2].kernelKey().group, 8);
  EXPECT_EQ(g8[2].seqlens, own[2].seqlens);
  std::vector<Workload> f16 =
      workloadsFor(*all, {"prefill", "f16", 64, 0, true, true});
  ASSERT_EQ(f16.size(), 1u); // (d), the paged one
  EXPECT_EQ(f16[0].name, "(d) (c), half cached, page 256 [f16, D 64]");
}

TEST(Selection, SplitPolicyDeterministic) {
  // Policies that give the same splits time alike; the smaller id wins.
  std::map<std::string, std::map<std::string, double>> times{
      {"split_c4_k1024", {{"w1", 0.29}, {"w2", 0.058}}},
      {"split_c8_k1024", {{"w1", 0.29}, {"w2", 0.058}}},
      {"split_c2_k512", {{"w1", 0.32}, {"w2", 0.068}}},
  };
  std::vector<std::string> ids{"split_c8_k1024", "split_c2_k512",
                               "split_c4_k1024"};
  EXPECT_EQ(selectFastest(ids, {"w1", "w2"}, times), "split_c4_k1024");
  times["split_c8_k1024"]["w2"] = 0.057;
  EXPECT_EQ(selectFastest(ids, {"w1", "w2"}, times), "split_c8_k1024");
}

TEST(ResourceModel, CountsPtxInstructions) {
  // A rotated loop: the back edge goes to a label above the wait.
  const char *ptx = R"(
.visible .entry k_combine(
	.param .u64 k_combine_param_0
)
{
	ret;
}
.visible .entry k(
	.param .u64 k_param_0
)
{
	.reg .b32 	%r<9>;
	mov.u32 	%r1, %tid.x;
	ld.shared.v4.b32 	{%r2, %r3, %r4, %r5}, [%r1];
$L__BB0_1:
	add.s32 	%r1, %r1, 1;
	@%p1 bra 	$L__BB0_3;
	cp.async.ca.shared.global [%r1], [%rd1], 16;
$L__BB0_3:
	cp.async.wait_group 	1;
	fma.rn.f32 	%r2, %r3, %r4, %r2;
	@%p2 bra 	$L__BB0_1;
$L__BB0_2:
	.pragma "nounroll";
	add.s32 	%r6, %r6, 1;
	@%p3 bra 	$L__BB0_2;
	st.global.b32 	[%rd2], %r2;
	ret;
}
)";
  llvm::Expected<InstructionCounts> k = countPtxInstructions(ptx, "k");
  ASSERT_TRUE(bool(k)) << llvm::toString(k.takeError());
  EXPECT_EQ(k->kernel, 12);
  EXPECT_EQ(k->kvLoop, 6); // add, bra, cp.async, wait, fma, bra
  llvm::Expected<InstructionCounts> combine =
      countPtxInstructions(ptx, "k_combine");
  ASSERT_TRUE(bool(combine));
  EXPECT_EQ(combine->kernel, 1);
  EXPECT_EQ(combine->kvLoop, 0); // no loop waits on cp.async
  llvm::Expected<InstructionCounts> missing = countPtxInstructions(ptx, "kk");
  EXPECT_FALSE(bool(missing));
  llvm::consumeError(missing.takeError());
}

/// The decode kernel of the H100 split sweep: block_n 64, 3 stages, 128
/// threads, 2 CTAs per SM; instructions as attn-tune counted them.
KernelResources sweepKernel() {
  KernelResources r{143, 0, 0, 0, 0, 98304, 128};
  r.kernelInstructions = 2016;
  r.loopInstructions = 1014;
  return r;
}

std::vector<Workload> decodeWorkloads() {
  auto buffer = llvm::MemoryBuffer::getFile(ATTN_SOURCE_DIR
                                            "/test/autotune/workloads.json");
  std::vector<Workload> decode;
  if (!buffer)
    return decode;
  llvm::Expected<std::vector<Workload>> all =
      parseWorkloads((*buffer)->getBuffer());
  if (!all) {
    llvm::consumeError(all.takeError());
    return decode;
  }
  for (const Workload &w : *all)
    if (w.op == "decode")
      decode.push_back(w);
  return decode;
}

TEST(Model, DecodeRewardsResidentWarpsNotBigTiles) {
  // The fault of the former model: one CTA per SM with big tiles ranked
  // first. Four warps alone issue at most every 4 cycles, so with the same
  // instructions per key, 4 CTAs per SM of block_n 32 beat 1 of block_n 128.
  const TargetLimits &sm90 = *limitsFor("sm_90");
  KernelResources small{128, 0, 0, 0, 0, 32768, 128};
  small.kernelInstructions = 1135;
  small.loopInstructions = 542;
  KernelResources big{204, 0, 0, 0, 0, 131072, 128};
  big.kernelInstructions = 3055;
  big.loopInstructions = 1970;
  for (const Workload &w : decodeWorkloads()) {
    double tSmall =
        modelTimeMs(sm90, {0, 32, 2, 128}, small, 4, w, DecodeSplit());
    double tBig = modelTimeMs(sm90, {0, 128, 2, 128}, big, 1, w, DecodeSplit());
    EXPECT_LT(tSmall, tBig) << w.name;
  }
}

TEST(Model, DecodeGridSmallerThanTheSlots) {
  // 1 sequence x 8 KV heads x 32 splits = 256 CTAs fill neither 2 nor 4
  // slots on each of 132 SMs: more slots must not slow each CTA down.
  const TargetLimits &sm90 = *limitsFor("sm_90");
  std::vector<Workload> decode = decodeWorkloads();
  ASSERT_EQ(decode.size(), 3u);
  KernelResources r = sweepKernel();
  double two =
      modelTimeMs(sm90, {0, 64, 3, 128}, r, 2, decode[2], DecodeSplit());
  double four =
      modelTimeMs(sm90, {0, 64, 3, 128}, r, 4, decode[2], DecodeSplit());
  EXPECT_NEAR(two, four, 0.01 * two);
  // The KV cache at the DRAM bandwidth is the floor.
  double floorMs = 32768.0 * 8 * 128 * 2 * 2 / sm90.dramBytesPerSecond * 1e3;
  EXPECT_GE(two, floorMs);
  EXPECT_LE(two, 1.5 * floorMs);
}

TEST(Model, RanksTheH100SplitSweep) {
  // bench/results/decode_split_sweep_h100_2026-11-24.md, ms per split count.
  const std::map<int64_t, double> sweep[3] = {{{1, .424},
                                               {2, .421},
                                               {4, .447},
                                               {8, .505},
                                               {16, .613},
                                               {32, .850},
                                               {64, 1.221}},
                                              {{1, .342},
                                               {2, .318},
                                               {4, .290},
                                               {8, .294},
                                               {16, .303},
                                               {32, .330},
                                               {64, .379}},
                                              {{1, .993},
                                               {2, .503},
                                               {4, .256},
                                               {8, .134},
                                               {16, .072},
                                               {32, .058},
                                               {64, .068}}};
  const TargetLimits &sm90 = *limitsFor("sm_90");
  std::vector<Workload> decode = decodeWorkloads();
  ASSERT_EQ(decode.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    std::vector<double> measured, modelled;
    for (auto [splits, ms] : sweep[i]) {
      measured.push_back(ms);
      modelled.push_back(modelDecodeTimeMs(sm90, {0, 64, 3, 128}, sweepKernel(),
                                           2, decode[i], splits));
    }
    EXPECT_GE(spearman(measured, modelled), 0.9) << decode[i].name;
  }
}

} // namespace
