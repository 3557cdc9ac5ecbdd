"""Medians of bench/sweep_decode_split_policy.py --runtime-only output, per arm:
python3 abtable.py AB.txt ARM,ARM,... (the first arm is the base; speedup = base / arm).
"""

import collections
import re
import statistics
import sys

LINE = re.compile(r"(\w+) r(\d+) D(\d+) G(\d+) (\S+) .*S0 ([\d.]+) .*runtime ([\d.]+)%")
times = collections.defaultdict(list)
copy = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = LINE.match(line)
    if m:
        arm, _, d, g, work, us, pct = m.groups()
        times[(int(d), int(g), work, arm)].append(float(us))
        copy[(int(d), int(g), work, arm)].append(float(pct))
arms = sys.argv[2].split(",")
print("| D | G | workload | " + " | ".join(f"{a} us (% of copy)" for a in arms) + " |")
print("|---" * (3 + len(arms)) + "|")
speedups = collections.defaultdict(list)
for d, g, work in sorted({k[:3] for k in times}):
    cells = []
    base = statistics.median(times[(d, g, work, arms[0])])
    for a in arms:
        t = statistics.median(times[(d, g, work, a)])
        p = statistics.median(copy[(d, g, work, a)])
        cell = f"{t:.1f} ({p:.1f}%)"
        if a != arms[0]:
            cell += f" {base / t:.3f}x"
            speedups[(d, a)].append(base / t)
        cells.append(cell)
    print(f"| {d} | {g} | {work} | " + " | ".join(cells) + " |")
print()
for (d, a), v in sorted(speedups.items()):
    print(
        f"D {d} {a}: geometric mean {statistics.geometric_mean(v):.3f}x "
        f"(min {min(v):.3f}, max {max(v):.3f})"
    )
