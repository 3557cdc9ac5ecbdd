"""The differential fuzzer (test/gpu/fuzz.py) on the CPU: a fixed-seed campaign of the
torch backend against the float64 reference, and proofs that the fuzzer can fail: its
checker rejects perturbed outputs, a wrong reference fails the campaign, a backend bug
is shrunk to a small case, and cases replay from their ids."""

import dataclasses
import json
import pathlib
import sys

import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "gpu"))
import fuzz  # noqa: E402

from attn_kernels import reference_varlen, torch_backend  # noqa: E402

SEED, CASES = 2026, 250
LIMITS = fuzz.CPU_LIMITS


@pytest.fixture
def cpu_fuzz():
    return fuzz.prepare("cpu")


def test_campaign_passes(cpu_fuzz):
    campaign = fuzz.run_campaign(SEED, CASES, cpu_fuzz, "cpu", save_to=None, log=print)
    failed = [f"{id_} {c}: {'; '.join(o.messages)}" for id_, c, o in campaign.failed]
    assert not failed, "\n".join(failed + [json.dumps(e) for e in campaign.shrunk])
    assert campaign.count("pass") == len(campaign.records) >= CASES
    cases = [case for _, case, _ in campaign.records]
    for name, values in (
        ("entry", {"varlen", "kvcache"}),
        ("dtype", {"float16", "bfloat16"}),
        ("causal", {True, False}),
        ("lse", {True, False}),
        ("layout", {"plain", "qkv", "odd"}),
        ("cache_seqlens", {"tensor", "int", "none"}),
    ):
        assert {getattr(case, name) for case in cases} == values, name
    assert {fuzz.kv_layout(case) for case in cases} == {"packed", "contiguous", "paged"}
    assert any(case.batch == 0 for case in cases)
    assert any(0 in case.seqlens_k for case in cases)
    report = fuzz.report(campaign, "CPU")
    assert "| flash_attn_with_kvcache | bfloat16 |" in report


def test_cases_replay_from_their_ids(cpu_fuzz):
    for index in (0, 17, 123):
        case = fuzz.draw_case(SEED, index, cpu_fuzz)
        assert case == fuzz.draw_case(SEED, index, cpu_fuzz)
        assert fuzz.Case.from_dict(json.loads(case.to_json())) == case
        first = fuzz.make_inputs(case, torch.device("cpu"))
        again = fuzz.make_inputs(case, torch.device("cpu"))
        for name in ("q", "k", "v", "block_table", "lengths"):
            a, b = getattr(first, name), getattr(again, name)
            assert (a is None and b is None) or torch.equal(a, b), name
    assert fuzz.main(["--device", "cpu", "--replay", f"{SEED}:17"]) == 0


def test_varlen_oracle_is_reference_varlen(cpu_fuzz):
    """The fuzzer's batched varlen reference (queries padded at the front, through
    reference_decode) is attn_kernels.reference_varlen, sequence by sequence."""
    checked = 0
    for index in range(200):
        case = fuzz.draw_case(7, index, cpu_fuzz)
        if case.entry != "varlen" or checked == 25:
            continue
        checked += 1
        x = fuzz.make_inputs(case, torch.device("cpu"))
        out, lse = fuzz.reference(case, x, 1 << 12)  # small chunks: several per case
        want, want_lse = reference_varlen(
            x.q,
            x.k,
            x.v,
            x.cu_seqlens_q,
            x.cu_seqlens_k,
            x.block_table,
            softmax_scale=case.softmax_scale,
            causal=case.causal,
            window_size=case.window,
            softcap=case.softcap,
        )
        torch.testing.assert_close(out, want, rtol=1e-12, atol=1e-12, msg=str(case))
        assert torch.equal(torch.isinf(lse), torch.isinf(want_lse)), case
        seen = torch.isfinite(want_lse)
        torch.testing.assert_close(lse[seen], want_lse[seen], rtol=1e-12, atol=1e-12)
    assert checked == 25


def varlen_case(**fields):
    """A varlen case with a causal row that sees no key (Lk < Lq) and lse."""
    base = fuzz.Case(
        entry="varlen",
        dtype="bfloat16",
        head_dim=32,
        num_heads=4,
        num_kv_heads=2,
        page_size=16,
        causal=True,
        lse=True,
        seqlens_q=(5, 9, 3),
        seqlens_k=(40, 9, 1),
        data_seed=11,
    )
    return fuzz.normalized(dataclasses.replace(base, **fields))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_checker_rejects_perturbed_outputs(dtype):
    case = varlen_case(dtype=dtype)
    x = fuzz.make_inputs(case, torch.device("cpu"))
    want, want_lse = fuzz.reference(case, x, LIMITS.chunk)
    good, good_lse = want.to(fuzz.DTYPES[dtype]), want_lse.float()
    assert fuzz.check(case, good, good_lse, want, want_lse)[0] == []
    ceiling = fuzz.MAX_ERROR[dtype]
    empty = torch.isinf(want_lse).T.nonzero()[0].tolist()  # (token, head)
    assert empty, "the case must have a row that sees no key"

    def perturbed(change):
        out, lse = good.clone(), good_lse.clone()
        change(out, lse)
        return fuzz.check(case, out, lse, want, want_lse)[0]

    def scale_all(out, lse):
        out.mul_(1 + 3 * ceiling)

    def one_row(out, lse):
        out[0, 1] = -out[0, 1]

    def one_nan(out, lse):
        out[3, 2, 5] = float("nan")

    def empty_row(out, lse):
        out[empty[0], empty[1], 0] = 1e-3

    def lse_off(out, lse):
        lse[0, 0] += 3 * fuzz.MAX_LSE_ERROR

    def lse_finite(out, lse):
        lse[empty[1], empty[0]] = 0.0

    for change, message in (
        (scale_all, "error"),
        (one_row, "worst row error"),
        (one_nan, "NaN"),
        (empty_row, "rows that see no key are not 0"),
        (lse_off, "lse error"),
        (lse_finite, "lse is not +inf"),
    ):
        failures = perturbed(change)
        assert any(message in f for f in failures), (change.__name__, failures)
    wrong_shape = fuzz.check(case, good[:-1], good_lse, want, want_lse)[0]
    assert wrong_shape and "expected" in wrong_shape[0]


def test_wrong_reference_fails_the_campaign(cpu_fuzz, monkeypatch):
    """A reference that drops each sequence's last key: nearly every case with keys
    must fail."""
    right = fuzz.reference_decode

    def wrong(q, k_cache, v_cache, cache_seqlens, *args, **kwargs):
        shorter = (cache_seqlens - 1).clamp(min=0)
        return right(q, k_cache, v_cache, shorter, *args, **kwargs)

    monkeypatch.setattr(fuzz, "reference_decode", wrong)
    campaign = fuzz.run_campaign(
        SEED,
        40,
        cpu_fuzz,
        "cpu",
        regressions=None,
        save_to=None,
        shrink_failures=False,
        log=lambda line: None,
    )
    with_keys = [o for _, c, o in campaign.records if any(c.seqlens_k) and c.batch]
    failed = sum(o.status == "fail" for o in with_keys)
    assert failed >= 0.9 * len(with_keys) > 0


def test_backend_bug_is_shrunk(cpu_fuzz, monkeypatch, tmp_path):
    """A bug planted in the torch backend (a wrong sign in the output of any sequence
    with more than 100 keys) fails the campaign, and the shrinker brings the failing
    case down to one short sequence and few heads, saved as a regression case."""
    right = torch_backend._attend

    def planted(shape, gather_q, gather_kv, lengths_q, lengths_k, *args):
        out, lse = right(shape, gather_q, gather_kv, lengths_q, lengths_k, *args)
        wrong = (lengths_k > 100).view(-1, *[1] * (out.dim() - 1))
        return torch.where(wrong, -out, out), lse

    monkeypatch.setattr(torch_backend, "_attend", planted)
    saved = tmp_path / "regressions.json"
    campaign = fuzz.run_campaign(
        SEED,
        30,
        cpu_fuzz,
        "cpu",
        regressions=None,
        save_to=saved,
        log=lambda line: None,
    )
    assert campaign.failed and campaign.shrunk
    entries = json.loads(saved.read_text())
    assert len(entries) == len(campaign.shrunk) <= fuzz.MAX_SHRUNK
    small = fuzz.Case.from_dict(entries[0]["case"])
    assert small.batch == 1 and 100 < small.seqlens_k[0] <= 201, small
    assert small.num_kv_heads == 1 and small.num_heads == 1, small
    assert not small.lse and small.layout == "plain" and small.softmax_scale is None
    # The saved case runs first in the next campaign, and still fails.
    again = fuzz.run_campaign(
        SEED,
        0,
        cpu_fuzz,
        "cpu",
        regressions=saved,
        save_to=None,
        shrink_failures=False,
        log=lambda line: None,
    )
    assert [o.status for _, _, o in again.records] == ["fail"] * len(entries)


def test_regressions_file_holds_cases():
    entries = json.loads(fuzz.REGRESSIONS.read_text())
    assert isinstance(entries, list)
    for entry in entries:
        case = fuzz.Case.from_dict(entry["case"])
        assert fuzz.normalized(case) == case
        assert {"id", "device", "target", "failure"} <= entry.keys()
