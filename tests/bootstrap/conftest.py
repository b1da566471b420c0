"""Import the bootstrap project's modules (with the workflow scripts it shares, and the policy rules it must pass) the way their
runtimes do."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for path in (REPO / "bootstrap", REPO / ".github" / "scripts", REPO / "policy", REPO / "tests" / "support", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
