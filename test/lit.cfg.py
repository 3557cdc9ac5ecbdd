# lit configuration for the attn compiler's FileCheck tests.
import os

import lit.formats

config.name = "attn"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.attn_obj_root, "test")
config.excludes = [
    "CMakeLists.txt",
    "lit.cfg.py",
    "lit.site.cfg.py.in",
    "unit",
    "gpu",
    "pack",
    "autotune",
]

config.environment["PATH"] = os.pathsep.join(
    [config.attn_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")]
)
config.substitutions.append(("%ptxas", config.ptxas))
if config.ptxas and os.path.exists(config.ptxas):
    config.available_features.add("ptxas")
