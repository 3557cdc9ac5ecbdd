"""Times every candidate pack of an attn-tune bundle on the benchmark workloads.

For each candidate of <bundle>/candidates.json that has a pack, runs
bench_prefill.py or bench_decode.py --only-ours in a subprocess with ATTN_PACK_DIR at
the candidate's pack (CUDA events, median of many runs, input sets rotated and together
larger than the L2), and writes <bundle>/timings.json, which `attn-tune --ingest`
reads. Resumable: candidates already in timings.json are skipped. From the repository
root, with the runtime built:

    PYTHONPATH=python:bench python3 bench/tune_harness.py build/tune_bundle

`--write-workloads PATH` instead writes the benchmark workloads (autotune/workloads.json).
"""

import argparse
import datetime
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| (?P<label>[^|]+) \| (?P<workload>[^|]+) \| (?P<ms>[0-9.]+) ms \|")


def gpu_facts():
    def query(field):
        try:
            return subprocess.run(
                ["nvidia-smi", f"--query-gpu={field}", "--format=csv,noheader"],
                capture_output=True, text=True, check=True,
            ).stdout.splitlines()[0].strip()
        except (OSError, subprocess.CalledProcessError, IndexError):
            return "unknown"

    return {"gpu": query("name"), "driver": query("driver_version"),
            "date": datetime.date.today().isoformat()}


def time_candidate(bundle, candidate, target):
    """{workload: ms} of one candidate pack, from a bench subprocess."""
    script = "bench_prefill.py" if candidate["id"].startswith("prefill") else "bench_decode.py"
    env = dict(os.environ, ATTN_PACK_DIR=str(bundle / candidate["pack"]), ATTN_TARGET=target)
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--only-ours", candidate["id"]],
        env=env, capture_output=True, text=True,
    )
    times, failures = {}, []
    for line in proc.stdout.splitlines():
        match = ROW.match(line)
        if match and match["label"].strip() == candidate["id"]:
            times[match["workload"].strip()] = float(match["ms"])
        elif line.startswith(f"| {candidate['id']} |"):
            failures.append(line)
    if proc.returncode != 0:
        failures.append(f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}")
    return times, failures


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
        out.append(dict(name=w.name, op="prefill", dtype="bf16", head_dim=bench_prefill.HEAD_DIM,
                        num_heads=bench_prefill.NUM_HEADS,
                        num_kv_heads=bench_prefill.NUM_KV_HEADS,
                        paged=w.cached_half and w.paged, causal=True, seqlens=seqlens))
    for w in bench_decode.WORKLOADS:
        rng = random.Random(0)
        lengths = [rng.randint(*w.lengths) for _ in range(w.batch)]
        out.append(dict(name=w.name, op="decode", dtype="bf16", head_dim=bench_decode.HEAD_DIM,
                        num_heads=bench_decode.NUM_HEADS,
                        num_kv_heads=bench_decode.NUM_KV_HEADS, paged=True, causal=True,
                        seqlens=[[1, n] for n in lengths]))
    path.write_text(json.dumps({"format": "attn-tune-workloads 1", "workloads": out}, indent=1)
                    + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=pathlib.Path, nargs="?")
    parser.add_argument("--out", type=pathlib.Path,
                        help="timings file (default <bundle>/timings.json)")
    parser.add_argument("--write-workloads", type=pathlib.Path, metavar="PATH")
    args = parser.parse_args()
    if args.write_workloads:
        write_workloads(args.write_workloads)
        return
    if args.bundle is None:
        parser.error("the bundle directory is required")
    bundle = json.loads((args.bundle / "candidates.json").read_text())
    out = args.out or args.bundle / "timings.json"
    timings = json.loads(out.read_text()) if out.exists() else {}
    timings.setdefault("format", "attn-tune-timings 1")
    timings.update(target=bundle["target"], **gpu_facts())
    timings.setdefault("timings", {})
    timings.setdefault("failures", {})
    todo = [c for c in bundle["candidates"] if c.get("pack")]
    start = time.monotonic()
    for i, candidate in enumerate(todo, 1):
        cid = candidate["id"]
        if cid in timings["timings"]:
            print(f"[{i}/{len(todo)}] {cid}: already timed", flush=True)
            continue
        times, failures = time_candidate(args.bundle, candidate, bundle["target"])
        if failures:
            timings["failures"][cid] = failures
        if times:
            timings["timings"][cid] = times
        # Written after each candidate, so an interrupted run resumes here.
        out.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
        summary = ", ".join(f"{w.split(' ')[0]} {ms:.3f}" for w, ms in times.items())
        print(f"[{i}/{len(todo)} {time.monotonic() - start:.0f} s] {cid}: {summary}"
              + (f" FAILED: {failures}" if failures else ""), flush=True)
    print(f"tune_harness: {len(timings['timings'])} candidates timed -> {out}")


if __name__ == "__main__":
    main()
