"""The well-known ids the bootstrap needs, taken from the main program's `components/facts.py`.

Loaded by file path because this project runs from `bootstrap/`, where the repository root (and with it the
`components` package) is not on the import path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FACTS_PATH = Path(__file__).resolve().parent.parent / "components" / "facts.py"


def _load_facts() -> ModuleType:
    module_name = "exo_automation_facts"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, FACTS_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the facts module at {FACTS_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


MICROSOFT_GRAPH_APP_ID: str = _load_facts().MICROSOFT_GRAPH_APP_ID
