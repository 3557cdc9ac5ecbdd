"""Builds attn_kernels with libattnrt.so inside (the kernel pack is built into the
library): from $ATTN_LIB, else the repository's build/lib/libattnrt.so. The version is
the repository's VERSION; the wheel is py3-none-manylinux_2_<N>_x86_64, the oldest
manylinux policy that allows the glibc and libstdc++ symbol versions the library needs
(pyproject.toml holds the rest). Without a built library the package installs without
one and finds it through ATTN_LIB at run time."""

import os
import pathlib
import shutil
import struct

from setuptools import Distribution, setup
from setuptools.command.bdist_wheel import bdist_wheel  # setuptools >= 70.1
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
VERSION = (ROOT / "VERSION").read_text().strip()
LIBRARY = pathlib.Path(
    os.environ.get("ATTN_LIB", ROOT / "build" / "lib" / "libattnrt.so")
)
# manylinux policies (PEP 600, auditwheel's manylinux-policy.json): glibc 2.N and the
# newest GLIBCXX and CXXABI symbol versions of libstdc++ each allows; 2.17 is
# manylinux2014, which pips older than 20.3 know by that name only.
POLICIES = [
    (17, (3, 4, 19), (1, 3, 7)),
    (24, (3, 4, 22), (1, 3, 10)),
    (27, (3, 4, 24), (1, 3, 11)),
    (28, (3, 4, 24), (1, 3, 11)),
    (31, (3, 4, 28), (1, 3, 12)),
    (34, (3, 4, 29), (1, 3, 13)),
    (35, (3, 4, 30), (1, 3, 13)),
]


def needed_versions(library):
    """The symbol versions an x86-64 ELF library needs (its .gnu.version_r section),
    e.g. {"GLIBC": [(2, 14), ...], "GLIBCXX": [(3, 4, 21), ...]}."""
    data = library.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise SystemExit(f"attn_kernels: {library} is not a 64-bit little-endian ELF")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQII", data, shoff + i * shentsize)
        for i in range(shnum)
    ]
    versions = {}
    for _, kind, _, _, offset, _, link, count in sections:
        if kind != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        strings = sections[link][4]
        need = offset
        for _ in range(count):  # Elf64_Verneed, then its Elf64_Vernaux entries
            _, aux_count, _, aux, next_need = struct.unpack_from("<HHIII", data, need)
            entry = need + aux
            for _ in range(aux_count):
                _, _, _, name, next_aux = struct.unpack_from("<IHHII", data, entry)
                end = data.index(b"\0", strings + name)
                prefix, _, number = data[strings + name : end].decode().partition("_")
                if number.replace(".", "").isdigit():
                    versions.setdefault(prefix, []).append(
                        tuple(int(part) for part in number.split("."))
                    )
                entry += next_aux
            need += next_need
    return versions


def manylinux_platform(library):
    """The oldest manylinux_2_N_x86_64 policy that allows every glibc and libstdc++
    symbol version `library` needs."""
    versions = needed_versions(library)
    glibc = max(versions.get("GLIBC", [(2, 0)]))
    glibcxx = max(versions.get("GLIBCXX", [(3, 4)]))
    cxxabi = max(versions.get("CXXABI", [(1, 3)]))
    for minor, max_glibcxx, max_cxxabi in POLICIES:
        if glibc <= (2, minor) and glibcxx <= max_glibcxx and cxxabi <= max_cxxabi:
            platform = f"manylinux_2_{minor}_x86_64"
            return platform + ".manylinux2014_x86_64" if minor == 17 else platform
    raise SystemExit(
        f"attn_kernels: {library} needs GLIBC {glibc}, GLIBCXX {glibcxx}, CXXABI "
        f"{cxxabi}: newer than any manylinux policy known here (up to glibc 2.35)"
    )


class BundleRuntime(build_py):
    """Puts libattnrt.so into the package and the version into _version.py."""

    def run(self):
        super().run()
        package = pathlib.Path(self.build_lib) / "attn_kernels"
        (package / "_version.py").write_text(
            '"""attn_kernels.__version__ (written by setup.py)."""\n\n'
            f'__version__ = "{VERSION}"\n'
        )
        if not LIBRARY.exists():
            print(f"attn_kernels: no {LIBRARY}; the package needs ATTN_LIB at run time")
            return
        shutil.copy2(LIBRARY, package / "libattnrt.so")
        print(f"attn_kernels: bundled {LIBRARY}")


class WithLibrary(Distribution):
    """A distribution with a native library: the package goes to platlib (the wheel's
    root is not purelib), though it has no extension module."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """A platform wheel without a Python ABI: py3-none-<manylinux_platform>."""

    def get_tag(self):
        if not LIBRARY.exists():
            return "py3", "none", "any"
        return "py3", "none", manylinux_platform(LIBRARY)


setup(
    version=VERSION,
    distclass=WithLibrary,
    cmdclass={"build_py": BundleRuntime, "bdist_wheel": PlatformWheel},
    # Build trees under the repository's build/, not in python/.
    options={"build": {"build_base": str(ROOT / "build" / "python" / "attn_kernels")}},
)
