"""Bundles libattnrt.so and its kernel pack into the attn_kernels package at build time:
from $ATTN_LIB and $ATTN_PACK_DIR, else from the repository's build/ (pyproject.toml
holds the rest). Without a built library the package installs without one and finds it
through ATTN_LIB at run time."""

import os
import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
BUILD = HERE.parent / "build"


class BundleRuntime(build_py):
    def run(self):
        super().run()
        package = pathlib.Path(self.build_lib) / "attn_kernels"
        library = pathlib.Path(
            os.environ.get("ATTN_LIB", BUILD / "lib" / "libattnrt.so")
        )
        if not library.exists():
            print(f"attn_kernels: no {library}; the package needs ATTN_LIB at run time")
            return
        shutil.copy2(library, package / "libattnrt.so")
        # The runtime looks for attn_pack/ beside libattnrt.so (unless it embeds one).
        pack = pathlib.Path(os.environ.get("ATTN_PACK_DIR", BUILD / "attn_pack"))
        if pack.is_dir():
            shutil.copytree(pack, package / "attn_pack", dirs_exist_ok=True)
        print(f"attn_kernels: bundled {library} and {pack}")


setup(cmdclass={"build_py": BundleRuntime})
