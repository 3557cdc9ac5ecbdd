// Tuning tables, resource model, selection and the roofline + occupancy model.
#include "autotune/Tuning.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>

using namespace llvm;

namespace attn::tune {

//===----------------------------------------------------------------------===//
// Tables
//===----------------------------------------------------------------------===//

bool TableEntry::matches(const KernelKey &key) const {
  return op == key.op && (!dtype || *dtype == key.dtype) &&
         (!headDim || *headDim == key.headDim) &&
         (!group || key.op != "decode" || *group == key.group) &&
         (!paged || *paged == key.paged) && (!causal || *causal == key.causal);
}

int TableEntry::specificity() const {
  return int(dtype.has_value()) + int(headDim.has_value()) +
         int(group.has_value()) + int(paged.has_value()) +
         int(causal.has_value());
}

const TableEntry *Table::lookup(const KernelKey &key) const {
  const TableEntry *best = nullptr;
  for (const TableEntry &entry : entries)
    if (entry.matches(key) &&
        (!best || entry.specificity() > best->specificity()))
      best = &entry;
  return best;
}

void Table::upsert(const TableEntry &entry) {
  for (TableEntry &existing : entries) {
    if (existing.op == entry.op && existing.dtype == entry.dtype &&
        existing.headDim == entry.headDim && existing.group == entry.group &&
        existing.paged == entry.paged && existing.causal == entry.causal) {
      existing = entry;
      return;
    }
  }
  entries.push_back(entry);
}

namespace {

Error tableError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(),
                           "tuning table: " + message.str());
}

Expected<int64_t> requireInt(const json::Object &object, StringRef key,
                             StringRef where) {
  if (std::optional<int64_t> value = object.getInteger(key))
    return *value;
  return tableError(where + " needs an integer '" + key + "'");
}

std::string optString(const json::Object &object, StringRef key) {
  if (std::optional<StringRef> value = object.getString(key))
    return value->str();
  return "";
}

} // namespace

Expected<Table> parseTable(StringRef text) {
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return tableError("not JSON: " + toString(parsed.takeError()));
  const json::Object *root = parsed->getAsObject();
  if (!root)
    return tableError("the top level must be an object");
  if (root->getString("format") != StringRef("attn-tune-table 1"))
    return tableError("'format' must be \"attn-tune-table 1\"");
  Table table;
  table.target = optString(*root, "target");
  if (table.target.empty())
    return tableError("'target' is missing");
  if (const json::Object *p = root->getObject("provenance")) {
    table.provenance = {optString(*p, "method"), optString(*p, "gpu"),
                        optString(*p, "driver"), optString(*p, "date"),
                        optString(*p, "compiler"), optString(*p, "notes")};
  }
  if (table.provenance.method != "default" &&
      table.provenance.method != "measured" &&
      table.provenance.method != "modelled")
    return tableError("provenance.method must be default, measured or "
                      "modelled, got '" +
                      table.provenance.method + "'");
  if (const json::Object *s = root->getObject("decode_split")) {
    Expected<int64_t> ctas = requireInt(*s, "ctas_per_sm", "decode_split");
    if (!ctas)
      return ctas.takeError();
    Expected<int64_t> keys =
        requireInt(*s, "min_keys_per_split", "decode_split");
    if (!keys)
      return keys.takeError();
    table.split.ctasPerSm = *ctas;
    table.split.minKeysPerSplit = *keys;
    if (*ctas <= 0 || *keys <= 0)
      return tableError("decode_split: 'ctas_per_sm' and 'min_keys_per_split' "
                        "must be positive");
    table.split.source = optString(*s, "source");
    if (table.split.source.empty())
      table.split.source = "default";
    table.split.note = optString(*s, "note");
  }
  const json::Array *entries = root->getArray("entries");
  if (!entries)
    return tableError("'entries' must be an array");
  for (auto [i, value] : enumerate(*entries)) {
    std::string where = "entry " + std::to_string(i);
    const json::Object *e = value.getAsObject();
    if (!e)
      return tableError(where + " is not an object");
    TableEntry entry;
    entry.op = optString(*e, "op");
    if (entry.op != "decode" && entry.op != "prefill")
      return tableError(where + ": 'op' must be decode or prefill");
    if (std::optional<StringRef> dtype = e->getString("dtype"))
      entry.dtype = dtype->str();
    if (std::optional<int64_t> v = e->getInteger("head_dim"))
      entry.headDim = *v;
    if (std::optional<int64_t> v = e->getInteger("group"))
      entry.group = *v;
    if (std::optional<bool> v = e->getBoolean("paged"))
      entry.paged = *v;
    if (std::optional<bool> v = e->getBoolean("causal"))
      entry.causal = *v;
    if (entry.op == "prefill") {
      Expected<int64_t> m = requireInt(*e, "block_m", where);
      if (!m)
        return m.takeError();
      entry.knobs.blockM = *m;
    } else if (std::optional<int64_t> m = e->getInteger("block_m")) {
      // Decode: the query heads per CTA of the any-group kernel (group 0).
      if (*m <= 0)
        return tableError(where + ": 'block_m' must be positive");
      entry.knobs.blockM = *m;
    }
    for (auto [key, field] :
         {std::pair<StringRef, int64_t *>{"block_n", &entry.knobs.blockN},
          {"stages", &entry.knobs.stages},
          {"threads", &entry.knobs.threads}}) {
      Expected<int64_t> v = requireInt(*e, key, where);
      if (!v)
        return v.takeError();
      if (*v <= 0)
        return tableError(where + ": '" + key + "' must be positive");
      *field = *v;
    }
    entry.source = optString(*e, "source");
    if (entry.source.empty())
      entry.source = "default";
    entry.note = optString(*e, "note");
    table.entries.push_back(std::move(entry));
  }
  return table;
}

std::string printTable(const Table &table) {
  std::string text;
  raw_string_ostream os(text);
  json::OStream j(os, 2);
  j.object([&] {
    j.attribute("format", "attn-tune-table 1");
    j.attribute("target", table.target);
    j.attributeObject("provenance", [&] {
      const Provenance &p = table.provenance;
      j.attribute("method", p.method);
      j.attribute("gpu", p.gpu);
      j.attribute("driver", p.driver);
      j.attribute("date", p.date);
      j.attribute("compiler", p.compiler);
      j.attribute("notes", p.notes);
    });
    j.attributeObject("decode_split", [&] {
      j.attribute("ctas_per_sm", table.split.ctasPerSm);
      j.attribute("min_keys_per_split", table.split.minKeysPerSplit);
      j.attribute("source", table.split.source);
      if (!table.split.note.empty())
        j.attribute("note", table.split.note);
    });
    j.attributeArray("entries", [&] {
      for (const TableEntry &e : table.entries) {
        j.object([&] {
          j.attribute("op", e.op);
          if (e.dtype)
            j.attribute("dtype", *e.dtype);
          if (e.headDim)
            j.attribute("head_dim", *e.headDim);
          if (e.group)
            j.attribute("group", *e.group);
          if (e.paged)
            j.attribute("paged", *e.paged);
          if (e.causal)
            j.attribute("causal", *e.causal);
          if (e.op == "prefill" || e.knobs.blockM > 0)
            j.attribute("block_m", e.knobs.blockM);
          j.attribute("block_n", e.knobs.blockN);
          j.attribute("stages", e.knobs.stages);
          j.attribute("threads", e.knobs.threads);
          j.attribute("source", e.source);
          if (!e.note.empty())
            j.attribute("note", e.note);
        });
      }
    });
  });
  os << "\n";
  return text;
}

Expected<Table> readTable(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read tuning table " + path.str() + ": " +
                                 buffer.getError().message());
  Expected<Table> table = parseTable((*buffer)->getBuffer());
  if (!table)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": " + toString(table.takeError()));
  return table;
}

Error writeTable(StringRef path, const Table &table) {
  std::error_code ec;
  raw_fd_ostream os(path, ec);
  if (ec)
    return createStringError(ec, "cannot write " + path.str() + ": " +
                                     ec.message());
  os << printTable(table);
  return Error::success();
}

//===----------------------------------------------------------------------===//
// Resource model
//===----------------------------------------------------------------------===//

const TargetLimits *limitsFor(StringRef target) {
  // CUDA C++ Programming Guide, "Technical Specifications per Compute
  // Capability" (docs/autotune.md cites each row). Device figures: the
  // datasheets of the NVIDIA L40S (sm_89) and H100 SXM5 (sm_90).
  static const TargetLimits sm89{
      "sm_89", 99 * 1024, 100 * 1024, 1024, 64 * 1024, 64 * 1024, 255, 256,
      1024,    1536,      24,         "NVIDIA L40S", 142, 2.52e9, 864e9,
      362e12};
  static const TargetLimits sm90{
      "sm_90", 227 * 1024, 228 * 1024, 1024, 64 * 1024, 64 * 1024, 255, 256,
      1024,    2048,       32,         "NVIDIA H100 SXM5", 132, 1.83e9, 3.35e12,
      989e12};
  if (target == "sm_89")
    return &sm89;
  if (target == "sm_90")
    return &sm90;
  return nullptr;
}

Expected<KernelResources> parsePtxasInfo(StringRef log, StringRef kernel) {
  // ptxas prints "Compiling entry function '<k>' for 'sm_90'", then "Function
  // properties for <k>" with the stack frame and spills, then "Used N
  // registers, ... N bytes smem".
  KernelResources r;
  bool inKernel = false, sawRegisters = false;
  Regex used("Used ([0-9]+) registers");
  Regex smem("([0-9]+) bytes smem");
  Regex frame("([0-9]+) bytes stack frame, ([0-9]+) bytes spill stores, "
              "([0-9]+) bytes spill loads");
  SmallVector<StringRef> lines;
  log.split(lines, '\n');
  for (StringRef line : lines) {
    StringRef name;
    if (size_t at = line.find("Compiling entry function '");
        at != StringRef::npos)
      name = line.substr(at + 26).split('\'').first;
    else if (size_t at = line.find("Function properties for ");
             at != StringRef::npos)
      name = line.substr(at + 24).trim();
    if (!name.empty()) {
      inKernel = name == kernel;
      continue;
    }
    if (!inKernel)
      continue;
    SmallVector<StringRef> m;
    if (frame.match(line, &m)) {
      m[1].getAsInteger(10, r.stackBytes);
      m[2].getAsInteger(10, r.spillStoreBytes);
      m[3].getAsInteger(10, r.spillLoadBytes);
    }
    if (used.match(line, &m)) {
      m[1].getAsInteger(10, r.registers);
      sawRegisters = true;
      if (smem.match(line, &m))
        m[1].getAsInteger(10, r.staticSmemBytes);
    }
  }
  if (!sawRegisters)
    return createStringError(inconvertibleErrorCode(),
                             "no ptxas register count for " + kernel.str() +
                                 " in the info log");
  return r;
}

Expected<InstructionCounts> countPtxInstructions(StringRef ptx,
                                                 StringRef kernel) {
  SmallVector<StringRef> lines;
  ptx.split(lines, '\n');
  std::string entry = (".entry " + kernel + "(").str();
  size_t i = 0;
  while (i < lines.size() && !lines[i].contains(entry))
    ++i;
  while (i < lines.size() && lines[i].trim() != "{")
    ++i;
  if (i == lines.size())
    return createStringError(inconvertibleErrorCode(),
                             "no entry " + kernel.str() + " in the PTX");
  // The body ends at the "}" line closing the entry's "{" line (a vector
  // operand's braces stay inside its line).
  std::vector<StringRef> body;
  for (int depth = 0; i < lines.size(); ++i) {
    StringRef line = lines[i].trim();
    if (line == "{" || line == "}") {
      depth += line == "{" ? 1 : -1;
      if (depth == 0)
        break;
      continue;
    }
    body.push_back(line);
  }
  auto isInstruction = [](StringRef line) {
    return line.ends_with(";") && !line.starts_with(".") &&
           !line.starts_with("//");
  };
  // A loop is a label and the last branch back to it.
  Regex branch("(^|[ \t])bra(\\.uni)?[ \t]+([$A-Za-z0-9_]+);");
  StringMap<size_t> labels;
  std::map<size_t, size_t> loops; // first line -> last line
  std::vector<size_t> waits;
  InstructionCounts counts;
  for (auto [index, line] : llvm::enumerate(body)) {
    counts.kernel += isInstruction(line);
    if (line.ends_with(":"))
      labels[line.drop_back()] = index;
    if (line.contains("cp.async.wait_group"))
      waits.push_back(index);
    SmallVector<StringRef> m;
    if (branch.match(line, &m))
      if (auto it = labels.find(m[3]); it != labels.end())
        loops[it->second] = index;
  }
  std::optional<std::pair<size_t, size_t>> kvLoop;
  for (auto [begin, end] : loops) {
    bool hasWait =
        llvm::any_of(waits, [&](size_t w) { return w > begin && w < end; });
    if (hasWait && (!kvLoop || end - begin < kvLoop->second - kvLoop->first))
      kvLoop = {begin, end};
  }
  if (kvLoop)
    for (size_t k = kvLoop->first; k <= kvLoop->second; ++k)
      counts.kvLoop += isInstruction(body[k]);
  return counts;
}

Verdict checkResources(const KernelResources &r, const TargetLimits &limits,
                       int64_t maxSpillBytes) {
  Verdict v;
  int64_t warps = std::max<int64_t>((r.threads + 31) / 32, 1);
  int64_t regsPerWarp = (std::max<int64_t>(r.registers, 1) * 32 +
                         limits.regAllocUnit - 1) /
                        limits.regAllocUnit * limits.regAllocUnit;
  int64_t smem = r.staticSmemBytes + r.dynamicSmemBytes;
  int64_t byRegs = limits.regsPerSm / (regsPerWarp * warps);
  int64_t bySmem = limits.smemPerSm / (smem + limits.smemReservedPerBlock);
  int64_t byThreads = limits.maxThreadsPerSm / std::max<int64_t>(r.threads, 1);
  // Occupancy is reported for pruned kernels too (the model ranks baselines).
  v.blocksPerSm = std::min({byRegs, bySmem, byThreads, limits.maxBlocksPerSm});
  auto prune = [&](std::string reason) {
    v.ok = false;
    v.reason = std::move(reason);
    return v;
  };
  int64_t spills = std::max(r.spillStoreBytes, r.spillLoadBytes);
  if (spills > maxSpillBytes)
    return prune("spills " + std::to_string(r.spillStoreBytes) +
                 " B stores / " + std::to_string(r.spillLoadBytes) +
                 " B loads (limit " + std::to_string(maxSpillBytes) + " B)");
  if (smem > limits.smemPerBlockOptIn)
    return prune("shared memory " + std::to_string(smem) + " B > " +
                 std::to_string(limits.smemPerBlockOptIn) + " B per block on " +
                 limits.target);
  if (r.threads > limits.maxThreadsPerBlock)
    return prune(std::to_string(r.threads) + " threads > " +
                 std::to_string(limits.maxThreadsPerBlock) + " per block");
  if (r.registers > limits.regsPerThread)
    return prune(std::to_string(r.registers) + " registers > " +
                 std::to_string(limits.regsPerThread) + " per thread");
  if (regsPerWarp * warps > limits.regsPerBlock)
    return prune(std::to_string(regsPerWarp * warps) +
                 " registers per block > " +
                 std::to_string(limits.regsPerBlock));
  if (v.blocksPerSm < 1)
    return prune("no block fits on an SM (registers allow " +
                 std::to_string(byRegs) + ", shared memory " +
                 std::to_string(bySmem) + ")");
  return v;
}

//===----------------------------------------------------------------------===//
// Search space
//===----------------------------------------------------------------------===//

int64_t DecodeSplit::numSplits(int64_t ctas, int64_t smCount,
                               int64_t maxSeqlenK) const {
  // As chooseNumSplits in runtime/decode_plan.cpp, at most 64 splits.
  if (maxSeqlenK <= 0 || ctas <= 0)
    return 1;
  int64_t forOccupancy = 1;
  while (forOccupancy < (ctasPerSm * smCount + ctas - 1) / ctas)
    forOccupancy *= 2;
  int64_t forLength = (maxSeqlenK + minKeysPerSplit - 1) / minKeysPerSplit;
  return std::max<int64_t>(1, std::min({forOccupancy, forLength, int64_t{64}}));
}

bool decodeKnobsValid(int64_t headDim, const Knobs &knobs) {
  // head_dim / 8 threads a row, rounded up to a power of two (the lowering's
  // layout, passes/LowerToGpu.cpp).
  int64_t threadsPerRow = 1;
  while (threadsPerRow < headDim / 8)
    threadsPerRow *= 2;
  if (headDim < 8 || headDim % 8 != 0 || threadsPerRow > 32 ||
      knobs.threads % threadsPerRow != 0)
    return false;
  int64_t rowGroups = knobs.threads / threadsPerRow;
  return knobs.blockN > 0 && knobs.blockN % rowGroups == 0;
}

std::vector<SpaceGroup> searchSpace(StringRef space) {
  bool wide = space == "wide";
  using Ints = std::vector<int64_t>;
  std::vector<std::string> dtypes =
      wide ? std::vector<std::string>{"bf16", "f16"}
           : std::vector<std::string>{"bf16"};
  Ints dims = wide ? Ints{128, 64} : Ints{128};
  // G 2 is the benchmark's (Qwen3-0.6B); G 8 spills with the default knobs.
  Ints groups = wide ? Ints{1, 2, 4, 8} : Ints{2, 8};
  std::vector<Knobs> prefill, decode;
  // The prefill lowering keeps 4 warps: block_m = 64 R (R row blocks a warp).
  for (int64_t m : {64, 128})
    for (int64_t n : wide ? Ints{32, 64, 128} : Ints{32, 64})
      for (int64_t s : wide ? Ints{2, 3, 4} : Ints{2, 3})
        prefill.push_back({m, n, s, 128});
  // Decode: 4 or 8 warps of row groups.
  for (int64_t t : {128, 256})
    for (int64_t n : {16, 32, 64, 128})
      for (int64_t s : {2, 3, 4})
        decode.push_back({0, n, s, t});
  std::vector<SpaceGroup> result;
  for (const std::string &dtype : dtypes)
    for (int64_t d : dims) {
      result.push_back({{{"prefill", dtype, d, 0, false, true},
                         {"prefill", dtype, d, 0, true, true}},
                        {},
                        prefill});
      for (int64_t g : groups) {
        // A decode entry names dtype, D and G: it sets the four layouts and
        // masks, of which the benchmark times the paged causal one.
        SpaceGroup group{{{"decode", dtype, d, g, true, true}},
                         {{"decode", dtype, d, g, true, false},
                          {"decode", dtype, d, g, false, true},
                          {"decode", dtype, d, g, false, false}},
                         {}};
        for (const Knobs &knobs : decode)
          if (decodeKnobsValid(d, knobs))
            group.grid.push_back(knobs);
        result.push_back(std::move(group));
      }
    }
  return result;
}

std::vector<DecodeSplit> splitSpace() {
  std::vector<DecodeSplit> splits;
  for (int64_t ctas : {2, 4, 8})
    for (int64_t keys : {512, 1024, 2048}) {
      DecodeSplit split;
      split.ctasPerSm = ctas;
      split.minKeysPerSplit = keys;
      splits.push_back(split);
    }
  return splits;
}

KernelKey splitKernelKey() { return {"decode", "bf16", 128, 2, true, true}; }

//===----------------------------------------------------------------------===//
// Workloads, selection, rank correlation
//===----------------------------------------------------------------------===//

KernelKey Workload::kernelKey() const {
  KernelKey key{op, dtype, headDim, 0, paged, causal};
  if (op == "decode")
    key.group = numHeads / numKvHeads;
  return key;
}

Expected<std::vector<Workload>> parseWorkloads(StringRef text) {
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return parsed.takeError();
  const json::Object *root = parsed->getAsObject();
  const json::Array *list = root ? root->getArray("workloads") : nullptr;
  if (!list)
    return createStringError(inconvertibleErrorCode(),
                             "workloads: no 'workloads' array");
  std::vector<Workload> workloads;
  for (const json::Value &value : *list) {
    const json::Object *o = value.getAsObject();
    if (!o)
      return createStringError(inconvertibleErrorCode(),
                               "workloads: an entry is not an object");
    Workload w;
    w.name = optString(*o, "name");
    w.op = optString(*o, "op");
    w.dtype = optString(*o, "dtype");
    w.headDim = o->getInteger("head_dim").value_or(0);
    w.numHeads = o->getInteger("num_heads").value_or(0);
    w.numKvHeads = o->getInteger("num_kv_heads").value_or(1);
    w.paged = o->getBoolean("paged").value_or(false);
    w.causal = o->getBoolean("causal").value_or(true);
    if (const json::Array *lens = o->getArray("seqlens"))
      for (const json::Value &pair : *lens)
        if (const json::Array *p = pair.getAsArray(); p && p->size() == 2)
          w.seqlens.emplace_back((*p)[0].getAsInteger().value_or(0),
                                 (*p)[1].getAsInteger().value_or(0));
    if (w.name.empty() || w.seqlens.empty() || w.headDim <= 0 ||
        w.numHeads <= 0)
      return createStringError(inconvertibleErrorCode(),
                               "workloads: '" + w.name + "' is incomplete");
    workloads.push_back(std::move(w));
  }
  return workloads;
}

static bool sameKernel(const KernelKey &a, const KernelKey &b) {
  return a.op == b.op && a.dtype == b.dtype && a.headDim == b.headDim &&
         (a.op != "decode" || a.group == b.group) && a.paged == b.paged &&
         a.causal == b.causal;
}

std::vector<Workload> workloadsFor(const std::vector<Workload> &all,
                                   const KernelKey &key) {
  std::vector<Workload> own;
  for (const Workload &w : all)
    if (sameKernel(w.kernelKey(), key))
      own.push_back(w);
  if (!own.empty())
    return own;
  std::vector<const Workload *> sources;
  for (const Workload &w : all)
    if (w.op == key.op && w.paged == key.paged)
      sources.push_back(&w);
  if (sources.empty())
    for (const Workload &w : all)
      if (w.op == key.op)
        sources.push_back(&w);
  std::vector<Workload> derived;
  for (const Workload *source : sources) {
    Workload w = *source;
    std::string changed;
    auto note = [&](const std::string &field) {
      changed += (changed.empty() ? "" : ", ") + field;
    };
    if (w.dtype != key.dtype) {
      w.dtype = key.dtype;
      note(key.dtype);
    }
    if (w.headDim != key.headDim) {
      w.headDim = key.headDim;
      note("D " + std::to_string(key.headDim));
    }
    if (key.op == "decode" && key.group > 0 &&
        w.numHeads != w.numKvHeads * key.group) {
      w.numHeads = w.numKvHeads * key.group;
      note("G " + std::to_string(key.group));
    }
    if (w.paged != key.paged) {
      w.paged = key.paged;
      note(key.paged ? "paged" : "contiguous");
    }
    if (w.causal != key.causal) {
      w.causal = key.causal;
      note(key.causal ? "causal" : "full");
    }
    w.name += " [" + changed + "]";
    derived.push_back(std::move(w));
  }
  return derived;
}

std::string
selectFastest(const std::vector<std::string> &candidates,
              const std::vector<std::string> &workloads,
              const std::map<std::string, std::map<std::string, double>> &times) {
  std::string best;
  double bestScore = 0;
  std::vector<std::string> sorted = candidates;
  llvm::sort(sorted);
  for (const std::string &candidate : sorted) {
    auto it = times.find(candidate);
    if (it == times.end() || workloads.empty())
      continue;
    double logSum = 0;
    bool complete = true;
    for (const std::string &workload : workloads) {
      auto t = it->second.find(workload);
      if (t == it->second.end() || !(t->second > 0)) {
        complete = false;
        break;
      }
      logSum += std::log(t->second);
    }
    if (!complete)
      continue;
    double score = logSum / workloads.size();
    if (best.empty() || score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

static std::vector<double> averageRanks(const std::vector<double> &values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && values[order[j + 1]] == values[order[i]])
      ++j;
    for (size_t k = i; k <= j; ++k)
      ranks[order[k]] = (double(i) + double(j)) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

double spearman(const std::vector<double> &a, const std::vector<double> &b) {
  if (a.size() != b.size() || a.size() < 2)
    return std::nan("");
  std::vector<double> ra = averageRanks(a), rb = averageRanks(b);
  double n = a.size();
  double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - ma) * (rb[i] - mb);
    va += (ra[i] - ma) * (ra[i] - ma);
    vb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (va == 0 || vb == 0)
    return std::nan("");
  return cov / std::sqrt(va * vb);
}

//===----------------------------------------------------------------------===//
// Roofline + occupancy model (docs/autotune.md, "The model")
//===----------------------------------------------------------------------===//

namespace {

// Clock cycles of one main-loop iteration that neither MMA nor memory hides:
// the barrier, the cp.async wait and the softmax row reductions.
constexpr double kIterationCycles = 120;
// Latency of a DRAM load under load, for Little's law.
constexpr double kDramLatencySeconds = 1.0e-6;
// Special-function (ex2) results per clock per SM (the Programming Guide's
// arithmetic instruction throughput table).
constexpr double kSfuPerClock = 16;
// Warps per SM that keep the tensor cores busy (two per scheduler).
constexpr double kSaturatingWarps = 8;
// Shared-memory bytes per clock per SM (32 banks of 4 bytes).
constexpr double kSharedBytesPerClock = 128;
// Cycles before a warp can issue an instruction that depends on the previous
// one: the Programming Guide's typical arithmetic latency, for which 16 warps
// per SM (4 per scheduler) hide it ("Maximize Utilization", "Multiprocessor
// Level").
constexpr double kDependentIssueCycles = 4;
// Warp schedulers per SM (compute capabilities 8.x and 9.0).
constexpr double kWarpSchedulers = 4;

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Makespan of CTAs (durations in launch order) over `slots` resident slots,
/// each CTA taking the next free slot.
double makespan(const std::vector<double> &durations, int64_t slots) {
  std::priority_queue<double, std::vector<double>, std::greater<double>> free;
  for (int64_t i = 0; i < slots; ++i)
    free.push(0.0);
  double end = 0;
  for (double d : durations) {
    double start = free.top();
    free.pop();
    free.push(start + d);
    end = std::max(end, start + d);
  }
  return end;
}

} // namespace

double modelTimeMs(const TargetLimits &limits, const Knobs &knobs,
                   const KernelResources &resources, int64_t blocksPerSm,
                   const Workload &w, const DecodeSplit &split) {
  if (w.op == "decode") {
    int64_t maxLen = 0, ctas = 0;
    for (auto [lq, lk] : w.seqlens) {
      maxLen = std::max(maxLen, lk);
      ctas += lq * w.numKvHeads;
    }
    return modelDecodeTimeMs(limits, knobs, resources, blocksPerSm, w,
                             split.numSplits(ctas, limits.smCount, maxLen));
  }
  blocksPerSm = std::max<int64_t>(blocksPerSm, 1);
  double clock = limits.clockHz;
  int64_t slots = limits.smCount * blocksPerSm;
  int64_t warps = std::max<int64_t>(resources.threads / 32, 1);
  // The SM's resident CTAs share its tensor cores.
  double smFlops = limits.mmaFlopsPerSecond / limits.smCount;
  double warpUse = std::min(1.0, double(blocksPerSm * warps) / kSaturatingWarps);
  std::vector<double> durations;
  int64_t bytes = 2; // bf16 and f16
  int64_t m = knobs.blockM, n = knobs.blockN, d = w.headDim;
  // One pipeline stage cannot overlap the next tile's load with the MMAs.
  double overlap = knobs.stages >= 2 ? 1.0 : 0.75;
  // Per K/V tile: the MMAs, or every warp reading the K and V tiles from
  // shared memory (each warp's R row blocks reuse them), whichever is
  // longer; then the exponentials and the loop's fixed cost. The SM's
  // resident CTAs share all of it.
  double mma = 4.0 * m * n * d / (smFlops * warpUse * overlap);
  double shared =
      double(warps) * 2 * n * d * bytes / (kSharedBytesPerClock * clock);
  double exp = double(m) * n / (kSfuPerClock * clock);
  double tile =
      blocksPerSm * (std::max(mma, shared) + exp) + kIterationCycles / clock;
  // Grid (Hq, B, row tiles), heaviest row tiles first.
  int64_t maxTiles = 0;
  for (auto [lq, lk] : w.seqlens)
    maxTiles = std::max(maxTiles, ceilDiv(lq, m));
  for (int64_t z = 0; z < maxTiles; ++z)
    for (auto [lq, lk] : w.seqlens) {
      int64_t tileIndex = maxTiles - 1 - z;
      int64_t m0 = tileIndex * m;
      if (m0 >= lq)
        continue;
      int64_t keys = w.causal ? std::min(lk, m0 + m + lk - lq) : lk;
      double cta = double(ceilDiv(std::max<int64_t>(keys, 0), n)) * tile;
      durations.insert(durations.end(), w.numHeads, cta);
    }
  return makespan(durations, slots) * 1e3;
}

double modelDecodeTimeMs(const TargetLimits &limits, const Knobs &knobs,
                         const KernelResources &resources, int64_t blocksPerSm,
                         const Workload &w, int64_t numSplits) {
  blocksPerSm = std::max<int64_t>(blocksPerSm, 1);
  int64_t splits = std::max<int64_t>(numSplits, 1);
  int64_t n = knobs.blockN;
  double keyBytes = 2.0 * w.headDim * 2; // a K and a V row, 2-byte elements
  // CTAs in launch order: grid (splits, Hkv x Lq, B), x fastest; split s
  // takes keys [s per, (s + 1) per) with per a multiple of block_n.
  struct Cta {
    double bytes;
    int64_t tiles;
  };
  std::vector<Cta> ctas;
  for (auto [lq, lk] : w.seqlens) {
    int64_t per = ceilDiv(ceilDiv(lk, splits), n) * n;
    for (int64_t y = 0; y < lq * w.numKvHeads; ++y)
      for (int64_t s = 0; s < splits; ++s) {
        int64_t keys = std::clamp<int64_t>(lk - s * per, 0, per);
        ctas.push_back({keys * keyBytes, ceilDiv(keys, n)});
      }
  }
  // A CTA runs three phases: its code outside the KV loop (Q, the pipeline's
  // prologue, the epilogue's merge and store) at its warps' issue rate; one
  // DRAM latency until its first tile lands; then its K/V bytes, at the
  // least of its issue rate (loop instructions per tile), Little's law
  // (`stages` tiles in flight) and its share of the DRAM bandwidth, which
  // the streaming CTAs of all SMs split evenly (water-filling).
  double clock = limits.clockHz;
  double warps = std::max<int64_t>(resources.threads / 32, 1);
  double loop = double(resources.loopInstructions);
  double outside = std::max<double>(
      0, double(resources.kernelInstructions - resources.loopInstructions));
  double tileBytes = n * keyBytes;
  double littleBytes = knobs.stages * tileBytes / kDramLatencySeconds;
  // Instructions per second of one warp of an SM where `issuing` CTAs issue:
  // a warp issues at most every kDependentIssueCycles (no ILP assumed), and
  // a scheduler one instruction a cycle.
  auto warpRate = [&](int64_t issuing) {
    double perScheduler = issuing * warps / kWarpSchedulers;
    return clock / std::max(kDependentIssueCycles, perScheduler);
  };
  enum Phase { Outside, Latency, Stream };
  struct Running {
    int64_t sm;
    Phase phase;
    double left; // instructions, seconds or bytes
    double bytes, bytesPerTile;
  };
  std::vector<Running> running;
  size_t next = 0;
  auto launch = [&](int64_t sm) {
    const Cta &c = ctas[next++];
    running.push_back({sm, Outside, outside, c.bytes,
                       c.tiles ? c.bytes / double(c.tiles) : 0.0});
  };
  // Moves a CTA past the phases it has finished; false once it is done.
  auto settle = [&](Running &r) {
    if (r.phase == Outside && r.left <= 0) {
      r.phase = Latency;
      r.left = r.bytes > 0 ? kDramLatencySeconds : 0;
    }
    if (r.phase == Latency && r.left <= 0) {
      r.phase = Stream;
      r.left = r.bytes;
    }
    return !(r.phase == Stream && r.left <= 0);
  };
  // The block scheduler fills the SMs breadth first, then refills a slot as
  // its CTA retires.
  for (int64_t j = 0; j < blocksPerSm; ++j)
    for (int64_t sm = 0; sm < limits.smCount && next < ctas.size(); ++sm)
      launch(sm);
  std::vector<int64_t> issuing(limits.smCount);
  std::vector<double> rate;
  std::vector<size_t> streaming;
  double now = 0;
  while (!running.empty()) {
    for (size_t i = 0; i < running.size();) {
      if (settle(running[i])) {
        ++i;
        continue;
      }
      int64_t sm = running[i].sm;
      running[i] = running.back();
      running.pop_back();
      if (next < ctas.size())
        launch(sm);
    }
    if (running.empty())
      break;
    std::fill(issuing.begin(), issuing.end(), 0);
    for (const Running &r : running)
      issuing[r.sm] += r.phase != Latency;
    rate.assign(running.size(), 0);
    streaming.clear();
    for (auto [i, r] : llvm::enumerate(running)) {
      if (r.phase == Outside)
        rate[i] = warpRate(issuing[r.sm]);
      else if (r.phase == Latency)
        rate[i] = 1;
      else {
        double cap = littleBytes;
        if (loop > 0)
          cap = std::min(cap, warpRate(issuing[r.sm]) / loop * r.bytesPerTile);
        rate[i] = cap;
        streaming.push_back(i);
      }
    }
    // Water-filling: the least capped CTAs take their cap, the others an
    // even share of what is left.
    llvm::sort(streaming,
               [&](size_t a, size_t b) { return rate[a] < rate[b]; });
    double bandwidth = limits.dramBytesPerSecond;
    for (auto [q, i] : llvm::enumerate(streaming)) {
      rate[i] = std::min(rate[i], bandwidth / double(streaming.size() - q));
      bandwidth -= rate[i];
    }
    size_t first = 0;
    double dt = std::numeric_limits<double>::infinity();
    for (auto [i, r] : llvm::enumerate(running))
      if (rate[i] > 0 && r.left / rate[i] < dt) {
        dt = r.left / rate[i];
        first = i;
      }
    for (auto [i, r] : llvm::enumerate(running)) {
      r.left -= rate[i] * dt;
      // Rounding must not leave a sliver of a phase behind.
      if (i == first || r.left <= 1e-9 * rate[i] * dt)
        r.left = 0;
    }
    now += dt;
  }
  // With splits, the combine kernel reads back the part_o the splits wrote.
  if (splits > 1) {
    double rows = 0;
    for (auto [lq, lk] : w.seqlens)
      rows += double(lq) * w.numHeads;
    now += 2.0 * splits * rows * w.headDim * 4 / limits.dramBytesPerSecond;
  }
  return now * 1e3;
}

} // namespace attn::tune
