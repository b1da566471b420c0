"""Bad config: one clear error naming the key, raised before any resource is registered."""

from __future__ import annotations

import unittest
from typing import Any

import pulumi

from components.config_values import ConfigError
from components.settings import CertificateSettings, parse_settings
from tests.harness import evaluate
from tests.mock_tenant import MockTenant

# (label, config, the key the error must name, a phrase the reason must contain)
BAD_CONFIGS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown role", {"identities": [{"name": "a", "roles": ["Exchange Admin"]}]}, "exo-automation:identities[0].roles[0]", "valid roles: Exchange Administrator"),
    ("global admin without allow", {"identities": [{"name": "a", "roles": ["Global Administrator"]}]}, "exo-automation:identities[0].roles[0]", "allowGlobalAdministrator"),
    ("role listed twice", {"identities": [{"name": "a", "roles": ["Global Reader", "global reader"]}]}, "exo-automation:identities[0].roles[1]", "twice"),
    ("no roles", {"identities": [{"name": "a", "roles": []}]}, "exo-automation:identities[0].roles", "at least one role"),
    ("roles not a list", {"identities": [{"name": "a", "roles": "Exchange Administrator"}]}, "exo-automation:identities[0].roles", "a list of role names"),
    ("S&C asked without a role for it", {"identities": [{"name": "a", "securityCompliance": True}]}, "exo-automation:identities[0].securityCompliance", "Global Reader"),
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
]  # fmt: skip


class BadConfigIsRefusedBeforeAnyResource(unittest.IsolatedAsyncioTestCase):
    async def test_each_bad_config_names_its_key_and_registers_nothing(self) -> None:
        self.assertGreaterEqual(len(BAD_CONFIGS), 20)
        for label, config, key, phrase in BAD_CONFIGS:
            with self.subTest(label):
                tenant = MockTenant()
                with self.assertRaises(ConfigError) as caught:
                    await evaluate(tenant, preview=True, config=config)
                self.assertEqual(caught.exception.key, key)
                self.assertIn(phrase, str(caught.exception))
                self.assertTrue(str(caught.exception).startswith(f"config {key}: "))
                self.assertEqual(tenant.registrations, [], "no resource may be registered")
                self.assertEqual(tenant.calls, [], "not even a look-up runs")

    def test_config_errors_are_pulumi_run_errors_so_no_stack_trace_is_printed(self) -> None:
        self.assertTrue(issubclass(ConfigError, pulumi.RunError))


class GoodConfig(unittest.TestCase):
    def test_empty_config_is_the_seed_setup(self) -> None:
        settings = parse_settings({}, "dev", None)
        (identity,) = settings.identities
        self.assertEqual(identity.name, "exo")
        self.assertEqual(identity.display_name, "exo-automation-dev-exo")
        self.assertEqual(identity.role_names, ("Exchange Administrator",))
        self.assertIsInstance(identity.certificate, CertificateSettings, "the program generates the certificate unless told otherwise")
        assert isinstance(identity.certificate, CertificateSettings)
        self.assertEqual(identity.certificate.validity_months, 12)
        self.assertEqual(identity.certificate.validity_period_hours, 8760)
        self.assertEqual(identity.certificate.early_renewal_hours, 720)
        self.assertEqual(identity.certificate.rsa_bits, 2048)
        self.assertEqual(settings.cloud.exchange_environment_name, "O365Default")
        self.assertIsNone(settings.organization)

    def test_provider_aliases_name_the_same_cloud(self) -> None:
        for alias, name in (("public", "global"), ("usgovernment", "usgovernmentl4"), ("DoD", "usgovernmentl5"), ("china", "china")):
            self.assertEqual(parse_settings({}, "dev", alias).cloud.azuread_environment, name)

    def test_global_administrator_when_explicitly_allowed(self) -> None:
        settings = parse_settings(
            {"allowGlobalAdministrator": "true", "identities": '[{"name": "a", "roles": ["Global Administrator"]}]'}, "prod", None
        )
        self.assertEqual(settings.identities[0].role_names, ("Global Administrator",))
