"""Entry point the Pulumi CLI runs for `--policy-pack policy`: it only builds the pack (which then serves)."""

import sys
from pathlib import Path

# The CLI runs the pack with policy/ as its directory; the rules import the program's facts as the package `exo` from the repository
# root (stdlib-only, so this virtualenv needs nothing more).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exo_policy_pack import PACK_NAME, build_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(build_policies()),
)
