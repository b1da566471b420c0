"""Bad config: one clear error naming the key, raised before any resource is registered."""

from __future__ import annotations

import unittest
from typing import Any

import pulumi

from exo.specs import CertificateSpec
from settings.stack import parse_settings
from settings.values import ConfigError
from tests.harness import assert_refused_before_registration
from tests.mock_tenant import MockTenant

# An Automation account that can run the Exchange RBAC reconciler (Exchange Administrator by default).
RBAC_ACCOUNT: dict[str, Any] = {"automation": {"location": "westeurope"}}

# (label, config, the key the error must name, a phrase the reason must contain)
BAD_CONFIGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown role", {"identities": [{"name": "a", "roles": ["Exchange Admin"]}]}, "exo-automation:identities[0].roles[0]", "valid roles: Exchange Administrator"),
    ("global admin without allow", {"identities": [{"name": "a", "roles": ["Global Administrator"]}]}, "exo-automation:identities[0].roles[0]", "allowGlobalAdministrator"),
    ("role listed twice", {"identities": [{"name": "a", "roles": ["Global Reader", "global reader"]}]}, "exo-automation:identities[0].roles[1]", "twice"),
    ("no roles", {"identities": [{"name": "a", "roles": []}]}, "exo-automation:identities[0].roles", "at least one role"),
    ("roles not a list", {"identities": [{"name": "a", "roles": "Exchange Administrator"}]}, "exo-automation:identities[0].roles", "a list of role names"),
    ("S&C asked without a role for it", {"identities": [{"name": "a", "roles": ["Exchange Recipient Administrator"], "securityCompliance": True}]}, "exo-automation:identities[0].securityCompliance", "Global Reader"),
    ("identities not JSON", {"identities": "[{name: a"}, "exo-automation:identities", "not valid JSON"),
    ("identities an object", {"identities": {"name": "a"}}, "exo-automation:identities", "a list of identity objects"),
    ("identities empty", {"identities": []}, "exo-automation:identities", "at least one identity"),
    ("identity without name", {"identities": [{"roles": ["Global Reader"]}]}, "exo-automation:identities[0].name", "required"),
    ("name with capitals", {"identities": [{"name": "Reports"}]}, "exo-automation:identities[0].name", "lowercase"),
    ("duplicate names", {"identities": [{"name": "a"}, {"name": "a"}]}, "exo-automation:identities[1].name", "already used by exo-automation:identities[0]"),
    ("duplicate display names", {"identities": [{"name": "a", "displayName": "X"}, {"name": "b", "displayName": "x"}]}, "exo-automation:identities[1].displayName", "already used"),
    ("typo in identity key", {"identities": [{"name": "a", "role": ["Global Reader"]}]}, "exo-automation:identities[0]", "unknown setting(s) role"),
    ("typo in certificate key", {"identities": [{"name": "a", "certificate": {"validityMonth": 6}}]}, "exo-automation:identities[0].certificate", "unknown setting(s) validityMonth"),
    ("rsa 1024", {"identities": [{"name": "a", "certificate": {"rsaBits": 1024}}]}, "exo-automation:identities[0].certificate.rsaBits", "2048, 3072, 4096"),
    ("rsa as string", {"identities": [{"name": "a", "certificate": {"rsaBits": "2048"}}]}, "exo-automation:identities[0].certificate.rsaBits", "a whole number"),
    ("validity 36 months", {"identities": [{"name": "a", "certificate": {"validityMonths": 36}}]}, "exo-automation:identities[0].certificate.validityMonths", "from 1 to 24"),
    ("validity zero", {"identities": [{"name": "a", "certificate": {"validityMonths": 0}}]}, "exo-automation:identities[0].certificate.validityMonths", "from 1 to 24"),
    ("validity as float", {"identities": [{"name": "a", "certificate": {"validityMonths": 6.5}}]}, "exo-automation:identities[0].certificate.validityMonths", "a whole number"),
    ("renewal window too short", {"identities": [{"name": "a", "certificate": {"renewBeforeDays": 2}}]}, "exo-automation:identities[0].certificate.renewBeforeDays", "from 7 to 180"),
    ("renewal window over half the life", {"identities": [{"name": "a", "certificate": {"validityMonths": 2, "renewBeforeDays": 45}}]}, "exo-automation:identities[0].certificate.renewBeforeDays", "more than half"),
    ("common name with comma", {"identities": [{"name": "a", "certificate": {"commonName": "CN=x, O=y"}}]}, "exo-automation:identities[0].certificate.commonName", "without"),
    ("keep previous at generation 1", {"identities": [{"name": "a", "certificate": {"keepPreviousGeneration": True}}]}, "exo-automation:identities[0].certificate.keepPreviousGeneration", "bump generation"),
    ("generation zero", {"identities": [{"name": "a", "certificate": {"generation": 0}}]}, "exo-automation:identities[0].certificate.generation", "from 1 to 999"),
    ("organization is a GUID", {"organization": "72f988bf-86f1-41af-91ab-2d7cd011db47"}, "exo-automation:organization", "tenant id"),
    ("organization is a vanity domain", {"organization": "contoso.com"}, "exo-automation:organization", "not an initial domain"),
    ("organization bare suffix", {"organization": ".onmicrosoft.com"}, "exo-automation:organization", "not an initial domain"),
    ("commercial domain in GCC High", {"azuread:environment": "usgovernmentl4", "organization": "contoso.partner.onmschina.cn"}, "exo-automation:organization", ".onmicrosoft.us"),
    ("unknown cloud", {"azuread:environment": "germany"}, "azuread:environment", "unknown cloud"),
    ("allowGlobalAdministrator not boolean", {"allowGlobalAdministrator": "yes"}, "exo-automation:allowGlobalAdministrator", "true or false"),
    ("owner not a GUID", {"additionalOwners": ["alice@contoso.com"]}, "exo-automation:additionalOwners[0]", "not an object id"),
    ("owners not a list", {"additionalOwners": "0b3e8a57-6c7e-4f3d-9a34-1f2e3d4c5b6a"}, "exo-automation:additionalOwners", "not valid JSON"),
    # Exchange RBAC (issue 14): every error names the key inside exchangeRbac.
    ("rbac unknown management role", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["View Only Recipients"]}}]}, "exo-automation:identities[0].exchangeRbac.roles[0]", "not a built-in Exchange Online management role"),
    ("rbac Entra role as management role", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Exchange Administrator"]}}]}, "exo-automation:identities[0].exchangeRbac.roles[0]", "is an Entra role"),
    ("rbac Role Management refused", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Role Management"]}}]}, "exo-automation:identities[0].exchangeRbac.roles[0]", "assign itself any role"),
    ("rbac role twice", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients", "mail recipients"]}}]}, "exo-automation:identities[0].exchangeRbac.roles[1]", "twice"),
    ("rbac no roles", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": []}}]}, "exo-automation:identities[0].exchangeRbac.roles", "at least one management role"),
    ("rbac roles missing", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {}}]}, "exo-automation:identities[0].exchangeRbac.roles", "is required"),
    ("rbac typo", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "scope": {}}}]}, "exo-automation:identities[0].exchangeRbac", "unknown setting(s) scope"),
    ("rbac filter does not parse", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"filter": "Department -eq 'Sales"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope.filter", "unterminated"),
    ("rbac filter unknown property", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"filter": "Departmnt -eq 'Sales'"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope.filter", "not a filterable recipient property"),
    ("rbac filter bad operator", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"filter": "Department -contains 'Sales'"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope.filter", "comparison operator"),
    ("rbac filter with a variable", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"filter": "Department -eq $dept"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope.filter", "variable"),
    ("rbac both scope kinds", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"filter": "Department -eq 'Sales'", "administrativeUnit": "0b3e8a57-6c7e-4f3d-9a34-1f2e3d4c5b6a"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope", "exactly one"),
    ("rbac administrative unit not a GUID", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"], "recipientScope": {"administrativeUnit": "Sales AU"}}}]}, "exo-automation:identities[0].exchangeRbac.recipientScope.administrativeUnit", "not an object id"),
    ("rbac custom role unknown parent", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"parent": "Readers", "cmdlets": ["Get-Mailbox"]}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.parent", "not a built-in"),
    ("rbac custom role from Role Management", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"parent": "Role Management", "cmdlets": ["Get-ManagementRole"]}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.parent", "could still assign roles"),
    ("rbac custom role wildcard cmdlet", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"parent": "View-Only Recipients", "cmdlets": ["Get-*"]}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.cmdlets[0]", "Verb-Noun"),
    ("rbac custom role no cmdlets", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"parent": "View-Only Recipients", "cmdlets": []}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.cmdlets", "at least one cmdlet"),
    ("rbac custom role cmdlet twice", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"parent": "View-Only Recipients", "cmdlets": ["Get-User", "get-user"]}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.cmdlets[1]", "twice"),
    ("rbac custom role without parent", {**RBAC_ACCOUNT, "identities": [{"name": "a", "exchangeRbac": {"customRole": {"cmdlets": ["Get-User"]}}}]}, "exo-automation:identities[0].exchangeRbac.customRole.parent", "required"),
    ("rbac identity named like the managed identity", {"automation": {"location": "westeurope", "exchangeRbac": {"roles": ["Mail Recipients"]}}, "identities": [{"name": "automation"}]}, "exo-automation:identities[0].name", "rename this identity"),
    ("rbac without automation", {"identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:identities[0].exchangeRbac", "needs exo-automation:automation"),
    ("rbac reconciler role missing", {"automation": {"location": "westeurope", "roles": ["Global Reader"]}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.roles", "Role Management"),
    ("rbac with the managed identity's default roles", {"automation": {"location": "westeurope"}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.roles", "its default is now [Exchange Recipient Administrator, Global Reader], it was [Exchange Administrator]"),
    ("runbook beyond the managed identity's default roles", {"automation": {"location": "westeurope", "runbooks": [{"name": "r", "file": "runbooks/Sync-ExchangeRbac.ps1"}]}}, "exo-automation:automation.roles", "roles is not set: its default is now"),
    ("rbac on the managed identity", {"automation": {"location": "westeurope", "exchangeRbac": {"roles": ["Nope"]}}}, "exo-automation:automation.exchangeRbac.roles[0]", "not a built-in"),
    ("rbac sync dryRun not boolean", {"automation": {"location": "westeurope", "roles": ["Exchange Administrator"], "exchangeRbacSync": {"dryRun": "yes"}}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.exchangeRbacSync.dryRun", "true or false"),
    ("rbac sync bad schedule", {"automation": {"location": "westeurope", "roles": ["Exchange Administrator"], "exchangeRbacSync": {"schedule": {"frequency": "Minute", "time": "03:00", "timeZone": "UTC"}}}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.exchangeRbacSync.schedule.frequency", "not one of"),
    ("rbac sync formerOwners not a list", {"automation": {"location": "westeurope", "roles": ["Exchange Administrator"], "exchangeRbacSync": {"formerOwners": "exoa-1a2b3c-"}}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.exchangeRbacSync.formerOwners", "a list of owner prefixes"),
    ("rbac sync formerOwners not a prefix", {"automation": {"location": "westeurope", "roles": ["Exchange Administrator"], "exchangeRbacSync": {"formerOwners": ["exoa-1a2b3c-", "Organization"]}}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.exchangeRbacSync.formerOwners[1]", "not an owner prefix"),
    ("rbac reconciler listed by hand", {"automation": {"location": "westeurope", "roles": ["Exchange Administrator"], "runbooks": [{"name": "Sync-ExchangeRbac", "file": "runbooks/Sync-ExchangeRbac.ps1"}]}, "identities": [{"name": "a", "exchangeRbac": {"roles": ["Mail Recipients"]}}]}, "exo-automation:automation.exchangeRbacSync", "remove it from runbooks"),
]  # fmt: skip


class BadConfigIsRefusedBeforeAnyResource(unittest.IsolatedAsyncioTestCase):
    async def test_each_bad_config_names_its_key_and_registers_nothing(self) -> None:
        self.assertGreaterEqual(len(BAD_CONFIGS), 20)
        for label, config, key, phrase in BAD_CONFIGS:
            with self.subTest(label):
                await assert_refused_before_registration(self, MockTenant(), config, key, phrase)

    def test_config_errors_are_pulumi_run_errors_so_no_stack_trace_is_printed(self) -> None:
        self.assertTrue(issubclass(ConfigError, pulumi.RunError))


class GoodConfig(unittest.TestCase):
    def test_empty_config_is_the_seed_setup(self) -> None:
        settings = parse_settings({}, "dev", None)
        (identity,) = settings.identities
        self.assertEqual(identity.name, "exo")
        self.assertEqual(identity.display_name, "exo-automation-dev-exo")
        self.assertEqual(identity.role_names, ("Global Reader",))
        self.assertIsInstance(identity.certificate, CertificateSpec, "the program generates the certificate unless told otherwise")
        assert isinstance(identity.certificate, CertificateSpec)
        self.assertEqual((identity.certificate.generation, identity.certificate.keep_previous_generation), (1, False))
        self.assertEqual(identity.certificate.validity_period_hours, 8760)
        self.assertEqual(identity.certificate.early_renewal_hours, 720)
        self.assertEqual(identity.certificate.rsa_bits, 2048)
        self.assertEqual(settings.cloud.exchange_environment_name, "O365Default")
        self.assertIsNone(settings.organization)

    def test_provider_aliases_name_the_same_cloud(self) -> None:
        for alias, name in (("public", "global"), ("usgovernment", "usgovernmentl4"), ("DoD", "usgovernmentl5"), ("china", "china")):
            self.assertEqual(parse_settings({}, "dev", alias).cloud.azuread_environment, name)

    def test_exchange_rbac_instead_of_an_entra_role(self) -> None:
        settings = parse_settings(
            {
                "automation": '{"location": "westeurope", "roles": ["Exchange Administrator"]}',
                "identities": '[{"name": "r", "exchangeRbac": {"roles": ["view-only recipients"], '
                '"recipientScope": {"filter": "Department -eq \'Sales\'"}}}]',
            },
            "dev",
            None,
        )
        (identity,) = settings.identities
        self.assertEqual(identity.role_names, ())
        assert identity.exchange_rbac is not None and identity.exchange_rbac.scope is not None
        self.assertEqual(identity.exchange_rbac.roles, ("View-Only Recipients",))
        self.assertEqual(identity.exchange_rbac.scope.filter, "Department -eq 'Sales'")
        assert settings.rbac_reconciler is not None
        self.assertEqual(settings.rbac_reconciler.name, "Sync-ExchangeRbac")
        self.assertEqual(dict(settings.rbac_reconciler.parameters), {"DryRun": "false"})

    def test_exchange_rbac_as_an_addition_to_entra_roles(self) -> None:
        settings = parse_settings(
            {
                "automation": '{"location": "westeurope", "roles": ["Exchange Administrator"], "exchangeRbacSync": {"dryRun": true}}',
                "identities": '[{"name": "r", "roles": ["Global Reader"], "exchangeRbac": {"roles": ["Message Tracking"], '
                '"recipientScope": {"administrativeUnit": "0B3E8A57-6C7E-4F3D-9A34-1F2E3D4C5B6A"}}}]',
            },
            "dev",
            None,
        )
        (identity,) = settings.identities
        self.assertEqual(identity.role_names, ("Global Reader",))
        assert identity.exchange_rbac is not None and identity.exchange_rbac.scope is not None
        self.assertEqual(identity.exchange_rbac.scope.administrative_unit_id, "0b3e8a57-6c7e-4f3d-9a34-1f2e3d4c5b6a")
        assert settings.rbac_reconciler is not None
        self.assertEqual(dict(settings.rbac_reconciler.parameters), {"DryRun": "true"})

    def test_global_administrator_when_explicitly_allowed(self) -> None:
        settings = parse_settings(
            {"allowGlobalAdministrator": "true", "identities": '[{"name": "a", "roles": ["Global Administrator"]}]'}, "prod", None
        )
        self.assertEqual(settings.identities[0].role_names, ("Global Administrator",))
