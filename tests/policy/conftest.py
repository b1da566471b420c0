"""Import the policy pack's modules the way the Pulumi CLI does (top-level, from policy/), plus test support."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for path in (REPO / "policy", REPO / "tests" / "support"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
