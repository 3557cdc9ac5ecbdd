"""The decode and prefill kernels of attn-lower-to-gpu run through the CPU emulator
(kernel_emu.py) against a float64 reference: fresh random inputs, poisoned outputs.

The prefill and the CUDA-core decode kernels are the ones the GPU suites run; passing
here checks the emulator (its mma.sync and ldmatrix fragment layouts among them). The
tensor-core decode kernels (decode-mma) are checked the same way before any GPU has
run them.

    build/pyvenv/bin/python -m pytest -q test/emu   (ATTN_OPT: attn-opt's path,
    default build/bin/attn-opt)
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import kernel_emu as emu

ROOT = pathlib.Path(__file__).resolve().parents[2]
ATTN_OPT = os.environ.get("ATTN_OPT", str(ROOT / "build" / "bin" / "attn-opt"))
BF16_NAN = 0x7FC0  # the poison of out: a NaN survives any missed store


def compile_kernels(problem, tiled, lower):
    """{name: gpu.func} of `problem` through attn-to-tiled, attn-fuse-tile-ops and
    attn-lower-to-gpu with the given options, in the generic form."""
    text = subprocess.run(
        [
            ATTN_OPT,
            "-",
            f"-attn-to-tiled={tiled}",
            "-attn-fuse-tile-ops",
            f"-attn-lower-to-gpu={lower}",
            "--mlir-print-op-generic",
        ],
        input=problem,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return emu.find_kernels(emu.parse_module(text))


def to_bits(x, dtype):
    """float64 values as the 16-bit patterns of dtype (rounded to nearest)."""
    f = np.asarray(x, np.float32)
    if dtype == "f16":
        return f.astype(np.float16).view(np.uint16)
    return (emu._to_bits16(emu._bf16_round(f), "bf16")).astype(np.uint16)


def from_bits(bits, dtype):
    return emu._from_bits16(bits.astype(np.uint32), dtype).astype(np.float64)


def attention_reference(q, k, v, visible, scale, softcap=0.0):
    """float64 softmax(q k^T scale) v over the keys `visible` marks (the scores
    capped to softcap * tanh(s / softcap) where softcap > 0), and its lse (natural
    log); rows without keys give 0 and -inf."""
    s = np.einsum("qd,kd->qk", q, k) * scale
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    s = np.where(visible, s, -np.inf)
    m = s.max(axis=1, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    p = np.exp(s - m)
    l = p.sum(axis=1, keepdims=True)
    out = np.where(l > 0, (p @ v) / np.where(l > 0, l, 1), 0)
    lse = np.where(
        l[:, 0] > 0, np.log(np.where(l[:, 0] > 0, l[:, 0], 1)) + m[:, 0], -np.inf
    )
    return out, lse


def rel_err(got, want):
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30)


def compare(got, want, got_lse, want_lse):
    """(relative norm error of out, largest lse error over rows with keys); out must
    have no poisoned element left and lse must be +inf exactly on the rows without
    keys (the caller's convention)."""
    assert not np.isnan(got).any(), "out has unwritten (poisoned) elements"
    finite = np.isfinite(want_lse)
    assert np.array_equal(np.isposinf(got_lse), ~finite), "lse of rows without keys"
    lse_err = np.abs(got_lse[finite] - want_lse[finite]).max() if finite.any() else 0.0
    return rel_err(got, want), lse_err


def local_options(window, softcap, causal):
    """(window_left, window_right, local) as the runtime normalises a call's window
    and softcap (runtime/checks.cpp, resolveLocalOptions): -1 for an unbounded side,
    right 0 when causal; local when a kernel with the local options serves it."""
    left, right = window if window else (-1, -1)
    left = -1 if left < 0 else left
    right = 0 if causal else (-1 if right < 0 else right)
    return left, right, softcap > 0 or left >= 0 or (not causal and right >= 0)


def visible_keys(lq, lk, causal, left, right):
    """[lq, lk]: which keys each of the last lq queries of lk keys sees (bottom-right
    aligned: query i's diagonal is key lk - lq + i), under the mask and window."""
    keys = np.arange(lk)
    last = lk - lq + np.arange(lq)
    visible = np.ones((lq, lk), bool)
    if causal or right >= 0:
        visible &= keys[None, :] <= last[:, None] + max(right, 0)
    if left >= 0:
        visible &= keys[None, :] >= last[:, None] - left
    return visible


# --------------------------------------------------------------------------------------
# Decode.


# abi/kernel_params.h's combine launch: groups of the head_dim rounded up to
# whole warps, one a run of 8 splits, at most 4 (the kernel's known block size
# is the largest), their sums meeting in shared memory when more than one.
COMBINE_UNROLL, COMBINE_MAX_GROUPS = 8, 4


def combine_launch(kernel, splits):
    """(threads, dynamic shared memory bytes) of a combine launch of `splits`."""
    largest, _ = emu.kernel_launch_facts(kernel)
    groups = min(COMBINE_MAX_GROUPS, max(1, -(-splits // COMBINE_UNROLL)))
    threads = largest // COMBINE_MAX_GROUPS * groups
    return threads, threads * 4 if groups > 1 else 0


def decode_problem(group, head_dim, dtype, paged, causal, local=False):
    """The problem op of a decode kernel specialised on G (as codegen/Codegen.cpp
    writes it: one KV head, the head counts at run time); `local` adds the window
    and softcap arguments."""
    t = dtype
    largs = ", %wl: index, %wr: index, %cap: f32" if local else ""
    lops = "window [%wl, %wr] softcap(%cap)" if local else ""
    q = f"memref<?x?x{group}x{head_dim}x{t}>"
    c = f"memref<?x?x1x{head_dim}x{t}>"
    table = "block_table(%bt : memref<?x?xi32>) " if paged else ""
    targ = ", %bt: memref<?x?xi32>" if paged else ""
    return f"""
func.func @decode(%q: {q}, %kc: {c}, %vc: {c}, %lens: memref<?xi32>{targ},
                  %o: {q}, %lse: memref<?x{group}x?xf32>{largs}) {{
  attn.paged_decode q(%q : {q}) k_cache(%kc : {c}) v_cache(%vc : {c})
      cache_seqlens(%lens : memref<?xi32>) {table}out(%o : {q})
      lse(%lse : memref<?x{group}x?xf32>) {lops}
      {{num_heads = {group}, num_kv_heads = 1, head_dim = {head_dim},
       causal = {str(causal).lower()}, scale = 1.0 : f32, page_size = {-1 if paged else 0}}}
  return
}}
"""


def run_decode(
    *,
    group,
    head_dim,
    lens,
    num_kv_heads=2,
    seqlen_q=1,
    dtype="bf16",
    page_size=16,
    causal=True,
    splits=1,
    mma=True,
    block_n=64,
    stages=2,
    threads=128,
    tokens=1,
    call_head_dim=None,
    window=None,
    softcap=0.0,
    kv_heads=1,
    lanes=0,
    dependent_launch=True,
    seed=0,
):
    rng = np.random.default_rng(seed)
    paged = page_size > 0
    left, right, local = local_options(window, softcap, causal)
    kernels = compile_kernels(
        decode_problem(group, head_dim, dtype, paged, causal, local),
        f"block-n={block_n} stages={stages} tokens-per-cta={tokens}",
        f"stages={stages} threads={threads} decode-mma={int(mma)} "
        f"decode-kv-heads={kv_heads} decode-lanes={lanes} "
        f"dependent-launch={int(dependent_launch)}",
    )
    kernel = kernels["decode"]
    threads_k, smem = emu.kernel_launch_facts(kernel)
    batch, hkv = len(lens), num_kv_heads
    hq = hkv * group
    d = call_head_dim or head_dim
    max_len = max(max(lens), 1)
    q = rng.standard_normal((batch, seqlen_q, hq, d))
    if paged:
        pages_per = -(-max_len // page_size)
        num_pages = batch * pages_per + 3
        order = rng.permutation(num_pages)[: batch * pages_per]
        table = order.reshape(batch, pages_per).astype(np.int32)
        k = rng.standard_normal((num_pages, page_size, hkv, d))
        v = rng.standard_normal((num_pages, page_size, hkv, d))
    else:
        table = np.zeros((1, 1), np.int32)
        k = rng.standard_normal((batch, max_len, hkv, d))
        v = rng.standard_normal((batch, max_len, hkv, d))
    qb, kb, vb = (to_bits(x, dtype) for x in (q, k, v))
    # The head dim of the call may be below the kernel's: rows of d elements.
    mem = emu.Memory()
    a_q = mem.alloc(qb)
    a_k = mem.alloc(kb)
    a_v = mem.alloc(vb)
    a_lens = mem.alloc(np.asarray(lens, np.int32))
    a_table = mem.alloc(table) if paged else 0
    out = np.full((batch, seqlen_q, hq, d), BF16_NAN, np.uint16)
    a_out = mem.alloc(out)
    a_lse = mem.alloc(np.full((batch, hq, seqlen_q), np.nan, np.float32))
    a_po = mem.alloc(
        np.full((splits, batch, seqlen_q, hq, head_dim), np.nan, np.float32)
    )
    a_pl = mem.alloc(np.full((splits, batch, seqlen_q, hq), np.nan, np.float32))
    mem.finish()
    scale = 1.0 / np.sqrt(d)
    strides = lambda shape: [int(np.prod(shape[i + 1 :])) for i in range(3)]
    params = (
        [a_q, a_k, a_v, a_lens, a_table, a_out, a_lse, a_po, a_pl]
        + strides(q.shape)
        + strides(k.shape)
        + strides(v.shape)
        + [table.shape[1]]
        + strides(out.shape)
        + [seqlen_q, page_size, splits, scale, hq, hkv, d]
        + ([left, right, softcap] if local else [])
    )
    token_blocks = -(-seqlen_q // tokens)
    head_blocks = -(-hkv // kv_heads)
    emu.run_kernel(
        kernel,
        mem,
        (splits, token_blocks * head_blocks, batch),
        threads_k,
        params,
        smem,
    )
    if splits > 1:
        combine = kernels["decode_combine"]
        ct, csmem = combine_launch(combine, splits)
        cparams = [a_po, a_pl, a_out, a_lse] + strides(out.shape) + [splits, d]
        emu.run_kernel(combine, mem, (hq, seqlen_q, batch), ct, cparams, csmem)
    got = from_bits(mem.read(a_out, out.nbytes, np.uint16, out.shape), dtype)
    got_lse = mem.read(
        a_lse, batch * hq * seqlen_q * 4, np.float32, (batch, hq, seqlen_q)
    )
    # float64 reference on the rounded inputs.
    qr, kr, vr = (from_bits(x, dtype) for x in (qb, kb, vb))
    want = np.zeros_like(got)
    want_lse = np.zeros((batch, hq, seqlen_q))
    for bi, length in enumerate(lens):
        if paged:
            rows = [
                table[bi, p // page_size] * page_size + p % page_size
                for p in range(length)
            ]
            kk = kr.reshape(-1, hkv, d)[rows]
            vv = vr.reshape(-1, hkv, d)[rows]
        else:
            kk, vv = kr[bi, :length], vr[bi, :length]
        for h in range(hq):
            kvh = h // group
            visible = visible_keys(seqlen_q, length, causal, left, right)
            o, l = attention_reference(
                qr[bi, :, h], kk[:, kvh], vv[:, kvh], visible, scale, softcap
            )
            want[bi, :, h] = o
            want_lse[bi, h] = l
    return compare(got, want, got_lse, want_lse)


DECODE_CASES = [
    # (group, head_dim, lens, extra)
    (2, 32, [37, 130, 1], {}),
    (1, 64, [200, 17], {}),
    (4, 80, [96, 5], {"page_size": 0}),
    (8, 128, [150], {"splits": 3}),
    (2, 128, [64, 0, 90], {"dtype": "f16", "causal": False}),
    (2, 96, [70, 33], {"seqlen_q": 4, "tokens": 4}),
    (4, 64, [45], {"call_head_dim": 40, "page_size": 0}),
    (16, 32, [50, 77], {"num_kv_heads": 1, "block_n": 32, "threads": 64}),
    (2, 64, [120, 30], {"window": (40, 0), "softcap": 5.0}),
    (4, 128, [90], {"causal": False, "window": (20, 10), "splits": 2}),
    # KV heads a CTA: a warp a head, or two warps a head; Hkv not a multiple.
    (2, 32, [90, 3], {"num_kv_heads": 6, "kv_heads": 4}),
    (4, 32, [60], {"num_kv_heads": 3, "kv_heads": 2, "splits": 2, "stages": 3}),
    (
        1,
        64,
        [70, 20],
        {"num_kv_heads": 3, "kv_heads": 2, "block_n": 32, "page_size": 0},
    ),
    # 8 heads a CTA, a warp each (decode-lagging's D 32): Hkv 6 leaves two idle.
    (4, 32, [75, 2], {"num_kv_heads": 6, "kv_heads": 8, "threads": 256, "block_n": 32}),
    # Q from shared memory (head_dim 192 and up): 8 rows (ldmatrix .x2), 16 rows
    # (.x4), and 2 KV heads a CTA with the call's head_dim below the kernel's.
    (4, 192, [70, 9], {}),
    (2, 256, [40], {"seqlen_q": 8, "tokens": 8, "dtype": "f16"}),
    (2, 192, [50], {"num_kv_heads": 3, "kv_heads": 2, "call_head_dim": 168}),
    # Pages of block_n keys or more (64, 96 with tiles across a page's end, 128).
    (2, 80, [200, 70], {"page_size": 64}),
    (4, 128, [300, 41], {"page_size": 96, "splits": 2}),
    (1, 96, [260], {"page_size": 128, "splits": 3}),
    # A window's first tile need not start at a multiple of block_n.
    (2, 64, [230, 90], {"page_size": 64, "window": (70, 0)}),
    # D 128's 8-row kernels choose per tile (pages of 96: tiles across a
    # page's end locate each key alone).
    (8, 128, [290, 40], {"page_size": 96}),
    # The combine at many splits, in groups of threads (4 at 40 and 64 splits,
    # group 0 taking two runs of 8 at 40; 2 at 12, the second's run partial):
    # D 80 (no multiple of 32) at 40 splits, 64 splits (the runtime's limit)
    # and 12; most of the short sequence's splits without a key.
    (2, 80, [1300, 70], {"splits": 40}),
    (1, 32, [2100, 9], {"splits": 64}),
    (1, 64, [700, 30], {"splits": 12}),
]


@pytest.mark.parametrize("group,head_dim,lens,extra", DECODE_CASES)
def test_decode_mma(group, head_dim, lens, extra):
    err, lse_err = run_decode(
        group=group, head_dim=head_dim, lens=lens, mma=True, **extra
    )
    assert err < 1e-2, err
    assert lse_err < 1e-3, lse_err


CUDA_CORE_CASES = DECODE_CASES[:4] + [
    # KV heads a CTA (sm_90's D 32 and the slot-major D 80 kernels), Hkv not a
    # multiple of them; the lanes knob.
    (2, 32, [90, 3], {"num_kv_heads": 6, "kv_heads": 4}),
    (4, 32, [60], {"num_kv_heads": 3, "kv_heads": 2, "splits": 2, "stages": 4}),
    (2, 80, [70, 20], {"num_kv_heads": 3, "kv_heads": 2, "block_n": 32, "stages": 3}),
    (2, 96, [50], {"lanes": 8, "page_size": 0}),
    (1, 32, [75, 2], {"num_kv_heads": 6, "kv_heads": 8, "stages": 3}),
    # A tile inside one page reads its entry once (pages of 64 and 96; 48 at
    # block_n 32 with tiles across a page's end, which locate each key alone).
    (2, 64, [150, 33], {"page_size": 64}),
    (1, 128, [170], {"page_size": 48, "block_n": 32, "splits": 2}),
    (4, 80, [130, 9], {"page_size": 96}),
    (2, 128, [230, 90], {"page_size": 64, "window": (70, 0), "block_n": 32}),
]


@pytest.mark.parametrize("group,head_dim,lens,extra", CUDA_CORE_CASES)
def test_decode_cuda_cores(group, head_dim, lens, extra):
    """The kernel the GPU suites run: the emulator's control."""
    err, lse_err = run_decode(
        group=group, head_dim=head_dim, lens=lens, mma=False, **extra
    )
    assert err < 1e-2, err
    assert lse_err < 1e-3, lse_err


# --------------------------------------------------------------------------------------
# Prefill (packed K/V), the emulator's check of its mma.sync and ldmatrix.


def prefill_problem(head_dim, dtype, causal, local=False, paged=False):
    """The problem op of a prefill kernel as codegen/Codegen.cpp writes it (one head
    each; the launch's head counts map them); `local` adds the window and softcap
    arguments, `paged` a paged K/V cache."""
    q = f"memref<?x1x{head_dim}x{dtype}>"
    kv = f"memref<?x?x1x{head_dim}x{dtype}>" if paged else q
    table = "block_table(%bt : memref<?x?xi32>) " if paged else ""
    targ = ", %bt: memref<?x?xi32>" if paged else ""
    largs = ", %wl: index, %wr: index, %cap: f32" if local else ""
    lops = "window [%wl, %wr] softcap(%cap)" if local else ""
    return f"""
func.func @prefill(%q: {q}, %k: {kv}, %v: {kv}, %cq: memref<?xi32>, %ck: memref<?xi32>{targ},
                   %o: {q}, %lse: memref<1x?xf32>{largs}) {{
  attn.varlen_prefill q(%q : {q}) k(%k : {kv}) v(%v : {kv})
      cu_seqlens_q(%cq : memref<?xi32>) cu_seqlens_k(%ck : memref<?xi32>) {table}
      out(%o : {q}) lse(%lse : memref<1x?xf32>) {lops}
      {{num_heads = 1, num_kv_heads = 1, head_dim = {head_dim},
       causal = {str(causal).lower()}, scale = 1.0 : f32, page_size = {-1 if paged else 0}}}
  return
}}
"""


def run_prefill(
    *,
    head_dim,
    q_lens,
    k_lens,
    hq=4,
    hkv=2,
    dtype="bf16",
    causal=True,
    splits=1,
    window=None,
    softcap=0.0,
    page_size=0,
    seed=0,
):
    rng = np.random.default_rng(seed)
    paged = page_size > 0
    left, right, local = local_options(window, softcap, causal)
    kernels = compile_kernels(
        prefill_problem(head_dim, dtype, causal, local, paged),
        "block-m=64 block-n=32 stages=2",
        "stages=2 threads=128 dependent-launch=1",
    )
    kernel = kernels["prefill"]
    threads, smem = emu.kernel_launch_facts(kernel)
    d = head_dim
    total_q, total_k = sum(q_lens), sum(k_lens)
    q = rng.standard_normal((total_q, hq, d))
    cu_q = np.concatenate([[0], np.cumsum(q_lens)]).astype(np.int32)
    cu_k = np.concatenate([[0], np.cumsum(k_lens)]).astype(np.int32)
    if paged:
        # Key j of sequence b at k_cache[block_table[b][j / page], j % page].
        pages_per = -(-max(k_lens) // page_size)
        num_pages = len(k_lens) * pages_per + 2
        order = rng.permutation(num_pages)[: len(k_lens) * pages_per]
        table = order.reshape(len(k_lens), pages_per).astype(np.int32)
        k = rng.standard_normal((num_pages, page_size, hkv, d))
        v = rng.standard_normal((num_pages, page_size, hkv, d))
    else:
        k = rng.standard_normal((total_k, hkv, d))
        v = rng.standard_normal((total_k, hkv, d))
    qb, kb, vb = (to_bits(x, dtype) for x in (q, k, v))
    mem = emu.Memory()
    a_q, a_k, a_v = mem.alloc(qb), mem.alloc(kb), mem.alloc(vb)
    a_cq, a_ck = mem.alloc(cu_q), mem.alloc(cu_k)
    a_table = mem.alloc(table) if paged else 0
    out = np.full((total_q, hq, d), BF16_NAN, np.uint16)
    a_out = mem.alloc(out)
    a_lse = mem.alloc(np.full((hq, total_q), np.nan, np.float32))
    a_po = mem.alloc(np.full((splits, total_q, hq, d), np.nan, np.float32))
    a_pl = mem.alloc(np.full((splits, total_q, hq), np.nan, np.float32))
    mem.finish()
    scale = 1.0 / np.sqrt(d)
    shift = max(int(np.ceil(np.log2(hq))), 0)
    group = hq // hkv
    magic = ((1 << 32) + group - 1) // group
    params = [a_q, a_k, a_v, a_cq, a_ck, a_table, a_out, a_lse]
    # k and v strides (outer, row, head): (page, row, head) paged, (0, token,
    # head) packed; then block_table's row stride.
    outer = page_size * hkv * d if paged else 0
    params += [hq * d, d, outer, hkv * d, d, outer, hkv * d, d]
    params += [table.shape[1] if paged else 0, hq * d, d]
    params += [hkv, page_size, total_q, scale, a_po, a_pl, splits, hq, shift, magic]
    params += [d]
    params += [left, right, softcap] if local else []
    row_tiles = -(-max(q_lens) // 64)
    # Grid x: the head, or split << head_shift | head (abi/grid.h).
    grid_x = hq if splits == 1 else splits << shift
    emu.run_kernel(kernel, mem, (grid_x, len(q_lens), row_tiles), threads, params, smem)
    if splits > 1:
        # The decode combine with B = 1 and Lq = total_q (runtime/prefill.cpp).
        combine = kernels["prefill_combine"]
        ct, csmem = combine_launch(combine, splits)
        cparams = [a_po, a_pl, a_out, a_lse, 0, hq * d, d, splits, d]
        emu.run_kernel(combine, mem, (hq, total_q, 1), ct, cparams, csmem)
    got = from_bits(mem.read(a_out, out.nbytes, np.uint16, out.shape), dtype)
    got_lse = mem.read(a_lse, hq * total_q * 4, np.float32, (hq, total_q))
    qr, kr, vr = (from_bits(x, dtype) for x in (qb, kb, vb))
    if paged:
        # The keys in sequence order, packed, for the reference.
        rows = [
            table[bi, j // page_size] * page_size + j % page_size
            for bi, lk in enumerate(k_lens)
            for j in range(lk)
        ]
        kr = kr.reshape(-1, hkv, d)[rows]
        vr = vr.reshape(-1, hkv, d)[rows]
    want = np.zeros_like(got)
    want_lse = np.zeros((hq, total_q))
    for bi, (lq, lk) in enumerate(zip(q_lens, k_lens)):
        qs, ks = slice(cu_q[bi], cu_q[bi + 1]), slice(cu_k[bi], cu_k[bi + 1])
        visible = visible_keys(lq, lk, causal, left, right)
        for h in range(hq):
            o, l = attention_reference(
                qr[qs, h],
                kr[ks, h // group],
                vr[ks, h // group],
                visible,
                scale,
                softcap,
            )
            want[qs, h] = o
            want_lse[h, qs] = l
    return compare(got, want, got_lse, want_lse)


@pytest.mark.parametrize(
    "head_dim,q_lens,k_lens,extra",
    [
        (64, [70, 5], [70, 40], {}),
        (32, [33], [90], {"causal": False}),
        (80, [20, 64], [50, 64], {"dtype": "f16"}),
        (64, [40, 3], [200, 130], {"splits": 3}),
        (32, [70], [150], {"window": (30, 0), "softcap": 20.0}),
        (64, [50], [80], {"causal": False, "window": (10, 25), "splits": 2}),
        (64, [40, 70], [100, 300], {"page_size": 16}),
        (80, [90], [250], {"page_size": 48, "splits": 2}),
        # 20 splits: the combine in 3 groups of threads.
        (32, [6], [1300], {"splits": 20}),
    ],
)
def test_prefill(head_dim, q_lens, k_lens, extra):
    """The mma.sync prefill kernel the GPU suites run: the check of the emulator's
    tensor-core fragment layouts."""
    err, lse_err = run_prefill(head_dim=head_dim, q_lens=q_lens, k_lens=k_lens, **extra)
    assert err < 1e-2, err
    assert lse_err < 1e-3, lse_err


def random_decode_case(rng):
    """A decode case drawn at random: head dim, G (and a fold), layout, page size,
    splits, dtype, mask, window and softcap, a call head dim below the kernel's, and
    knobs the lowering takes (tensor cores or CUDA cores with KV heads a CTA)."""
    d = int(rng.choice([32, 64, 80, 96, 128]))
    mma = bool(rng.integers(2))
    g = int(rng.choice([1, 2, 3, 4, 8, 16] if mma else [1, 2, 4, 8]))
    case = {"group": g, "head_dim": d, "mma": mma, "seed": int(rng.integers(1 << 30))}
    case["lens"] = [int(x) for x in rng.integers(0, 300, size=int(rng.integers(1, 4)))]
    case["num_kv_heads"] = int(rng.choice([1, 2, 3]))
    case["page_size"] = int(rng.choice([0, 16, 48]))
    case["splits"] = int(rng.choice([1, 1, 2, 3]))
    case["dtype"] = str(rng.choice(["bf16", "f16"]))
    causal = bool(rng.integers(4))
    case["causal"] = causal
    if rng.integers(3) == 0:
        case["window"] = (int(rng.integers(0, 100)), int(rng.integers(-1, 20)))
    if rng.integers(3) == 0:
        case["softcap"] = float(rng.choice([5.0, 30.0]))
    if rng.integers(4) == 0:
        case["call_head_dim"] = d - 8 * int(rng.integers(1, d // 16 + 1))
    fold = causal and g * 4 <= 16 and rng.integers(3) == 0
    if fold:
        case["tokens"] = int(rng.choice([2, 4]))
        case["seqlen_q"] = int(rng.integers(1, 6))
    if mma:
        threads = int(rng.choice([64, 128]))
        case["threads"] = threads
        case["block_n"] = threads // 32 * 16 * int(rng.choice([1, 2]))
    elif not fold and g <= 4 and rng.integers(2) == 0:
        case["kv_heads"] = int(rng.choice([2, 4])) if d == 32 else 2
    case["stages"] = int(rng.choice([2, 3]))
    if mma and not fold and rng.integers(3) == 0:
        warps = case["threads"] // 32
        case["kv_heads"] = int(rng.choice([h for h in (2, 4) if warps % h == 0]))
    return case


@pytest.mark.parametrize("seed", range(24))
def test_decode_random(seed):
    """Random cases of both decode kernels (seeded, so a failure reproduces)."""
    case = random_decode_case(np.random.default_rng(1000 + seed))
    err, lse_err = run_decode(**case)
    assert err < 1e-2, (err, case)
    assert lse_err < 1e-3, (lse_err, case)
