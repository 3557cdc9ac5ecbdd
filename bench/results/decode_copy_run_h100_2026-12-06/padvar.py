"""Variant sm_90 manifests without some head dims, so that the runtime pads them to
the next size up (manifest pads_head_dim=1): pad64 drops D 32, pad96 D 80, pad128 D 80
and 96. Writes .device/padvar/<variant>/sm_90/manifest.txt."""

import pathlib, re

src = (
    pathlib.Path("build/attn_pack/sm_90/manifest.txt")
    .read_text()
    .splitlines(keepends=True)
)
for name, dims in {"pad64": {32}, "pad96": {80}, "pad128": {80, 96}}.items():
    d = pathlib.Path(".device/padvar") / name / "sm_90"
    d.mkdir(parents=True, exist_ok=True)
    keep = [
        l
        for l in src
        if not (m := re.search(r" head_dim=(\d+) ", l)) or int(m.group(1)) not in dims
    ]
    (d / "manifest.txt").write_text("".join(keep))
    print(name, len(src) - len(keep), "lines dropped")
