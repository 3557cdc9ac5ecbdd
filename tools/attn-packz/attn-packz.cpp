// attn-packz: compresses a kernel pack directory for embedding in libattnrt.
//   attn-packz <pack dir> <out dir> [--cubin-only=<target>,...]
// Writes <out dir>/b<N>.alz, LZ blocks (runtime/lz.h), and <out dir>/index.txt,
// a line per pack file: "<block file> <target>/<file> <offset> <size>", the
// file's bytes being [offset, offset + size) of its decompressed block. A
// block holds the files of one target, op, dtype, head dim, layout (paged or
// not) and kind (PTX or cubin), the sm_80 PTX beside the sm_89 PTX it equals
// but for .target, so that matches reach across the variants; each manifest
// is its own block. The targets named by --cubin-only keep their kernels as
// cubins alone: a kernel with a cubin loses its PTX, and its manifest lines
// their ptx= and a hash= of the cubin's bytes alone (abi/manifest.h: the
// hash of no PTX, then the cubin). For sm_90 and sm_90a, whose PTX no GPU
// JIT-compiles (the runtime takes their cubins on compute capability 9.0,
// sm_89's PTX elsewhere).
#include "LzEncode.h"
#include "abi/manifest.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct PackFile {
  std::string target, name; // "sm_90", "attn_decode_bf16_d128_g1_....ptx"
  std::string path() const { return target + "/" + name; }
};

/// The block of a file, and its place in the block.
std::pair<std::string, std::string> blockKey(const PackFile &file) {
  if (file.name.rfind("attn_", 0) != 0)
    return {file.path(), ""};
  std::string ext = file.name.substr(file.name.rfind('.'));
  // attn_<op>_<dtype>_d<D>_...: the first four fields, and the layout.
  size_t at = 0;
  for (int field = 0; field < 4 && at != std::string::npos; ++field)
    at = file.name.find('_', at + 1);
  std::string prefix = file.name.substr(0, at);
  prefix +=
      file.name.find("_paged") != std::string::npos ? "_paged" : "_contig";
  std::string target = file.target == "sm_80" ? "sm_89" : file.target;
  return {target + "/" + prefix + ext, file.name + " " + file.target};
}

bool readAll(const fs::path &path, std::string *bytes) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *bytes = buffer.str();
  return bool(in) || in.eof();
}

/// `manifest` (a cubin-only target's, in `dir`) with every kernel line that
/// names a cubin rid of its ptx= and hashed over the cubin alone; false (and
/// a message) when a cubin cannot be read.
bool cubinOnlyManifest(const fs::path &dir, std::string *manifest) {
  std::istringstream lines(*manifest);
  std::string line, out;
  while (std::getline(lines, line)) {
    size_t at = line.find(" cubin=");
    if (line.rfind("name=", 0) != 0 || at == std::string::npos) {
      out += line + "\n";
      continue;
    }
    std::string cubin = line.substr(at + 7, line.find(' ', at + 1) - at - 7);
    std::string bytes;
    if (!readAll(dir / cubin, &bytes)) {
      std::fprintf(stderr, "attn-packz: cannot read %s\n",
                   (dir / cubin).string().c_str());
      return false;
    }
    char hash[17];
    std::snprintf(hash, sizeof(hash), "%016llx",
                  static_cast<unsigned long long>(
                      attn::abi::fnv1a(bytes.data(), bytes.size())));
    std::istringstream fields(line);
    std::string field, rewritten;
    while (fields >> field) {
      if (field.rfind("ptx=", 0) == 0)
        continue;
      if (field.rfind("hash=", 0) == 0)
        field = "hash=" + std::string(hash);
      rewritten += (rewritten.empty() ? "" : " ") + field;
    }
    out += rewritten + "\n";
  }
  *manifest = out;
  return true;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> cubinOnly;
  if (argc == 4 && std::string(argv[3]).rfind("--cubin-only=", 0) == 0) {
    std::istringstream targets(std::string(argv[3]).substr(13));
    for (std::string target; std::getline(targets, target, ',');)
      cubinOnly.push_back(target);
  } else if (argc != 3) {
    std::fprintf(stderr, "usage: attn-packz <pack dir> <out dir> "
                         "[--cubin-only=<target>,...]\n");
    return 2;
  }
  auto isCubinOnly = [&](const std::string &target) {
    return std::find(cubinOnly.begin(), cubinOnly.end(), target) !=
           cubinOnly.end();
  };
  fs::path packDir = argv[1], outDir = argv[2];
  auto start = std::chrono::steady_clock::now();
  std::map<std::string, std::vector<std::pair<std::string, PackFile>>> blocks;
  std::error_code ec;
  for (const auto &target : fs::directory_iterator(packDir, ec)) {
    if (!target.is_directory())
      continue;
    for (const auto &file : fs::directory_iterator(target.path())) {
      PackFile f{target.path().filename().string(),
                 file.path().filename().string()};
      fs::path path = file.path();
      if (isCubinOnly(f.target) && path.extension() == ".ptx" &&
          fs::exists(fs::path(path).replace_extension(".cubin")))
        continue;
      auto [block, order] = blockKey(f);
      blocks[block].push_back({order, f});
    }
  }
  if (ec || blocks.empty()) {
    std::fprintf(stderr, "attn-packz: no pack in %s\n", argv[1]);
    return 1;
  }
  fs::remove_all(outDir);
  fs::create_directories(outDir);
  std::ofstream index(outDir / "index.txt");
  size_t rawBytes = 0, packedBytes = 0, number = 0;
  for (auto &[key, files] : blocks) {
    std::sort(files.begin(), files.end(),
              [](const auto &a, const auto &b) { return a.first < b.first; });
    std::string raw, blockName = "b" + std::to_string(number++) + ".alz";
    for (const auto &[order, file] : files) {
      std::string bytes;
      if (!readAll(packDir / file.target / file.name, &bytes)) {
        std::fprintf(stderr, "attn-packz: cannot read %s\n",
                     file.path().c_str());
        return 1;
      }
      if (file.name == "manifest.txt" && isCubinOnly(file.target) &&
          !cubinOnlyManifest(packDir / file.target, &bytes))
        return 1;
      index << blockName << " " << file.path() << " " << raw.size() << " "
            << bytes.size() << "\n";
      raw += bytes;
    }
    std::string packed = attn::lzCompress(raw);
    std::ofstream out(outDir / blockName, std::ios::binary);
    out.write(packed.data(), std::streamsize(packed.size()));
    if (!out) {
      std::fprintf(stderr, "attn-packz: cannot write %s\n", blockName.c_str());
      return 1;
    }
    rawBytes += raw.size();
    packedBytes += packed.size();
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("attn-packz: %zu blocks, %zu bytes -> %zu in %.1f s\n", number,
              rawBytes, packedBytes, seconds);
  return index ? 0 : 1;
}
