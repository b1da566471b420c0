"""Make the policy pack's modules importable the way the Pulumi CLI imports them (top-level, from policy/)."""

import sys
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
if str(POLICY_DIR) not in sys.path:
    sys.path.insert(0, str(POLICY_DIR))
