"""attn_kernels.__version__: the repository's VERSION when run from a checkout; a wheel
or an installed copy gets this file rewritten with the version as a literal (setup.py).
"""

import pathlib


def _checkout_version():
    path = pathlib.Path(__file__).resolve().parents[2] / "VERSION"
    try:
        return path.read_text().strip()
    except OSError:
        return "unknown"


__version__ = _checkout_version()
