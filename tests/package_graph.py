"""``scripts/import_graph.py`` loaded as a module, for the architecture tests.

The script is the one reader of the package's imports: the tests check what it reports, so
its numbers (circles, import depth) and CI agree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_spec = importlib.util.spec_from_file_location(
    "import_graph", ROOT / "scripts" / "import_graph.py"
)
assert _spec is not None
assert _spec.loader is not None
import_graph = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = import_graph  # registered first, as `import` would
_spec.loader.exec_module(import_graph)

__all__ = ("ROOT", "import_graph")
