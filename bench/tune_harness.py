"""Times the candidates of an attn-tune bundle on their workloads.

For each candidate of <bundle>/candidates.json that has a pack, a subprocess with
ATTN_PACK_DIR at the pack times it on its workloads: prefill with bench_prefill.py
--only-ours, decode with this script's --child mode (bench_decode's inputs and timing on
the candidate's workloads, whose head counts may differ from the benchmark's). CUDA
events, median of up to 200 runs, input sets rotated and together 4x the L2; a result
more than MAX_ERROR off the float64 reference is a failure, not a time. Then the split-KV
policies: each gets a pack of the fastest decode kernel of the bundle's split_key (by
`attn-tune --ingest`'s rule) whose manifest header carries the policy, and is timed as
a decode kernel. <bundle>/timings.json (or --out) is written after each candidate, which
`attn-tune --ingest` reads; a run skips the candidates timed on each of their workloads
and tries the others again. From the repository root, with the runtime built:

    PYTHONPATH=python:bench python3 bench/tune_harness.py build-tune/tune_bundle_v2

--deadline SECONDS starts no candidate that would end past it (exit status 3: run the
same command again to go on); --only prefill,decode,split times those kinds alone.
--check parses the bundle, checks every pack and prints the plan with an estimate of
its time, without a GPU. --write-workloads PATH writes the benchmark workloads
(autotune/workloads.json), --write-head-dim-workloads PATH those of attn-tune's
head-dims space (autotune/workloads_head_dims.json).
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<workload>[^|]+) \| (?P<rest>.*)$")
TIME = re.compile(r"^(?P<ms>[0-9.]+) ms \|")
# A prefill workload bench_prefill.py has: its own name, or that name at another head
# dim as attn-tune derives it.
PREFILL_NAME = re.compile(r"^\([a-i]\) [^\[]*( \[D [0-9]+\])?$")
# bf16 rounds to 2^-8 relative; a kernel further off than this is wrong, not slow.
MAX_ERROR = 2e-2
# Seconds a candidate takes on an H100 (process start, inputs, warm-up and timing of
# its workloads), from the run of 2026-11-24: 5 prefill candidates in 72 s, 8 decode
# candidates of 3 workloads in 51 s. A split candidate is timed as a decode kernel.
SECONDS = {"prefill": 15.0, "decode": 7.0, "split": 7.0}
EXIT_DEADLINE = 3


def kind_of(candidate):
    """prefill, decode or split."""
    if candidate.get("kind") == "split":
        return "split"
    return candidate["keys"][0]["op"]


def same_key(a, b):
    fields = ("op", "dtype", "head_dim", "group", "paged", "causal")
    return all(a.get(f) == b.get(f) for f in fields)


def gpu_facts():
    def query(field):
        try:
            return (
                subprocess.run(
                    ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                .stdout.splitlines()[0]
                .strip()
            )
        except (OSError, subprocess.CalledProcessError, IndexError):
            return "unknown"

    return {
        "gpu": query("name"),
        "driver": query("driver_version"),
        "date": datetime.date.today().isoformat(),
    }


def pack_dir(bundle_dir, bundle, candidate):
    return bundle_dir / candidate["pack"] / bundle["target"]


def parse_rows(stdout, label):
    """{workload: ms} and failures from the bench's table rows labelled `label`."""
    times, failures = {}, []
    for line in stdout.splitlines():
        match = ROW.match(line)
        if not match or match["label"].strip() != label:
            continue
        workload, rest = match["workload"].strip(), match["rest"]
        timed = TIME.match(rest)
        errors = re.findall(r"[0-9.]+e[-+][0-9]+", rest)
        if not timed:
            failures.append(line)
        elif errors and float(errors[-1]) > MAX_ERROR:
            failures.append(f"{workload}: error {errors[-1]} > {MAX_ERROR}")
        else:
            times[workload] = float(timed["ms"])
    return times, failures


def prefill_command(candidate):
    """bench_prefill.py timing `candidate`'s workloads alone, at its head dim: a
    workload derived for another head dim is the benchmark's under a longer name
    ("(a) 16 x 100-1024 [D 64]"), whose letter --workloads takes."""
    letters = "".join(sorted({name[1] for name in candidate["workloads"]}))
    return [
        sys.executable,
        str(REPO / "bench" / "bench_prefill.py"),
        "--only-ours",
        candidate["id"],
        "--head-dim",
        str(candidate["keys"][0]["head_dim"]),
        "--workloads",
        letters,
    ]


def bench_name(candidate, name):
    """The candidate's name for the workload a benchmark row calls `name`: itself, or
    the name attn-tune derived from it ("name [D 64]")."""
    for workload in candidate["workloads"]:
        if workload == name or workload.startswith(name + " ["):
            return workload
    return name


def time_candidate(bundle_dir, bundle, candidate):
    """{workload: ms} and failures of one candidate pack, from a subprocess."""
    cid = candidate["id"]
    env = dict(
        os.environ,
        ATTN_PACK_DIR=str(bundle_dir / candidate["pack"]),
        ATTN_TARGET=bundle["target"],
    )
    if kind_of(candidate) == "prefill":
        # bench_prefill.py changes the head dim alone (bf16, its layouts).
        other = [w for w in candidate["workloads"] if not PREFILL_NAME.match(w)]
        if other:
            return {}, [f"bench_prefill.py cannot time {other}"]
        command = prefill_command(candidate)
    else:
        command = [
            sys.executable,
            str(pathlib.Path(__file__).resolve()),
            str(bundle_dir),
            "--child",
            cid,
        ]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    times, failures = parse_rows(proc.stdout, cid)
    times = {bench_name(candidate, name): ms for name, ms in times.items()}
    if proc.returncode != 0:
        failures.append(f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    missing = [w for w in candidate["workloads"] if w not in times]
    if missing and not failures:
        failures.append(f"no time for {missing}")
    return times, failures


def child(bundle_dir, cid):
    """Times decode candidate `cid` (ATTN_PACK_DIR set by the parent) on its workloads
    with bench_decode's inputs and timing, one table row per workload."""
    import functools

    import torch

    import bench_decode
    from attn_kernels import reference_decode

    bundle = json.loads((bundle_dir / "candidates.json").read_text())
    candidate = next(c for c in bundle["candidates"] if c["id"] == cid)
    definitions = {w["name"]: w for w in bundle["workloads"]}
    for name in candidate["workloads"]:
        w = definitions[name]
        try:
            if not w["paged"] or any(lq != 1 for lq, _ in w["seqlens"]):
                raise ValueError("bench_decode times one paged decode step")
            # make_set and ours read these module globals.
            bench_decode.NUM_HEADS = w["num_heads"]
            bench_decode.NUM_KV_HEADS = w["num_kv_heads"]
            bench_decode.HEAD_DIM = w["head_dim"]
            bench_decode.DTYPE = {"bf16": torch.bfloat16, "f16": torch.float16}[
                w["dtype"]
            ]
            bench_decode.SCALE = w["head_dim"] ** -0.5
            lengths = [lk for _, lk in w["seqlens"]]
            kv_bytes = sum(lengths) * w["num_kv_heads"] * w["head_dim"] * 2 * 2
            num_sets = max(2, math.ceil(4 * bench_decode.L2_BYTES / kv_bytes))
            sets = [bench_decode.make_set(lengths) for _ in range(num_sets)]
            first = sets[0]
            ref, _ = reference_decode(
                first.q,
                first.k_cache,
                first.v_cache,
                first.cache_seqlens,
                first.block_table,
                softmax_scale=bench_decode.SCALE,
            )
            ref = ref.flatten(0, 1)
            out = bench_decode.ours(first).reshape(ref.shape)
            error = ((out.double() - ref).norm() / ref.norm()).item()
            ms = bench_decode.median_ms(
                [functools.partial(bench_decode.ours, s) for s in sets]
            )
            print(f"| {cid} | {name} | {ms:.3f} ms | {error:.2e} |", flush=True)
            del sets, first, ref, out
            torch.cuda.empty_cache()
        except Exception as error:  # record it and go on
            failure = " ".join(f"{type(error).__name__}: {error}".split())
            print(f"| {cid} | {name} | failed: {failure} |", flush=True)


def complete(timings, candidate):
    """Whether `candidate` has a time for each of its workloads."""
    times = timings["timings"].get(candidate["id"], {})
    return all(times.get(w, 0) > 0 for w in candidate["workloads"])


def fastest_kernel(bundle, timings, key):
    """The fastest kernel candidate of `key` timed on each of its workloads, as
    `attn-tune --ingest` chooses (least mean log time, ties to the smaller id); None
    while one that may still be timed is not (neither timed nor failed)."""
    best = None
    for c in bundle["candidates"]:
        if kind_of(c) == "split" or c["status"] != "ok":
            continue
        if not any(same_key(k, key) for k in c["keys"]):
            continue
        if not complete(timings, c):
            if c["id"] not in timings["failures"]:
                return None
            continue
        times = timings["timings"][c["id"]]
        score = sum(math.log(times[w]) for w in c["workloads"]) / len(c["workloads"])
        if best is None or (score, c["id"]) < best:
            best = (score, c["id"])
    return best and best[1]


def make_split_pack(bundle_dir, bundle, split, kernel_id):
    """Writes the pack of split candidate `split`: the files of kernel_id's pack, its
    manifest under the split's header."""
    kernel = next(c for c in bundle["candidates"] if c["id"] == kernel_id)
    source, dest = pack_dir(bundle_dir, bundle, kernel), pack_dir(
        bundle_dir, bundle, split
    )
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for f in source.iterdir():
        if f.name != "manifest.txt":
            shutil.copyfile(f, dest / f.name)
    lines = (source / "manifest.txt").read_text().splitlines(keepends=True)
    (dest / "manifest.txt").write_text(split["manifest_header"] + "".join(lines[1:]))


def check(bundle_dir, bundle):
    """Problems of the bundle (missing packs, files, workloads), as strings."""
    problems = []
    definitions = {w["name"]: w for w in bundle.get("workloads", [])}
    target = bundle["target"]
    for c in bundle["candidates"]:
        cid, kind = c["id"], kind_of(c)
        for name in c.get("workloads", []):
            if name not in definitions:
                problems.append(f"{cid}: workload '{name}' is not defined")
            elif kind == "prefill" and not PREFILL_NAME.match(name):
                problems.append(
                    f"{cid}: bench_prefill.py times only its own workloads "
                    f"(at any head dim), not '{name}'"
                )
        if not c.get("workloads"):
            problems.append(f"{cid}: no workloads")
        if kind == "split":
            if not c.get("manifest_header", "").startswith(
                f"attn-pack 1 target={target} "
            ):
                problems.append(f"{cid}: no manifest header for {target}")
            if not any(
                kind_of(k) != "split"
                and k["status"] == "ok"
                and any(same_key(x, bundle["split_key"]) for x in k["keys"])
                for k in bundle["candidates"]
            ):
                problems.append(
                    f"{cid}: no decode kernel of the split key to time it with"
                )
            continue
        if not c.get("pack"):
            continue
        manifest = pack_dir(bundle_dir, bundle, c) / "manifest.txt"
        if not manifest.is_file():
            problems.append(f"{cid}: no {manifest}")
            continue
        lines = manifest.read_text().splitlines()
        if not lines or not lines[0].startswith(f"attn-pack 1 target={target}"):
            problems.append(
                f"{cid}: {manifest} does not start with the {target} header"
            )
        for line in lines[1:]:
            if not line.strip() or line.startswith("#"):
                continue
            fields = dict(token.split("=", 1) for token in line.split())
            for key in ("ptx", "cubin"):
                if not (manifest.parent / fields.get(key, "?")).is_file():
                    problems.append(f"{cid}: {fields.get('name')}: no {key} file")
    return problems


def bundle_bytes(bundle_dir):
    return sum(f.stat().st_size for f in bundle_dir.rglob("*") if f.is_file())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=pathlib.Path, nargs="?")
    parser.add_argument(
        "--out", type=pathlib.Path, help="timings file (default <bundle>/timings.json)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="start no candidate that would end later than this",
    )
    parser.add_argument(
        "--only",
        default="prefill,decode,split",
        help="the kinds to time, comma-separated",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="check the bundle and print the plan; time nothing",
    )
    parser.add_argument("--child", metavar="CANDIDATE", help=argparse.SUPPRESS)
    parser.add_argument("--write-workloads", type=pathlib.Path, metavar="PATH")
    parser.add_argument("--write-head-dim-workloads", type=pathlib.Path, metavar="PATH")
    args = parser.parse_args()
    if args.write_workloads:
        write_workloads(args.write_workloads)
        return 0
    if args.write_head_dim_workloads:
        write_head_dim_workloads(args.write_head_dim_workloads)
        return 0
    if args.bundle is None:
        parser.error("the bundle directory is required")
    if args.child:
        child(args.bundle, args.child)
        return 0
    bundle = json.loads((args.bundle / "candidates.json").read_text())
    out = args.out or args.bundle / "timings.json"
    timings = json.loads(out.read_text()) if out.exists() else {}
    timings.setdefault("format", "attn-tune-timings 1")
    timings.setdefault("timings", {})
    timings.setdefault("failures", {})
    timings.setdefault("split_kernel", {})
    kinds = set(args.only.split(","))
    todo = [c for c in bundle["candidates"] if c.get("pack") and kind_of(c) in kinds]
    # Kernels first: the split policies run with the fastest decode kernel.
    todo.sort(key=lambda c: kind_of(c) == "split")

    if args.check:
        problems = check(args.bundle, bundle)
        for problem in problems:
            print(f"tune_harness: {problem}")
        left = [c for c in todo if not complete(timings, c)]
        counts = {k: sum(kind_of(c) == k for c in left) for k in SECONDS}
        estimate = sum(SECONDS[k] * n for k, n in counts.items())
        print(
            f"tune_harness: {args.bundle}: {bundle['target']}, "
            f"{len(bundle['candidates'])} candidates, {len(todo)} to time "
            f"({len(todo) - len(left)} timed), {bundle_bytes(args.bundle) / 2**20:.1f} MiB"
        )
        print(
            "tune_harness: left: "
            + ", ".join(f"{n} {k}" for k, n in counts.items())
            + f"; about {estimate:.0f} s on an H100 ({SECONDS} s each)"
        )
        return 1 if problems else 0

    timings.update(target=bundle["target"], **gpu_facts())
    # A run tries again what an earlier one could not time.
    for c in todo:
        if not complete(timings, c):
            timings["failures"].pop(c["id"], None)
    start = time.monotonic()
    for i, candidate in enumerate(todo, 1):
        cid, kind = candidate["id"], kind_of(candidate)
        if kind == "split":
            kernel = fastest_kernel(bundle, timings, bundle["split_key"])
            if kernel is None:
                print(
                    f"[{i}/{len(todo)}] {cid}: the decode kernels of the split key are "
                    "not all timed yet; run with decode first",
                    flush=True,
                )
                continue
            if timings["split_kernel"].get(cid) != kernel:
                timings["timings"].pop(cid, None)
                timings["failures"].pop(cid, None)
        if complete(timings, candidate):
            print(f"[{i}/{len(todo)}] {cid}: already timed", flush=True)
            continue
        elapsed = time.monotonic() - start
        if args.deadline is not None and elapsed + SECONDS[kind] > args.deadline:
            print(
                f"tune_harness: stopped at the deadline ({elapsed:.0f} s of "
                f"{args.deadline:.0f}) before {cid}; run again to go on",
                flush=True,
            )
            return EXIT_DEADLINE
        if kind == "split":
            make_split_pack(args.bundle, bundle, candidate, kernel)
            timings["split_kernel"][cid] = kernel
        times, failures = time_candidate(args.bundle, bundle, candidate)
        if failures:
            timings["failures"][cid] = failures
        if times:
            timings["timings"][cid] = times
        else:
            timings["timings"].pop(cid, None)
        # Written after each candidate, so an interrupted run resumes here.
        out.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        summary = ", ".join(f"{w.split(' ')[0]} {ms:.3f}" for w, ms in times.items())
        print(
            f"[{i}/{len(todo)} {time.monotonic() - start:.0f} s] {cid}: {summary}"
            + (f" FAILED: {failures}" if failures else ""),
            flush=True,
        )
    print(f"tune_harness: {len(timings['timings'])} candidates timed -> {out}")
    return 0


def write_workloads(path):
    """The workloads of bench_prefill.py and bench_decode.py with their lengths."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_decode
    import bench_prefill

    out = []
    for w in bench_prefill.WORKLOADS:
        rng = random.Random(0)
        prompts = [rng.randint(*w.lengths) for _ in range(w.batch)]
        seqlens = [[p - p // 2, p] if w.cached_half else [p, p] for p in prompts]
        out.append(
            dict(
                name=w.name,
                op="prefill",
                dtype="bf16",
                head_dim=bench_prefill.HEAD_DIM,
                num_heads=bench_prefill.NUM_HEADS,
                num_kv_heads=bench_prefill.NUM_KV_HEADS,
                paged=w.cached_half and w.paged,
                causal=True,
                seqlens=seqlens,
            )
        )
    for w in bench_decode.WORKLOADS:
        if w.seqlen_q > 1:
            continue  # the harness times one query per sequence (child())
        out.append(decode_workload(w.name, w.batch, w.lengths))
    dump_workloads(path, out)


def decode_workload(name, batch, lengths):
    """A paged decode workload of bench_decode's heads (one query a sequence),
    its lengths drawn as bench_decode draws them (seed 0)."""
    import bench_decode

    rng = random.Random(0)
    drawn = [rng.randint(*lengths) for _ in range(batch)]
    return dict(
        name=name,
        op="decode",
        dtype="bf16",
        head_dim=bench_decode.HEAD_DIM,
        num_heads=bench_decode.NUM_HEADS,
        num_kv_heads=bench_decode.NUM_KV_HEADS,
        paged=True,
        causal=True,
        seqlens=[[1, n] for n in drawn],
    )


def dump_workloads(path, workloads):
    path.write_text(
        json.dumps(
            {"format": "attn-tune-workloads 1", "workloads": workloads}, indent=1
        )
        + "\n"
    )


def write_head_dim_workloads(path):
    """The workloads of `attn-tune --space head-dims` (autotune/workloads_head_dims.json):
    bench_decode's 256 x 100-2048 and 1 x 32768, and the head-dim benchmark's decode
    (bench_head_dims.py's DECODE, 64 x 4096), each taken by every head dim."""
    sys.path.insert(0, str(REPO / "bench"))
    import bench_decode

    by_name = {w.name: w for w in bench_decode.WORKLOADS}
    short, single = (
        by_name["256 seqs, context 100-2048"],
        by_name["1 seq, context 32768"],
    )
    batch, keys = 64, 4096  # bench_head_dims.DECODE (that module needs a GPU torch)
    dump_workloads(
        path,
        [
            decode_workload(short.name, short.batch, short.lengths),
            decode_workload(f"{batch} seqs, context {keys}", batch, (keys, keys)),
            decode_workload(single.name, single.batch, single.lengths),
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
