// The tuning tables: lookup, and their JSON (docs/autotune.md, "Tables").
#include "autotune/Table.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace attn::tune {

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

bool TableEntry::sameFields(const TableEntry &o) const {
  return op == o.op && dtype == o.dtype && headDim == o.headDim &&
         group == o.group && paged == o.paged && causal == o.causal;
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
    if (existing.sameFields(entry)) {
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

/// `where`: "decode_split", or an entry's "entry N: decode_split".
Expected<DecodeSplit> parseSplit(const json::Object &s, const Twine &where) {
  DecodeSplit split;
  Expected<int64_t> ctas = requireInt(s, "ctas_per_sm", where.str());
  if (!ctas)
    return ctas.takeError();
  Expected<int64_t> keys = requireInt(s, "min_keys_per_split", where.str());
  if (!keys)
    return keys.takeError();
  split.ctasPerSm = *ctas;
  split.minKeysPerSplit = *keys;
  if (*ctas <= 0 || *keys <= 0)
    return tableError(where + ": 'ctas_per_sm' and 'min_keys_per_split' "
                              "must be positive");
  split.source = optString(s, "source");
  if (split.source.empty())
    split.source = "default";
  split.note = optString(s, "note");
  return split;
}

Expected<TableEntry> parseEntry(const json::Value &value,
                                const std::string &where) {
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
  if (std::optional<StringRef> assembly = e->getString("assembly")) {
    if (*assembly != "whole-program" && *assembly != "relocatable")
      return tableError(where +
                        ": 'assembly' must be whole-program or "
                        "relocatable, got '" +
                        *assembly + "'");
    entry.knobs.wholeProgram = *assembly == "whole-program";
  }
  // The decode layout knobs: powers of two, of decode entries only.
  for (auto [key, field] : {std::pair{"lanes", &entry.knobs.lanes},
                            std::pair{"kv_heads", &entry.knobs.kvHeads}}) {
    std::optional<int64_t> value = e->getInteger(key);
    if (!value)
      continue;
    if (entry.op != "decode" || *value <= 0 || (*value & (*value - 1)) != 0)
      return tableError(where + ": '" + key +
                        "' must be a power of two, of a decode entry, got " +
                        std::to_string(*value));
    *field = *value;
  }
  if (const json::Value *mma = e->get("mma")) {
    std::optional<bool> on = mma->getAsBoolean();
    if (!on || entry.op != "decode")
      return tableError(where + ": 'mma' must be true or false, of a decode "
                                "entry");
    if (*on && entry.knobs.lanes)
      return tableError(where + ": 'mma' does not take 'lanes'");
    entry.knobs.mma = *on;
  }
  if (const json::Value *split = e->get("decode_split")) {
    const json::Object *s = split->getAsObject();
    if (!s || entry.op != "decode")
      return tableError(where + ": 'decode_split' must be an object, of a "
                                "decode entry");
    Expected<DecodeSplit> policy = parseSplit(*s, where + ": decode_split");
    if (!policy)
      return policy.takeError();
    entry.split = DecodeSplit{policy->ctasPerSm, policy->minKeysPerSplit};
  }
  entry.source = optString(*e, "source");
  if (entry.source.empty())
    entry.source = "default";
  entry.note = optString(*e, "note");
  return entry;
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
    table.provenance = {optString(*p, "method"),   optString(*p, "gpu"),
                        optString(*p, "driver"),   optString(*p, "date"),
                        optString(*p, "compiler"), optString(*p, "notes")};
  }
  if (table.provenance.method != "default" &&
      table.provenance.method != "measured" &&
      table.provenance.method != "modelled")
    return tableError("provenance.method must be default, measured or "
                      "modelled, got '" +
                      table.provenance.method + "'");
  if (const json::Object *s = root->getObject("decode_split")) {
    Expected<DecodeSplit> split = parseSplit(*s, "decode_split");
    if (!split)
      return split.takeError();
    table.split = std::move(*split);
  }
  const json::Array *entries = root->getArray("entries");
  if (!entries)
    return tableError("'entries' must be an array");
  for (auto [i, value] : enumerate(*entries)) {
    Expected<TableEntry> entry =
        parseEntry(value, "entry " + std::to_string(i));
    if (!entry)
      return entry.takeError();
    table.entries.push_back(std::move(*entry));
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
          if (e.knobs.wholeProgram)
            j.attribute("assembly", "whole-program");
          if (e.knobs.lanes)
            j.attribute("lanes", e.knobs.lanes);
          if (e.knobs.kvHeads > 1)
            j.attribute("kv_heads", e.knobs.kvHeads);
          if (e.knobs.mma)
            j.attribute("mma", true);
          if (e.split)
            j.attributeObject("decode_split", [&] {
              j.attribute("ctas_per_sm", e.split->ctasPerSm);
              j.attribute("min_keys_per_split", e.split->minKeysPerSplit);
            });
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

} // namespace attn::tune
