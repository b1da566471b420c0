"""The Azure Landing Zones checker itself (exo/policy_rules.py, exo/landing_zone.py), on known compliant and non-compliant resources.

Each case is a request body written here by hand, evaluated against the carried ALZ rules (exo/alz_policy_rules.json); a case names
the rule it expects by its assignment and reference id, so a checker that denies everything or nothing fails here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import unittest
from pathlib import Path
from typing import Any

from exo import facts, landing_zone
from exo.policy_rules import ABSENT, Evaluator, Request, UnsupportedExpressionError

# One fixed moment: these tests read no clock at all.
NOW = dt.datetime(2030, 6, 15, 12, 0, tzinfo=dt.UTC)
RULES = facts.load_alz_rules()
STORAGE = "Microsoft.Storage/storageAccounts"
AUTOMATION = "Microsoft.Automation/automationAccounts"
VAULT = "Microsoft.KeyVault/vaults"

# A storage account every Storage guardrail accepts: private, no shared key, double encryption, account-scoped keys, AAD copy scope.
COMPLIANT_STORAGE: dict[str, Any] = {
    "name": "stcompliant",
    "location": "westeurope",
    "tags": {},
    "kind": "StorageV2",
    "sku": {"name": "Standard_LRS"},
    "properties": {
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "allowCrossTenantReplication": False,
        "allowedCopyScope": "AAD",
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"defaultAction": "Deny", "bypass": "None", "virtualNetworkRules": [], "ipRules": []},
        "encryption": {
            "keySource": "Microsoft.Keyvault",
            "requireInfrastructureEncryption": True,
            "services": {
                "blob": {"enabled": True, "keyType": "Account"},
                "file": {"enabled": True, "keyType": "Account"},
                "queue": {"keyType": "Account"},
                "table": {"keyType": "Account"},
            },
        },
    },
}
COMPLIANT_AUTOMATION: dict[str, Any] = {
    "name": "aa-compliant",
    "location": "westeurope",
    "tags": {},
    "identity": {"type": "SystemAssigned"},
    "properties": {
        "sku": {"name": "Basic"},
        "publicNetworkAccess": False,
        "disableLocalAuth": True,
        "encryption": {"keySource": "Microsoft.Keyvault"},
    },
}
COMPLIANT_VAULT: dict[str, Any] = {
    "name": "kv-compliant",
    "location": "westeurope",
    "tags": {},
    "properties": {
        "enableRbacAuthorization": True,
        "enableSoftDelete": True,
        "enablePurgeProtection": True,
        "publicNetworkAccess": "Disabled",
        "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"},
    },
}


def request(arm_type: str, body: dict[str, Any], api_version: str = "2024-01-01") -> Request:
    return Request(arm_type, body, api_version, NOW)


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of body with the dotted path set to value (ABSENT removes it)."""
    result = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = result
    for part in parents:
        node = node[part]
    if value is ABSENT:
        node.pop(last, None)
    else:
        node[last] = value
    return result


def labels(requests: list[tuple[str, Request]], zone: str, guardrails: bool, kind: str = "deny") -> set[str]:
    return {f.rule.label for f in landing_zone.check(requests, zone, guardrails, RULES) if f.kind == kind}


class KnownCompliantResources(unittest.TestCase):
    def test_compliant_storage_automation_and_vault_pass_every_rule_in_both_zones_with_guardrails_enforced(self) -> None:
        requests = [
            ("storage", request(STORAGE, COMPLIANT_STORAGE)),
            ("automation", request(AUTOMATION, COMPLIANT_AUTOMATION, "2024-10-23")),
            ("vault", request(VAULT, COMPLIANT_VAULT, "2024-11-01")),
        ]
        for zone in ("corp", "online"):
            with self.subTest(zone):
                self.assertEqual(landing_zone.check(requests, zone, True, RULES), [])


VNET_RULE = [{"id": "/subscriptions/x/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s"}]
GR_STORAGE, GR_AUTOMATION, GR_KEY_VAULT, CORP = (
    "Enforce-GR-Storage0/",
    "Enforce-GR-Automation0/",
    "Enforce-GR-KeyVault/",
    "Deny-Public-Endpoints/",
)
BODIES: dict[str, tuple[str, dict[str, Any], str]] = {
    "storage": (STORAGE, COMPLIANT_STORAGE, "2024-01-01"),
    "automation": (AUTOMATION, COMPLIANT_AUTOMATION, "2024-10-23"),
    "vault": (VAULT, COMPLIANT_VAULT, "2024-11-01"),
}
# (what is wrong, resource, property under `properties`, value, zone, guardrails enforced, the rule that must deny)
NON_COMPLIANT: list[tuple[str, str, str, Any, str, bool, str]] = [
    ("shared key on", "storage", "allowSharedKeyAccess", True, "online", True, GR_STORAGE + "Deny-Storage-Shared-Key"),
    ("shared key unset", "storage", "allowSharedKeyAccess", ABSENT, "online", True, GR_STORAGE + "Deny-Storage-Shared-Key"),
    ("single encryption", "storage", "encryption.requireInfrastructureEncryption", ABSENT, "online", True, GR_STORAGE + "Deny-Storage-Infra-Encryption"),
    ("copy scope unset", "storage", "allowedCopyScope", ABSENT, "online", True, GR_STORAGE + "Deny-Storage-CopyScope"),
    ("copy scope private link", "storage", "allowedCopyScope", "PrivateLink", "online", True, GR_STORAGE + "Deny-Storage-CopyScope"),
    ("bypass AzureServices", "storage", "networkAcls.bypass", "AzureServices", "online", True, GR_STORAGE + "Deny-Storage-NetworkAclsBypass"),
    ("default action allow", "storage", "networkAcls.defaultAction", "Allow", "online", True, GR_STORAGE + "Deny-Storage-Restrict-NetworkRules"),
    ("a vnet rule", "storage", "networkAcls.virtualNetworkRules", VNET_RULE, "online", True, GR_STORAGE + "Deny-Storage-NetworkAclsVirtualNetworkRules"),
    ("an IP rule", "storage", "networkAcls.ipRules", [{"value": "203.0.113.7"}], "online", True, GR_STORAGE + "Deny-Storage-NetworkRules"),
    ("queue service key", "storage", "encryption.services.queue.keyType", "Service", "online", True, GR_STORAGE + "Deny-Storage-ServicesEncryption"),
    ("TLS 1.0", "storage", "minimumTlsVersion", "TLS1_0", "online", False, "Enforce-TLS-SSL-Q225/Deny-Storage-Tls"),
    ("HTTP allowed", "storage", "supportsHttpsTrafficOnly", False, "online", False, "Deny-Storage-http"),
    ("storage public", "storage", "publicNetworkAccess", "Enabled", "corp", False, CORP + "StorageDenyPaasPublicIP"),
    ("public blob access", "storage", "allowBlobPublicAccess", True, "corp", False, CORP + "Deny-Storage-Public-Access"),
    ("Automation public", "automation", "publicNetworkAccess", True, "corp", False, CORP + "AutomationDenyPublicIP"),
    ("Automation public unset", "automation", "publicNetworkAccess", ABSENT, "corp", False, CORP + "AutomationDenyPublicIP"),
    ("Automation local auth", "automation", "disableLocalAuth", False, "online", True, GR_AUTOMATION + "Deny-Aa-Local-Auth"),
    ("Automation platform keys", "automation", "encryption.keySource", "Microsoft.Automation", "online", True, "Enforce-Encrypt-CMK0/Deny-Aa-Cmk"),
    ("vault public", "vault", "publicNetworkAccess", "Enabled", "corp", False, CORP + "KeyVaultDenyPaasPublicIP"),
    ("vault access policies", "vault", "enableRbacAuthorization", False, "online", False, GR_KEY_VAULT + "Deny-KV-without-ArmRbac"),
    ("no purge protection", "vault", "enablePurgeProtection", ABSENT, "online", False, GR_KEY_VAULT + "KvPurgeProtection"),
    ("no soft delete", "vault", "enableSoftDelete", False, "online", False, GR_KEY_VAULT + "KvSoftDelete"),
]  # fmt: skip


class KnownNonCompliantResources(unittest.TestCase):
    def test_each_wrong_property_is_denied_by_its_rule_and_only_where_that_rule_is_in_force(self) -> None:
        for label, resource, path, value, zone, guardrails, rule in NON_COMPLIANT:
            with self.subTest(label):
                arm_type, body, api = BODIES[resource]
                bad = [("x", request(arm_type, changed(body, f"properties.{path}", value), api))]
                self.assertIn(rule, labels(bad, zone, guardrails))
                self.assertEqual(labels([("x", request(arm_type, body, api))], zone, guardrails), set(), "the compliant one")
                if zone == "corp":
                    self.assertNotIn(rule, labels(bad, "online", True), "a Corp rule does not reach Online")
                if guardrails:
                    self.assertNotIn(rule, labels(bad, zone, False), "a *0 guardrail does not deny as ALZ ships it")

    def test_an_old_key_vault_api_version_is_denied_whatever_the_body_says(self) -> None:
        # KeyVaultDenyPaasPublicIP denies every request older than 2021-06-01-preview (it cannot see publicNetworkAccess there).
        old = [("vault", request(VAULT, COMPLIANT_VAULT, "2019-09-01"))]
        self.assertIn("Deny-Public-Endpoints/KeyVaultDenyPaasPublicIP", labels(old, "corp", False))


class KeyVaultSecretVersions(unittest.TestCase):
    """Deny-KV-Secrets-ValidityDays (Enforce-GR-KeyVault, enforced as ALZ ships): expiresOn at most 90 days after createdOn."""

    def secret(self, expires_in_days: float | None, content_type: str | None = "application/x-pem-file") -> list[tuple[str, Request]]:
        attributes: dict[str, Any] = {"createdOn": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if expires_in_days is not None:
            attributes["expiresOn"] = (NOW + dt.timedelta(days=expires_in_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {"name": "s", "attributes": attributes}
        if content_type is not None:
            body["contentType"] = content_type
        return [("secret", request(landing_zone.KEY_VAULT_DATA_SECRET, body, "2024-11-01"))]

    def test_validity_up_to_90_days_passes_and_beyond_or_without_expiry_is_denied(self) -> None:
        rule = "Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays"
        self.assertNotIn(rule, labels(self.secret(90), "online", False))
        self.assertIn(rule, labels(self.secret(90.5), "online", False))
        self.assertIn(rule, labels(self.secret(365), "online", False))
        self.assertIn(rule, labels(self.secret(None), "online", False))

    def test_a_secret_without_content_type_is_denied(self) -> None:
        self.assertIn("Enforce-GR-KeyVault/Deny-Kv-Secret-Content-Type", labels(self.secret(30, None), "online", False))
        self.assertNotIn("Enforce-GR-KeyVault/Deny-Kv-Secret-Content-Type", labels(self.secret(30), "online", False))


class ModifyAndRemediation(unittest.TestCase):
    def test_a_modify_rule_reports_the_property_it_would_rewrite_and_nothing_once_the_value_is_the_enforced_one(self) -> None:
        public = [("automation", request(AUTOMATION, changed(COMPLIANT_AUTOMATION, "properties.publicNetworkAccess", True), "2024-10-23"))]
        (finding,) = [f for f in landing_zone.check(public, "online", True, RULES) if f.kind == "modify"]
        self.assertEqual(finding.rule.label, "Enforce-GR-Automation0/Modify-Aa-Public-Network-Access")
        self.assertIn("publicNetworkAccess -> False", finding.detail)
        self.assertEqual(labels([("a", request(AUTOMATION, COMPLIANT_AUTOMATION, "2024-10-23"))], "online", True, "modify"), set())

    def test_a_deploy_if_not_exists_on_the_resource_itself_is_reported_when_its_existence_condition_fails(self) -> None:
        weak = [("storage", request(STORAGE, changed(COMPLIANT_STORAGE, "properties.minimumTlsVersion", "TLS1_1")))]
        self.assertIn("Enforce-TLS-SSL-Q225/StorageDeployHttpsEnabledEffect", labels(weak, "online", False, "remediate"))
        self.assertEqual(labels([("s", request(STORAGE, COMPLIANT_STORAGE))], "online", False, "remediate"), set())


class TheEvaluator(unittest.TestCase):
    def test_absent_properties_follow_azure_policy(self) -> None:
        evaluator = Evaluator(request(STORAGE, {"name": "s", "properties": {}}))
        alias = "Microsoft.Storage/storageAccounts/allowSharedKeyAccess"
        self.assertTrue(evaluator.holds({"field": alias, "exists": "false"}))
        self.assertTrue(evaluator.holds({"field": alias, "notEquals": "true"}))
        self.assertFalse(evaluator.holds({"field": alias, "equals": "false"}))
        self.assertTrue(evaluator.holds({"field": alias, "notIn": ["true"]}))
        self.assertFalse(evaluator.holds({"field": alias, "less": "z"}))

    def test_comparisons_ignore_case_and_read_booleans_as_text(self) -> None:
        evaluator = Evaluator(request(AUTOMATION, {"name": "a", "properties": {"publicNetworkAccess": False}}))
        self.assertTrue(evaluator.holds({"field": "Microsoft.Automation/automationAccounts/publicNetworkAccess", "equals": "FALSE"}))
        self.assertTrue(evaluator.holds({"field": "type", "equals": "microsoft.automation/AUTOMATIONACCOUNTS"}))

    def test_if_evaluates_only_the_branch_it_takes(self) -> None:
        # The storage key-expiry rule calls addDays() on a property a request never carries, inside the branch not taken.
        evaluator = Evaluator(request(STORAGE, {"name": "s", "properties": {}}))
        self.assertEqual(evaluator.expression("[if(false(), addDays(field('Microsoft.Storage/storageAccounts/x'), 1), 'no')]"), "no")

    def test_an_unsupported_function_is_an_error_not_a_pass(self) -> None:
        with self.assertRaises(UnsupportedExpressionError):
            Evaluator(request(STORAGE, {"name": "s"})).expression("[resourceGroup().location]")

    def test_every_carried_rule_evaluates_against_a_request_of_its_type(self) -> None:
        # Whatever functions and operators the data uses, the evaluator implements (with guardrails, in both zones).
        bodies = {STORAGE: COMPLIANT_STORAGE, AUTOMATION: COMPLIANT_AUTOMATION, VAULT: COMPLIANT_VAULT}
        requests = [(t, request(t, b)) for t, b in bodies.items()]
        requests.append(("secret", KeyVaultSecretVersions().secret(30)[0][1]))
        requests.append(("variable", request(AUTOMATION + "/variables", {"name": "v", "properties": {"isEncrypted": True}})))
        for zone in ("corp", "online"):
            landing_zone.check(requests, zone, True, RULES)


class TheRulesAsData(unittest.TestCase):
    def test_every_rule_names_the_commit_and_file_it_was_read_from(self) -> None:
        self.assertGreater(len(RULES), 20)
        for rule in RULES:
            for source in (rule.source, rule.assignment_source):
                self.assertRegex(source, r"^Azure/(azure-policy|Azure-Landing-Zones-Library) \S.*\.json @[0-9a-f]{40}$", rule.label)

    def test_the_extraction_left_nothing_unresolved_that_could_act_on_our_types(self) -> None:
        data = json.loads((Path(facts.__file__).parent / facts.ALZ_POLICY_RULES_FILE).read_text())
        ours = re.compile(r"Storage|Automation|KeyVault|Kv|Aa-", re.IGNORECASE)
        self.assertEqual([u for u in data["unresolved"] if ours.search(u.split(":")[0])], [])

    def test_the_guardrail_assignments_ship_unenforced_and_the_others_enforced(self) -> None:
        modes = {r.assignment: r.enforcement_mode for r in RULES}
        for name in ("Enforce-GR-Storage0", "Enforce-GR-Automation0", "Enforce-GR-KeyVaultSup0", "Enforce-Encrypt-CMK0"):
            self.assertEqual(modes[name], "DoNotEnforce", name)
        for name in ("Deny-Public-Endpoints", "Enforce-GR-KeyVault", "Deny-Storage-http", "Enforce-TLS-SSL-Q225"):
            self.assertEqual(modes[name], "Default", name)
