// Choosing kernels and split policies from timings, measured or modelled, and
// the ingest and model flows that write the table and the report.
#include "autotune/Tuning.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace attn::tune;

namespace {

const char *const kDecodeWorkloads[] = {"256 seqs, context 100-2048",
                                        "32 seqs, context 4096-8192",
                                        "1 seq, context 32768"};

std::vector<Workload> benchmarkWorkloads() {
  llvm::Expected<std::vector<Workload>> all =
      readWorkloads(ATTN_SOURCE_DIR "/test/autotune/workloads.json");
  EXPECT_TRUE(bool(all)) << llvm::toString(all.takeError());
  return all ? *all : std::vector<Workload>{};
}

Table defaultsTable() {
  Table table;
  table.target = "sm_90";
  table.provenance.method = "default";
  TableEntry prefill, decode;
  prefill.op = "prefill";
  prefill.knobs = {128, 32, 2, 128};
  decode.op = "decode";
  decode.knobs = {0, 64, 3, 128};
  table.entries = {prefill, decode};
  return table;
}

/// A compiled decode candidate of the split key with knobs (block_n, stages,
/// threads), 64 registers and the instruction counts the model needs.
Candidate decodeCandidate(int64_t blockN, int64_t stages, int64_t threads,
                          CandidateStatus status = CandidateStatus::Ok) {
  Candidate c;
  c.keys = {splitKernelKey()};
  c.knobs = {0, blockN, stages, threads};
  c.id = candidateId(c);
  c.status = status;
  c.baseline = blockN == 64 && stages == 3 && threads == 128;
  KernelRecord k;
  k.key = c.keys.front();
  k.name = "attn_decode_bf16_d128_g2_paged_causal";
  k.resources.registers = 64;
  k.resources.spillStoreBytes = status == CandidateStatus::Pruned ? 96 : 0;
  k.resources.threads = threads;
  k.resources.dynamicSmemBytes = stages * blockN * 512;
  k.resources.kernelInstructions = 900 + 8 * blockN;
  k.resources.loopInstructions = 8 * blockN;
  k.blocksPerSm = 4;
  c.kernels = {k};
  return c;
}

std::vector<Candidate> decodeAndSplits() {
  std::vector<Candidate> all = {decodeCandidate(32, 2, 128),
                                decodeCandidate(64, 3, 128),
                                decodeCandidate(128, 2, 256)};
  for (const DecodeSplit &split : splitSpace()) {
    Candidate c;
    c.kind = CandidateKind::Split;
    c.keys = {splitKernelKey()};
    c.split = split;
    c.status = CandidateStatus::Ok;
    c.baseline = split.samePolicy(DecodeSplit());
    c.id = candidateId(c);
    all.push_back(c);
  }
  return all;
}

/// Each candidate's time `ms` on every decode workload.
void setTimes(Times &times, const std::string &id, double ms) {
  for (const char *w : kDecodeWorkloads)
    times[id][w] = ms;
}

TEST(Selection, ChooseKernelsWritesTheFastest) {
  std::vector<Candidate> all = decodeAndSplits();
  Times times;
  setTimes(times, "decode_bf16_d128_g2_paged_causal_n32_s2_t128", 0.5);
  setTimes(times, "decode_bf16_d128_g2_paged_causal_n64_s3_t128", 1.0);
  setTimes(times, "decode_bf16_d128_g2_paged_causal_n128_s2_t256", 0.75);
  Table table = defaultsTable();
  // A decode entry naming the layout is replaced by the one of dtype, D, G,
  // which keeps its split policy.
  TableEntry old = entryFor(splitKernelKey(), "sm_90");
  old.paged = true;
  old.knobs = {0, 16, 2, 128};
  old.split = DecodeSplit{2, 512};
  table.entries.push_back(old);
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  std::map<std::string, std::string> winners = chooseKernels(
      all, benchmarkWorkloads(), times, table, "measured", os, ls);
  ASSERT_EQ(winners.size(), 1u);
  EXPECT_EQ(winners["decode_bf16_d128_g2_paged_causal"],
            "decode_bf16_d128_g2_paged_causal_n32_s2_t128");
  const TableEntry *entry = table.lookup(splitKernelKey());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->knobs, (Knobs{0, 32, 2, 128}));
  EXPECT_EQ(entry->source, "measured");
  EXPECT_FALSE(entry->paged.has_value());
  ASSERT_TRUE(entry->split.has_value());
  EXPECT_TRUE(entry->split->samePolicy(DecodeSplit{2, 512}));
  EXPECT_EQ(entry->note, "decode_bf16_d128_g2_paged_causal_n32_s2_t128: "
                         "geometric mean 0.500 ms over 3 workload(s), 3 "
                         "candidates");
  EXPECT_EQ(table.entries.size(), 3u);
  EXPECT_EQ(log, "attn-tune: decode_bf16_d128_g2_paged_causal -> "
                 "decode_bf16_d128_g2_paged_causal_n32_s2_t128 (0.500 ms)\n");
  EXPECT_NE(report.find("| decode_bf16_d128_g2_paged_causal | 1 seq, context "
                        "32768 | 1.000 | 0.500 | 2.00x | "
                        "decode_bf16_d128_g2_paged_causal_n32_s2_t128 |"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("| decode_bf16_d128_g2_paged_causal_n64_s3_t128: ok |"),
            std::string::npos)
      << report;
}

TEST(Selection, ModelLeavesMeasuredEntries) {
  std::vector<Candidate> all = decodeAndSplits();
  Times times;
  setTimes(times, "decode_bf16_d128_g2_paged_causal_n128_s2_t256", 0.25);
  setTimes(times, "decode_bf16_d128_g2_paged_causal_n32_s2_t128", 0.5);
  Table table = defaultsTable();
  TableEntry measured = entryFor(splitKernelKey(), "sm_90");
  measured.knobs = {0, 32, 2, 128};
  measured.source = "measured";
  table.entries.push_back(measured);
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  chooseKernels(all, benchmarkWorkloads(), times, table, "modelled", os, ls);
  EXPECT_EQ(table.lookup(splitKernelKey())->knobs, (Knobs{0, 32, 2, 128}));
  EXPECT_EQ(log, "attn-tune: decode_bf16_d128_g2_paged_causal -> "
                 "decode_bf16_d128_g2_paged_causal_n128_s2_t256 by the "
                 "model; its measured entry stays\n");
}

TEST(Selection, AllPrunedNamesTheLeastSpilling) {
  std::vector<Candidate> all = {
      decodeCandidate(32, 2, 128, CandidateStatus::Pruned),
      decodeCandidate(64, 3, 128, CandidateStatus::Failed)};
  all[0].kernels[0].resources.spillStoreBytes = 40;
  Times times;
  setTimes(times, all[0].id, 0.5);
  Table table = defaultsTable();
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  EXPECT_TRUE(
      chooseKernels(all, benchmarkWorkloads(), times, table, "measured", os, ls)
          .empty());
  EXPECT_EQ(log, "attn-tune: decode_bf16_d128_g2_paged_causal: all 2 "
                 "candidates pruned; the least spilling, "
                 "decode_bf16_d128_g2_paged_causal_n32_s2_t128, spills 40 B; "
                 "its entry is left as it was\n");
  EXPECT_EQ(table.entries.size(), 2u);
}

TEST(SplitPolicy, ChosenByItsTimesUnlessMeasured) {
  std::vector<Candidate> all = decodeAndSplits();
  Times times;
  for (const Candidate &c : all)
    if (c.isSplit())
      setTimes(times, c.id, c.id == "split_c2_k2048" ? 0.9 : 1.0);
  const TargetLimits &sm90 = *limitsFor("sm_90");
  Table table = defaultsTable();
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  chooseSplit(all, benchmarkWorkloads(), times, table, "measured", "kernel",
              sm90, os, ls);
  EXPECT_EQ(table.split.ctasPerSm, 2);
  EXPECT_EQ(table.split.minKeysPerSplit, 2048);
  EXPECT_EQ(table.split.source, "measured");
  EXPECT_EQ(table.split.note,
            "split_c2_k2048: geometric mean 0.900 ms over 3 workload(s) with "
            "kernel; default (4, 1024) 1.000 ms");
  // The report gives each policy's splits on 132 SMs: (4, 1024) splits the
  // single 32768-key sequence 32 ways.
  EXPECT_NE(report.find("| split_c4_k1024 (4, 1024) default | 1.000 (1) | "
                        "1.000 (4) | 1.000 (32) | 1.000 |"),
            std::string::npos)
      << report;
  // The model does not replace the policy of a measured table.
  setTimes(times, "split_c8_k512", 0.1);
  chooseSplit(all, benchmarkWorkloads(), times, table, "modelled", "kernel",
              sm90, os, ls);
  EXPECT_EQ(table.split.ctasPerSm, 2);
  EXPECT_NE(log.find("split policy split_c8_k512 by the model; the sm_90 "
                     "table is measured, its decode_split stays"),
            std::string::npos)
      << log;
}

TEST(SplitPolicy, OneFunctionForEveryWorkload) {
  DecodeSplit policy; // (4, 1024)
  std::vector<Workload> decode;
  for (const Workload &w : benchmarkWorkloads())
    if (w.op == "decode")
      decode.push_back(w);
  ASSERT_EQ(decode.size(), 3u);
  // 256 x 8, 32 x 8 and 8 CTAs on 132 SMs.
  EXPECT_EQ(workloadNumSplits(policy, decode[0], 132), 1);
  EXPECT_EQ(workloadNumSplits(policy, decode[1], 132), 4);
  EXPECT_EQ(workloadNumSplits(policy, decode[2], 132), 32);
  EXPECT_EQ(workloadNumSplits(policy, decode[2], 132),
            decodeNumSplits(policy, 8, 132, 32768));
}

TEST(Ingest, MeasuredTimingsIntoTheTable) {
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(R"({
    "gpu": "test GPU", "driver": "1", "date": "2026-01-01",
    "timings": {
      "decode_bf16_d128_g2_paged_causal_n32_s2_t128":
        {"256 seqs, context 100-2048": 0.5, "32 seqs, context 4096-8192": 0.5,
         "1 seq, context 32768": 0.5},
      "split_c8_k512":
        {"256 seqs, context 100-2048": 0.4, "32 seqs, context 4096-8192": 0.4,
         "1 seq, context 32768": 0.4},
      "split_c4_k1024":
        {"256 seqs, context 100-2048": 0.5, "32 seqs, context 4096-8192": 0.5,
         "1 seq, context 32768": 0.5}},
    "split_kernel": {"split_c8_k512": "decode_bf16_d128_g2_paged_causal_n64_s3_t128"}})");
  ASSERT_TRUE(bool(json)) << llvm::toString(json.takeError());
  llvm::Expected<Timings> timings = parseTimings(*json, "timings.json");
  ASSERT_TRUE(bool(timings)) << llvm::toString(timings.takeError());
  EXPECT_EQ(timings->gpu, "test GPU");
  EXPECT_EQ(timings->times.size(), 3u);
  std::vector<Candidate> all = decodeAndSplits();
  std::vector<Workload> workloads = benchmarkWorkloads();
  Table table = defaultsTable();
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  ingestTimings({all, workloads, *limitsFor("sm_90"), "attn-test"}, *timings,
                table, os, ls);
  EXPECT_EQ(table.provenance.method, "measured");
  EXPECT_EQ(table.provenance.gpu, "test GPU");
  EXPECT_EQ(table.provenance.compiler, "attn-test");
  EXPECT_EQ(table.split.ctasPerSm, 8);
  EXPECT_EQ(table.lookup(splitKernelKey())->knobs, (Knobs{0, 32, 2, 128}));
  // The harness timed split_c8_k512 with another kernel: said, and used.
  EXPECT_NE(log.find("attn-tune: warning: split_c8_k512 was timed with "
                     "decode_bf16_d128_g2_paged_causal_n64_s3_t128, not the "
                     "chosen decode_bf16_d128_g2_paged_causal_n32_s2_t128"),
            std::string::npos)
      << log;
  EXPECT_NE(table.split.note.find("with "
                                  "decode_bf16_d128_g2_paged_causal_n64_s3_"
                                  "t128;"),
            std::string::npos)
      << table.split.note;
  llvm::Expected<Timings> bad =
      parseTimings(llvm::json::Object{}, "timings.json");
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "timings.json: no 'timings' object");
}

TEST(Ingest, ModelRanksAndCorrelates) {
  std::vector<Candidate> all = decodeAndSplits();
  std::vector<Workload> workloads = benchmarkWorkloads();
  const TargetLimits &sm90 = *limitsFor("sm_90");
  Times modelled = modelTimes(all, workloads, sm90, DecodeSplit());
  EXPECT_EQ(modelled.size(), 3u); // the kernel candidates
  Table table = defaultsTable();
  std::string report, log;
  llvm::raw_string_ostream os(report), ls(log);
  Timings measured;
  measured.gpu = "test GPU";
  measured.times = modelled; // the model against itself: rho 1
  rankByModel({all, workloads, sm90, "attn-test"}, &measured, table,
              "2026-01-02", os, ls);
  EXPECT_EQ(table.provenance.method, "modelled");
  EXPECT_EQ(table.provenance.date, "2026-01-02");
  EXPECT_EQ(table.provenance.gpu, "NVIDIA H100 SXM5 (model figures)");
  EXPECT_EQ(table.lookup(splitKernelKey())->source, "modelled");
  EXPECT_EQ(table.split.source, "modelled");
  EXPECT_EQ(report.rfind("# Model ranking, sm_90 (NVIDIA H100 SXM5 figures), "
                         "2026-01-02",
                         0),
            0u);
  // The three kernels tie on the single sequence (NaN, left out of the mean).
  EXPECT_NE(log.find("attn-tune: Spearman rho nan on 1 seq, context 32768"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("attn-tune: mean Spearman rho 1.00 over 2 workloads "
                     "(kernels)"),
            std::string::npos)
      << log;
  // A measured table keeps its provenance and split policy.
  Table kept = defaultsTable();
  kept.provenance.method = "measured";
  kept.split.ctasPerSm = 8;
  rankByModel({all, workloads, sm90, "attn-test"}, nullptr, kept, "2026-01-02",
              os, ls);
  EXPECT_EQ(kept.provenance.method, "measured");
  EXPECT_EQ(kept.split.ctasPerSm, 8);
}

} // namespace
