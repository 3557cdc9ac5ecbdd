"""The shim's version is the repository's VERSION, and it needs attn-kernels of that
version (pyproject.toml holds the rest)."""

import pathlib

from setuptools import setup

ROOT = pathlib.Path(__file__).resolve().parents[2]
VERSION = (ROOT / "VERSION").read_text().strip()

setup(
    version=VERSION,
    install_requires=[f"attn-kernels=={VERSION}"],
    # Build trees under the repository's build/, not in python/flash_attn_shim/.
    options={
        "build": {"build_base": str(ROOT / "build" / "python" / "flash_attn_shim")}
    },
)
