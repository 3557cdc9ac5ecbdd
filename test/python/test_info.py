"""python -m attn_kernels without a GPU, and the ctypes structs of _info against
runtime/attn.h."""

import pytest
from attn_kernels import __main__ as cli
from attn_kernels import __version__, _info, _lib
from test_lib import BUILT, header_fields


@pytest.mark.parametrize(
    "struct, binding",
    [("attn_pack_info", _info.PackInfo), ("attn_support_query", _info.SupportQuery)],
)
def test_fields_follow_the_header(struct, binding):
    assert [name for name, _ in binding._fields_] == header_fields(struct)


@pytest.fixture
def fresh_lib(monkeypatch):
    monkeypatch.setattr(_lib, "_loaded", None)
    monkeypatch.setattr(_lib, "_load_error", None)


@pytest.mark.skipif(not BUILT.exists(), reason="libattnrt not built")
def test_reports_the_library_and_no_gpu(monkeypatch, fresh_lib, capsys):
    monkeypatch.delenv("ATTN_PACK_DIR", raising=False)
    monkeypatch.setattr(cli.torch.cuda, "is_available", lambda: False)
    assert cli.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"attn_kernels {__version__}"
    pack = _info.pack_info()
    assert pack.source == "embedded" and pack.version == __version__
    assert pack.targets == ("sm_80", "sm_89", "sm_90", "sm_90a")
    assert (
        f"  library   {_lib.library_path()} (version {__version__}, API {_lib.API_VERSION})"
        in lines
    )
    assert any(line.startswith("  pack      embedded") for line in lines)
    assert any(line.startswith("  GPU       none: ") for line in lines)


def test_self_test_without_a_gpu_fails(monkeypatch, capsys):
    monkeypatch.setattr(cli, "describe_library", lambda: True)
    monkeypatch.setattr(cli.torch.cuda, "is_available", lambda: False)
    assert cli.main(["--self-test"]) == 1
    assert "self-test: no GPU to run on" in capsys.readouterr().out


def test_an_unloadable_library_is_a_failure(monkeypatch, fresh_lib, tmp_path, capsys):
    monkeypatch.setenv("ATTN_LIB", str(tmp_path / "missing.so"))
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    assert "  library   cannot be used: libattnrt: cannot load" in out
    assert str(tmp_path / "missing.so") in out
