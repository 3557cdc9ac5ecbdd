"""Medians of ab.txt (sweep_decode_split_policy.py --runtime-only lines, tagged "ARM rN"):
per D, G and workload, each arm's median % of copy and its median time's ratio to
the first arm's (above 1: faster). python3 abtable.py ab.txt base,n128[,...]"""

import collections, math, re, statistics, sys

pattern = re.compile(
    r"^(\S+) r(\d+) D(\d+) G(\d+) (\S+) \(.*?\): S0 ([\d.]+) .*runtime ([\d.]+)%"
)
cells = collections.defaultdict(list)  # (arm, d, g, workload) -> [(us, pct)]
order = []
for line in open(sys.argv[1]):
    m = pattern.match(line)
    if not m:
        continue
    arm, _, d, g, w, us, pct = m.groups()
    key = (int(d), int(g), w)
    if key not in order:
        order.append(key)
    cells[(arm,) + key].append((float(us), float(pct)))
arms = sys.argv[2].split(",")
rows = collections.defaultdict(dict)
for d, g, w in order:
    got = [cells.get((a, d, g, w)) for a in arms]
    if not all(got):
        continue
    med = [statistics.median(u for u, _ in c) for c in got]
    pct = [statistics.median(p for _, p in c) for c in got]
    rows[(d, g)][w] = (pct, [med[0] / m for m in med], len(got[0]))
workloads = [w for w in dict.fromkeys(w for _, _, w in order)]
print("| D | G | " + " | ".join(workloads) + " | geomean |")
print("|---" * (len(workloads) + 3) + "|")
for (d, g), byw in rows.items():
    out, logs = [], [[] for _ in arms[1:]]
    for w in workloads:
        if w not in byw:
            out.append("")
            continue
        pct, ratio, n = byw[w]
        out.append(
            " -> ".join(f"{p:.0f}" for p in pct)
            + " ("
            + ", ".join(f"{r:.3f}" for r in ratio[1:])
            + ")"
        )
        for i, r in enumerate(ratio[1:]):
            logs[i].append(math.log(r))
    geo = ", ".join(f"{math.exp(sum(l) / len(l)):.3f}" for l in logs)
    print(f"| {d} | {g} | " + " | ".join(out) + f" | {geo} |")
