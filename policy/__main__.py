"""Entry point the Pulumi CLI runs for `--policy-pack policy`: it only builds the pack (which then serves)."""

from exo_policy_pack import PACK_NAME, build_policies
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list(build_policies()),
)
