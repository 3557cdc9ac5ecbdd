"""Cold-start times on the GPU machine: "pip install to first generated token" for
nano-vllm on our wheels, and FlashAttention-4's first-call compile time.

  nanovllm  started by scripts/gpu_wheel.sh right after it pip-installed the wheels into
            a clean target: imports torch, flash_attn (our shim, from the wheels: the
            script checks that nothing comes from the checkout) and nano-vllm, builds the
            LLM (model load, warm-up, CUDA graph capture unless --eager) and generates
            from one prompt, timing each stage from --t0 (the start of the pip install,
            epoch seconds); with --bench, then bench.py's workload (256 sequences) on the
            same engine, as scripts/e2e/run_nanovllm.py runs it
  fa4       FlashAttention-4 (flash_attn.cute, ../shared/peers/fa4) in nano-vllm's shapes:
            the import, then the first and the second call of a varlen prefill and of a
            paged decode, each synchronised (the first call compiles with the CuTe DSL)

Each run appends a JSON line to OUT/first_token.jsonl and rewrites OUT/first_token.md from
all of them.

    python3 scripts/e2e/first_token.py nanovllm --t0 T --out OUT --model M --label cold
    python3 scripts/e2e/first_token.py fa4 --out OUT --label "cache off"
"""

import argparse
import datetime
import json
import os
import pathlib
import random
import sys
import time

STARTED = time.time()  # the interpreter's start-up and the lines above count as such

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Qwen3-0.6B's attention, as nano-vllm calls it: bf16, Hq 16, Hkv 8, D 128, page 256.
HEADS, KV_HEADS, HEAD_DIM, PAGE_SIZE = 16, 8, 128, 256


def synchronized_seconds(torch, run):
    torch.cuda.synchronize()
    start = time.perf_counter()
    run()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def environment(torch):
    return {
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": sys.version.split()[0],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    }


def outside_checkout(module):
    """Raises unless `module` was imported from outside the repository."""
    path = pathlib.Path(module.__file__).resolve()
    if ROOT in path.parents:
        raise SystemExit(
            f"first_token: {module.__name__} comes from the checkout: {path}"
        )
    return str(path.parent)


def run_nanovllm(args):
    times = {
        "pip_install": args.pip_end - args.t0,
        "interpreter": STARTED - args.pip_end,
    }
    mark = time.time()

    def stage(name):
        nonlocal mark
        now = time.time()
        times[name] = now - mark
        mark = now

    os.environ["ATTN_BACKEND"] = "attn"  # our kernels or an error, no silent fallback
    import torch

    stage("import_torch")
    import attn_kernels
    import flash_attn

    stage("import_attn_kernels")
    sources = {
        "attn_kernels": outside_checkout(attn_kernels),
        "flash_attn": outside_checkout(flash_attn),
    }
    sys.path.append(str(ROOT / "third_party" / "nano-vllm"))
    from nanovllm import LLM, SamplingParams
    from nanovllm.engine.sequence import Sequence

    stage("import_nanovllm")
    llm = LLM(str(args.model), enforce_eager=args.eager, max_model_len=4096)
    stage("engine")
    rng = random.Random(0)
    prompt = [rng.randint(0, 10000) for _ in range(args.prompt_tokens)]
    params = SamplingParams(temperature=0.6, ignore_eos=True, max_tokens=args.tokens)
    seq = Sequence(prompt, params)
    llm.scheduler.add(seq)
    while seq.num_completion_tokens == 0:
        llm.step()  # ends with the sampled token read back: synchronised
    stage("first_token")
    first_token_at = mark - args.t0
    while not llm.is_finished():
        llm.step()
    stage("next_tokens")
    result = {
        "kind": "nanovllm",
        "label": args.label,
        "mode": "eager" if args.eager else "graph",
        "prompt_tokens": args.prompt_tokens,
        "seconds": times,
        "pip_to_first_token": first_token_at,
        "sources": sources,
        "attn_kernels": attn_kernels.__version__,
        "env": environment(torch),
    }
    if args.bench:
        result["bench"] = bench(llm, args.deadline)
    record(args.out, result)


def bench(llm, deadline):
    """bench.py's workload through run_nanovllm's own functions (imported once our
    packages are loaded, so the checkout paths it adds change nothing), after its
    warm-up call."""
    sys.path.insert(0, str(ROOT / "scripts" / "e2e"))
    import run_nanovllm
    from nanovllm import SamplingParams

    llm.generate(["Benchmark: "], SamplingParams(), use_tqdm=False)  # as bench.py
    prompts, params = run_nanovllm.bench_workload()
    return run_nanovllm.phase_bench(llm, prompts, params, deadline)


def run_fa4(args):
    times = {}
    start = time.perf_counter()
    import torch
    from flash_attn.cute import flash_attn_varlen_func as fa4

    times["import"] = time.perf_counter() - start
    source = str(pathlib.Path(sys.modules["flash_attn.cute"].__file__).parent)
    device = torch.device("cuda")
    generator = torch.Generator(device).manual_seed(0)

    def randn(*shape):
        return torch.randn(
            shape, generator=generator, device=device, dtype=torch.bfloat16
        )

    # Prefill: 16 prompts of 100-1024 tokens, packed K/V (bench workload (a)).
    rng = random.Random(0)
    lengths = [rng.randint(100, 1024) for _ in range(16)]
    cu = torch.tensor([0] + lengths, device=device).cumsum(0).to(torch.int32)
    total = sum(lengths)
    q, k, v = (
        randn(total, HEADS, HEAD_DIM),
        randn(total, KV_HEADS, HEAD_DIM),
        randn(total, KV_HEADS, HEAD_DIM),
    )

    def prefill():
        fa4(
            q,
            k,
            v,
            cu_seqlens_q=cu,
            cu_seqlens_k=cu,
            max_seqlen_q=max(lengths),
            max_seqlen_k=max(lengths),
            causal=True,
        )

    # Decode: 64 sequences of 100-2048 cached keys in 256-token pages.
    batch, max_blocks = 64, 8
    cache_seqlens = torch.randint(100, 2049, (batch,), device=device, dtype=torch.int32)
    block_table = torch.randperm(batch * max_blocks, device=device).to(torch.int32)
    block_table = block_table.view(batch, max_blocks)
    k_cache = randn(batch * max_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
    v_cache = randn(batch * max_blocks, PAGE_SIZE, KV_HEADS, HEAD_DIM)
    q_decode = randn(batch, 1, HEADS, HEAD_DIM)

    def decode():
        fa4(
            q_decode,
            k_cache,
            v_cache,
            seqused_k=cache_seqlens,
            page_table=block_table,
            max_seqlen_q=1,
            causal=True,
        )

    for name, call in (("prefill", prefill), ("decode", decode)):
        times[f"{name}_first_call"] = synchronized_seconds(torch, call)
        times[f"{name}_second_call"] = synchronized_seconds(torch, call)
    cache = {
        key: os.environ[key]
        for key in (
            "FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED",
            "FLASH_ATTENTION_CUTE_DSL_CACHE_DIR",
        )
        if key in os.environ
    }
    record(
        args.out,
        {
            "kind": "fa4",
            "install_seconds": args.install_seconds,
            "label": args.label,
            "seconds": times,
            "cache_env": cache,
            "source": source,
            "env": environment(torch),
        },
    )


def record(out, result):
    out.mkdir(parents=True, exist_ok=True)
    line = json.dumps(result)
    with open(out / "first_token.jsonl", "a") as file:
        file.write(line + "\n")
    print(f"first_token: {line}", flush=True)
    results = [json.loads(text) for text in open(out / "first_token.jsonl")]
    (out / "first_token.md").write_text(report(results))


def report(results):
    lines = [
        "# Cold start: pip install to first token, FlashAttention-4's first call",
        "",
    ]
    ours = [r for r in results if r["kind"] == "nanovllm"]
    if ours:
        env = ours[-1]["env"]
        lines += [
            f"{env['gpu']}; torch {env['torch']} (CUDA {env['cuda']}), Python "
            f"{env['python']}; attn_kernels {ours[-1]['attn_kernels']} from the wheels "
            f"({ours[-1]['sources']['attn_kernels']}); {env['date']}.",
            "",
            "nano-vllm (random-weight Qwen3-0.6B), one prompt of "
            f"{ours[-1]['prompt_tokens']} tokens. Seconds from the start of `pip install "
            "--no-index --target <clean dir> dist/*.whl`: the install, the interpreter's "
            "start, the imports, the engine (weights, warm-up, CUDA graph capture in "
            "graph mode, nano-vllm's torch.compile work), the first step (prefill and "
            "the first sampled token). cold: empty torch inductor, Triton and CUDA "
            "caches; warm: the caches of the run before.",
            "",
            "| run | mode | pip install | interpreter | import torch "
            "| import attn_kernels, flash_attn "
            "| import nano-vllm | engine | first token | pip to first token |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in ours:
            s = r["seconds"]
            lines.append(
                f"| {r['label']} | {r['mode']} | {s['pip_install']:.2f} "
                f"| {s['interpreter']:.2f} | {s['import_torch']:.2f} "
                f"| {s['import_attn_kernels']:.2f} | {s['import_nanovllm']:.2f} "
                f"| {s['engine']:.2f} | {s['first_token']:.2f} "
                f"| **{r['pip_to_first_token']:.1f}** |"
            )
        lines.append("")
        for r in (r for r in ours if "bench" in r):
            b = r["bench"]
            lines.append(
                f"bench.py's workload on the wheels ({r['label']}, {r['mode']}): "
                f"{b['output_tokens']} output tokens in {b['seconds']:.1f} s, "
                f"{b['throughput']:.0f} tokens/s"
                + ("" if b["complete"] else " (stopped at the deadline)")
                + "."
            )
            lines.append("")
    peers = [r for r in results if r["kind"] == "fa4"]
    if peers:
        env = peers[-1]["env"]
        lines += [
            "## FlashAttention-4: import and first calls",
            "",
            f"{env['gpu']}; torch {env['torch']}; flash_attn.cute from "
            f"{peers[-1]['source']}; {env['date']}. Each row a fresh process; "
            "prefill: 16 prompts of 100-1024 tokens, packed K/V; decode: 64 sequences "
            "of 100-2048 keys in 256-token pages; bf16, Hq 16, Hkv 8, D 128, causal; "
            "seconds, synchronised. install: ../shared/peers/fa4/install.sh (pip "
            "install of its wheels and the CUDA 13 DSL libraries' unpacking), once "
            "for all rows.",
            "",
            "| run | disk cache | install | import | prefill first call "
            "| prefill second | decode first call | decode second |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in peers:
            s = r["seconds"]
            cache = (
                ", ".join(f"{k}={v}" for k, v in r["cache_env"].items()) or "defaults"
            )
            install = r["install_seconds"]
            lines.append(
                f"| {r['label']} | {cache} "
                f"| {'-' if install is None else f'{install:.1f}'} | {s['import']:.2f} "
                f"| **{s['prefill_first_call']:.2f}** | {s['prefill_second_call']:.4f} "
                f"| **{s['decode_first_call']:.2f}** | {s['decode_second_call']:.4f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    ours = sub.add_parser("nanovllm", help="nano-vllm on the installed wheels")
    ours.add_argument("--t0", type=float, required=True, help="epoch s: pip started")
    ours.add_argument("--pip-end", type=float, required=True, help="epoch s: it ended")
    ours.add_argument("--model", type=pathlib.Path, required=True)
    ours.add_argument("--eager", action="store_true", help="no CUDA graphs")
    ours.add_argument("--prompt-tokens", type=int, default=512)
    ours.add_argument("--tokens", type=int, default=16, help="tokens to generate")
    ours.add_argument("--bench", action="store_true", help="then bench.py's workload")
    ours.add_argument("--deadline", type=float, default=300.0, help="s for --bench")
    peer = sub.add_parser("fa4", help="FlashAttention-4's first calls")
    peer.add_argument(
        "--install-seconds", type=float, help="what installing FA4 took, for the report"
    )
    for each in (ours, peer):
        each.add_argument("--out", type=pathlib.Path, required=True)
        each.add_argument("--label", required=True)
    args = parser.parse_args()
    if args.kind == "nanovllm":
        if args.tokens < 2:
            parser.error(f"--tokens: expected at least 2, got {args.tokens}")
        run_nanovllm(args)
    else:
        run_fa4(args)


if __name__ == "__main__":
    main()
