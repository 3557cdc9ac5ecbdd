"""nano-vllm end to end on our kernels: third_party/nano-vllm, unmodified, imports
flash_attn from python/flash_attn_shim (attn_kernels) and runs a random-weight
Qwen3-0.6B (scripts/e2e/make_random_qwen3.py), in eager mode or with CUDA graphs.

Backends: ours (libattnrt, ATTN_BACKEND=attn: no silent fallback), torch (the torch
backend, ATTN_BACKEND=torch) and seed (the seed plan's per-sequence SDPA loop,
scripts/e2e/seed_shim; eager only). A CUDA-graph run captures one backend, the one
named first; an eager run switches between them by rebinding the two names nano-vllm's
attention module imported from flash_attn (nano-vllm's code is not touched).

Phases (--phases, in this order):
  prefix       a long prompt, then the same prompt and a second one sharing its prefix:
               counts the prefills that read the paged cache (prefix-cache hits) and
               checks the repeated prompt generates the same (near-greedy) tokens
  logits       eager only: every model step runs on the torch backend and then on ours,
               same inputs and cache; the relative error of the next-token logits and
               the agreement of their argmax, per step kind (prefill, prefill over a
               cached prefix, decode)
  bench-small  the first --small-seqs (16) sequences of bench.py's workload, for every
               backend given (the seed plan is too slow for the full workload); a run
               still going after --small-deadline seconds is stopped and its rate so
               far reported
  bench        bench.py's workload: 256 sequences, input and output lengths random in
               100-1024 (seed 0), throughput = output tokens / time, as bench.py
Every result is appended to OUT/results.jsonl (and to --ledger) as it comes, and
OUT/nanovllm_e2e.md is rewritten from all of them, the ledger's where given (so runs in
separate processes, or separate calls to a GPU machine, add up).

    python3 scripts/e2e/run_nanovllm.py --model /tmp/qwen3-random --out OUT \\
        --mode eager --backends ours,torch,seed --phases prefix,logits,bench-small
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import random
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [
    str(ROOT / "python" / "flash_attn_shim"),
    str(ROOT / "python"),
    str(ROOT / "third_party" / "nano-vllm"),
]
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import attn_kernels  # noqa: E402
import nanovllm.layers.attention as nano_attention  # noqa: E402
from nanovllm import LLM, SamplingParams  # noqa: E402
from nanovllm.engine import model_runner  # noqa: E402
from nanovllm.engine.block_manager import BlockManager  # noqa: E402
from nanovllm.engine.sequence import Sequence  # noqa: E402
from nanovllm.utils.context import get_context  # noqa: E402

PHASES = ("prefix", "logits", "bench-small", "bench")


def load_seed_shim():
    """scripts/e2e/seed_shim/flash_attn as a module of another name (the name
    flash_attn is ours)."""
    path = ROOT / "scripts" / "e2e" / "seed_shim" / "flash_attn" / "__init__.py"
    spec = importlib.util.spec_from_file_location("seed_flash_attn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Attention:
    """What nano-vllm's attention module calls: counts the calls by kind and forwards
    them to the current backend."""

    def __init__(self, ours_env):
        self.ours_env = ours_env
        self.seed = load_seed_shim()
        self.backend = None
        self.counts = {"prefill": 0, "prefill over a cached prefix": 0, "decode": 0}
        # With watch_prefix: the cached keys of the prefills over a cached prefix,
        # read back from cu_seqlens (a host sync, so only where asked for).
        self.watch_prefix = False
        self.cached_tokens = 0
        nano_attention.flash_attn_varlen_func = self.varlen
        nano_attention.flash_attn_with_kvcache = self.kvcache

    def use(self, backend):
        self.backend = backend
        if backend == "ours":
            os.environ["ATTN_BACKEND"] = self.ours_env
        elif backend == "torch":
            os.environ["ATTN_BACKEND"] = "torch"

    def _module(self):
        return self.seed if self.backend == "seed" else attn_kernels

    def varlen(self, *args, **kwargs):
        if kwargs.get("block_table") is not None:
            self.counts["prefill over a cached prefix"] += 1
            if self.watch_prefix:
                keys = kwargs["cu_seqlens_k"][-1] - kwargs["cu_seqlens_q"][-1]
                self.cached_tokens = max(self.cached_tokens, int(keys))
        else:
            self.counts["prefill"] += 1
        return self._module().flash_attn_varlen_func(*args, **kwargs)

    def kvcache(self, *args, **kwargs):
        self.counts["decode"] += 1
        return self._module().flash_attn_with_kvcache(*args, **kwargs)


def reset(llm):
    """Drops every sequence and the prefix cache: phases share no cached blocks."""
    scheduler = llm.scheduler
    scheduler.waiting.clear()
    scheduler.running.clear()
    old = scheduler.block_manager
    scheduler.block_manager = BlockManager(len(old.blocks), old.block_size)


def generate(llm, prompts, params, deadline=None):
    """LLMEngine.generate's loop on token-id prompts, without tqdm, stopping after
    `deadline` seconds: (the sequences, seconds, whether all finished)."""
    seqs = [Sequence(prompt, sp) for prompt, sp in zip(prompts, params, strict=True)]
    for seq in seqs:
        llm.scheduler.add(seq)
    start = time.perf_counter()
    while not llm.is_finished():
        llm.step()  # ends with the sampled tokens read back: synchronised
        if deadline is not None and time.perf_counter() - start > deadline:
            break
    seconds = time.perf_counter() - start
    finished = llm.is_finished()
    if not finished:
        reset(llm)
    return seqs, seconds, finished


def bench_workload():
    """bench.py's prompts and sampling parameters, drawn in its order with its seed."""
    rng = random.Random(0)
    prompts = [
        [rng.randint(0, 10000) for _ in range(rng.randint(100, 1024))]
        for _ in range(256)
    ]
    params = [
        SamplingParams(
            temperature=0.6, ignore_eos=True, max_tokens=rng.randint(100, 1024)
        )
        for _ in range(256)
    ]
    return prompts, params


def near_greedy(max_tokens):
    # nano-vllm refuses temperature 0; at 1e-5 the softmax is one-hot in float32.
    return SamplingParams(temperature=1e-5, ignore_eos=True, max_tokens=max_tokens)


def phase_prefix(llm, attention, backend):
    rng = random.Random(7)
    prefix = [rng.randint(0, 10000) for _ in range(1000)]
    first = prefix + [rng.randint(0, 10000) for _ in range(50)]
    second = prefix + [rng.randint(0, 10000) for _ in range(70)]
    reset(llm)
    (alone,), _, _ = generate(llm, [first], [near_greedy(32)])
    hits = attention.counts["prefill over a cached prefix"]
    attention.watch_prefix, attention.cached_tokens = True, 0
    try:
        (again, other), seconds, _ = generate(
            llm, [first, second], [near_greedy(32), near_greedy(32)]
        )
    finally:
        attention.watch_prefix = False
    tokens, repeated = alone.completion_token_ids, again.completion_token_ids
    diverge = next(
        (i for i, (x, y) in enumerate(zip(tokens, repeated, strict=True)) if x != y),
        None,
    )
    layers = llm.model_runner.config.hf_config.num_hidden_layers
    calls = attention.counts["prefill over a cached prefix"] - hits
    return {
        "paged_prefill_steps": calls // layers,
        "cached_tokens": attention.cached_tokens,
        "same_tokens": diverge is None,
        "first_difference": diverge,
        "tokens": len(tokens),
        "second_prompt_tokens": len(other.completion_token_ids),
        "seconds": seconds,
    }


def phase_logits(llm, attention, steps):
    """Runs prompts with every model step computed by both backends (torch first, ours
    last, so the cache holds ours' keys); records the logits' differences."""
    original = model_runner.ModelRunner.run_model
    records = []

    def both(self, input_ids, positions, is_prefill):
        context = get_context()
        if not is_prefill:
            kind = "decode"
        elif context.block_tables is not None:
            kind = "prefill over a cached prefix"
        else:
            kind = "prefill"
        attention.use("torch")
        reference = original(self, input_ids, positions, is_prefill).float()
        attention.use("ours")
        logits = original(self, input_ids, positions, is_prefill)
        diff = (logits.float() - reference).norm(dim=-1) / reference.norm(dim=-1)
        same = logits.float().argmax(-1) == reference.argmax(-1)
        records.append(
            (kind, diff.max().item(), diff.mean().item(), same.float().mean().item())
        )
        return logits

    rng = random.Random(11)
    prompts = [
        [rng.randint(0, 10000) for _ in range(rng.randint(100, 1024))] for _ in range(8)
    ]
    # Then two that share 600 tokens (two full pages) with the first: prefix-cache hits.
    shared = [
        prompts[0][:600] + [rng.randint(0, 10000) for _ in range(n)] for n in (40, 90)
    ]
    model_runner.ModelRunner.run_model = both
    try:
        reset(llm)
        generate(llm, prompts, [near_greedy(steps)] * len(prompts))
        generate(llm, shared, [near_greedy(steps)] * len(shared))
    finally:
        model_runner.ModelRunner.run_model = original
        attention.use("ours")
    summary = {}
    for kind in ("prefill", "prefill over a cached prefix", "decode"):
        rows = [r for r in records if r[0] == kind]
        if rows:
            summary[kind] = {
                "steps": len(rows),
                "max_rel_error": max(r[1] for r in rows),
                "mean_rel_error": sum(r[2] for r in rows) / len(rows),
                "argmax_agreement": sum(r[3] for r in rows) / len(rows),
            }
    return {"per_kind": summary, "decode_steps_per_prompt": steps - 1}


def phase_bench(llm, prompts, params, deadline):
    reset(llm)
    seqs, seconds, finished = generate(llm, prompts, params, deadline)
    tokens = sum(seq.num_completion_tokens for seq in seqs)
    return {
        "sequences": len(prompts),
        "input_tokens": sum(len(p) for p in prompts),
        "output_tokens": tokens,
        "seconds": seconds,
        "throughput": tokens / seconds,
        "complete": finished,
    }


def environment():
    try:
        driver = (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.split("\n")[0]
            .strip()
        )
    except (OSError, subprocess.CalledProcessError):
        driver = "unknown"
    commit = ROOT / "third_party" / "nano-vllm" / "COMMIT"
    return {
        "gpu": torch.cuda.get_device_name(),
        "driver": driver,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "nano_vllm": commit.read_text().strip()[:12] if commit.exists() else "unknown",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "attn_target": os.environ.get("ATTN_TARGET", "native"),
    }


def record(args, result):
    """Appends `result` to OUT/results.jsonl and to the ledger, and writes
    OUT/nanovllm_e2e.md from every result in the ledger (or in OUT without one)."""
    args.out.mkdir(parents=True, exist_ok=True)
    line = json.dumps(result) + "\n"
    with open(args.out / "results.jsonl", "a") as file:
        file.write(line)
    source = args.out / "results.jsonl"
    if args.ledger is not None:
        args.ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(args.ledger, "a") as file:
            file.write(line)
        source = args.ledger
    results = [json.loads(text) for text in open(source)]
    write_report(args.out / "nanovllm_e2e.md", results)
    print(f"run_nanovllm: {line.strip()}", flush=True)


def write_report(path, results):
    env = results[-1]["env"]
    lines = [
        "# nano-vllm end to end: random-weight Qwen3-0.6B",
        "",
        f"- GPU: {env['gpu']}, driver {env['driver']}; torch {env['torch']} "
        f"(CUDA {env['cuda']}); kernels: {env['attn_target']}",
        f"- nano-vllm {env['nano_vllm']}, unmodified, through python/flash_attn_shim",
        f"- date: {env['date']}",
        "",
        "Backends: ours = libattnrt (ATTN_BACKEND=attn); torch = attn_kernels' torch "
        "backend (ATTN_BACKEND=torch); seed = the seed plan's per-sequence SDPA loop "
        "(scripts/e2e/seed_shim, eager only).",
        "",
    ]
    bench = [r for r in results if r["phase"] in ("bench", "bench-small")]
    if bench:
        lines += [
            "## Throughput",
            "",
            "| workload | mode | backend | sequences | output tokens | seconds "
            "| output tokens/s | vs ours |",
            "|---|---|---|---|---|---|---|---|",
        ]
        ours = {
            (r["phase"], r["mode"]): r["throughput"]
            for r in bench
            if r["backend"] == "ours"
        }
        for r in bench:
            base = ours.get((r["phase"], r["mode"]))
            ratio = f"{r['throughput'] / base:.3f}x" if base else "-"
            workload = r["workload"] + (
                "" if r["complete"] else " (stopped at deadline)"
            )
            lines.append(
                f"| {workload} | {r['mode']} | {r['backend']} | {r['sequences']} "
                f"| {r['output_tokens']} | {r['seconds']:.1f} | {r['throughput']:.0f} "
                f"| {ratio} |"
            )
        lines.append("")
    prefix = [r for r in results if r["phase"] == "prefix"]
    if prefix:
        lines += [
            "## Prefix-cache hits",
            "",
            "A 1050-token prompt, then it again with a 1070-token one sharing its "
            "first 1000 tokens, 32 near-greedy tokens each.",
            "",
            "| mode | backend | prefill steps over a cached prefix "
            "| cached keys in the batch | repeated prompt, same tokens |",
            "|---|---|---|---|---|",
        ]
        for r in prefix:
            same = (
                "yes" if r["same_tokens"] else f"no, from token {r['first_difference']}"
            )
            lines.append(
                f"| {r['mode']} | {r['backend']} | {r['paged_prefill_steps']} "
                f"| {r['cached_tokens']} | {same} |"
            )
        lines.append("")
    for r in (r for r in results if r["phase"] == "logits"):
        lines += [
            "## Next-token logits: ours against the torch backend",
            "",
            f"8 prompts of 100-1024 tokens and 2 sharing 600 tokens with the first, "
            f"{r['decode_steps_per_prompt']} decode steps each; every step computed by "
            "both backends on the same inputs and cache. Error: ||ours - torch|| / "
            "||torch|| per row of logits.",
            "",
            "| step | steps | max error | mean error | argmax agreement |",
            "|---|---|---|---|---|",
        ]
        for kind, s in r["per_kind"].items():
            lines.append(
                f"| {kind} | {s['steps']} | {s['max_rel_error']:.2e} "
                f"| {s['mean_rel_error']:.2e} | {s['argmax_agreement']:.3f} |"
            )
        lines.append("")
    path.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=pathlib.Path, required=True)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    parser.add_argument(
        "--ledger",
        type=pathlib.Path,
        help="a results.jsonl kept across runs (and calls); the report covers it all",
    )
    parser.add_argument("--mode", choices=("eager", "graph"), required=True)
    parser.add_argument("--backends", default="ours,torch")
    parser.add_argument("--phases", default="prefix,bench")
    parser.add_argument("--ours-env", default="attn", help="ATTN_BACKEND for ours")
    parser.add_argument("--logits-steps", type=int, default=8)
    parser.add_argument("--small-seqs", type=int, default=16)
    parser.add_argument("--small-max-tokens", type=int, default=1024)
    parser.add_argument("--deadline", type=float, default=300.0, help="s per bench run")
    parser.add_argument(
        "--small-deadline", type=float, default=180.0, help="s per bench-small run"
    )
    args = parser.parse_args()
    backends = args.backends.split(",")
    phases = args.phases.split(",")
    for name in backends:
        if name not in ("ours", "torch", "seed"):
            parser.error(f"--backends: unknown backend {name!r}")
    for name in phases:
        if name not in PHASES:
            parser.error(f"--phases: unknown phase {name!r}")
    if args.mode == "graph" and "seed" in backends:
        parser.error("the seed plan reads the device from the host: eager mode only")
    if args.mode == "graph" and "logits" in phases:
        parser.error("the logits phase switches backends per step: eager mode only")
    if "logits" in phases and backends[0] != "ours":
        parser.error("the logits phase compares ours with torch: name ours first")

    env = environment()
    attention = Attention(args.ours_env)
    attention.use(backends[0])
    start = time.perf_counter()
    llm = LLM(str(args.model), enforce_eager=args.mode == "eager", max_model_len=4096)
    llm.generate(["Benchmark: "], SamplingParams(), use_tqdm=False)  # as bench.py
    print(f"run_nanovllm: engine up in {time.perf_counter() - start:.0f} s", flush=True)
    # A graph run keeps the backend it captured; an eager one may switch.
    switchable = backends if args.mode == "eager" else backends[:1]
    base = {"mode": args.mode, "env": env}
    for phase in phases:
        if phase == "logits":
            result = phase_logits(llm, attention, args.logits_steps)
            record(args, {**base, "phase": phase, "backend": "ours vs torch", **result})
            continue
        for backend in switchable:
            if backend == "seed" and phase != "bench-small":
                continue
            attention.use(backend)
            row = {**base, "phase": phase, "backend": backend}
            if phase == "prefix":
                record(args, {**row, **phase_prefix(llm, attention, backend)})
                continue
            prompts, params = bench_workload()
            workload, deadline = "bench.py", args.deadline
            if phase == "bench-small":
                deadline = args.small_deadline
                prompts, params = prompts[: args.small_seqs], params[: args.small_seqs]
                for sp in params:
                    sp.max_tokens = min(sp.max_tokens, args.small_max_tokens)
                workload = f"bench.py's first {args.small_seqs}"
                if args.small_max_tokens < 1024:
                    workload += f", outputs <= {args.small_max_tokens}"
            result = phase_bench(llm, prompts, params, deadline)
            record(args, {**row, "workload": workload, **result})
    print(f"run_nanovllm: calls by kind {attention.counts}", flush=True)


if __name__ == "__main__":
    main()
