"""Every policy over every resource the whole program (`__main__.py`) registers under the mock tenant: all pass.

And the program's own guard and the pack agree: what config refuses (Global Administrator without the allow flag), the pack
blocks too when such a role assignment reaches it anyway.
"""

from __future__ import annotations

import unittest
from datetime import datetime
from typing import Any

import pytest

pytest.importorskip("pulumi_azuread", reason="needs the program's SDKs (run in the main .venv)")

import exo_policies as ep

from tests.fixtures import automation_stack
from tests.harness import Deployment, evaluate
from tests.mock_tenant import MockTenant, is_unknown, reveal

PROGRAM_CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "several identities": {
        "identities": [
            {"name": "reports", "roles": ["Global Reader"], "securityCompliance": True},
            {"name": "provisioning", "roles": ["Exchange Recipient Administrator"], "certificate": {"rsaBits": 4096}},
        ]
    },
    "rotation overlap": {"identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True}}]},
    "Automation stack": automation_stack(),
    # Issue 14: an identity with Exchange RBAC only (no directory role), the desired-state variable and the one-off reconciler run.
    "Exchange RBAC": {
        # The reconciler's managed identity needs Exchange Administrator (facts.RBAC_RECONCILER_ROLES).
        **automation_stack(roles=["Exchange Administrator"]),
        "exo-automation:identities": [
            {
                "name": "sales-reports",
                "exchangeRbac": {
                    "customRole": {"parent": "View-Only Recipients", "cmdlets": ["Get-Mailbox"]},
                    "recipientScope": {"filter": "Department -eq 'Sales'"},
                },
            }
        ],
    },
}


class PreviewUnknownError(Exception):
    """What pulumi_policy's unknown-checking proxy raises when a rule reads a value preview cannot know yet."""


class UnknownChecking(dict[str, Any]):
    """Inputs as CrossGuard hands them to a rule in preview: reading an unknown value raises (the pack then defers the check)."""

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        if is_unknown(value):
            raise PreviewUnknownError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self else default  # noqa: SIM401 - self.get would recurse


def records(deployment: Deployment) -> list[ep.ResourceRecord]:
    return [ep.ResourceRecord(r.type, r.name, UnknownChecking(reveal(r.inputs))) for r in deployment.custom()]


def run_pack(resources: list[ep.ResourceRecord], now: datetime) -> tuple[list[ep.Violation], list[str]]:
    """Violations, and the (resource, rule) checks deferred because preview did not know a value yet.

    `now` is the mock tenant's clock: the one that issued the certificates and anchored the schedules.
    """
    violations: list[ep.Violation] = []
    deferred: list[str] = []
    for resource in resources:
        for rule in ep.RULES:
            try:
                violations += ep.evaluate([resource], now=now, rules=[rule])
            except PreviewUnknownError as unknown:
                deferred.append(f"{resource.name}:{rule.name}:{unknown}")
    return violations, deferred


class PolicyPackOverTheProgram(unittest.IsolatedAsyncioTestCase):
    async def test_every_rule_passes_on_every_resource_in_preview_and_up(self) -> None:
        for label, config in PROGRAM_CONFIGS.items():
            for preview in (True, False):
                with self.subTest(config=label, preview=preview):
                    tenant = MockTenant()
                    deployment = await evaluate(tenant, preview=preview, config=config)
                    resources = records(deployment)
                    self.assertGreaterEqual(len(resources), 7)
                    violations, deferred = run_pack(resources, tenant.clock())
                    self.assertEqual(violations, [])
                    # Only values that exist once the update creates them wait: our app's client id (read by the first-party
                    # check on its service principal) and the credential's end date (the new certificate's).
                    allowed = (
                        ":no-first-party-service-principal:clientId",
                        ":certificate-validity-bounded:endDate",
                        ":schedule-start-in-future:startTime",  # from the creation-time anchor, known once created
                    )
                    self.assertTrue(all(d.endswith(allowed) for d in deferred), deferred)
                    if preview:
                        self.assertTrue(deferred)
                    if not preview:
                        self.assertEqual(deferred, [])

    async def test_the_rules_read_resources_the_program_really_registers(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False)
        registered = {r.type for r in deployment.custom()}
        watched = {token for rule in ep.RULES for token in rule.resource_types}
        # Every identity resource type the program uses that a rule is about is watched by that rule.
        self.assertTrue(
            {
                "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment",
                "tls:index/privateKey:PrivateKey",
                "tls:index/selfSignedCert:SelfSignedCert",
                "azuread:index/applicationCertificate:ApplicationCertificate",
            }
            <= registered & watched
        )

    async def test_global_administrator_allowed_in_config_still_needs_the_pack_allowance(self) -> None:
        config = {"allowGlobalAdministrator": True, "identities": [{"name": "breakglass", "roles": ["Global Administrator"]}]}
        tenant = MockTenant()
        deployment = await evaluate(tenant, preview=False, config=config)
        violations, _ = run_pack(records(deployment), tenant.clock())
        self.assertEqual([(v.resource_type, v.enforcement) for v in violations], [(ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT, "mandatory")])
        self.assertIn("Global Administrator", violations[0].message)
        allowed = ep.evaluate(records(deployment), now=tenant.clock(), settings=ep.PolicySettings(allow_global_administrator=True))
        self.assertEqual(allowed, [])
