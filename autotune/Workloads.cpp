// The benchmark workloads, and those derived for a kernel without its own.
#include "autotune/Workloads.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace attn::tune {

namespace {

std::string optString(const json::Object &object, StringRef key) {
  if (std::optional<StringRef> value = object.getString(key))
    return value->str();
  return "";
}

} // namespace

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

std::vector<std::string> workloadNames(const std::vector<Workload> &all,
                                       const std::vector<KernelKey> &keys) {
  std::vector<std::string> names;
  for (const KernelKey &key : keys)
    for (const Workload &w : workloadsFor(all, key))
      if (!llvm::is_contained(names, w.name))
        names.push_back(w.name);
  return names;
}

std::vector<std::string> nameList(const std::vector<Workload> &workloads) {
  std::vector<std::string> result;
  for (const Workload &w : workloads)
    result.push_back(w.name);
  return result;
}

Expected<std::vector<Workload>> readWorkloads(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer = MemoryBuffer::getFile(path);
  if (!buffer)
    return createStringError(buffer.getError(),
                             "cannot read " + path.str() + ": " +
                                 buffer.getError().message());
  Expected<std::vector<Workload>> workloads =
      parseWorkloads((*buffer)->getBuffer());
  if (!workloads)
    return createStringError(inconvertibleErrorCode(),
                             path.str() + ": " +
                                 toString(workloads.takeError()));
  return workloads;
}

} // namespace attn::tune
