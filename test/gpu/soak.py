"""Soak: many CUDA-graph replays and eager calls with changing lengths, checked against
the float64 reference every --check-every calls, with device memory and host RSS
sampled over the run and judged flat or not (scripts/gpu_torch.sh soak;
docs/testing.md).

Phase "graph": flash_attn_with_kvcache (B=8, Hq=16, Hkv=8, D=128, bf16, page 256, up to
2048 keys, so it splits and combines) captured once; before each replay cache_seqlens
is overwritten from one of 64 length sets (zeros, ones, full, random). Phase "eager":
the same decode with those length sets and, every fourth call, a varlen prefill over
the paged cache (one of 32 problems: 1-8 sequences, Lq 1-64, a cached prefix). At
every check point the next call runs on NaN-poisoned outputs and is compared with the
reference (decode and prefill both, in eager), and a sample is taken: torch's
memory_allocated and memory_reserved, the device's used memory (cuMemGetInfo), this
process's memory in nvidia-smi (every 5 s at most) and the host RSS.

Flat: after the warm-up (the first 10% of a phase's calls, at least two check
intervals), no sample exceeds the first one after it by more than THRESHOLDS_MIB.
With --shared (two processes on one GPU) the device-wide figure includes the other
process and is recorded, not judged.

    PYTHONPATH=python python3 test/gpu/soak.py --calls 1000000 --out DIR --tag single
    PYTHONPATH=python python3 test/gpu/soak.py --device cpu --calls 300 --check-every 50

Writes DIR/soak_<tag>.csv, soak_<tag>.png (matplotlib, when it imports) and
soak_summary_<tag>.md. Exit status: 0 every check passed and memory is flat, 1 a check
failed or memory grew, 3 the time limit cut the run short (otherwise clean).
"""

import argparse
import csv
import dataclasses
import os
import pathlib
import random
import subprocess
import sys
import time

import torch

import attn_kernels
from attn_kernels import reference_decode, reference_varlen
from gpu_common import poisoned_allocations
from sanitize_cases import check

EXIT_FAILED, EXIT_INCOMPLETE = 1, 3
MIB = 1 << 20
# Growth after the warm-up that still counts as flat, in MiB.
THRESHOLDS_MIB = {
    "torch_allocated": 1,
    "torch_reserved": 32,
    "device_used": 32,
    "smi_process": 32,
    "host_rss": 16,
}
COLUMNS = (
    "tag",
    "phase",
    "calls",
    "seconds",
    "torch_allocated",
    "torch_reserved",
    "device_used",
    "smi_process",
    "host_rss",
    "failed_checks",
)
LENGTH_SETS, PREFILL_PROBLEMS = 64, 32
MAX_FAILED_CHECKS = 10  # a phase stops after this many
SMI_EVERY = 2.0
PROGRESS_EVERY = 10.0


@dataclasses.dataclass(frozen=True)
class Config:
    batch: int = 8
    heads: int = 16
    kv_heads: int = 8
    head_dim: int = 128
    page: int = 256
    columns: int = 8  # pages per sequence: up to page * columns keys
    max_prefill_q: int = 64
    dtype: torch.dtype = torch.bfloat16


CPU_CONFIG = Config(
    batch=3, heads=4, kv_heads=2, head_dim=64, page=16, columns=4, max_prefill_q=8
)


def host_rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def smi_process_bytes():
    """This process's GPU memory as nvidia-smi lists it; None where it does not (no
    nvidia-smi, or a container whose pids it does not see)."""
    try:
        text = subprocess.run(
            [
                "nvidia-smi",
                "--query-compute-apps=pid,used_memory",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in text.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 2 and fields[0] == str(os.getpid()) and fields[1].isdigit():
            return int(fields[1]) * MIB
    return None


class Sampler:
    """Memory samples, one a check point, and the progress lines."""

    def __init__(self, tag, device):
        self.tag, self.cuda = tag, device.type == "cuda"
        self.rows, self.smi, self.smi_at = [], None, -SMI_EVERY
        self.start = self.printed = time.monotonic()

    def sample(self, phase, calls, failed):
        now = time.monotonic()
        row = dict(
            tag=self.tag,
            phase=phase,
            calls=calls,
            seconds=round(now - self.start, 3),
            host_rss=host_rss(),
            failed_checks=failed,
            torch_allocated=None,
            torch_reserved=None,
            device_used=None,
            smi_process=None,
        )
        if self.cuda:
            free, total = torch.cuda.mem_get_info()
            row.update(
                torch_allocated=torch.cuda.memory_allocated(),
                torch_reserved=torch.cuda.memory_reserved(),
                device_used=total - free,
            )
            # nvidia-smi is slow, so it is read every SMI_EVERY seconds; a row
            # holds only a reading taken for it (a reading carried over to later
            # rows would date an earlier allocation after the warm-up).
            if now - self.smi_at >= SMI_EVERY:
                self.smi, self.smi_at = smi_process_bytes(), now
                row["smi_process"] = self.smi
        self.rows.append(row)
        if now - self.printed >= PROGRESS_EVERY or calls == 0:
            self.printed = now
            print(
                f"soak {self.tag}: {phase} {calls} calls, {row['seconds']:.0f} s, "
                f"{failed} failed checks, rss {row['host_rss'] / MIB:.0f} MiB"
                + (
                    f", torch {row['torch_allocated'] / MIB:.1f}/"
                    f"{row['torch_reserved'] / MIB:.0f} MiB, device "
                    f"{row['device_used'] / MIB:.0f} MiB"
                    if self.cuda
                    else ""
                ),
                flush=True,
            )


class Problems:
    """The caches, the length sets and the prefill problems, all on the device."""

    def __init__(self, config, device, seed):
        c = config
        rng = random.Random(seed)
        gen = torch.Generator(device=device).manual_seed(seed)

        def randn(*shape):
            return torch.randn(shape, generator=gen, device=device, dtype=c.dtype)

        self.config, self.capacity = c, c.page * c.columns
        num_blocks = c.batch * c.columns + 4
        self.k = randn(num_blocks, c.page, c.kv_heads, c.head_dim)
        self.v = randn(num_blocks, c.page, c.kv_heads, c.head_dim)
        pages = rng.sample(range(num_blocks), c.batch * c.columns)
        self.table = (
            torch.tensor(pages, dtype=torch.int32)
            .reshape(c.batch, c.columns)
            .to(device)
        )
        self.q = randn(c.batch, 1, c.heads, c.head_dim)
        sets = [[0] * c.batch, [1] * c.batch, [self.capacity] * c.batch]
        while len(sets) < LENGTH_SETS:
            sets.append(
                [
                    rng.choice(
                        (
                            0,
                            1,
                            c.page - 1,
                            c.page,
                            c.page + 1,
                            rng.randint(0, self.capacity),
                        )
                    )
                    for _ in range(c.batch)
                ]
            )
        self.sets = torch.tensor(sets, dtype=torch.int32).to(device)
        self.rows = list(self.sets)  # views: no indexing in the loop
        self.qbuf = randn(c.batch * c.max_prefill_q, c.heads, c.head_dim)
        self.prefill = [self._prefill(rng, device) for _ in range(PREFILL_PROBLEMS)]

    def _prefill(self, rng, device):
        c = self.config
        n = rng.randint(1, c.batch)
        lq = [rng.randint(1, c.max_prefill_q) for _ in range(n)]
        lk = [rng.randint(q, self.capacity) for q in lq]
        cu = [
            torch.tensor(
                [sum(x[:i]) for i in range(n + 1)], dtype=torch.int32, device=device
            )
            for x in (lq, lk)
        ]
        return (self.qbuf[: sum(lq)], cu[0], cu[1], max(lq), max(lk), self.table[:n])

    def prime(self):
        """Runs each checked call and its reference once, so the allocator has cached
        what the checks need before the warm-up ends; (failures, largest error)."""
        failures, largest = [], 0.0
        for index in range(PREFILL_PROBLEMS):
            out, lse, _ = self.varlen(index, lse=True)
            wrong, error = self.check_varlen(index, out, lse)
            failures += [f"prefill problem {index}: {w}" for w in wrong]
            largest = max(largest, error)
        for row in self.rows:
            out, lse = self.decode(row, lse=True)
            wrong, error = self.check_decode(out, lse, row)
            failures += [f"length set {row.tolist()}: {w}" for w in wrong]
            largest = max(largest, error)
        return failures, largest

    def decode(self, lengths, lse=False):
        return attn_kernels.flash_attn_with_kvcache(
            self.q,
            self.k,
            self.v,
            cache_seqlens=lengths,
            block_table=self.table,
            causal=True,
            return_softmax_lse=lse,
        )

    def varlen(self, index, lse=False):
        q, cu_q, cu_k, max_q, max_k, table = self.prefill[index]
        return attn_kernels.flash_attn_varlen_func(
            q,
            self.k,
            self.v,
            cu_q,
            cu_k,
            max_q,
            max_k,
            causal=True,
            block_table=table,
            return_attn_probs=lse,
        )

    def check_decode(self, out, lse, lengths):
        want, want_lse = reference_decode(self.q, self.k, self.v, lengths, self.table)
        return check(
            out, lse, want, want_lse, self.config.dtype, lambda e: e.transpose(1, 2)
        )

    def check_varlen(self, index, out, lse):
        q, cu_q, cu_k, _, _, table = self.prefill[index]
        want, want_lse = reference_varlen(q, self.k, self.v, cu_q, cu_k, table)
        return check(out, lse, want, want_lse, self.config.dtype, lambda e: e.T)


@dataclasses.dataclass
class Phase:
    name: str
    calls: int = 0
    checks: int = 0
    failed: list = dataclasses.field(default_factory=list)
    max_error: float = 0.0
    seconds: float = 0.0
    stopped: str = ""

    def record(self, label, result):
        failures, error = result
        self.checks += 1
        self.max_error = max(self.max_error, error)
        if failures:
            self.failed.append(f"{label}: {'; '.join(failures)}")
        return len(self.failed) >= MAX_FAILED_CHECKS


def capture(step):
    """Warms `step` up on a side stream, then captures it: (out, lse, replay)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, lse = step()
    return out, lse, graph.replay


def synchronize(cuda):
    if cuda:
        torch.cuda.synchronize()


def run_graph(problems, calls, every, sampler, deadline, cuda):
    """`calls` replays of the captured decode (on the CPU, plain calls stand in)."""
    phase = Phase("graph")
    lengths = problems.rows[0].clone()
    if cuda:
        out, lse, replay = capture(lambda: problems.decode(lengths, lse=True))
    else:
        out, lse = problems.decode(lengths, lse=True)

        def replay():
            result = problems.decode(lengths, lse=True)
            out.copy_(result[0])
            lse.copy_(result[1])

    rows, copy, start = problems.rows, lengths.copy_, time.monotonic()
    count = len(rows)
    i = 0
    while i < calls:
        synchronize(cuda)
        sampler.sample("graph", i, len(phase.failed))
        if time.monotonic() > deadline:
            phase.stopped = f"time limit after {i} replays"
            break
        out.fill_(float("nan"))
        lse.fill_(float("nan"))
        copy(rows[(i // every) % count])
        replay()
        synchronize(cuda)
        if phase.record(f"replay {i}", problems.check_decode(out, lse, lengths)):
            phase.stopped = f"{MAX_FAILED_CHECKS} failed checks"
            i += 1
            break
        end = min(calls, (i // every + 1) * every)
        for n in range(i + 1, end):
            copy(rows[n % count])
            replay()
        i = end
    synchronize(cuda)
    phase.calls = i
    phase.seconds = time.monotonic() - start
    sampler.sample("graph", i, len(phase.failed))
    return phase


def run_eager(problems, calls, every, sampler, deadline, cuda):
    """`calls` eager calls: decode, and every fourth a varlen prefill; at each check
    point one of each on poisoned outputs against the reference."""
    phase = Phase("eager")
    rows, decode, varlen = problems.rows, problems.decode, problems.varlen
    count, start = len(rows), time.monotonic()
    n = 0
    while n < calls:
        r = n % every
        if r == 0:
            synchronize(cuda)
            sampler.sample("eager", n, len(phase.failed))
            if time.monotonic() > deadline:
                phase.stopped = f"time limit after {n} calls"
                break
        if r in (0, 3):
            index = (n // every) % (count if r == 0 else PREFILL_PROBLEMS)
            with poisoned_allocations():
                if r == 0:
                    out, lse = decode(rows[index], lse=True)
                else:
                    out, lse, _ = varlen(index, lse=True)
            synchronize(cuda)
            result = (
                problems.check_decode(out, lse, rows[index])
                if r == 0
                else problems.check_varlen(index, out, lse)
            )
            del out, lse
            if phase.record(f"call {n}", result):
                phase.stopped = f"{MAX_FAILED_CHECKS} failed checks"
                n += 1
                break
        elif n & 3 == 3:
            varlen((n >> 2) % PREFILL_PROBLEMS)
        else:
            decode(rows[n % count])
        n += 1
    synchronize(cuda)
    phase.calls = n
    phase.seconds = time.monotonic() - start
    sampler.sample("eager", n, len(phase.failed))
    return phase


def judge(rows, phase, every, shared):
    """[(metric, samples after the warm-up, growth in bytes or None, threshold MiB,
    flat: True, False or None)] for one phase."""
    own = [r for r in rows if r["phase"] == phase]
    done = max((r["calls"] for r in own), default=0)
    warm = max(2 * every, done // 10)
    post = [r for r in own if r["calls"] >= warm]
    verdicts = []
    for metric, mib in THRESHOLDS_MIB.items():
        values = [r[metric] for r in post if r[metric] is not None]
        if not values and not any(r[metric] is not None for r in own):
            continue  # not measured here (CPU, or nvidia-smi does not list us)
        growth = max(values) - values[0] if len(values) >= 3 else None
        flat = None if growth is None else growth <= mib * MIB
        if metric == "device_used" and shared:
            flat = None  # the other process allocates too
        verdicts.append((metric, len(values), growth, mib, flat))
    return verdicts, warm


def plot(rows, path):
    """Memory over calls, a panel a measure, a line a phase; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    metrics = [m for m in THRESHOLDS_MIB if any(r[m] is not None for r in rows)]
    figure, axes = plt.subplots(
        len(metrics), 1, figsize=(8, 2.2 * len(metrics)), squeeze=False
    )
    for axis, metric in zip(axes[:, 0], metrics):
        for phase in ("graph", "eager"):
            points = [
                (r["calls"], r[metric] / MIB)
                for r in rows
                if r["phase"] == phase and r[metric] is not None
            ]
            if points:
                axis.plot(*zip(*points), marker=".", label=phase)
        axis.set_ylabel(f"{metric} MiB", fontsize=8)
        axis.legend(fontsize=7)
    axes[-1, 0].set_xlabel("calls in the phase")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return True


def driver_version():
    try:
        return (
            subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or "?"
        )
    except (OSError, subprocess.SubprocessError):
        return "?"


def summarize(tag, device_name, config, phases, rows, every, shared):
    """(markdown, verdict: "flat", "grew" or "not judged")."""
    lines = [
        f"# Soak {tag}: {device_name}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"- driver {driver_version()}, torch {torch.__version__}; B={config.batch}, Hq={config.heads}, "
        f"Hkv={config.kv_heads}, D={config.head_dim}, {config.dtype}, page "
        f"{config.page}, up to {config.page * config.columns} keys"
        + (", two processes sharing the GPU" if shared else ""),
        "",
        "| phase | calls | s | us/call | checks | failed | largest error | stopped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in phases:
        per_call = 1e6 * p.seconds / p.calls if p.calls else 0
        lines.append(
            f"| {p.name} | {p.calls} | {p.seconds:.1f} | {per_call:.1f} | "
            f"{p.checks} | {len(p.failed)} | {p.max_error:.2e} | "
            f"{p.stopped or '-'} |"
        )
    lines += [
        "",
        "| phase | measure | samples after warm-up | growth MiB | threshold MiB "
        "| flat |",
        "|---|---|---|---|---|---|",
    ]
    grew = unjudged = False
    for p in phases:
        verdicts, warm = judge(rows, p.name, every, shared)
        for metric, samples, growth, mib, flat in verdicts:
            if flat is False:
                grew = True
            if flat is None and not (metric == "device_used" and shared):
                unjudged = True
            shown = "-" if growth is None else f"{growth / MIB:.2f}"
            word = {True: "yes", False: "NO", None: "not judged"}[flat]
            lines.append(
                f"| {p.name} | {metric} | {samples} | {shown} | {mib} | {word} |"
            )
        if p.calls > warm:
            lines.append(
                f"| {p.name} | (smallest steady host leak that fails) | | "
                f"{THRESHOLDS_MIB['host_rss'] * MIB / (p.calls - warm):.0f} "
                "B/call | | |"
            )
    verdict = "grew" if grew else "not judged" if unjudged else "flat"
    failures = [f for p in phases for f in p.failed]
    lines += [
        "",
        f"**Verdict: memory {verdict}; {sum(p.checks for p in phases)} checks, "
        f"{len(failures)} failed.**",
    ]
    lines += [f"- FAILED {f}" for f in failures[:20]]
    return "\n".join(lines) + "\n", verdict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device",
        choices=("cuda", "cpu"),
        default="cuda" if torch.cuda.is_available() else "cpu",
    )
    parser.add_argument(
        "--calls",
        type=int,
        default=1_000_000,
        help="graph replays and eager calls, each",
    )
    parser.add_argument("--graph-calls", type=int)
    parser.add_argument("--eager-calls", type=int)
    parser.add_argument("--check-every", type=int, default=10_000)
    parser.add_argument("--max-seconds", type=float, default=float("inf"))
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("."))
    parser.add_argument("--tag", default="single")
    parser.add_argument(
        "--shared",
        action="store_true",
        help="another process shares the GPU (device memory not judged)",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    graph_calls = args.calls if args.graph_calls is None else args.graph_calls
    eager_calls = args.calls if args.eager_calls is None else args.eager_calls
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    attn_kernels.set_backend("attn" if cuda else "torch")
    config = Config() if cuda else CPU_CONFIG
    name = torch.cuda.get_device_name() if cuda else "CPU (torch backend)"
    print(
        f"soak {args.tag}: {name}, pid {os.getpid()}, {graph_calls} graph replays and "
        f"{eager_calls} eager calls, a check every {args.check_every}; on an H200 "
        f"about {graph_calls * 12e-6 + eager_calls * 30e-6:.0f} s "
        "(12 us a replay, 30 us an eager call)",
        flush=True,
    )
    problems = Problems(config, device, args.seed)
    primed = Phase("prime")
    primed.record("every problem once", problems.prime())
    primed.checks = len(problems.rows) + PREFILL_PROBLEMS
    sampler = Sampler(args.tag, device)
    start = time.monotonic()
    # The graph phase may use the first 35% of the time, the eager phase the rest.
    phases = [
        primed,
        run_graph(
            problems,
            graph_calls,
            args.check_every,
            sampler,
            start + 0.35 * args.max_seconds,
            cuda,
        ),
    ]
    phases.append(
        run_eager(
            problems,
            eager_calls,
            args.check_every,
            sampler,
            start + args.max_seconds,
            cuda,
        )
    )
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"soak_{args.tag}.csv", "w", newline="") as table:
        writer = csv.DictWriter(table, COLUMNS)
        writer.writeheader()
        writer.writerows(sampler.rows)
    if not plot(sampler.rows, args.out / f"soak_{args.tag}.png"):
        print(f"soak {args.tag}: no matplotlib, no plot")
    text, verdict = summarize(
        args.tag, name, config, phases, sampler.rows, args.check_every, args.shared
    )
    (args.out / f"soak_summary_{args.tag}.md").write_text(text)
    print(text)
    if verdict == "grew" or any(p.failed for p in phases):
        return EXIT_FAILED
    if verdict != "flat" or any(p.stopped for p in phases):
        return EXIT_INCOMPLETE
    return 0


if __name__ == "__main__":
    sys.exit(main())
