"""The whole program in preview and update mode: inputs valid against the SDK schemas, idempotent, nothing dropped in preview."""

from __future__ import annotations

import datetime as dt
import unittest
from typing import Any

from tests.harness import Deployment, evaluate
from tests.mock_tenant import MockTenant, is_secret, is_unknown
from tests.schema_check import check_registration

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "several identities": {
        "identities": [
            {"name": "reports", "roles": ["Global Reader", "Security Reader"], "securityCompliance": True},
            {"name": "provisioning", "displayName": "EXO provisioning", "roles": ["exchange recipient administrator"]},
            {"name": "helpdesk", "roles": ["Helpdesk Administrator"], "certificate": {"rsaBits": 4096, "commonName": "helpdesk-bot"}},
        ],
        "additionalOwners": ["0b3e8a57-6c7e-4f3d-9a34-1f2e3d4c5b6a"],
    },
    "rotation overlap": {"identities": [{"name": "exo", "certificate": {"generation": 3, "keepPreviousGeneration": True}}]},
    "global administrator allowed": {
        "allowGlobalAdministrator": True,
        "identities": [{"name": "breakglass", "roles": ["Global Administrator"]}],
    },
    "china": {"azuread:environment": "china", "organization": "contoso.partner.onmschina.cn"},
}


def plain_inputs(deployment: Deployment) -> dict[tuple[str, str], Any]:
    """What the engine would diff: a Schedule's start time is ignored after creation (components/runbook_schedules.py)."""
    return {(r.type, r.name): r.diffable() for r in deployment.registrations}


def unknown_paths(value: Any, path: str = "") -> list[str]:
    if is_unknown(value):
        return [path]
    if is_secret(value):
        return unknown_paths(value["value"], path)
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_paths(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unknown_paths(v, f"{path}[{i}]")]
    return []


class SchemaOfEveryInput(unittest.IsolatedAsyncioTestCase):
    async def test_every_recorded_input_matches_the_sdk_args_in_both_modes(self) -> None:
        for label, config in CONFIGS.items():
            for preview in (True, False):
                with self.subTest(config=label, preview=preview):
                    deployment = await evaluate(MockTenant(), preview=preview, config=config)
                    checked = 0
                    for registration in deployment.custom():
                        self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])
                        checked += 1
                    self.assertGreaterEqual(checked, 7)

    async def test_the_checker_catches_what_the_sdk_lets_through(self) -> None:
        problems = check_registration(
            "azuread:index/application:Application",
            "bad",
            {
                "signInAudience": "AzureADMyOrgs",
                "requiredResourceAccesses": [{"resourceAppId": "x", "resourceAccess": [{"id": "y", "type": "Roles"}]}],
                "owners": "not-a-list",
            },
        )
        joined = "\n".join(problems)
        self.assertIn("signInAudience: 'AzureADMyOrgs' is not one of the documented values", joined)
        self.assertIn("resourceAccess: no such input", joined)
        self.assertIn("required input resource_accesses is missing", joined)
        self.assertIn("owners: expected a list", joined)
        self.assertIn("required input display_name is missing", joined)
        self.assertIn(
            "validityPeriodHours: expected a whole number",
            "\n".join(
                check_registration(
                    "tls:index/selfSignedCert:SelfSignedCert", "c", {"validityPeriodHours": "8760", "allowedUses": ["client_auth"]}
                )
            ),
        )
        self.assertIn(
            "'ClientAuth' is not one of the documented values",
            "\n".join(
                check_registration(
                    "tls:index/selfSignedCert:SelfSignedCert", "c", {"validityPeriodHours": 1, "allowedUses": ["ClientAuth"]}
                )
            ),
        )
        self.assertIn(
            "required input principal_object_id is missing",
            "\n".join(
                check_registration("azuread:index/appRoleAssignment:AppRoleAssignment", "g", {"appRoleId": "a", "resourceObjectId": "b"})
            ),
        )


class Idempotence(unittest.IsolatedAsyncioTestCase):
    async def test_two_updates_register_identical_inputs_even_at_different_times(self) -> None:
        for label, config in CONFIGS.items():
            with self.subTest(config=label):
                wall_clock = [dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)]
                tenant = MockTenant(clock=lambda clock=wall_clock: clock[0])
                first = await evaluate(tenant, preview=False, config=config)
                wall_clock[0] += dt.timedelta(days=3, hours=5)
                second = await evaluate(tenant, preview=False, config=config)
                self.assertEqual(plain_inputs(first), plain_inputs(second))
                self.assertEqual(
                    {(r.type, r.name): r.id for r in first.custom()}, {(r.type, r.name): r.id for r in second.custom()}, "nothing replaced"
                )
                self.assertEqual(
                    {k: v.value for k, v in first.outputs.items()}, {k: v.value for k, v in second.outputs.items()}, "same outputs"
                )

    async def test_a_preview_after_up_is_fully_known_and_shows_no_change(self) -> None:
        tenant = MockTenant()
        deployed = await evaluate(tenant, preview=False, config=CONFIGS["several identities"])
        preview = await evaluate(tenant, preview=True, config=CONFIGS["several identities"])
        self.assertEqual(plain_inputs(deployed), plain_inputs(preview))
        for registration in preview.registrations:
            self.assertEqual(unknown_paths(registration.inputs), [], registration.name)
        self.assertTrue(all(output.known for output in preview.outputs.values()))

    async def test_a_first_preview_leaves_only_computed_values_unknown(self) -> None:
        deployment = await evaluate(MockTenant(), preview=True)
        unknown = {f"{r.name}{path}" for r in deployment.registrations for path in unknown_paths(r.inputs) if r.custom}
        self.assertEqual(
            unknown,
            {
                "exo-sp.clientId",
                "exo-grant-manage-as-app.principalObjectId",
                "exo-grant-global-reader.principalObjectId",
                "exo-certificate-g1-cert.privateKeyPem",
                "exo-certificate-g1-credential.applicationId",
                "exo-certificate-g1-credential.value",
                "exo-certificate-g1-credential.endDate",
            },
        )
        # What the tenant already has is known in preview: the look-ups run.
        grant = deployment.one("azuread:index/appRoleAssignment:AppRoleAssignment", "exo-grant-manage-as-app")
        self.assertEqual(grant.plain_inputs["resourceObjectId"], deployment.tenant.exchange_object_id)
        self.assertEqual(deployment.output("organization"), deployment.tenant.initial_domain)

    async def test_ids_differ_between_tenants(self) -> None:
        first = await evaluate(MockTenant(), preview=False)
        second = await evaluate(MockTenant(), preview=False)
        self.assertNotEqual(first.output("tenantId"), second.output("tenantId"))
        self.assertNotEqual(first.output("organization"), second.output("organization"))
        self.assertNotEqual(first.output("identities")["exo"]["thumbprint"], second.output("identities")["exo"]["thumbprint"])
