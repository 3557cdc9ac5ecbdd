"""pytest set-up of the kernel emulator's tests: test/emu on sys.path."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
