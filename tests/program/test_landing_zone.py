"""The whole program under Azure Landing Zones' policies: which rules deny which stack in Corp and in Online, as ALZ ships its
assignments and with the `*0` guardrails enforced, and the Corp switch (`landingZone`).

The result is the table in docs/landing-zone.md, which this test renders and compares, so the document cannot drift from the code
or the rules. Run `python -m tests.program.test_landing_zone` to print the table after a change.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import re
import unittest
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exo import facts, landing_zone
from exo.landing_zone import Finding
from settings.values import ConfigError
from tests.fixtures import (
    KEY_VAULT,
    automation_stack,
    exchange_rbac_stack,
    key_vault_stack,
    keyless_stack,
    monitoring_stack,
    tenant_with_vault_readers,
)
from tests.harness import REPO, Deployment, assert_refused_before_registration, evaluate
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate
from tests.mock_tenant import MockTenant

RULES = facts.load_alz_rules()
DOC = REPO / "docs" / "landing-zone.md"
PRIVATE_ENDPOINT = "azure-native:network:PrivateEndpoint"
CERTIFICATE = "tls:index/selfSignedCert:SelfSignedCert"
SECRET = "azure-native:keyvault:Secret"
SUBNET = (
    "/subscriptions/6f1e7a52-3c1d-4b9e-9a0f-2d8c5e7b4a10/resourceGroups/rg-corp-network/providers/Microsoft.Network/"
    "virtualNetworks/vnet-corp/subnets/snet-private-endpoints"
)
CORP: dict[str, Any] = {"archetype": "corp"}
CORP_WITH_ENDPOINTS: dict[str, Any] = {"archetype": "corp", "privateEndpoints": {"subnetId": SUBNET}}
SCENARIOS = (("online", False), ("online", True), ("corp", False), ("corp", True))
SCENARIO_TITLES = ("Online, as shipped", "Online, guardrails enforced", "Corp, as shipped", "Corp, guardrails enforced")


def with_landing_zone(config: dict[str, Any], zone: dict[str, Any]) -> dict[str, Any]:
    return {**copy.deepcopy(config), "exo-automation:landingZone": copy.deepcopy(zone)}


def default_certificates(config: dict[str, Any]) -> dict[str, Any]:
    """One identity whose certificate keeps every default: with keyVault, 89 days, a vault secret within ALZ's 90."""
    result = copy.deepcopy(config)
    result["exo-automation:identities"] = [{"name": "exo"}]
    return result


def year_certificates(config: dict[str, Any]) -> dict[str, Any]:
    """One identity with a 12-month certificate (the default without keyVault, set explicitly)."""
    result = copy.deepcopy(config)
    result["exo-automation:identities"] = [{"name": "exo", "certificate": {"validityMonths": 12}}]
    return result


@dataclass
class Stack:
    label: str
    config: Callable[[CertificateFolder, MovableClock], dict[str, Any]]


def keyless(folder: CertificateFolder, clock: MovableClock) -> dict[str, Any]:
    """Host certificates only (no key anywhere in the program) and an Automation account."""
    return keyless_stack(folder.write("h.crt", make_host_certificate(clock.now, host="HOST01").pem))


STACKS = (
    Stack("Automation account", lambda f, c: automation_stack()),
    Stack("Automation account, `archetype: corp`", lambda f, c: with_landing_zone(automation_stack(), CORP)),
    Stack(
        "Automation account, `archetype: corp` + private endpoints", lambda f, c: with_landing_zone(automation_stack(), CORP_WITH_ENDPOINTS)
    ),
    Stack("Key Vault", lambda f, c: key_vault_stack()),
    Stack("Key Vault, `archetype: corp`", lambda f, c: with_landing_zone(key_vault_stack(), CORP)),
    Stack("Key Vault, `validityMonths: 12`", lambda f, c: year_certificates(key_vault_stack())),
    Stack("Exchange RBAC", lambda f, c: exchange_rbac_stack()),
    Stack("Exchange RBAC, `archetype: corp`", lambda f, c: with_landing_zone(exchange_rbac_stack(), CORP)),
    Stack("keyless (host certificates)", keyless),
    Stack("keyless, `archetype: corp`", lambda f, c: with_landing_zone(keyless(f, c), CORP)),
    Stack("alerts (`automation.monitoring`)", lambda f, c: monitoring_stack()),
    Stack("alerts, `archetype: corp`", lambda f, c: with_landing_zone(monitoring_stack(), CORP)),
)


async def findings_of(stack: Stack) -> dict[tuple[str, bool], list[Finding]]:
    """Deploy the stack (an `up` against a new tenant) and check every registered resource in the four scenarios."""
    clock = MovableClock()
    folder = CertificateFolder()
    try:
        mock = tenant_with_vault_readers()
        mock.clock = clock
        deployment = await evaluate(mock, preview=False, config=stack.config(folder, clock))
    finally:
        folder.cleanup()
    return check(deployment)


def check(deployment: Deployment) -> dict[tuple[str, bool], list[Finding]]:
    now = deployment.tenant.clock()
    requests = [r for reg in deployment.custom() for r in landing_zone.requests_for(reg.type, reg.name, reg.plain_inputs, now)]
    return {scenario: landing_zone.check(requests, *scenario, RULES) for scenario in SCENARIOS}


def cell(findings: list[Finding], kinds: tuple[str, ...]) -> str:
    labels = sorted({f"{f.rule.reference_id or f.rule.assignment} ({f.resource.split()[0]})" for f in findings if f.kind in kinds})
    return "<br>".join(labels) if labels else "—"


def render(results: dict[str, dict[tuple[str, bool], list[Finding]]]) -> str:
    """The two tables of docs/landing-zone.md: denials, then drift (Modify and self-remediating DeployIfNotExists)."""
    lines = ["| stack | " + " | ".join(SCENARIO_TITLES) + " |", "|---" * (len(SCENARIOS) + 1) + "|"]
    for label, found in results.items():
        lines.append(f"| {label} | " + " | ".join(cell(found[s], ("deny",)) for s in SCENARIOS) + " |")
    lines += ["", "Rewritten by Azure on every PUT (perpetual drift) or by a remediation:", ""]
    lines += ["| stack | " + " | ".join(SCENARIO_TITLES) + " |", "|---" * (len(SCENARIOS) + 1) + "|"]
    for label, found in results.items():
        lines.append(f"| {label} | " + " | ".join(cell(found[s], ("modify", "remediate")) for s in SCENARIOS) + " |")
    return "\n".join(lines)


def render_remaining(results: dict[str, dict[tuple[str, bool], list[Finding]]]) -> str:
    """Every rule that still denies or rewrites something in any checked stack, with the setting or exemption it needs, and the
    exemption commands (docs/landing-zone.md, "Remaining denials")."""
    rules: dict[str, facts.AlzRule] = {}
    for found in results.values():
        for findings in found.values():
            for finding in findings:
                rules[finding.rule.label] = finding.rule
    lines: list[str] = []
    for label in sorted(rules):
        rule = rules[label]
        exemption = landing_zone.exemption_for(label)
        needs = [part for part in (landing_zone.REMEDIES.get(label), exemption and f"exemption `{exemption.name}`") if part]
        shipped = "enforced as shipped" if rule.enforcement_mode == "Default" else "a guardrail ALZ ships unenforced"
        lines.append(f"- `{label}` ({rule.effect}, {shipped}): {rule.display_name}. Needs: {'; or '.join(needs)}.")
    lines += ["", "```sh"]
    for exemption in landing_zone.EXEMPTIONS:
        lines += [f"# {exemption.name}: {exemption.reason}", exemption.command(), ""]
    lines[-1] = "```"
    return "\n".join(lines)


def documented(marker: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}:begin -->\n(.*?)\n<!-- {marker}:end -->", text, re.DOTALL)
    assert match is not None, f"docs/landing-zone.md has no {marker} markers"
    return match.group(1)


async def all_results() -> dict[str, dict[tuple[str, bool], list[Finding]]]:
    return {stack.label: await findings_of(stack) for stack in STACKS}


def labels(found: list[Finding], kind: str = "deny") -> set[str]:
    return {f.rule.label for f in found if f.kind == kind}


class Conformance(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.results = await all_results()

    def test_the_documented_tables_are_the_checked_result(self) -> None:
        hint = "run `python -m tests.program.test_landing_zone` and update docs/landing-zone.md"
        self.assertEqual(documented("conformance"), render(self.results), hint)
        self.assertEqual(documented("remaining"), render_remaining(self.results), hint)

    def test_as_alz_ships_nothing_denies_the_automation_account_or_key_vault_in_online_and_in_corp_only_the_documented_store_exemption(
        self,
    ) -> None:
        online, corp = ("online", False), ("corp", False)
        for label in (
            "Automation account",
            "Key Vault",
            "Exchange RBAC",
            "keyless (host certificates)",
            "alerts (`automation.monitoring`)",
        ):
            with self.subTest(label):
                self.assertEqual(labels(self.results[label][online]), set())
        for label in (
            "Automation account, `archetype: corp`",
            "Automation account, `archetype: corp` + private endpoints",
            "Exchange RBAC, `archetype: corp`",
            "alerts, `archetype: corp`",
        ):
            with self.subTest(label):
                self.assertEqual(labels(self.results[label][corp]), {"Deny-Public-Endpoints/StorageDenyPaasPublicIP"})
        self.assertEqual(labels(self.results["Key Vault, `archetype: corp`"][corp]), set())
        # Without the switch, Corp denies the account (and the vault) as the issue found.
        self.assertIn("Deny-Public-Endpoints/AutomationDenyPublicIP", labels(self.results["Automation account"][corp]))
        self.assertIn("Deny-Public-Endpoints/KeyVaultDenyPaasPublicIP", labels(self.results["Key Vault"][corp]))

    def test_twelve_month_certificates_in_the_vault_meet_the_enforced_key_vault_guardrail(self) -> None:
        found = self.results["Key Vault, `validityMonths: 12`"][("online", False)]
        self.assertEqual(labels(found), {"Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays"})

    def test_every_remaining_denial_and_drift_has_a_setting_or_an_exemption_and_every_exemption_names_real_rules(self) -> None:
        for found in self.results.values():
            for findings in found.values():
                for finding in findings:
                    with self.subTest(finding.rule.label):
                        label = finding.rule.label
                        self.assertTrue(label in landing_zone.REMEDIES or landing_zone.exemption_for(label) is not None)
        known = {(r.assignment, r.reference_id) for r in RULES}
        for exemption in landing_zone.EXEMPTIONS:
            for reference in exemption.reference_ids:
                self.assertIn((exemption.assignment, reference), known, exemption.name)

    def test_the_corp_switch_leaves_no_drift_from_alz_modify_rules_on_the_account_or_the_vault(self) -> None:
        for label in ("Automation account, `archetype: corp`", "Key Vault, `archetype: corp`"):
            drift = {f.rule.label for f in self.results[label][("corp", True)] if f.kind in ("modify", "remediate")}
            self.assertNotIn("Enforce-GR-Automation0/Modify-Aa-Public-Network-Access", drift, label)
            self.assertNotIn("Enforce-GR-KeyVaultSup0/Modify-KV-Fw", drift, label)


class CorpSwitch(unittest.IsolatedAsyncioTestCase):
    async def test_corp_makes_the_account_and_the_vault_private_without_endpoints(self) -> None:
        config = with_landing_zone({**automation_stack(), **default_certificates(key_vault_stack())}, CORP)
        deployment = await evaluate(tenant_with_vault_readers(), preview=False, config=config)
        (account,) = deployment.of_type("azure-native:automation:AutomationAccount")
        self.assertIs(account.plain_inputs["publicNetworkAccess"], False)
        (vault,) = deployment.of_type("azure-native:keyvault:Vault")
        properties = vault.plain_inputs["properties"]
        self.assertEqual(properties["publicNetworkAccess"], "Disabled")
        self.assertEqual(properties["networkAcls"], {"defaultAction": "Deny", "bypass": "AzureServices"})
        self.assertEqual(deployment.of_type(PRIVATE_ENDPOINT), [], "the existing-network option: the network team brings them")

    async def test_private_endpoints_reach_each_sub_resource_from_the_given_subnet(self) -> None:
        config = with_landing_zone({**automation_stack(), **default_certificates(key_vault_stack())}, CORP_WITH_ENDPOINTS)
        mock = tenant_with_vault_readers()
        deployment = await evaluate(mock, preview=False, config=config)
        endpoints = {e.plain_inputs["privateEndpointName"]: e.plain_inputs for e in deployment.of_type(PRIVATE_ENDPOINT)}
        account = deployment.of_type("azure-native:automation:AutomationAccount")[0]
        vault = deployment.of_type("azure-native:keyvault:Vault")[0]
        expected = {
            "pe-aa-exo-automation-dev-webhook": (account.id, "Webhook", "rg-exo-automation-dev"),
            "pe-aa-exo-automation-dev-hybrid": (account.id, "DSCAndHybridWorker", "rg-exo-automation-dev"),
            f"pe-{KEY_VAULT['name']}-vault": (vault.id, "vault", KEY_VAULT["resourceGroupName"]),
        }
        self.assertEqual(set(endpoints), set(expected))
        for name, (target, group, resource_group) in expected.items():
            with self.subTest(name):
                inputs = endpoints[name]
                self.assertEqual(inputs["subnet"], {"id": SUBNET})
                self.assertEqual(inputs["location"], "westeurope")
                self.assertEqual(inputs["resourceGroupName"], resource_group)
                (connection,) = inputs["privateLinkServiceConnections"]
                self.assertEqual((connection["privateLinkServiceId"], connection["groupIds"]), (target, [group]))
        self.assertEqual(set(deployment.output("privateEndpoints")), set(expected))
        again = await evaluate(mock, preview=True, config=config)
        planned = {e.plain_inputs["privateEndpointName"]: e.plain_inputs for e in again.of_type(PRIVATE_ENDPOINT)}
        self.assertEqual(planned, endpoints, "a second run plans no change")

    async def test_a_subnet_id_of_the_wrong_kind_is_refused_naming_the_key(self) -> None:
        network = SUBNET.rsplit("/subnets/", 1)[0]
        key = "exo-automation:landingZone.privateEndpoints.subnetId"
        for value, phrase in (
            (network, "is a virtual network, not a subnet"),
            (
                f"{network.split('/providers/')[0]}/providers/Microsoft.Storage/storageAccounts/st1",
                "is a Microsoft.Storage/storageAccounts",
            ),
            ("snet-private-endpoints", "is not a subnet resource id"),
        ):
            with self.subTest(value):
                config = with_landing_zone(automation_stack(), {"archetype": "corp", "privateEndpoints": {"subnetId": value}})
                await assert_refused_before_registration(self, MockTenant(), config, key, phrase)

    async def test_settings_that_contradict_the_switch_are_refused_naming_their_key(self) -> None:
        cases = (
            (
                with_landing_zone(automation_stack(publicNetworkAccess=True), CORP),
                "exo-automation:automation.publicNetworkAccess",
                "denied",
            ),
            (
                with_landing_zone({"exo-automation:keyVault": {**KEY_VAULT, "publicNetworkAccess": True}}, CORP),
                "exo-automation:keyVault.publicNetworkAccess",
                "denied",
            ),
            (with_landing_zone(automation_stack(), {"archetype": "sandbox"}), "exo-automation:landingZone.archetype", "not one of"),
            (
                with_landing_zone(automation_stack(), {"archetype": "online", "privateEndpoints": {"subnetId": SUBNET}}),
                "exo-automation:landingZone.privateEndpoints",
                "only with archetype corp",
            ),
            (with_landing_zone(automation_stack(), {"archetype": "corp", "zone": 1}), "exo-automation:landingZone", "unknown setting"),
        )
        for config, key, phrase in cases:
            with self.subTest(key):
                await assert_refused_before_registration(self, tenant_with_vault_readers(), config, key, phrase)


class StoreHardening(unittest.IsolatedAsyncioTestCase):
    async def test_the_store_is_created_with_what_the_storage_guardrails_check_and_replaced_first_when_that_changes(self) -> None:
        deployment = await evaluate(tenant_with_vault_readers(), preview=False, config=automation_stack())
        (account,) = deployment.of_type("azure-native:storage:StorageAccount")
        inputs = account.plain_inputs
        self.assertEqual(inputs["allowedCopyScope"], "AAD")
        self.assertEqual(inputs["networkRuleSet"], {"defaultAction": "Allow", "bypass": "None"})
        encryption = inputs["encryption"]
        self.assertIs(encryption["requireInfrastructureEncryption"], True)
        self.assertEqual(
            {s: v["keyType"] for s, v in encryption["services"].items()}, dict.fromkeys(("blob", "file", "queue", "table"), "Account")
        )
        self.assertEqual(
            (inputs["allowSharedKeyAccess"], inputs["allowBlobPublicAccess"], inputs["publicNetworkAccess"]), (True, False, "Enabled")
        )
        self.assertTrue(account.delete_before_replace, "the name is global: the old account must go before the new one")


class VaultedCertificateRenewal(unittest.IsolatedAsyncioTestCase):
    """The update weeks later: the default 89-day certificate is reissued inside its 44-day renewal window and the secret version
    that `up` writes then is again within ALZ's 90 days (its createdOn is that day, its expiry the new certificate's end)."""

    async def test_inside_the_window_the_renewed_secret_is_accepted_and_before_it_nothing_changes(self) -> None:
        clock = MovableClock()
        tenant = tenant_with_vault_readers()
        tenant.clock = clock
        config = key_vault_stack()
        first = await evaluate(tenant, preview=False, config=config)
        (cert,) = first.of_type(CERTIFICATE)
        (secret,) = first.of_type(SECRET)
        self.assertEqual((cert.plain_inputs["validityPeriodHours"], cert.plain_inputs["earlyRenewalHours"]), (89 * 24, 44 * 24))

        clock.advance(44)  # a day before the 44-day window of an 89-day certificate opens
        before = await evaluate(tenant, preview=True, config=config)
        self.assertEqual(before.one(SECRET, secret.name).plain_inputs, secret.plain_inputs)
        self.assertEqual(before.one(CERTIFICATE, cert.name).outputs["certPem"], cert.outputs["certPem"])

        clock.advance(2)
        written = clock.now.timestamp()  # the new secret version's createdOn: no earlier than this
        renewed = await evaluate(tenant, preview=False, config=config)
        new_cert = renewed.one(CERTIFICATE, cert.name)
        self.assertNotEqual(new_cert.outputs["certPem"], cert.outputs["certPem"])
        new_attributes = renewed.one(SECRET, secret.name).plain_inputs["properties"]["attributes"]
        # The secret carries the new certificate's end, not the old one's.
        end = dt.datetime.fromisoformat(new_cert.outputs["validityEndTime"].replace("Z", "+00:00"))
        self.assertEqual(new_attributes["expires"], int(end.timestamp()))
        self.assertGreater(new_attributes["expires"], secret.plain_inputs["properties"]["attributes"]["expires"])
        self.assertLessEqual(new_attributes["expires"] - written, facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS * 86400)
        for scenario in SCENARIOS:
            self.assertNotIn("Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays", labels(check(renewed)[scenario]), scenario)


class PreviewWarnings(unittest.TestCase):
    def settings_warnings(self, config: dict[str, Any]) -> tuple[str, ...]:
        from settings.stack import parse_settings
        from tests.harness import config_for

        raw = {k.split(":", 1)[1]: v for k, v in config_for(config).items()}
        # The landing-zone part of the preview's warnings (role and runtime notices have their own tests).
        return parse_settings(raw, "dev", None, REPO).landing_zone_warnings

    def test_the_preview_names_what_alz_still_denies_and_only_in_a_landing_zone(self) -> None:
        corp = self.settings_warnings(with_landing_zone(automation_stack(), CORP))
        self.assertEqual(len(corp), 1)
        self.assertIn("StorageDenyPaasPublicIP", corp[0])
        self.assertIn("docs/landing-zone.md", corp[0])
        vault = self.settings_warnings(with_landing_zone(year_certificates(key_vault_stack()), {"archetype": "online"}))
        self.assertEqual(len(vault), 1)
        self.assertIn("Deny-KV-Secrets-ValidityDays", vault[0])
        self.assertEqual(self.settings_warnings(with_landing_zone(key_vault_stack(), {"archetype": "online"})), ())
        self.assertEqual(
            self.settings_warnings(year_certificates(key_vault_stack())), (), "no landing zone configured: no landing-zone warning"
        )

    def test_the_warned_limit_is_the_one_in_the_carried_rule(self) -> None:
        (rule,) = [r for r in RULES if r.label == "Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays"]
        self.assertIn(f", {facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS})]", str(rule.condition))

    def test_endpoints_without_a_region_to_use_or_in_the_china_cloud_are_refused_naming_the_key(self) -> None:
        from settings.stack import parse_settings
        from tests.harness import config_for

        def refused(config: dict[str, Any], environment: str | None) -> ConfigError:
            raw = {k.split(":", 1)[1]: v for k, v in config_for(config).items()}
            with self.assertRaises(ConfigError) as caught:
                parse_settings(raw, "dev", environment, REPO)
            return caught.exception

        vault_in_existing_group = {
            "exo-automation:keyVault": {k: v for k, v in KEY_VAULT.items() if k not in ("location", "createResourceGroup")}
        }
        error = refused(with_landing_zone(vault_in_existing_group, CORP_WITH_ENDPOINTS), None)
        self.assertEqual(error.key, "exo-automation:landingZone.privateEndpoints.location")
        error = refused(with_landing_zone(automation_stack(), CORP_WITH_ENDPOINTS), "china")
        self.assertEqual(error.key, "exo-automation:landingZone.privateEndpoints")
        self.assertIn("private-link-security.md", error.problem)

    def test_an_empty_switch_is_no_landing_zone(self) -> None:
        self.assertEqual(self.settings_warnings(with_landing_zone(key_vault_stack(), {})), ())
        with self.assertRaises(ConfigError):
            self.settings_warnings(with_landing_zone(key_vault_stack(), {"privateEndpoints": {}}))


if __name__ == "__main__":
    checked = asyncio.run(all_results())
    print(render(checked), render_remaining(checked), sep="\n\n")
