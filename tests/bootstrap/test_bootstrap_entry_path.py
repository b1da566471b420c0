"""The bootstrap imports the program's facts and name rules as the package `exo`: from bootstrap/, as Pulumi runs the project."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BOOTSTRAP = Path(__file__).resolve().parents[2] / "bootstrap"

# bootstrap/__main__.py up to its first provider import, then the settings module (which checks names with exo.azure_names).
PRELUDE = """
import os, sys
source = open("__main__.py").read().split("import pulumi\\n")[0]
exec(source, {"__file__": os.path.abspath("__main__.py"), "__name__": "entry"})
import bootstrap_settings
from exo.facts import MICROSOFT_GRAPH_APP_ID
print(MICROSOFT_GRAPH_APP_ID, sys.modules["exo.azure_names"].__file__)
"""


def test_the_entry_point_makes_the_repository_package_importable_from_the_bootstrap_folder() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE], cwd=BOOTSTRAP, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    graph, names_file = result.stdout.split()
    assert graph == "00000003-0000-0000-c000-000000000000"
    assert Path(names_file) == BOOTSTRAP.parent / "exo" / "azure_names.py"
