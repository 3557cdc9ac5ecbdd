"""The GPU reliability drivers' pure parts on the CPU: test/gpu/sanitize_cases.py (the
pack's kernel list, the covering order, the runtime's kernel choice, the calls on the
torch backend, the checker, compute-sanitizer's log and the stage's table) and
test/gpu/soak.py (the flat verdict, a short run on the torch backend, and a wrong output
caught)."""

import json
import pathlib
import sys

import pytest
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "gpu"))
import sanitize_cases as sc  # noqa: E402
import soak  # noqa: E402


def manifest(target, kernels):
    lines = [f"attn-pack 1 target={target} version=0.2.0"]
    for k in kernels:
        lines.append(
            f"name={k.name} op={k.op} dtype={k.dtype} head_dim={k.head_dim} "
            f"group={k.group} paged={int(k.paged)} causal={int(k.causal)} "
            "block_m=8 threads=128 smem=0" + (" local=1" if k.local else "")
        )
        lines.append(
            f"name={k.name}_combine op=combine dtype={k.dtype} "
            f"head_dim={k.head_dim} for={k.name} threads=64 smem=0"
        )
    return "\n".join(lines) + "\n"


def named(kernels):
    return [
        sc.Kernel(
            f"attn_{k.op}_{k.dtype}_d{k.head_dim}_g{k.group}_{int(k.paged)}"
            f"{int(k.causal)}{'_local' if k.local else ''}",
            k.op,
            k.dtype,
            k.head_dim,
            k.group,
            k.paged,
            k.causal,
            k.local,
        )
        for k in kernels
    ]


PACK = named(sc.families_for((64, 128)))


def test_manifests_read_out_of_library_bytes_and_hashed():
    texts = {t: manifest(t, PACK) for t in ("sm_80", "sm_90")}
    blob = b"\x7fELF junk" + b"".join(
        f"{t}/manifest.txt\0".encode() + b"\0" * 5 + texts[t].encode() + b"\0ptx"
        for t in texts
    )
    read = sc.read_manifests(blob, ("sm_80", "sm_90"))
    assert read == texts
    joined = (texts["sm_80"] + texts["sm_90"]).encode()
    assert sc.pack_hash(read, ("sm_80", "sm_90")) == f"{sc.fnv1a64(joined):016x}"
    assert sc.pack_hash(read, ("sm_90", "sm_80")) != sc.pack_hash(
        read, ("sm_80", "sm_90")
    )
    with pytest.raises(ValueError, match="sm_89"):
        sc.read_manifests(blob, ("sm_89",))
    assert sc.parse_manifest(read["sm_90"]) == PACK  # combine kernels are not calls


def lz_block(text):
    """text as one LZ block (runtime/lz.h): literals up to the first 8 bytes seen
    before, one match of them (overlapping where it can), the rest as literals."""
    data = text.encode()

    def varint(n):
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not out[-1] & 0x80:
                return bytes(out)

    at = next(p for p in range(1, len(data)) if data.find(data[p : p + 8]) < p)
    offset = at - data.find(data[at : at + 8])
    return (
        b"ALZ1"
        + len(data).to_bytes(8, "little")
        + varint(at)
        + data[:at]
        + varint(8 - 3)
        + varint(offset)
        + varint(len(data) - at - 8)
        + data[at + 8 :]
        + varint(0)
    )


def test_manifests_read_out_of_compressed_library_bytes():
    texts = {t: manifest(t, PACK) for t in ("sm_90", "sm_90a")}
    blob = b"\x7fELF junk" + b"".join(lz_block(texts[t]) + b"ALZ1 other" for t in texts)
    assert sc.read_manifests(blob, ("sm_90", "sm_90a")) == texts
    # An overlapping match: "abababab" is "ab" then 6 bytes from 2 back.
    assert (
        sc.lz_decompress(
            b"ALZ1" + (8).to_bytes(8, "little") + b"\x02ab\x03\x02\x00\x00", 0
        )
        == b"abababab"
    )
    cut = lz_block(texts["sm_90"])[:-40]
    with pytest.raises(ValueError, match="cut short|bytes, not"):
        sc.lz_decompress(cut, 0)


def test_fnv1a64_known_value():
    assert sc.fnv1a64(b"") == 0xCBF29CE484222325
    assert sc.fnv1a64(b"a") == 0xAF63DC4C8601EC8C


def test_covering_order_covers_every_family_first():
    # Per head_dim and dtype: 2 layouts x (causal, full, local) x 6 (decode G 1, 2,
    # 4, 8, any; prefill).
    assert len(PACK) == 2 * 2 * 36
    assert sum(k.local for k in PACK) == 2 * 2 * 12
    order = sc.covering_order(PACK)
    assert sorted(order, key=repr) == sorted(PACK, key=repr)
    assert len({k.family() for k in order[:36]}) == 36
    firsts = order[:72]
    assert {(k.family(), k.dtype) for k in firsts} == {
        (k.family(), k.dtype) for k in PACK
    }
    assert {(k.dtype, k.head_dim) for k in order[:4]} == {
        (d, h) for d in ("f16", "bf16") for h in (64, 128)
    }


def test_each_call_runs_its_case_kernel():
    for kernel in PACK:
        calls = sc.calls_for(kernel, "default")
        assert [c.num_splits > 1 for c in calls].count(True) == len(calls) // 2
        for call in calls:
            picked = sc.expected_kernel(
                PACK,
                kernel.op,
                kernel.dtype,
                kernel.head_dim,
                call.group,
                kernel.paged,
                kernel.causal,
                call.seqlen_q,
                kernel.local,
            )
            assert picked == kernel, (kernel, call)
            if kernel.op == "decode" and kernel.causal:
                assert call.seqlen_q > 1
    anyg = next(k for k in PACK if k.op == "decode" and k.group == 0)
    assert {c.group for c in sc.calls_for(anyg, "small")} == set(sc.ANY_GROUPS)
    # Without a non-causal kernel, Lq = 1 runs the causal one; Lq = 2 has none.
    causal_only = [k for k in PACK if k.causal]
    full = sc.Kernel("", "decode", "f16", 64, 1, True, False)
    assert sc.expected_kernel(
        causal_only, "decode", "f16", 64, 1, True, False, 1
    ).causal
    assert (
        sc.expected_kernel(causal_only, "decode", "f16", 64, 1, True, False, 2) is None
    )
    assert full not in causal_only


def test_cases_pass_on_the_torch_backend(on_torch_backend):
    kernels = sc.covering_order(PACK)[:24]
    summary = sc.run_cases(
        kernels, "small", torch.device("cpu"), True, None, PACK, log=lambda line: None
    )
    assert summary["failed"] == [] and summary["cases_run"] == 24
    assert summary["calls"] == sum(len(sc.calls_for(k, "small")) for k in kernels)
    # A case list that claims another kernel than the runtime's choice fails.
    wrong = [sc.Kernel("attn_x", "decode", "f16", 64, 3, True, True)]  # no G=3 kernel
    summary = sc.run_cases(
        wrong, "small", torch.device("cpu"), True, None, PACK, log=lambda line: None
    )
    assert "the runtime would run attn_decode_f16_d64_g0_11" in summary["failed"][0]


def test_checker_rejects_wrong_outputs():
    kernel = sc.Kernel("", "decode", "bf16", 64, 2, True, True)
    q, k, v, lengths, table = sc.decode_inputs(kernel, sc.Call(2, 3, 1), "default", 5)
    want, want_lse = sc.reference_decode(q, k, v, lengths, table)
    rows = lambda e: e.transpose(1, 2)
    out, lse = want.to(torch.bfloat16), want_lse.float()
    assert sc.check(out, lse, want, want_lse, torch.bfloat16, rows)[0] == []
    assert torch.isinf(want_lse).any()  # a row that sees no key (length 0 or Lq > L)
    bad = []
    one_row = out.clone()
    one_row[2, 0, 1] *= 1.5
    bad.append((one_row, lse))
    nan = out.clone()
    nan[0, 0, 0, 0] = float("nan")
    bad.append((nan, lse))
    empty = out.clone()
    empty[lengths == 0] = 1.0
    bad.append((empty, lse))
    finite = lse.clone()
    finite[torch.isinf(finite)] = 0.0
    bad.append((out, finite))
    for wrong_out, wrong_lse in bad:
        assert sc.check(wrong_out, wrong_lse, want, want_lse, torch.bfloat16, rows)[0]


MEMCHECK_CLEAN = """========= COMPUTE-SANITIZER
sanitize_cases: 96/96 cases
========= ERROR SUMMARY: 0 errors
"""
MEMCHECK_FAULT = """========= COMPUTE-SANITIZER
========= Invalid __global__ read of size 16 bytes
=========     at attn_decode_bf16_d128_g1_paged_causal+0x1a0
========= ERROR SUMMARY: 3 errors
"""
RACECHECK = """========= COMPUTE-SANITIZER
========= RACECHECK SUMMARY: 2 hazards displayed (1 error, 1 warning)
"""


def test_sanitizer_logs_parsed():
    assert sc.parse_sanitizer_log(MEMCHECK_CLEAN) == dict(
        summary=True, errors=0, warnings=0, notes=[]
    )
    fault = sc.parse_sanitizer_log(MEMCHECK_FAULT)
    assert fault["errors"] == 3 and fault["notes"][0].startswith("Invalid __global__")
    race = sc.parse_sanitizer_log(RACECHECK)
    assert (race["summary"], race["errors"], race["warnings"]) == (True, 1, 1)
    assert not sc.parse_sanitizer_log("Error: Device not supported\n")["summary"]


def write_stage(folder, logs, stopped=""):
    for tool in sc.TOOLS:
        (folder / f"{tool}.log").write_text(logs.get(tool, MEMCHECK_CLEAN))
        (folder / f"{tool}.json").write_text(
            json.dumps(
                dict(
                    calls=10,
                    launches=15,
                    combine_launches=5,
                    cases_run=4,
                    cases_total=4,
                    failed=[],
                    unsupported=[],
                    stopped=stopped if tool == "racecheck" else "",
                )
            )
        )
        (folder / f"{tool}.rc").write_text("0\n")
        (folder / f"{tool}.seconds").write_text("12\n")
    for kind in sc.CANARIES:
        (folder / f"canary_{kind}.log").write_text(logs.get(kind, MEMCHECK_FAULT))


def test_stage_report(tmp_path):
    write_stage(tmp_path, {})
    text, status = sc.report(tmp_path)
    assert status == 0, text
    assert "| memcheck | 0 | 0 | 10 | 15 (5) | 4/4 | 0 | 12 | clean |" in text
    assert "| oob | memcheck | 3 | caught |" in text
    for logs, expected in (
        ({"synccheck": MEMCHECK_FAULT}, "3 errors"),
        ({"initcheck": "Error: Device not supported"}, "no sanitizer"),
        ({"oob": MEMCHECK_CLEAN}, "FAIL: not reported"),
    ):
        write_stage(tmp_path, logs)
        text, status = sc.report(tmp_path)
        assert status == 1 and expected in text, text
    write_stage(tmp_path, {}, stopped="time limit 60 s after 2 cases")
    text, status = sc.report(tmp_path)
    assert status == sc.EXIT_INCOMPLETE and "clean, partial" in text
    (tmp_path / "memcheck.json").unlink()
    assert sc.report(tmp_path)[1] == 1


def sample_rows(phase, values, every=10):
    return [
        dict(
            phase=phase,
            calls=i * every,
            torch_allocated=None,
            torch_reserved=None,
            device_used=v,
            smi_process=None,
            host_rss=v,
        )
        for i, v in enumerate(values)
    ]


def test_flat_verdict():
    mib = soak.MIB
    flat = sample_rows("eager", [100 * mib] * 3 + [120 * mib] * 30)  # warm-up growth
    verdicts, warm = soak.judge(flat, "eager", 10, shared=False)
    assert warm == 32 and all(v[4] for v in verdicts)
    leak = sample_rows("eager", [100 * mib + i * mib for i in range(40)])
    verdicts, _ = soak.judge(leak, "eager", 10, shared=False)
    assert {v[0]: v[4] for v in verdicts} == {"device_used": False, "host_rss": False}
    # Shared: the device-wide figure is not judged.
    verdicts, _ = soak.judge(leak, "eager", 10, shared=True)
    assert {v[0]: v[4] for v in verdicts} == {"device_used": None, "host_rss": False}
    few = soak.judge(sample_rows("graph", [mib] * 3), "graph", 10, shared=False)[0]
    assert all(v[4] is None for v in few)


def test_soak_runs_on_the_torch_backend(tmp_path):
    status = soak.main(
        [
            "--device",
            "cpu",
            "--calls",
            "160",
            "--check-every",
            "20",
            "--out",
            str(tmp_path),
            "--tag",
            "t",
        ]
    )
    text = (tmp_path / "soak_summary_t.md").read_text()
    assert status == 0, text
    assert "Verdict: memory flat" in text and ", 0 failed" in text
    lines = (tmp_path / "soak_t.csv").read_text().splitlines()
    assert lines[0].startswith("tag,phase,calls")
    assert sum(",graph," in line for line in lines) >= 8
    assert sum(",eager," in line for line in lines) >= 8


def test_soak_catches_a_wrong_output(tmp_path, monkeypatch):
    original = soak.Problems.varlen

    def wrong(self, index, lse=False):
        result = original(self, index, lse)
        if lse:
            result[0][0] += 1.0
        return result

    monkeypatch.setattr(soak.Problems, "varlen", wrong)
    monkeypatch.setattr(soak.Problems, "prime", lambda self: ([], 0.0))
    status = soak.main(
        [
            "--device",
            "cpu",
            "--calls",
            "40",
            "--check-every",
            "20",
            "--out",
            str(tmp_path),
            "--tag",
            "w",
        ]
    )
    text = (tmp_path / "soak_summary_w.md").read_text()
    assert status == soak.EXIT_FAILED and "FAILED call 3" in text, text
