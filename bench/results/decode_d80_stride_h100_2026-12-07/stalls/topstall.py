"""Stall sampling of one kernel from ncu's SASS page as CSV (`ncu --section
SourceCounters --page source --print-source sass --csv`): total samples, samples by
stall reason, and the N instructions with the most samples with their top two reasons.
    python3 topstall.py sass.csv [N]"""

import csv, sys, collections

lines = open(sys.argv[1]).readlines()
start = [i for i, l in enumerate(lines) if l.startswith('"Address"')][0]
rows = list(csv.reader(lines[start:]))
hdr = rows[0]
data = [r for r in rows[1:] if len(r) == len(hdr)]
i_s = hdr.index("Warp Stall Sampling (All Samples)")
i_src = hdr.index("Source")
stallcols = [
    j for j, h in enumerate(hdr) if h.startswith("stall") and "Not Issued" not in h
]
tot = sum(int(r[i_s]) for r in data)
agg = collections.Counter()
for r in data:
    for j in stallcols:
        if r[j].isdigit():
            agg[hdr[j]] += int(r[j])
print(sys.argv[1], "samples", tot, "instr", len(data))
print("  by reason:", ", ".join(f"{k} {100*v/tot:.1f}%" for k, v in agg.most_common(7)))
for r in sorted(data, key=lambda r: -int(r[i_s]))[
    : int(sys.argv[2]) if len(sys.argv) > 2 else 12
]:
    reasons = sorted(
        ((int(r[j]) if r[j].isdigit() else 0, hdr[j]) for j in stallcols), reverse=True
    )[:2]
    print(
        f"  {int(r[i_s])*100/tot:5.1f}% {r[i_src].strip()[:58]:58s} {[(h, round(100*v/tot,1)) for v,h in reasons]}"
    )
