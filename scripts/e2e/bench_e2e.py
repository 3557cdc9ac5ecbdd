"""nano-vllm's bench.py end to end, unmodified, on our kernels, the peer shim and null
attention, interleaved, with CUDA graphs and eager; medians, spread, a torch.profiler
breakdown and the floor.

    python3 scripts/e2e/bench_e2e.py run --mode graph --rounds 3 --out OUT \\
        [--backends ours,peer,null] [--profile] [--no-warmup]
    python3 scripts/e2e/bench_e2e.py report OUT/*.jsonl --out results.md

run: on the GPU machine, from the repository root. Needs third_party/nano-vllm (its
newest upstream, `scripts/e2e/fetch_nanovllm.sh`; git-ignored), third_party/peers (a
copy of the shared peers folder: the peer and null `flash_attn` shims and the Triton
decode peer; git-ignored), nano-vllm's dependencies importable (scripts/gpu_e2e.sh
installs .whl/e2e into /tmp/site) and the random-weight model (made once by
scripts/e2e/make_random_qwen3.py into $E2E_MODEL, default /tmp/attn_e2e/qwen3-random).
Each run is a fresh process: `python3 scripts/e2e/bench_run.py` runs bench.py with
HOME pointing at a folder whose huggingface/Qwen3-0.6B is the model, and PYTHONPATH
starting with the backend's flash_attn:
  ours  python/flash_attn_shim (attn_kernels on libattnrt, ATTN_BACKEND=attn)
  peer  torch's FA2 for prefill + the Triton split-KV decode peer
  null  zeros, nothing read: nano-vllm's throughput if attention cost nothing
A discarded warm-up run comes first (the first process on a machine also pays
nano-vllm's cold torch.compile work); then --rounds rounds, each running every backend
once, the order rotated from round to round. --profile adds one profiled run per
backend but null (not counted in the throughput) that sums GPU kernel time by name. Results go
to OUT/e2e_<mode>.jsonl, one line per run, and the report is written too.

report: the markdown table from one or more JSONL files (runs of separate calls add
up): median output tokens/s and min-max per backend and mode, ours / peer, the floor
(null attention's median time plus the run's KV-cache bytes at the copy bandwidth
measured in the same call) and the kernel-time breakdown.
"""

import argparse
import datetime
import json
import os
import pathlib
import random
import re
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
NANOVLLM = ROOT / "third_party" / "nano-vllm"
PEERS = ROOT / "third_party" / "peers"
BACKEND_PATHS = {
    "ours": [ROOT / "python" / "flash_attn_shim", ROOT / "python"],
    "peer": [PEERS / "e2e" / "peer"],
    "null": [PEERS / "e2e" / "null"],
}
# Kernels that are attention (ours, torch's FA2, the Triton peer's two stages).
ATTENTION = re.compile(r"^attn_|flash_fwd|flash::|_stage1|_stage2")
THROUGHPUT = re.compile(r"Total: (\d+)tok, Time: ([\d.]+)s, Throughput: ([\d.]+)tok/s")

# Qwen3-0.6B: layers, KV heads, head dim; bf16 K and V.
LAYERS, KV_HEADS, ELEMENT = 28, 8, 2


def workload():
    """bench.py's (prompt length, output length) pairs: its random calls, in order."""
    random.seed(0)
    prompts = [
        len([random.randint(0, 10000) for _ in range(random.randint(100, 1024))])
        for _ in range(256)
    ]
    outputs = [random.randint(100, 1024) for _ in range(256)]
    return list(zip(prompts, outputs))


def kv_bytes(model):
    """K/V bytes attention reads in bench.py's timed run: each prompt's keys once in
    prefill, then decode step j of a sequence reads its prompt + j keys (the head_dim
    of the model's config.json)."""
    head_dim = json.loads((pathlib.Path(model) / "config.json").read_text())["head_dim"]
    tokens = 0
    for prompt, output in workload():
        tokens += prompt + sum(prompt + j for j in range(1, output))
    return tokens * 2 * KV_HEADS * head_dim * ELEMENT * LAYERS


def copy_bandwidth():
    """Device-to-device copy bandwidth (bytes read + written per second), in a child
    process so this one never holds the GPU."""
    code = (
        "import torch\n"
        "x = torch.empty(1 << 30, dtype=torch.uint8, device='cuda'); y = torch.empty_like(x)\n"
        "for _ in range(3): y.copy_(x)\n"
        "s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)\n"
        "s.record()\n"
        "for _ in range(20): y.copy_(x)\n"
        "e.record(); torch.cuda.synchronize()\n"
        "print(2 * 20 * x.numel() / (s.elapsed_time(e) / 1e3))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(result.stdout.split()[-1])


def model_home(model):
    """A HOME whose ~/huggingface/Qwen3-0.6B/ is the model (bench.py's path)."""
    home = pathlib.Path("/tmp/attn_e2e/home")
    link = home / "huggingface" / "Qwen3-0.6B"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(pathlib.Path(model).resolve(), target_is_directory=True)
    return home


def one_run(backend, mode, home, out, profile=False, timeout=600):
    """bench.py once in a fresh process; returns the run's record."""
    env = dict(os.environ)
    paths = [str(p) for p in BACKEND_PATHS[backend]] + [str(NANOVLLM)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env.update(
        PYTHONPATH=":".join(paths),
        HOME=str(home),
        ATTN_BACKEND="attn",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        str(ROOT / "scripts" / "e2e" / "bench_run.py"),
        "--bench",
        str(NANOVLLM / "bench.py"),
        "--mode",
        mode,
    ]
    profile_path = None
    if profile:
        profile_path = out / f"profile_{mode}_{backend}.json"
        command += ["--profile", str(profile_path)]
    start = time.time()
    result = subprocess.run(
        command, cwd=NANOVLLM, env=env, capture_output=True, text=True, timeout=timeout
    )
    record = dict(
        backend=backend,
        mode=mode,
        profiled=profile,
        wall_s=round(time.time() - start, 1),
    )
    match = THROUGHPUT.search(result.stdout)
    if result.returncode != 0 or match is None:
        record["error"] = (result.stdout + result.stderr)[-2000:]
        return record
    record.update(
        tokens=int(match.group(1)),
        time_s=float(match.group(2)),
        throughput=float(match.group(3)),
    )
    if profile_path is not None:
        kernels = json.loads(profile_path.read_text())
        total = sum(seconds for seconds, _ in kernels.values())
        attention = {
            name: value for name, value in kernels.items() if ATTENTION.search(name)
        }
        record.update(
            kernel_s=round(total, 4),
            attention_s=round(sum(s for s, _ in attention.values()), 4),
            top_attention=sorted(attention.items(), key=lambda x: -x[1][0])[:6],
        )
    return record


def run(options):
    model = os.environ.get("E2E_MODEL", "/tmp/attn_e2e/qwen3-random")
    for need in (NANOVLLM / "bench.py", PEERS / "e2e", pathlib.Path(model)):
        if not need.exists():
            sys.exit(f"bench_e2e: missing {need} (see this script's docstring)")
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    ledger = out / f"e2e_{options.mode}.jsonl"
    home = model_home(model)
    backends = options.backends.split(",")
    meta = dict(
        kind="meta",
        mode=options.mode,
        copy_bytes_per_s=copy_bandwidth(),
        kv_bytes=kv_bytes(model),
        date=str(datetime.date.today()),
        gpu=subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        ).stdout.strip(),
    )
    print(json.dumps(meta), flush=True)

    def record(entry):
        print(json.dumps(entry), flush=True)
        with ledger.open("a") as f:
            f.write(json.dumps(entry) + "\n")

    record(meta)
    if not options.no_warmup:
        warm = one_run(backends[0], options.mode, home, out)
        warm["warmup"] = True
        record(warm)
    for r in range(options.rounds):
        order = backends[r % len(backends) :] + backends[: r % len(backends)]
        for backend in order:
            record(one_run(backend, options.mode, home, out))
    if options.profile:  # null attention has no attention kernels to profile
        for backend in backends:
            if backend != "null":
                record(one_run(backend, options.mode, home, out, profile=True))
    report_files([ledger], out / f"e2e_{options.mode}.md")


def report_files(paths, destination):
    rows = [
        json.loads(line)
        for p in paths
        for line in pathlib.Path(p).read_text().splitlines()
        if line.strip()
    ]
    metas = [r for r in rows if r.get("kind") == "meta"]
    runs = [
        r
        for r in rows
        if r.get("kind") != "meta"
        and not r.get("warmup")
        and "throughput" in r
        and not r.get("profiled")
    ]
    errors = [r for r in rows if "error" in r]
    lines = [
        f"# nano-vllm bench.py end to end: {metas[0]['gpu'] if metas else '?'}, "
        f"{metas[0]['date'] if metas else '?'}",
        "",
        "`scripts/e2e/bench_e2e.py`: nano-vllm's newest upstream bench.py, unmodified "
        "(256 sequences, prompts and outputs of 100-1024 tokens, random-weight "
        "Qwen3-0.6B), one fresh process per run, backends interleaved (order rotated "
        "per round) after a discarded warm-up run. Output tokens/s: median "
        "(min-max, runs).",
        "",
    ]
    for mode in ("graph", "eager"):
        mode_runs = [r for r in runs if r["mode"] == mode]
        if not mode_runs:
            continue
        meta = next((m for m in metas if m["mode"] == mode), metas[0])
        by = {}
        for r in mode_runs:
            by.setdefault(r["backend"], []).append(r)
        medians = {
            b: statistics.median(x["throughput"] for x in v) for b, v in by.items()
        }
        title = "CUDA graphs" if mode == "graph" else "eager"
        lines += [
            f"## {title}",
            "",
            "| backend | output tokens/s | time s | / peer |",
            "|---|---|---|---|",
        ]
        for backend, values in sorted(by.items()):
            t = [x["throughput"] for x in values]
            s = [x["time_s"] for x in values]
            ratio = (
                f"{medians[backend] / medians['peer']:.3f}x"
                if "peer" in medians
                else "-"
            )
            lines.append(
                f"| {backend} | {statistics.median(t):,.0f} ({min(t):,.0f}-"
                f"{max(t):,.0f}, {len(t)}) | {statistics.median(s):.2f} | "
                f"{ratio} |"
            )
        if "null" in by:
            null_time = statistics.median(x["time_s"] for x in by["null"])
            # Decode reads K/V at the copy rate (bytes read + written per second, as
            # the decode benchmarks' percentages of copy bandwidth count it).
            kv_time = meta["kv_bytes"] / meta["copy_bytes_per_s"]
            tokens = by["null"][0]["tokens"]
            floor = tokens / (null_time + kv_time)
            lines += [
                "",
                f"Floor: null attention's {null_time:.2f} s + "
                f"{meta['kv_bytes'] / 1e12:.2f} TB of K/V at the measured copy "
                f"bandwidth ({meta['copy_bytes_per_s'] / 1e12:.2f} TB/s) = "
                f"{kv_time:.2f} s: {floor:,.0f} output tokens/s.",
            ]
            lines.append(
                "Of the floor: "
                + ", ".join(
                    f"{b} {medians[b] / floor:.1%}"
                    for b in sorted(medians)
                    if b != "null"
                )
                + "."
            )
        profiled = [
            r
            for r in rows
            if r.get("profiled") and r["mode"] == mode and "attention_s" in r
        ]
        if profiled:
            lines += [
                "",
                "Profiled run (torch.profiler, not counted above): GPU kernel "
                "time of the timed generate call.",
                "",
                "| backend | all kernels s | attention kernels s | other s | "
                "top attention kernels (s, launches) |",
                "|---|---|---|---|---|",
            ]
            for r in profiled:
                top = "; ".join(
                    f"{n[:48]} {v[0]:.2f} ({v[1]})" for n, v in r["top_attention"][:3]
                )
                lines.append(
                    f"| {r['backend']} | {r['kernel_s']:.2f} | "
                    f"{r['attention_s']:.2f} | "
                    f"{r['kernel_s'] - r['attention_s']:.2f} | {top} |"
                )
        lines.append("")
    if errors:
        lines += ["## Failed runs", ""]
        lines += [
            f"- {r['backend']} {r['mode']}: `{r['error'][-300:]!r}`" for r in errors
        ]
    destination.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--mode", choices=("graph", "eager"), required=True)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--backends", default="ours,peer,null")
    r.add_argument("--out", type=pathlib.Path, required=True)
    r.add_argument("--profile", action="store_true")
    r.add_argument("--no-warmup", action="store_true")
    p = sub.add_parser("report")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", type=pathlib.Path, required=True)
    options = parser.parse_args()
    if options.command == "run":
        run(options)
    else:
        report_files(options.files, options.out)


if __name__ == "__main__":
    main()
