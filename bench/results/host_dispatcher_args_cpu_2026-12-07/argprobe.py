import time, torch, statistics

lib = torch.library.Library("probe", "DEF")
schemas = {
    "a14": "(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor cu_seqlens_k, Tensor? block_table, SymInt max_seqlen_q, SymInt max_seqlen_k, float softmax_scale, bool causal, int num_splits, int window_left=-1, int window_right=-1, float softcap=0.0) -> Tensor",
    "a8l": "(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor cu_seqlens_k, Tensor? block_table, SymInt[] ints, float[] floats) -> Tensor",
    "a7l": "(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor cu_seqlens_k, Tensor? block_table, SymInt[] ints) -> Tensor",
    "a6": "(Tensor q, Tensor k, Tensor v, Tensor cu_seqlens_q, Tensor cu_seqlens_k, Tensor? block_table) -> Tensor",
    "a1": "(Tensor q) -> Tensor",
}
for n, s in schemas.items():
    lib.define(n + s)
    lib.impl(n, lambda q, *a, **kw: q, "CPU")
q = torch.randn(16, 8)
k = torch.randn(4)
cu = torch.zeros(3, dtype=torch.int32)
calls = {
    "a14": lambda: torch.ops.probe.a14.default(
        q, k, k, cu, cu, None, 100, 100, 0.1, True, 0, -1, -1, 0.0
    ),
    "a14 defaults": lambda: torch.ops.probe.a14.default(
        q, k, k, cu, cu, None, 100, 100, 0.1, True, 0
    ),
    "a8l": lambda: torch.ops.probe.a8l.default(
        q, k, k, cu, cu, None, [100, 100, 1, 0, -1, -1], [0.1, 0.0]
    ),
    "a7l": lambda: torch.ops.probe.a7l.default(
        q, k, k, cu, cu, None, [100, 100, 1, 0, -1, -1]
    ),
    "a6": lambda: torch.ops.probe.a6.default(q, k, k, cu, cu, None),
    "a1": lambda: torch.ops.probe.a1.default(q),
    "empty_like": lambda: torch.empty_like(q),
}
res = {n: [] for n in calls}
for r in range(15):
    for n, f in calls.items():
        t = time.perf_counter()
        for _ in range(3000):
            f()
        res[n].append((time.perf_counter() - t) / 3000 * 1e6)
for n, v in res.items():
    print(f"{n:14s} {statistics.median(v):.2f} ({min(v):.2f}-{max(v):.2f})")
