// Parses manifest.txt; corrupt input is an error naming the file and line.
#include "runtime/manifest.h"

#include "abi/kernel_params.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <set>

namespace attn {

const char *opName(KernelOp op) {
  switch (op) {
  case KernelOp::Decode:
    return "decode";
  case KernelOp::Combine:
    return "combine";
  case KernelOp::Prefill:
    return "prefill";
  }
  return "unknown";
}

const char *dtypeName(attn_dtype dtype) {
  switch (dtype) {
  case ATTN_DTYPE_F16:
    return "f16";
  case ATTN_DTYPE_BF16:
    return "bf16";
  }
  return "unknown";
}

KernelVariant wantedVariant(KernelOp op, attn_dtype dtype, int headDim,
                            int numHeads, int numKvHeads, bool paged,
                            bool causal, bool local) {
  KernelVariant variant;
  variant.op = op;
  variant.dtype = dtype;
  variant.headDim = headDim;
  variant.groupSize = numHeads / numKvHeads;
  variant.paged = paged;
  variant.causal = causal && !local;
  variant.local = local;
  return variant;
}

std::string describeVariant(const KernelVariant &variant) {
  return std::string("dtype=") + dtypeName(variant.dtype) +
         " head_dim=" + std::to_string(variant.headDim) +
         " group=" + std::to_string(variant.groupSize) +
         " paged=" + std::to_string(variant.paged) +
         " causal=" + std::to_string(variant.causal) +
         (variant.local ? " local=1" : "") +
         (variant.tokensPerCta > 1
              ? " tokens=" + std::to_string(variant.tokensPerCta)
              : "");
}

namespace {

using abi::kPackFormatVersion;
constexpr size_t kHashDigits = 16;

std::vector<std::string> splitWhitespace(const std::string &line) {
  std::vector<std::string> tokens;
  const char *spaces = " \t\r\v\f";
  size_t begin = line.find_first_not_of(spaces);
  while (begin != std::string::npos) {
    size_t end = line.find_first_of(spaces, begin);
    tokens.push_back(line.substr(begin, end - begin));
    begin = line.find_first_not_of(spaces, end);
  }
  return tokens;
}

bool isKeyValue(const std::string &token) {
  size_t equals = token.find('=');
  return equals != std::string::npos && equals != 0 &&
         equals + 1 != token.size();
}

// The largest split policy parameter a manifest may give (2^24).
constexpr int kMaxSplitPolicyValue = 1 << 24;

// "attn-pack 1 target=<target>", then key=value tokens: the pack's version
// (version=), the split policy (split_ctas_per_sm, split_min_keys; defaults
// when absent) and others (compiler=<version>) that the runtime does not need.
Status parseHeader(const std::vector<std::string> &tokens,
                   const std::string &target, std::string *version,
                   SplitPolicy *split, bool *padsHeadDim) {
  if (tokens.size() < 3 || tokens[0] != abi::kPackMagic ||
      !std::all_of(tokens.begin() + 2, tokens.end(), isKeyValue)) {
    return makeStatus(ATTN_ERROR_PACK,
                      "not a kernel pack manifest: the first line must be "
                      "'attn-pack %d target=%s [key=value ...]'",
                      kPackFormatVersion, target.c_str());
  }
  if (tokens[1] != std::to_string(kPackFormatVersion)) {
    return makeStatus(ATTN_ERROR_PACK,
                      "pack format version '%s', this runtime reads version %d",
                      tokens[1].c_str(), kPackFormatVersion);
  }
  if (tokens[2] != "target=" + target) {
    return makeStatus(ATTN_ERROR_PACK,
                      "header says '%s' but the manifest is the %s one",
                      tokens[2].c_str(), target.c_str());
  }
  for (size_t i = 3; i < tokens.size(); ++i) {
    size_t equals = tokens[i].find('=');
    std::string key = tokens[i].substr(0, equals);
    if (key == abi::header::kVersion) {
      *version = tokens[i].substr(equals + 1);
      continue;
    }
    if (key == abi::header::kPadsHeadDim) {
      *padsHeadDim = tokens[i].substr(equals + 1) == "1";
      continue;
    }
    int *field = key == abi::header::kSplitCtasPerSm ? &split->ctasPerSm
                 : key == abi::header::kSplitMinKeys ? &split->minKeysPerSplit
                                                     : nullptr;
    if (!field)
      continue;
    char *end = nullptr;
    long value = std::strtol(tokens[i].c_str() + equals + 1, &end, 10);
    if (*end != '\0' || value < 1 || value > kMaxSplitPolicyValue) {
      return makeStatus(ATTN_ERROR_PACK,
                        "header's '%s' must be an integer in [1, 2^24], got "
                        "'%s'",
                        key.c_str(), tokens[i].c_str() + equals + 1);
    }
    *field = static_cast<int>(value);
  }
  return Status();
}

// The key=value pairs of one kernel line, with typed, checked accessors.
class KernelFields {
public:
  Status parse(const std::vector<std::string> &tokens) {
    for (const std::string &token : tokens) {
      if (!isKeyValue(token)) {
        return makeStatus(ATTN_ERROR_PACK, "expected key=value, got '%s'",
                          token.c_str());
      }
      size_t equals = token.find('=');
      std::string key = token.substr(0, equals);
      if (!fields_.emplace(key, token.substr(equals + 1)).second) {
        return makeStatus(ATTN_ERROR_PACK, "key '%s' appears twice",
                          key.c_str());
      }
    }
    return Status();
  }

  bool has(const char *key) const { return fields_.count(key) != 0; }

  Status getString(const char *key, std::string *value) const {
    auto it = fields_.find(key);
    if (it == fields_.end())
      return makeStatus(ATTN_ERROR_PACK, "missing key '%s'", key);
    *value = it->second;
    return Status();
  }

  Status getInt(const char *key, int min, int max, int *value) const {
    std::string text;
    ATTN_RETURN_IF_ERROR(getString(key, &text));
    const char *end = text.data() + text.size();
    auto [parsedEnd, error] = std::from_chars(text.data(), end, *value);
    if (error != std::errc() || parsedEnd != end || *value < min ||
        *value > max) {
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s' must be an integer in [%d, %d], got '%s'", key,
                        min, max, text.c_str());
    }
    return Status();
  }

  // 16 lowercase hex digits, as docs/runtime_abi.md writes a hash.
  Status getHash(const char *key, std::string *value) const {
    ATTN_RETURN_IF_ERROR(getString(key, value));
    if (value->size() != kHashDigits ||
        value->find_first_not_of("0123456789abcdef") != std::string::npos) {
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s' must be %zu lowercase hex digits, got '%s'", key,
                        kHashDigits, value->c_str());
    }
    return Status();
  }

  // A kernel file: a plain name, resolved in the manifest's own directory.
  Status getFileName(const char *key, std::string *value) const {
    ATTN_RETURN_IF_ERROR(getString(key, value));
    if (value->find('/') != std::string::npos || *value == "." ||
        *value == "..") {
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s' must be a file name in the manifest's directory, "
                        "got '%s'",
                        key, value->c_str());
    }
    return Status();
  }

private:
  std::map<std::string, std::string> fields_;
};

// Reads the keys the runtime launches a kernel with; other keys (tile sizes,
// pipeline depth) describe the kernel for people and tools and are skipped.
Status parseKernel(const std::vector<std::string> &tokens, KernelInfo *kernel) {
  KernelFields fields;
  ATTN_RETURN_IF_ERROR(fields.parse(tokens));
  ATTN_RETURN_IF_ERROR(fields.getString(abi::key::kName, &kernel->name));
  KernelVariant &variant = kernel->variant;

  std::string op;
  ATTN_RETURN_IF_ERROR(fields.getString(abi::key::kOp, &op));
  if (op == "decode") {
    variant.op = KernelOp::Decode;
  } else if (op == "combine") {
    variant.op = KernelOp::Combine;
  } else if (op == "prefill") {
    variant.op = KernelOp::Prefill;
  } else {
    return makeStatus(ATTN_ERROR_PACK,
                      "unknown op '%s' (expected decode, combine or prefill)",
                      op.c_str());
  }

  std::string dtype;
  ATTN_RETURN_IF_ERROR(fields.getString(abi::key::kDtype, &dtype));
  if (dtype == "f16") {
    variant.dtype = ATTN_DTYPE_F16;
  } else if (dtype == "bf16") {
    variant.dtype = ATTN_DTYPE_BF16;
  } else {
    return makeStatus(ATTN_ERROR_PACK,
                      "unknown dtype '%s' (expected f16 or bf16)",
                      dtype.c_str());
  }

  ATTN_RETURN_IF_ERROR(
      fields.getInt(abi::key::kHeadDim, 1, 1024, &variant.headDim));
  // The PTX may be left out where a cubin is given (the embedded pack's
  // sm_90 and sm_90a kernels, which no GPU JIT-compiles).
  if (fields.has(abi::key::kCubin)) {
    ATTN_RETURN_IF_ERROR(
        fields.getFileName(abi::key::kCubin, &kernel->cubinFile));
    if (fields.has(abi::key::kPtx))
      ATTN_RETURN_IF_ERROR(
          fields.getFileName(abi::key::kPtx, &kernel->ptxFile));
  } else {
    ATTN_RETURN_IF_ERROR(fields.getFileName(abi::key::kPtx, &kernel->ptxFile));
  }
  if (fields.has(abi::key::kHash))
    ATTN_RETURN_IF_ERROR(fields.getHash(abi::key::kHash, &kernel->hash));

  if (variant.op == KernelOp::Combine) {
    // The ABI fixes the combine launch; a manifest that says otherwise was
    // written for a different kernel than the one the runtime would launch.
    kernel->threads = abi::combineThreads(variant.headDim);
    kernel->sharedBytes = 0;
    int value = 0;
    if (fields.has(abi::key::kThreads)) {
      ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kThreads, kernel->threads,
                                         kernel->threads, &value));
    }
    if (fields.has(abi::key::kSmem))
      ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kSmem, 0, 0, &value));
    if (fields.has(abi::key::kFor))
      ATTN_RETURN_IF_ERROR(
          fields.getString(abi::key::kFor, &kernel->combineFor));
    int dependent = 0;
    if (fields.has(abi::key::kDependentLaunch))
      ATTN_RETURN_IF_ERROR(
          fields.getInt(abi::key::kDependentLaunch, 0, 1, &dependent));
    kernel->dependentLaunch = dependent != 0;
    return Status();
  }

  // group=G: a decode kernel whose CTA holds the G query heads of one KV
  // head; group=0: a kernel for every G (prefill; the any-group decode
  // kernel, block_m heads per CTA).
  int paged = 0;
  int causal = 0;
  int local = 0;
  ATTN_RETURN_IF_ERROR(
      fields.getInt(abi::key::kGroup, 0, 1024, &variant.groupSize));
  ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kPaged, 0, 1, &paged));
  ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kCausal, 0, 1, &causal));
  if (fields.has(abi::key::kLocal))
    ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kLocal, 0, 1, &local));
  ATTN_RETURN_IF_ERROR(
      fields.getInt(abi::key::kThreads, 1, 1024, &kernel->threads));
  ATTN_RETURN_IF_ERROR(
      fields.getInt(abi::key::kSmem, 0, INT_MAX, &kernel->sharedBytes));
  if (variant.op == KernelOp::Prefill || variant.groupSize == 0)
    ATTN_RETURN_IF_ERROR(
        fields.getInt(abi::key::kBlockM, 1, 1024, &kernel->blockM));
  if (fields.has(abi::key::kTokens)) {
    if (variant.op != KernelOp::Decode || variant.groupSize == 0)
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s' is for decode kernels specialised on a group "
                        "(op=decode, group > 0)",
                        abi::key::kTokens);
    ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kTokens, 1, kMaxTokensPerCta,
                                       &variant.tokensPerCta));
  }
  if (fields.has(abi::key::kKvHeads)) {
    if (variant.op != KernelOp::Decode || variant.groupSize == 0 ||
        variant.tokensPerCta != 1)
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s' is for decode kernels specialised on a group "
                        "with one token a CTA (op=decode, group > 0, no "
                        "tokens)",
                        abi::key::kKvHeads);
    ATTN_RETURN_IF_ERROR(
        fields.getInt(abi::key::kKvHeads, 1, 64, &kernel->kvHeads));
  }
  int tma = 0;
  if (fields.has(abi::key::kTma))
    ATTN_RETURN_IF_ERROR(fields.getInt(abi::key::kTma, 0, 1, &tma));
  if (tma != 0) {
    // The maps' boxes are block_n rows, at most 256.
    if (variant.op != KernelOp::Prefill)
      return makeStatus(ATTN_ERROR_PACK,
                        "'%s=1' is for prefill kernels (op=prefill)",
                        abi::key::kTma);
    ATTN_RETURN_IF_ERROR(
        fields.getInt(abi::key::kBlockN, 1, 256, &kernel->blockN));
    kernel->tma = true;
  }
  // A decode kernel's own split policy; parseManifest starts it from the
  // header's.
  for (auto [key, field] :
       {std::pair{abi::key::kSplitCtasPerSm, &kernel->split.ctasPerSm},
        std::pair{abi::key::kSplitMinKeys, &kernel->split.minKeysPerSplit}}) {
    if (!fields.has(key))
      continue;
    if (variant.op != KernelOp::Decode)
      return makeStatus(ATTN_ERROR_PACK, "'%s' is for decode kernels", key);
    ATTN_RETURN_IF_ERROR(fields.getInt(key, 1, kMaxSplitPolicyValue, field));
  }
  variant.paged = paged != 0;
  variant.causal = causal != 0;
  variant.local = local != 0;
  return Status();
}

} // namespace

// findKernel's index of the decode and prefill kernels, whose variants are
// unique.
static void buildIndex(Manifest *manifest) {
  std::set<int> headDims;
  manifest->foldTokens = 0;
  for (size_t i = 0; i < manifest->kernels.size(); ++i) {
    const KernelVariant &variant = manifest->kernels[i].variant;
    if (variant.op == KernelOp::Combine)
      continue;
    manifest->index.emplace_back(variantKey(variant), i);
    headDims.insert(variant.headDim);
    if (variant.tokensPerCta > 1)
      manifest->foldTokens |= uint32_t{1} << variant.tokensPerCta;
  }
  std::sort(manifest->index.begin(), manifest->index.end());
  manifest->headDims.assign(headDims.begin(), headDims.end());
}

Status parseManifest(const std::string &text, const std::string &path,
                     const std::string &target, Manifest *manifest) {
  if (text.empty()) {
    return makeStatus(ATTN_ERROR_PACK, "%s: the manifest is empty",
                      path.c_str());
  }
  // attn-pack ends every line with a newline: a file cut short does not.
  if (text.back() != '\n') {
    long lastLine = 1 + std::count(text.begin(), text.end(), '\n');
    return makeStatus(ATTN_ERROR_PACK,
                      "%s:%ld: the manifest is truncated (its last line has "
                      "no newline)",
                      path.c_str(), lastLine);
  }
  manifest->target = target;
  manifest->kernels.clear();
  // The line each kernel was declared on, for duplicate diagnostics.
  std::vector<int> kernelLines;
  // The header's split policy: each kernel's where its line gives none.
  SplitPolicy headerSplit;

  int lineNumber = 0;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos)
      end = text.size();
    std::vector<std::string> tokens =
        splitWhitespace(text.substr(begin, end - begin));
    begin = end + 1;
    ++lineNumber;

    Status status;
    if (lineNumber == 1) {
      status = parseHeader(tokens, target, &manifest->version, &headerSplit,
                           &manifest->padsHeadDim);
    } else if (!tokens.empty() && tokens[0][0] != '#') {
      KernelInfo kernel;
      kernel.split = headerSplit;
      status = parseKernel(tokens, &kernel);
      for (size_t i = 0; status.ok() && i < manifest->kernels.size(); ++i) {
        const KernelInfo &other = manifest->kernels[i];
        if (other.name == kernel.name) {
          status = makeStatus(ATTN_ERROR_PACK,
                              "kernel '%s' is already declared on line %d",
                              kernel.name.c_str(), kernelLines[i]);
        } else if (other.variant == kernel.variant &&
                   other.combineFor == kernel.combineFor) {
          status = makeStatus(ATTN_ERROR_PACK,
                              "kernel '%s' is the same variant as '%s' on "
                              "line %d",
                              kernel.name.c_str(), other.name.c_str(),
                              kernelLines[i]);
        }
      }
      if (status.ok()) {
        manifest->kernels.push_back(std::move(kernel));
        kernelLines.push_back(lineNumber);
      }
    }
    if (!status.ok())
      return withContext(status, path + ":" + std::to_string(lineNumber));
  }
  // Decode and prefill variants are unique (checked above), so each key
  // names one kernel.
  buildIndex(manifest);
  return Status();
}

void overlayManifest(Manifest *base, Manifest overlay) {
  std::set<std::string> replaced;
  for (const KernelInfo &kernel : overlay.kernels)
    replaced.insert(kernel.name);
  for (KernelInfo &kernel : base->kernels) {
    if (replaced.count(kernel.name) == 0)
      overlay.kernels.push_back(std::move(kernel));
  }
  overlay.index.clear();
  // Padding needs every kernel to take the head_dim parameter.
  overlay.padsHeadDim = overlay.padsHeadDim && base->padsHeadDim;
  buildIndex(&overlay);
  *base = std::move(overlay);
}

uint64_t variantKey(const KernelVariant &variant) {
  // The parser bounds a kernel's head dim and group size by 1024; findKernel
  // keys a wanted variant only when both fit in 16 bits.
  return uint64_t(variant.op) << 48 | uint64_t(variant.dtype) << 40 |
         uint64_t(uint16_t(variant.headDim)) << 24 |
         uint64_t(uint16_t(variant.groupSize)) << 8 |
         uint64_t(variant.tokensPerCta & 0x1F) << 3 |
         uint64_t(variant.local) << 2 | uint64_t(variant.paged) << 1 |
         uint64_t(variant.causal);
}

static const KernelInfo *findExactKernel(const Manifest &manifest,
                                         const KernelVariant &wanted) {
  // Per launch: the index answers in two look-ups (the group's own kernel,
  // then one for any group) what the search below answers in a pass over
  // every kernel of the pack.
  bool keyable = wanted.headDim >= 0 && wanted.headDim <= 0xFFFF &&
                 wanted.groupSize >= 0 && wanted.groupSize <= 0xFFFF &&
                 wanted.tokensPerCta >= 1 &&
                 wanted.tokensPerCta <= kMaxTokensPerCta;
  if (!manifest.index.empty() && keyable && wanted.op != KernelOp::Combine) {
    auto lookUp = [&](const KernelVariant &variant) -> const KernelInfo * {
      uint64_t key = variantKey(variant);
      auto found =
          std::lower_bound(manifest.index.begin(), manifest.index.end(), key,
                           [](const std::pair<uint64_t, size_t> &entry,
                              uint64_t value) { return entry.first < value; });
      if (found == manifest.index.end() || found->first != key)
        return nullptr;
      return &manifest.kernels[found->second];
    };
    const KernelInfo *own = wanted.groupSize != 0 ? lookUp(wanted) : nullptr;
    if (own != nullptr)
      return own;
    KernelVariant anyGroup = wanted;
    anyGroup.groupSize = 0;
    return lookUp(anyGroup);
  }
  const KernelInfo *anyGroup = nullptr;
  for (const KernelInfo &kernel : manifest.kernels) {
    KernelVariant variant = kernel.variant;
    if (variant.groupSize == 0)
      variant.groupSize = wanted.groupSize;
    if (!(variant == wanted))
      continue;
    if (kernel.variant.groupSize != 0)
      return &kernel;
    anyGroup = &kernel;
  }
  return anyGroup;
}

const KernelInfo *findKernel(const Manifest &manifest,
                             const KernelVariant &wanted) {
  const KernelInfo *kernel = findExactKernel(manifest, wanted);
  if (kernel != nullptr || !manifest.padsHeadDim ||
      std::binary_search(manifest.headDims.begin(), manifest.headDims.end(),
                         wanted.headDim))
    return kernel;
  // A head_dim of no kernel: the next larger that has one, zero-padded.
  KernelVariant padded = wanted;
  for (auto dim = std::upper_bound(manifest.headDims.begin(),
                                   manifest.headDims.end(), wanted.headDim);
       kernel == nullptr && dim != manifest.headDims.end(); ++dim) {
    padded.headDim = *dim;
    kernel = findExactKernel(manifest, padded);
  }
  return kernel;
}

Status selectKernel(const Manifest &manifest, const KernelVariant &wanted,
                    const KernelInfo **kernel) {
  *kernel = findKernel(manifest, wanted);
  if (*kernel != nullptr)
    return Status();
  // A head dim the pack lacks: name the ones it has (the list of every
  // variant would run to hundreds).
  std::set<int> headDims;
  for (const KernelInfo &other : manifest.kernels)
    if (other.variant.op == wanted.op && other.variant.dtype == wanted.dtype)
      headDims.insert(other.variant.headDim);
  const char *op = opName(wanted.op);
  if (!headDims.empty() && headDims.count(wanted.headDim) == 0) {
    std::string dims;
    for (int dim : headDims)
      dims += (dims.empty() ? "" : ", ") + std::to_string(dim);
    return makeStatus(ATTN_ERROR_UNSUPPORTED,
                      "the %s pack has no %s kernel for head_dim=%d: its %s "
                      "%s kernels take head_dim %s",
                      manifest.target.c_str(), op, wanted.headDim,
                      dtypeName(wanted.dtype), op, dims.c_str());
  }
  std::string available;
  for (const KernelInfo &other : manifest.kernels) {
    if (other.variant.op == wanted.op && other.variant.dtype == wanted.dtype &&
        other.variant.headDim == wanted.headDim) {
      available +=
          (available.empty() ? "" : "; ") + describeVariant(other.variant);
    }
  }
  std::string which =
      std::string("its ") + dtypeName(wanted.dtype) + " " + op + " kernels";
  if (available.empty())
    available = std::string("none for ") + dtypeName(wanted.dtype);
  else
    which += " of head_dim=" + std::to_string(wanted.headDim);
  return makeStatus(
      ATTN_ERROR_UNSUPPORTED, "the %s pack has no %s kernel for %s; %s: %s",
      manifest.target.c_str(), op, describeVariant(wanted).c_str(),
      which.c_str(), available.c_str());
}

Status selectCombine(const Manifest &manifest, const KernelInfo &kernel,
                     const KernelInfo **combine) {
  // The combine kernel compiled into the kernel's module (no second module to
  // load), else any of its dtype and head_dim: all share the combine ABI.
  attn_dtype dtype = kernel.variant.dtype;
  int headDim = kernel.variant.headDim;
  const KernelInfo *shared = nullptr; // no for=: meant for any kernel
  const KernelInfo *other = nullptr;  // another kernel's own
  for (const KernelInfo &candidate : manifest.kernels) {
    if (candidate.variant.op != KernelOp::Combine ||
        candidate.variant.dtype != dtype ||
        candidate.variant.headDim != headDim)
      continue;
    if (candidate.combineFor == kernel.name) {
      *combine = &candidate;
      return Status();
    }
    const KernelInfo *&fallback = candidate.combineFor.empty() ? shared : other;
    if (fallback == nullptr)
      fallback = &candidate;
  }
  *combine = shared != nullptr ? shared : other;
  if (*combine != nullptr)
    return Status();
  return makeStatus(ATTN_ERROR_UNSUPPORTED,
                    "the %s pack has no combine kernel for dtype=%s "
                    "head_dim=%d, which split-KV %s needs (num_splits=1 "
                    "needs none)",
                    manifest.target.c_str(), dtypeName(dtype), headDim,
                    opName(kernel.variant.op));
}

} // namespace attn
