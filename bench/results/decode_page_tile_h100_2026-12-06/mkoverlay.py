"""Overlay pack: NAME/sm_90/{changed files, merged manifest} from BASE and NEW dirs."""

import filecmp, pathlib, shutil, sys

base, new, out = map(pathlib.Path, sys.argv[1:4])
(out / "sm_90").mkdir(parents=True, exist_ok=True)
lines = (base / "sm_90/manifest.txt").read_text().splitlines()
newlines = {
    l.split()[0]: l
    for l in (new / "sm_90/manifest.txt").read_text().splitlines()
    if l.startswith("name=")
}
changed = 0
merged = []
for l in lines:
    key = l.split()[0] if l.startswith("name=") else None
    if key in newlines and newlines[key] != l:
        merged.append(newlines[key])
        changed += 1
        for part in newlines[key].split():
            if part.startswith(("cubin=", "ptx=")):
                f = part.split("=", 1)[1]
                shutil.copy(new / "sm_90" / f, out / "sm_90" / f)
    else:
        merged.append(l)
(out / "sm_90/manifest.txt").write_text("\n".join(merged) + "\n")
print("changed entries", changed, "new entries", len(newlines))
