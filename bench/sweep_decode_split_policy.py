"""Decode split policy per kernel: for each head dim of --head-dims and each G of
--groups (--dtype, bf16 by default; page 256, causal), every split count that some
candidate policy (ctas_per_sm x min_keys_per_split, abi/split_policy.h) gives on each
workload is forced in turn and timed by CUDA-graph replay (--rounds times, interleaved
with the runtime's own choice, S 0; the median); each count's output, and the
runtime's, is checked against the float64 reference. Then, per kernel, fit() picks the
policy (below) and prints it beside the table's (the manifest header's) and the
kernel's entry's own (its decode_split, where it has one). A sweep for the tuning
table's per-entry `decode_split`, not a benchmark:
bench/results/decode_split_policy_2026-12-06.md (f16: decode_split_policy_f16_*).

    PYTHONPATH=python:bench python3 bench/sweep_decode_split_policy.py TAG \
        [--head-dims 32,64,...] [--groups 1,2,4,8] [--dtype f16] [--rounds 3] \
        [--json OUT.json]
    # the fit again from saved timings, written into the sm_90 table's entries
    ... sweep_decode_split_policy.py TAG --fit OUT.json... [--write-table RECORD]
    # an A/B of libraries: the runtime's choice alone, no fit
    ... sweep_decode_split_policy.py TAG --runtime-only --rounds 1

The KV heads a CTA of each kernel (which set its CTA count) come from
autotune/tables/sm_90.json, as attn-pack reads them.
"""

import argparse
import collections
import itertools
import json
import math
import pathlib
import statistics

import torch

from attn_kernels.reference import reference_decode
from bench_decode import copy_bandwidth
from sweep_decode_kv_heads import decode, problem
from sweep_graph_buckets import replay_ms

TABLE = pathlib.Path(__file__).resolve().parent.parent / "autotune/tables/sm_90.json"
PAGE = 256
MAX_SPLITS = 64  # abi/limits.h kMaxSplits
# (Hkv, batch, shortest, longest context)
WORKLOADS = (
    (8, 64, 4096, 4096),
    (8, 256, 100, 2048),
    (8, 16, 4096, 8192),
    (6, 64, 4096, 4096),
    (8, 1, 32768, 32768),
    (8, 8, 2048, 2048),
    (8, 32, 1024, 4096),
)
CTAS_PER_SM = (1, 2, 3, 4, 6, 8, 12, 16)
MIN_KEYS = (256, 512, 1024, 2048)
REGRESSION = 1.02  # the most a workload may lose against the table's policy


def decode_splits(ctas_per_sm, min_keys, ctas, sms, max_keys):
    """abi/split_policy.h's decodeSplits."""
    wanted = -(-ctas_per_sm * sms // ctas)
    occupancy = 1
    while occupancy < wanted:
        occupancy *= 2
    return max(1, min(occupancy, -(-max_keys // min_keys), MAX_SPLITS))


def lookup(table, dtype, d, g):
    """The entry of the paged causal decode kernel of (dtype, d, g): the most specific
    matching one, as autotune/Table.cpp looks it up."""
    key = {"dtype": dtype, "head_dim": d, "group": g, "paged": True, "causal": True}
    best, named = None, -1
    for entry in table["entries"]:
        if entry["op"] != "decode":
            continue
        fields = [f for f in key if f in entry]
        if all(entry[f] == key[f] for f in fields) and len(fields) > named:
            best, named = entry, len(fields)
    return best


def own_policy(entry):
    """A decode entry's own decode_split as (ctas_per_sm, min_keys_per_split), None
    where it has none."""
    split = entry.get("decode_split")
    return split and (split["ctas_per_sm"], split["min_keys_per_split"])


def write_policies(table, path, fitted, record):
    """Writes each fitted policy other than the table's into the decode entries of its
    (D, G), bf16 and f16 (f16 takes bf16's: modelled), as their decode_split; an entry
    that does not name both D and G (one serving other kernels too) is an error."""
    default = (
        table["decode_split"]["ctas_per_sm"],
        table["decode_split"]["min_keys_per_split"],
    )
    for (d, g), policy in fitted.items():
        for dtype in ("bf16", "f16"):
            entry = lookup(table, dtype, d, g)
            named = entry.get("head_dim") == d and entry.get("group") == g
            if named:
                entry.pop("decode_split", None)
            if tuple(policy) != default:
                if not named:
                    raise SystemExit(
                        f"no decode entry names D {d} G {g} ({dtype}): add one"
                    )
                split = {"ctas_per_sm": policy[0], "min_keys_per_split": policy[1]}
                # Before "source", as printTable writes it.
                rest = {k: entry.pop(k) for k in ("source", "note") if k in entry}
                entry.update(decode_split=split, **rest)
                if record not in entry.get("note", ""):
                    entry["note"] = (
                        entry.get("note", "") + "; " if entry.get("note") else ""
                    ) + (f"decode_split: {record}")
    path.write_text(json.dumps(table, indent=2) + "\n")


def capacity(lens):
    """max_seqlen_k of problem()'s block table: one page past the longest."""
    return (max((n + PAGE - 1) // PAGE for n in lens) + 1) * PAGE


def fit(tag, runs, policies, default, entry=None):
    """Prints the best policy of one kernel's timings on one GPU or more (`runs`: a
    saved sweep's kernel record with its GPU's "sms", "copy_bandwidth" and "gpu"): the
    least geometric mean, over every run's workloads, of the policy's time over the
    workload's fastest, among the policies under which no workload of any run is more
    than REGRESSION slower than under the table's; the table's stays unless the best
    gains more than 0.5%. With `entry` (the kernel entry's own policy, None without
    one), its score too. Returns the best."""
    cases = [(run, w) for run in runs for w in run["workloads"]]

    def count(policy, run, w):
        return decode_splits(*policy, w["ctas"], run["sms"], w["max_seqlen_k"])

    def time(policy, run, w):
        return w["ms"][str(count(policy, run, w))]

    def score(policy):
        logs = [
            math.log(time(policy, run, w) / min(w["ms"].values())) for run, w in cases
        ]
        return math.exp(sum(logs) / len(logs))

    def shares(policy):
        return "; ".join(
            run["gpu"]
            + " "
            + " / ".join(
                f"{100 * w['kv_bytes'] / (time(policy, run, w) * 1e-3) / run['copy_bandwidth']:.0f}"
                f" (S{count(policy, run, w)})"
                for w in run["workloads"]
            )
            for run in runs
        )

    allowed = [
        p
        for p in policies
        if all(
            time(p, run, w) <= time(default, run, w) * REGRESSION for run, w in cases
        )
    ]
    # Ties go to fewer CTAs an SM, then fewer keys a split.
    best = min(allowed, key=lambda p: (round(score(p), 3), p))
    if score(default) <= score(best) * 1.005:
        best = tuple(default)
    kernel = runs[0]
    own = ""
    if entry is not None and entry != default:
        own = f"; entry {entry} {score(entry):.3f} [{shares(entry)}]"
    print(
        f"{tag} fit D{kernel['head_dim']} G{kernel['group']} kv_heads {kernel['kv_heads']}: "
        f"table {tuple(default)} {score(default):.3f} [{shares(default)}] -> {best} "
        f"{score(best):.3f} [{shares(best)}]{own}",
        flush=True,
    )
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tag")
    parser.add_argument("--head-dims", default="32,64,80,96,128,160,192,256")
    parser.add_argument("--groups", default="1,2,4,8")
    parser.add_argument("--rounds", type=int, default=3, help="timings of each count")
    parser.add_argument("--dtype", choices=("bf16", "f16"), default="bf16")
    parser.add_argument("--json", type=pathlib.Path, help="write the timings here")
    parser.add_argument(
        "--runtime-only",
        action="store_true",
        help="time the runtime's choice alone (an A/B of libraries), no fit",
    )
    parser.add_argument(
        "--fit", type=pathlib.Path, nargs="+", help="fit --json files again"
    )
    parser.add_argument(
        "--write-table",
        metavar="RECORD",
        help="with --fit: write the fitted policies into the table, naming RECORD",
    )
    args = parser.parse_args()
    table = json.loads(TABLE.read_text())
    default = (
        table["decode_split"]["ctas_per_sm"],
        table["decode_split"]["min_keys_per_split"],
    )
    policies = sorted(set(itertools.product(CTAS_PER_SM, MIN_KEYS)) | {default})
    if args.fit:
        # Every saved run of a kernel, on whichever GPU, fitted together.
        runs = collections.defaultdict(list)
        for path in args.fit:
            saved = json.loads(path.read_text())
            for kernel in saved["kernels"]:
                runs[kernel["head_dim"], kernel["group"]].append(
                    dict(
                        kernel,
                        **{k: saved[k] for k in ("sms", "copy_bandwidth", "gpu")},
                    )
                )
        # The table's f16 entries take the bf16 fit (write_policies).
        dtypes = {run.get("dtype", "bf16") for r in runs.values() for run in r}
        if args.write_table and dtypes != {"bf16"}:
            parser.error(f"--write-table fits bf16 sweeps, got {sorted(dtypes)}")
        fitted = {
            (d, g): fit(
                args.tag,
                kernel_runs,
                policies,
                default,
                own_policy(lookup(table, kernel_runs[0].get("dtype", "bf16"), d, g)),
            )
            for (d, g), kernel_runs in runs.items()
        }
        if args.write_table:
            write_policies(table, TABLE, fitted, args.write_table)
        return
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    gpu = torch.cuda.get_device_name(0)
    bandwidth = copy_bandwidth()
    head_dims = [int(d) for d in args.head_dims.split(",")]
    groups = [int(g) for g in args.groups.split(",")]
    dtype = {"bf16": torch.bfloat16, "f16": torch.float16}[args.dtype]
    results = []
    worst = 0.0
    for d, g in itertools.product(head_dims, groups):
        entry = lookup(table, args.dtype, d, g)
        heads = entry.get("kv_heads", 1)
        kernel = {
            "head_dim": d,
            "group": g,
            "dtype": args.dtype,
            "kv_heads": heads,
            "workloads": [],
        }
        for hkv, batch, low, high in WORKLOADS:
            q, kc, vc, cs, block_table, lens = problem(
                d, g * hkv, hkv, batch, low, high, PAGE, dtype=dtype
            )
            ctas = batch * -(-hkv // heads)
            keys = capacity(lens)
            counts = (
                []
                if args.runtime_only
                else sorted({decode_splits(c, k, ctas, sms, keys) for c, k in policies})
            )
            ref = reference_decode(q, kc, vc, cs, block_table)[0]
            kv_bytes = sum(lens) * hkv * d * 2 * 2
            for s in [0] + counts:
                out = decode(q, kc, vc, cs, block_table, s)
                err = ((out.double() - ref).norm() / ref.norm()).item()
                worst = max(worst, err)
                if err > 2e-2 or not torch.isfinite(out).all():
                    print(
                        f"{args.tag} FAIL D{d} G{g} {batch}x{low}-{high} S{s}: {err:.2e}"
                    )
            # The GPU comes out of the float64 reference slower for a while: a first
            # timing, thrown away.
            replay_ms(lambda: decode(q, kc, vc, cs, block_table, 0))
            # S 0 is the runtime's choice (the table's policy), timed beside the rest.
            times = {s: [] for s in [0] + counts}
            for _ in range(args.rounds):
                for s in times:
                    times[s].append(
                        replay_ms(lambda: decode(q, kc, vc, cs, block_table, s))
                    )
            ms = {s: statistics.median(t) for s, t in times.items() if s}
            chosen = statistics.median(times[0])
            del q, kc, vc, ref
            name = f"{batch}x{low}-{high}/Hkv{hkv}"
            kernel["workloads"].append(
                {
                    "name": name,
                    "ctas": ctas,
                    "max_seqlen_k": keys,
                    "kv_bytes": kv_bytes,
                    "ms": {str(s): t for s, t in ms.items()},
                    "runtime_ms": chosen,
                }
            )
            cells = " ".join(
                f"S{s} {statistics.median(t) * 1e3:.1f} ({min(t) * 1e3:.1f}-{max(t) * 1e3:.1f})"
                for s, t in times.items()
            )
            share = 100 * kv_bytes / (chosen * 1e-3) / bandwidth
            print(
                f"{args.tag} D{d} G{g} {name} ({ctas} CTAs, {keys} keys): {cells} us; "
                f"runtime {share:.1f}%",
                flush=True,
            )

        results.append(kernel)
        if not args.runtime_only:
            fit(
                args.tag,
                [dict(kernel, sms=sms, copy_bandwidth=bandwidth, gpu=gpu)],
                policies,
                default,
                own_policy(entry),
            )
    print(f"{args.tag} correctness: worst relative error {worst:.2e}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "gpu": gpu,
                    "sms": sms,
                    "copy_bandwidth": bandwidth,
                    "default": default,
                    "kernels": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
