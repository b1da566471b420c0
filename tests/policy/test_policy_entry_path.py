"""The pack imports the program's facts as the package `exo`: from policy/, as the Pulumi CLI runs it, with nothing else on the path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

POLICY = Path(__file__).resolve().parents[2] / "policy"

# policy/__main__.py up to the pack's own imports (constructing the PolicyPack would serve and block), then the rules module.
PRELUDE = """
import os, sys
source = open("__main__.py").read().split("from exo_policy_pack")[0]
exec(source, {"__file__": os.path.abspath("__main__.py"), "__name__": "entry"})
import exo_policies
print(exo_policies.load_catalog().global_administrator_template_id, sys.modules["exo.facts"].__file__)
"""


def test_the_entry_point_makes_the_repository_package_importable_from_the_pack_folder() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PRELUDE], cwd=POLICY, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    template_id, facts_file = result.stdout.split()
    assert template_id == "62e90394-69f5-4237-9190-012177145e10"  # Global Administrator (exo/facts.py)
    assert Path(facts_file) == POLICY.parent / "exo" / "facts.py"
