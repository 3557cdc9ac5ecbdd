"""Variant sm_90 packs for an A/B: kernels re-assembled by ptxas with .minnctapersm N
added after their entry's .maxntid (rb: no directive, the same ptxas), the manifest's
hash= updated as the runtime computes it. Writes .device/minctas/<variant>/sm_90/ with
only the changed files and the manifest (the device copies the full pack under it).

    python3 minctas.py [OUT KERNEL...]   (OUT instead of .device/minctas, and only
                                          these kernels; PER_KERNEL's counts, else 4)"""

import pathlib, re, shutil, subprocess, sys

SRC = pathlib.Path("build/attn_pack/sm_90")
OUT = pathlib.Path(".device/minctas")
KERNELS = [
    f"attn_decode_bf16_d{d}_g{g}_paged_causal" for d in (80, 96) for g in (1, 2, 4, 8)
]
KERNELS += [
    f"attn_decode_bf16_d128_g8_paged_causal",
    "attn_decode_bf16_d32_g8_paged_causal",
]
if len(sys.argv) > 2:
    OUT, KERNELS = pathlib.Path(sys.argv[1]), sys.argv[2:]
VARIANTS = {"rb": None, "m4": 4}
PER_KERNEL = {
    "attn_decode_bf16_d128_g8_paged_causal": 3,
    "attn_decode_bf16_d32_g8_paged_causal": 12,
}


def fnv(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


manifest = (SRC / "manifest.txt").read_text()
shutil.rmtree(OUT, ignore_errors=True)
for variant, default in VARIANTS.items():
    d = OUT / variant / "sm_90"
    d.mkdir(parents=True)
    text = manifest
    for k in KERNELS:
        ptx = (SRC / f"{k}.ptx").read_text()
        n = PER_KERNEL.get(k, default) if default else None
        if n:
            ptx, c = re.subn(
                r"(\.entry %s\((?:.|\n)*?\.maxntid 128, 1, 1\n)" % k,
                r"\1.minnctapersm %d\n" % n,
                ptx,
                count=1,
            )
            assert c == 1, k
        (d / f"{k}.ptx").write_text(ptx)
        log = subprocess.run(
            [
                "/usr/local/cuda/bin/ptxas",
                "-arch=sm_90",
                "-O3",
                "-v",
                str(d / f"{k}.ptx"),
                "-o",
                str(d / f"{k}.cubin"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        regs = re.findall(r"Used (\d+) registers", log)
        spills = re.findall(r"(\d+) bytes spill stores", log)
        print(variant, k, n, "regs", regs, "spill stores", spills)
        h = "%016x" % fnv(
            (d / f"{k}.cubin").read_bytes(), fnv((d / f"{k}.ptx").read_bytes())
        )
        text, c = re.subn(
            r"(ptx=%s\.ptx cubin=%s\.cubin hash=)[0-9a-f]{16}" % (k, k),
            r"\g<1>" + h,
            text,
        )
        assert c == 2, (k, c)
    (d / "manifest.txt").write_text(text)
