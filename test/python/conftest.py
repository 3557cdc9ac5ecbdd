"""pytest set-up of the Python package's CPU tests: python/ on sys.path (or, with
ATTN_TEST_INSTALLED=1, the installed attn_kernels, e.g. from the wheels), a clean backend
choice per test, and no CUDA anywhere."""

import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if os.environ.get("ATTN_TEST_INSTALLED") != "1":
    sys.path.insert(0, str(ROOT / "python"))
else:
    import attn_kernels

    package = pathlib.Path(attn_kernels.__file__).resolve().parent
    if package == ROOT / "python" / "attn_kernels":
        raise pytest.UsageError(
            "ATTN_TEST_INSTALLED=1: expected an installed attn_kernels, got the "
            f"checkout's {package} (run pytest from outside the checkout)"
        )


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Each test starts with ATTN_BACKEND unset and no fallback warning remembered."""
    monkeypatch.delenv("ATTN_BACKEND", raising=False)
    from attn_kernels import interface

    monkeypatch.setattr(interface, "_warned", set())
    interface.set_backend(None)  # $ATTN_BACKEND is read again on the first call
    yield
    interface.set_backend(None)


@pytest.fixture
def on_torch_backend():
    from attn_kernels import interface

    interface.set_backend("torch")


@pytest.fixture
def no_cuda(monkeypatch):
    """Makes every way into CUDA or libattnrt fail loudly, so a test proves that the
    checks it exercises come first."""
    import torch
    from attn_kernels import _lib

    def forbidden(*args, **kwargs):
        raise AssertionError("touched CUDA or libattnrt before the argument checks")

    monkeypatch.setattr(_lib, "lib", forbidden)
    monkeypatch.setattr(_lib, "function", forbidden)
    monkeypatch.setattr(torch.cuda, "device", forbidden)
    monkeypatch.setattr(torch.cuda, "current_stream", forbidden)
    monkeypatch.setattr(torch._C, "_cuda_getDevice", forbidden, raising=False)
    monkeypatch.setattr(torch._C, "_cuda_getCurrentRawStream", forbidden, raising=False)
