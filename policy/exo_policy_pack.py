"""CrossGuard wiring: one ResourceValidationPolicy per rule of `exo_policies`.

Kept apart from `__main__.py` because constructing a `PolicyPack` starts the analyzer server and blocks;
tests import this module to check the policies without serving them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from exo_policies import (
    RULES,
    Catalog,
    PolicySettings,
    Rule,
    RuleContext,
    check_resource,
    load_catalog,
    settings_from_config,
)
from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

PACK_NAME = "exo-automation"

_ENFORCEMENT = {
    "advisory": EnforcementLevel.ADVISORY,
    "mandatory": EnforcementLevel.MANDATORY,
}


def _validator(rule: Rule, catalog: Catalog):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        ctx = RuleContext(
            catalog=catalog,
            settings=settings_from_config(args.get_config(), PolicySettings()),
            now=datetime.now(UTC),
        )
        for message in check_resource(rule, args.resource_type, args.props, ctx):
            report_violation(message, None)

    return validate


def build_policies(catalog: Catalog | None = None, rules: Sequence[Rule] = RULES) -> list[ResourceValidationPolicy]:
    """The pack's policies, in rule order."""
    resolved = catalog or load_catalog()
    return [
        ResourceValidationPolicy(
            name=rule.name,
            description=rule.description,
            enforcement_level=_ENFORCEMENT[rule.enforcement],
            validate=_validator(rule, resolved),
            config_schema=PolicyConfigSchema(properties={k: dict(v) for k, v in rule.config_properties.items()})
            if rule.config_properties
            else None,
        )
        for rule in rules
    ]
