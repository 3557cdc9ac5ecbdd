// Candidates (kinds and statuses, generation, pruning) and the bundle's JSON.
#include "autotune/Tuning.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace attn::tune;

namespace {

std::vector<Workload> benchmarkWorkloads() {
  llvm::Expected<std::vector<Workload>> all =
      readWorkloads(ATTN_SOURCE_DIR "/test/autotune/workloads.json");
  EXPECT_TRUE(bool(all)) << llvm::toString(all.takeError());
  return all ? *all : std::vector<Workload>{};
}

/// The op defaults alone, as test/autotune/check_tune.sh starts from.
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

TEST(Candidate, KindAndStatusSpellings) {
  for (CandidateKind kind : {CandidateKind::Kernel, CandidateKind::Split}) {
    llvm::Expected<CandidateKind> parsed = parseKind(kindName(kind));
    ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(kindName(CandidateKind::Split), "split");
  for (CandidateStatus status :
       {CandidateStatus::New, CandidateStatus::Ok, CandidateStatus::Pruned,
        CandidateStatus::Failed}) {
    llvm::Expected<CandidateStatus> parsed = parseStatus(statusName(status));
    ASSERT_TRUE(bool(parsed)) << llvm::toString(parsed.takeError());
    EXPECT_EQ(*parsed, status);
  }
  EXPECT_EQ(statusName(CandidateStatus::Pruned), "pruned");
  llvm::Expected<CandidateKind> badKind = parseKind("kernels");
  ASSERT_FALSE(bool(badKind));
  EXPECT_EQ(llvm::toString(badKind.takeError()),
            "candidate 'kind' must be kernel or split, got 'kernels'");
  llvm::Expected<CandidateStatus> badStatus = parseStatus("OK");
  ASSERT_FALSE(bool(badStatus));
  EXPECT_EQ(llvm::toString(badStatus.takeError()),
            "candidate 'status' must be new, ok, pruned or failed, got 'OK'");
}

TEST(Candidate, GeneratedFromTheSearchSpace) {
  std::vector<Workload> workloads = benchmarkWorkloads();
  std::vector<Candidate> all =
      generateCandidates("gpu", defaultsTable(), workloads);
  ASSERT_EQ(all.size(), 65u); // 56 kernel configurations, 9 split policies
  EXPECT_EQ(llvm::count_if(all, [](const Candidate &c) { return c.isSplit(); }),
            9);
  // Kernel candidates are compiled later; split policies need no compiling.
  for (const Candidate &c : all)
    EXPECT_EQ(c.status,
              c.isSplit() ? CandidateStatus::Ok : CandidateStatus::New)
        << c.id;
  const Candidate *prefill =
      findCandidate(all, "prefill_bf16_d128_causal_m128_n32_s2_t128");
  ASSERT_NE(prefill, nullptr);
  EXPECT_TRUE(prefill->baseline);
  EXPECT_EQ(prefill->keys.size(), 2u); // packed and paged
  EXPECT_EQ(prefill->workloads.size(), 5u);
  const Candidate *decode =
      findCandidate(all, "decode_bf16_d128_g8_paged_causal_n16_s2_t256");
  ASSERT_NE(decode, nullptr);
  EXPECT_FALSE(decode->baseline);
  EXPECT_EQ(decode->checked.size(), 3u);
  EXPECT_EQ(decode->workloads.back(), "1 seq, context 32768 [G 8]");
  const Candidate *split = findCandidate(all, "split_c4_k1024");
  ASSERT_NE(split, nullptr);
  EXPECT_TRUE(split->baseline);
  EXPECT_EQ(split->keys.front(), splitKernelKey());
  EXPECT_EQ(candidateId(*split), "split_c4_k1024");
  EXPECT_EQ(groupId({"decode", "f16", 64, 4, false, false}),
            "decode_f16_d64_g4_contig_full");
  EXPECT_EQ(groupId({"prefill", "bf16", 128, 0, true, true}),
            "prefill_bf16_d128_causal");
  EXPECT_EQ(findCandidate(all, "no_such_candidate"), nullptr);
}

TEST(Candidate, HeadDimSpaceIsWholeProgramDecodeWithTheBaseline) {
  llvm::Expected<std::vector<Workload>> workloads =
      readWorkloads(ATTN_SOURCE_DIR "/autotune/workloads_head_dims.json");
  ASSERT_TRUE(bool(workloads)) << llvm::toString(workloads.takeError());
  Table table = defaultsTable();
  // Today's D 32 entry, relocatable: not in the whole-program grid.
  TableEntry d32;
  d32.op = "decode";
  d32.headDim = 32;
  d32.knobs = {0, 64, 2, 128};
  table.entries.push_back(d32);
  std::vector<Candidate> all =
      generateCandidates("head-dims", table, *workloads);
  EXPECT_EQ(llvm::count_if(all, [](const Candidate &c) { return c.isSplit(); }),
            0);
  std::set<int64_t> dims;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    EXPECT_EQ(key.op, "decode") << c.id;
    EXPECT_EQ(key.dtype, "bf16") << c.id;
    EXPECT_EQ(key.group, 2) << c.id;
    EXPECT_TRUE(key.paged && key.causal) << c.id;
    EXPECT_EQ(c.checked.size(), 3u) << c.id;
    EXPECT_EQ(c.workloads.size(), 3u) << c.id;
    EXPECT_EQ(llvm::StringRef(c.id).ends_with("_wp"), c.knobs.wholeProgram)
        << c.id;
    EXPECT_TRUE(decodeKnobsValid(key.headDim, 2, c.knobs)) << c.id;
    dims.insert(key.headDim);
    baselines += c.baseline;
  }
  EXPECT_EQ(dims, (std::set<int64_t>{32, 64, 80, 96, 160, 192, 256}));
  // Every head dim has a baseline; the defaults' (64, 3, 128) and D 32's
  // relocatable entries are added to the whole-program grid.
  EXPECT_EQ(baselines, 7);
  const Candidate *base =
      findCandidate(all, "decode_bf16_d32_g2_paged_causal_n64_s2_t128");
  ASSERT_NE(base, nullptr);
  EXPECT_TRUE(base->baseline);
  EXPECT_FALSE(base->knobs.wholeProgram);
  const Candidate *whole =
      findCandidate(all, "decode_bf16_d96_g2_paged_causal_n64_s2_t128_wp");
  ASSERT_NE(whole, nullptr);
  EXPECT_FALSE(whole->baseline);
  EXPECT_EQ(whole->workloads.front(), "256 seqs, context 100-2048 [D 96]");
  // The assembly survives the bundle's JSON.
  llvm::Expected<Candidate> back =
      candidateFromJson(*candidateToJson(*whole, TuneOptions()).getAsObject());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_TRUE(back->knobs.wholeProgram);
  EXPECT_EQ(candidateId(*back), whole->id);
}

TEST(Candidate, WgmmaSpaceIsSm90aPrefillOfEveryHeadDim) {
  EXPECT_EQ(spaceTarget("wgmma"), "sm_90a");
  EXPECT_EQ(spaceTarget("gpu"), "");
  EXPECT_FALSE(spaceHasSplitPolicies("wgmma"));
  // sm_90a's table: the op default and the wide head dims' block_n 64.
  Table table;
  table.target = "sm_90a";
  TableEntry prefill, wide;
  prefill.op = wide.op = "prefill";
  prefill.knobs = {128, 128, 2, 384};
  wide.headDim = 256;
  wide.knobs = {128, 64, 2, 384};
  table.entries = {prefill, wide};
  std::vector<Candidate> all =
      generateCandidates("wgmma", table, benchmarkWorkloads());
  std::set<int64_t> dims;
  int baselines = 0;
  for (const Candidate &c : all) {
    ASSERT_FALSE(c.isSplit()) << c.id;
    ASSERT_EQ(c.keys.size(), 2u) << c.id;
    for (const KernelKey &key : c.keys) {
      EXPECT_EQ(key.op, "prefill") << c.id;
      EXPECT_EQ(key.dtype, "bf16") << c.id;
      EXPECT_TRUE(key.causal) << c.id;
      EXPECT_EQ(key.headDim, c.keys.front().headDim) << c.id;
    }
    EXPECT_NE(c.keys[0].paged, c.keys[1].paged) << c.id;
    // The kernels the entry also serves are judged with them.
    ASSERT_EQ(c.checked.size(), 4u) << c.id;
    EXPECT_EQ(
        llvm::count_if(c.checked,
                       [](const KernelKey &k) { return k.dtype == "f16"; }),
        2)
        << c.id;
    EXPECT_EQ(
        llvm::count_if(c.checked, [](const KernelKey &k) { return !k.causal; }),
        2)
        << c.id;
    // The CTA the lowering builds; block_n as it takes it.
    EXPECT_EQ(c.knobs.blockM, 128) << c.id;
    EXPECT_EQ(c.knobs.threads, 384) << c.id;
    EXPECT_EQ(c.knobs.blockN % 64, 0) << c.id;
    EXPECT_LE(c.knobs.blockN, 256) << c.id;
    EXPECT_FALSE(c.knobs.wholeProgram) << c.id; // sm_90a's are, always
    dims.insert(c.keys.front().headDim);
    baselines += c.baseline;
  }
  EXPECT_EQ(dims, (std::set<int64_t>{32, 64, 80, 96, 128, 160, 192, 256}));
  // Both entries' knobs are in the grid: one baseline per head dim, nothing
  // added to it.
  EXPECT_EQ(baselines, 8);
  EXPECT_EQ(all.size(), 8u * 12u);
  const Candidate *d256 =
      findCandidate(all, "prefill_bf16_d256_causal_m128_n64_s2_t384");
  ASSERT_NE(d256, nullptr);
  EXPECT_TRUE(d256->baseline);
  EXPECT_EQ(d256->workloads.front(), "(a) 16 x 100-1024 [D 256]");
  // Its entry names D and the layout alone; sm_90's names dtype and mask too.
  TableEntry entry = entryFor(d256->keys[1], "sm_90a");
  EXPECT_EQ(entry.headDim, 256);
  EXPECT_EQ(entry.paged, true);
  EXPECT_FALSE(entry.dtype || entry.causal);
  EXPECT_EQ(entryFor(d256->keys[1], "sm_90").specificity(),
            entry.specificity() + 2);
}

Candidate compiledPrefill(int64_t spillBytes) {
  Candidate c;
  c.id = "prefill_bf16_d128_causal_m128_n32_s2_t128";
  c.keys = {{"prefill", "bf16", 128, 0, false, true}};
  c.knobs = {128, 32, 2, 128};
  KernelRecord k;
  k.key = c.keys.front();
  k.name = "attn_prefill_bf16_d128_contig_causal";
  k.resources.registers = 255;
  k.resources.spillStoreBytes = spillBytes;
  k.resources.dynamicSmemBytes = 48 * 1024;
  k.resources.threads = 128;
  c.kernels = {k};
  return c;
}

TEST(Candidate, JudgedByTheSpillLimitOfItsOp) {
  const TargetLimits &sm90 = *limitsFor("sm_90");
  TuneOptions options;
  options.maxPrefillSpillBytes = 64;
  Candidate c = compiledPrefill(24);
  judge(c, sm90, options);
  EXPECT_EQ(c.status, CandidateStatus::Ok);
  EXPECT_EQ(c.kernels.front().blocksPerSm, 2);
  EXPECT_TRUE(c.hasPack());
  options.maxPrefillSpillBytes = -1; // prefill takes max_spill_bytes, 0
  judge(c, sm90, options);
  EXPECT_EQ(c.status, CandidateStatus::Pruned);
  EXPECT_EQ(c.reason, "attn_prefill_bf16_d128_contig_causal: spills 24 B "
                      "stores / 0 B loads (limit 0 B)");
  EXPECT_FALSE(c.hasPack());
  c.baseline = true; // timed even when pruned
  EXPECT_TRUE(c.hasPack());
  EXPECT_EQ(describe(c), "255 regs, 24 B spills, 48 KB smem, 2 CTAs/SM");
}

// The candidates of `space` over the head-dim workloads
// (autotune/workloads_head_dims.json), the defaults table their baseline.
std::vector<Candidate> headDimsCandidates(llvm::StringRef space) {
  llvm::Expected<std::vector<Workload>> workloads =
      readWorkloads(ATTN_SOURCE_DIR "/autotune/workloads_head_dims.json");
  if (!workloads) {
    ADD_FAILURE() << llvm::toString(workloads.takeError());
    return {};
  }
  return generateCandidates(space, defaultsTable(), *workloads);
}

// The candidates of a decode space over the bf16 G 2 kernels of the head-dim
// workloads, each checked to be one: a decode G 2 kernel with its three other
// layouts and masks, of knobs the lowering takes.
std::vector<Candidate> decodeG2Candidates(llvm::StringRef space) {
  std::vector<Candidate> all = headDimsCandidates(space);
  for (const Candidate &c : all) {
    EXPECT_FALSE(c.isSplit()) << c.id;
    const KernelKey &key = c.keys.front();
    EXPECT_EQ(key.op, "decode") << c.id;
    EXPECT_EQ(key.group, 2) << c.id;
    EXPECT_EQ(c.checked.size(), 3u) << c.id;
    EXPECT_TRUE(decodeKnobsValid(key.headDim, 2, c.knobs)) << c.id;
  }
  return all;
}

TEST(Candidate, DecodeKvHeadsSpaceTriesSeveralKvHeadsACta) {
  std::vector<Candidate> all = decodeG2Candidates("decode-kv-heads");
  std::map<int64_t, std::set<int64_t>> kvHeads;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    // The id names the KV heads where there are several.
    EXPECT_EQ(llvm::StringRef(c.id).ends_with("_kv" +
                                              std::to_string(c.knobs.kvHeads)),
              c.knobs.kvHeads > 1)
        << c.id;
    kvHeads[key.headDim].insert(c.knobs.kvHeads);
    baselines += c.baseline;
  }
  EXPECT_EQ(baselines, 5);
  for (int64_t d : {32, 64, 80, 96, 160})
    EXPECT_EQ(kvHeads[d], (std::set<int64_t>{1, 2, 4})) << d;
  // The bundle carries the KV heads: a candidate read back is the same.
  const Candidate *four =
      findCandidate(all, "decode_bf16_d32_g2_paged_causal_n64_s2_t128_wp_kv4");
  ASSERT_NE(four, nullptr);
  llvm::Expected<Candidate> back =
      candidateFromJson(*candidateToJson(*four, TuneOptions()).getAsObject());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->knobs, four->knobs);
  EXPECT_EQ(candidateId(*back), four->id);
  EXPECT_FALSE(spaceHasSplitPolicies("decode-kv-heads"));
}

TEST(Candidate, DecodeMmaSpaceTriesTensorCoresAtEveryHeadDim) {
  std::vector<Candidate> all = headDimsCandidates("decode-mma");
  std::set<std::pair<int64_t, int64_t>> groups;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    EXPECT_EQ(key.op, "decode") << c.id;
    groups.insert({key.headDim, key.group});
    baselines += c.baseline;
    // Every candidate but the baseline (the table's CUDA-core entry) takes
    // tensor cores, and its id says so; the workloads (G 2's) take the
    // group's heads.
    EXPECT_EQ(c.knobs.mma, !c.baseline) << c.id;
    EXPECT_EQ(llvm::StringRef(c.id).ends_with("_mma"), c.knobs.mma) << c.id;
    EXPECT_TRUE(decodeKnobsValid(key.headDim, key.group, c.knobs)) << c.id;
    ASSERT_FALSE(c.workloads.empty()) << c.id;
    EXPECT_EQ(c.workloads.front().find("G " + std::to_string(key.group)) !=
                  std::string::npos,
              key.group != 2)
        << c.id << " " << c.workloads.front();
  }
  EXPECT_EQ(groups.size(), 8u * 3u);
  EXPECT_EQ(baselines, 24);
  EXPECT_EQ(all.size(), 24u * 9u);
  EXPECT_FALSE(spaceHasSplitPolicies("decode-mma"));
  // The bundle carries the knob: a candidate read back is the same.
  const Candidate *mma =
      findCandidate(all, "decode_bf16_d128_g8_paged_causal_n64_s2_t128_wp_mma");
  ASSERT_NE(mma, nullptr);
  llvm::Expected<Candidate> back =
      candidateFromJson(*candidateToJson(*mma, TuneOptions()).getAsObject());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->knobs, mma->knobs);
  EXPECT_EQ(candidateId(*back), mma->id);
}

TEST(Candidate, DecodeMmaKvHeadsSpaceTriesHeadsACtaAtD32And64) {
  std::vector<Candidate> all = headDimsCandidates("decode-mma-kv-heads");
  std::set<std::pair<int64_t, int64_t>> groups;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    groups.insert({key.headDim, key.group});
    baselines += c.baseline;
    EXPECT_TRUE(decodeKnobsValid(key.headDim, key.group, c.knobs)) << c.id;
    if (c.baseline)
      continue;
    EXPECT_TRUE(c.knobs.mma) << c.id;
    EXPECT_TRUE(c.knobs.kvHeads == 2 || c.knobs.kvHeads == 4) << c.id;
    // 4 warps: 16 or 32 keys a warp, the warps shared by the heads.
    EXPECT_EQ(c.knobs.blockN % (16 * 4 / c.knobs.kvHeads), 0) << c.id;
  }
  std::set<std::pair<int64_t, int64_t>> want{
      {32, 1}, {32, 2}, {32, 4}, {64, 1}, {64, 2}};
  EXPECT_EQ(groups, want);
  EXPECT_EQ(baselines, 5);
  EXPECT_EQ(all.size(), 5u * 9u);
  EXPECT_FALSE(spaceHasSplitPolicies("decode-mma-kv-heads"));
  const Candidate *four = findCandidate(
      all, "decode_bf16_d32_g2_paged_causal_n16_s2_t128_wp_kv4_mma");
  ASSERT_NE(four, nullptr);
  EXPECT_EQ(four->knobs.kvHeads, 4);
}

TEST(Candidate, DecodeLaggingSpaceCoversTheKernelsBelow90PercentOfCopy) {
  std::vector<Candidate> all = headDimsCandidates("decode-lagging");
  // (D, G) -> the (mma, KV heads) pairs its candidates take.
  std::map<std::pair<int64_t, int64_t>, std::set<std::pair<bool, int64_t>>>
      kinds;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    baselines += c.baseline;
    EXPECT_TRUE(decodeKnobsValid(key.headDim, key.group, c.knobs)) << c.id;
    EXPECT_EQ(c.keys.front().dtype, "bf16") << c.id;
    if (c.baseline)
      continue;
    EXPECT_TRUE(c.knobs.wholeProgram) << c.id;
    kinds[{key.headDim, key.group}].insert({c.knobs.mma, c.knobs.kvHeads});
  }
  using Kinds = std::set<std::pair<bool, int64_t>>;
  std::map<std::pair<int64_t, int64_t>, Kinds> want{
      {{32, 1}, Kinds{{false, 8}}},
      {{32, 2}, Kinds{{false, 8}, {true, 8}}},
      {{32, 4}, Kinds{{false, 8}, {true, 8}}},
      {{32, 8}, Kinds{{true, 8}, {true, 4}}},
      {{80, 1}, Kinds{{true, 1}, {true, 2}}},
      {{80, 2}, Kinds{{true, 1}, {true, 2}}},
      {{80, 4}, Kinds{{true, 2}}},
      {{80, 8}, Kinds{{true, 2}}},
      {{96, 1}, Kinds{{true, 1}}},
      {{96, 2}, Kinds{{true, 2}}},
      {{96, 4}, Kinds{{true, 2}}},
      {{96, 8}, Kinds{{true, 2}}}};
  for (int64_t d : {160, 192, 256})
    for (int64_t g : {4, 8})
      want[{d, g}] = Kinds{{true, 1}, {false, 1}};
  EXPECT_EQ(kinds, want);
  EXPECT_EQ(baselines, 18);
  EXPECT_EQ(all.size(), 18u + 68u + 12u + 18u);
  EXPECT_FALSE(spaceHasSplitPolicies("decode-lagging"));
  // 8 heads on tensor cores: a warp a head, its 16 or 32 keys the tile.
  const Candidate *eight = findCandidate(
      all, "decode_bf16_d32_g4_paged_causal_n32_s3_t256_wp_kv8_mma");
  ASSERT_NE(eight, nullptr);
  EXPECT_EQ(eight->knobs.kvHeads, 8);
}

TEST(Candidate, DecodeLanesSpaceVariesTheLanesOfTheSlowHeadDims) {
  std::vector<Candidate> all = decodeG2Candidates("decode-lanes");
  std::map<int64_t, std::set<int64_t>> lanes;
  int baselines = 0;
  for (const Candidate &c : all) {
    const KernelKey &key = c.keys.front();
    // The id names the lanes where the knobs do.
    EXPECT_EQ(
        llvm::StringRef(c.id).ends_with("_l" + std::to_string(c.knobs.lanes)),
        c.knobs.lanes != 0)
        << c.id;
    lanes[key.headDim].insert(c.knobs.lanes);
    baselines += c.baseline;
  }
  // The lowering's choice (0) is each head dim's baseline (the table's entry).
  EXPECT_EQ(baselines, 5);
  EXPECT_EQ(lanes, (std::map<int64_t, std::set<int64_t>>{{32, {0, 1, 2}},
                                                         {64, {0, 2, 4}},
                                                         {80, {0, 2, 8}},
                                                         {96, {0, 8}},
                                                         {160, {0, 4, 16}}}));
  // D 32 with one lane a row: 128 row groups, so block_n 128 alone.
  EXPECT_EQ(
      findCandidate(all, "decode_bf16_d32_g2_paged_causal_n64_s2_t128_wp_l1"),
      nullptr);
  const Candidate *one =
      findCandidate(all, "decode_bf16_d32_g2_paged_causal_n128_s3_t128_wp_l1");
  ASSERT_NE(one, nullptr);
  llvm::Expected<Candidate> back =
      candidateFromJson(*candidateToJson(*one, TuneOptions()).getAsObject());
  ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
  EXPECT_EQ(back->knobs, one->knobs);
  EXPECT_EQ(candidateId(*back), one->id);
  // What the lowering rejects: 3 lanes, more lanes than one-chunk rows.
  EXPECT_FALSE(decodeKnobsValid(32, 2, Knobs{0, 128, 2, 128, true, 3}));
  EXPECT_FALSE(decodeKnobsValid(32, 2, Knobs{0, 128, 2, 128, true, 8}));
  EXPECT_TRUE(decodeKnobsValid(80, 2, Knobs{0, 64, 2, 128, true, 16}));
}

TEST(Bundle, CandidateJsonRoundTrip) {
  TuneOptions options;
  options.compiler = "attn-test";
  std::vector<Candidate> all =
      generateCandidates("gpu", defaultsTable(), benchmarkWorkloads());
  Candidate kernel = compiledPrefill(24);
  judge(kernel, *limitsFor("sm_90"), options);
  for (const Candidate &c : {kernel, *findCandidate(all, "split_c8_k512")}) {
    llvm::json::Value json = candidateToJson(c, options);
    llvm::Expected<Candidate> back = candidateFromJson(*json.getAsObject());
    ASSERT_TRUE(bool(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(jsonText(candidateToJson(*back, options)), jsonText(json));
    EXPECT_EQ(back->kind, c.kind);
    EXPECT_EQ(back->status, c.status);
  }
  llvm::json::Value split =
      candidateToJson(*findCandidate(all, "split_c8_k512"), options);
  EXPECT_EQ(*split.getAsObject()->getString("manifest_header"),
            "attn-pack 1 target=sm_90 compiler=attn-test split_ctas_per_sm=8 "
            "split_min_keys=512 pads_head_dim=1 tune=split_c8_k512\n");
  EXPECT_EQ(*split.getAsObject()->getString("kind"), "split");
  // Missing kind and status take their defaults; unknown ones are errors.
  llvm::Expected<Candidate> bare =
      candidateFromJson(llvm::json::Object{{"id", "x"}});
  ASSERT_TRUE(bool(bare)) << llvm::toString(bare.takeError());
  EXPECT_EQ(bare->kind, CandidateKind::Kernel);
  EXPECT_EQ(bare->status, CandidateStatus::New);
  llvm::Expected<Candidate> bad =
      candidateFromJson(llvm::json::Object{{"id", "x"}, {"status", "timed"}});
  ASSERT_FALSE(bool(bad));
  EXPECT_EQ(llvm::toString(bad.takeError()),
            "candidate 'x': candidate 'status' must be new, ok, pruned or "
            "failed, got 'timed'");
}

TEST(Bundle, WrittenAndReadBack) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("attn-tune-bundle", dir));
  TuneOptions options;
  options.bundleDir = std::string(dir);
  options.compiler = "attn-test";
  std::vector<Workload> workloads = benchmarkWorkloads();
  std::vector<Candidate> all =
      generateCandidates("gpu", defaultsTable(), workloads);
  llvm::Error written = writeBundle(all, workloads, options);
  ASSERT_FALSE(bool(written)) << llvm::toString(std::move(written));
  llvm::Expected<Bundle> bundle = readBundle(dir);
  ASSERT_TRUE(bool(bundle)) << llvm::toString(bundle.takeError());
  EXPECT_EQ(bundle->target, "sm_90");
  ASSERT_EQ(bundle->candidates.size(), all.size());
  for (auto [read, written] : llvm::zip(bundle->candidates, all)) {
    EXPECT_EQ(read.id, written.id);
    EXPECT_EQ(read.kind, written.kind);
    EXPECT_EQ(read.status, written.status);
    EXPECT_EQ(read.baseline, written.baseline);
    EXPECT_EQ(read.workloads, written.workloads);
  }
  llvm::Expected<llvm::json::Value> root =
      readJson((dir + "/candidates.json").str());
  ASSERT_TRUE(bool(root)) << llvm::toString(root.takeError());
  // Every workload a candidate is timed on is defined in the bundle.
  EXPECT_EQ(root->getAsObject()->getArray("workloads")->size(), 11u);
  EXPECT_EQ(*root->getAsObject()->getInteger("max_prefill_spill_bytes"), 0);
  llvm::sys::fs::remove_directories(dir);
  llvm::Expected<Bundle> missing = readBundle(dir);
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("cannot read"),
            std::string::npos);
}

} // namespace
