"""pytest set-up of the Python package's CPU tests: python/ on sys.path, a clean backend
choice per test, and no CUDA anywhere."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Each test starts with ATTN_BACKEND unset and no fallback warning remembered."""
    monkeypatch.delenv("ATTN_BACKEND", raising=False)
    from attn_kernels import interface

    monkeypatch.setattr(interface, "_warned", set())


@pytest.fixture
def on_torch_backend(monkeypatch):
    monkeypatch.setenv("ATTN_BACKEND", "torch")


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
