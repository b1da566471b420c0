"""What Azure Landing Zones' policies do to the resources this program registers: which rules deny them, and which Modify or
DeployIfNotExists rules would rewrite them (perpetual drift), in a subscription under the Corp or the Online management group,
as ALZ ships its assignments or with the `*0` guardrail assignments switched to enforce.

The rules are exo/alz_policy_rules.json (facts.load_alz_rules), evaluated by exo/policy_rules.py against each resource as ARM
receives it from azure-native: the SDK's inputs put back into the REST body (path inputs dropped, `properties` nesting and the
provider's renames undone). Stdlib only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exo import facts
from exo.policy_rules import ABSENT, Evaluator, Request

# azure-native type token -> the ARM resource type Azure Policy sees in the request.
ARM_TYPES: Mapping[str, str] = {
    "azure-native:resources:ResourceGroup": "Microsoft.Resources/subscriptions/resourceGroups",
    "azure-native:storage:StorageAccount": "Microsoft.Storage/storageAccounts",
    "azure-native:storage:BlobContainer": "Microsoft.Storage/storageAccounts/blobServices/containers",
    "azure-native:automation:AutomationAccount": "Microsoft.Automation/automationAccounts",
    "azure-native:automation:RuntimeEnvironment": "Microsoft.Automation/automationAccounts/runtimeEnvironments",
    "azure-native:automation:Package": "Microsoft.Automation/automationAccounts/runtimeEnvironments/packages",
    "azure-native:automation:Module": "Microsoft.Automation/automationAccounts/modules",
    "azure-native:automation:PowerShell72Module": "Microsoft.Automation/automationAccounts/powerShell72Modules",
    "azure-native:automation:HybridRunbookWorkerGroup": "Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups",
    "azure-native:automation:Runbook": "Microsoft.Automation/automationAccounts/runbooks",
    "azure-native:automation:Schedule": "Microsoft.Automation/automationAccounts/schedules",
    "azure-native:automation:JobSchedule": "Microsoft.Automation/automationAccounts/jobSchedules",
    "azure-native:automation:Variable": "Microsoft.Automation/automationAccounts/variables",
    "azure-native:keyvault:Vault": "Microsoft.KeyVault/vaults",
    "azure-native:keyvault:Secret": "Microsoft.KeyVault/vaults/secrets",
    "azure-native:authorization:RoleAssignment": "Microsoft.Authorization/roleAssignments",
    "azure-native:network:PrivateEndpoint": "Microsoft.Network/privateEndpoints",
    # automation.monitoring (issue 24)
    "azure-native:operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
    "azure-native:operationalinsights:SavedSearch": "Microsoft.OperationalInsights/workspaces/savedSearches",
    "azure-native:monitor:DiagnosticSetting": "Microsoft.Insights/diagnosticSettings",
    "azure-native:monitor:ActionGroup": "Microsoft.Insights/actionGroups",
    "azure-native:monitor:ScheduledQueryRule": "Microsoft.Insights/scheduledQueryRules",
    "azure-native:applicationinsights:Workbook": "Microsoft.Insights/workbooks",
}
# A blob is uploaded to the storage data plane, not PUT through ARM: no policy evaluates it.
NOT_ARM = frozenset({"azure-native:storage:Blob"})
# The REST API version azure-native 3.29.0 sends for each module (the SDK's "Uses Azure REST API version" line), for rules that
# read requestContext().apiVersion.
API_VERSIONS: Mapping[str, str] = {
    "resources": "2024-03-01",
    "storage": "2024-01-01",
    "automation": "2024-10-23",
    "keyvault": "2024-11-01",
    "authorization": "2022-04-01",
    "network": "2024-05-01",
    "operationalinsights": "2023-09-01",
    "applicationinsights": "2023-06-01",
}
# Modules whose resources use different API versions (the same SDK line, per class).
TYPE_API_VERSIONS: Mapping[str, str] = {
    "azure-native:monitor:DiagnosticSetting": "2021-05-01-preview",
    "azure-native:monitor:ActionGroup": "2024-10-01-preview",
    "azure-native:monitor:ScheduledQueryRule": "2025-01-01-preview",
}
# Inputs that azure-native names differently from the REST body (the provider's x-ms-client-flatten and renames: the SDK's
# StorageAccount takes `enableHttpsTrafficOnly` and `networkRuleSet` for the spec's supportsHttpsTrafficOnly and networkAcls).
RENAMED_INPUTS: Mapping[tuple[str, str], str] = {
    ("azure-native:storage:StorageAccount", "enableHttpsTrafficOnly"): "supportsHttpsTrafficOnly",
    ("azure-native:storage:StorageAccount", "networkRuleSet"): "networkAcls",
}
# Body members that stay beside `properties` (REST specs: Resource/TrackedResource), except where a spec puts them inside:
# an Automation account's sku is properties.sku (automationAccount.json, AutomationAccountCreateOrUpdateProperties).
TOP_LEVEL = frozenset({"name", "location", "tags", "identity", "kind", "sku", "extendedLocation", "zones"})
SKU_IN_PROPERTIES = frozenset({"azure-native:automation:AutomationAccount"})
# Key Vault's data-plane view of a secret (policy mode Microsoft.KeyVault.Data). ASSUMPTION: Key Vault evaluates these rules for
# a secret version written through ARM as for one written to the data plane; Microsoft's text (azure-security-docs
# articles/key-vault/general/azure-policy.md) says a Deny blocks "new versions of existing components" without naming the path.
KEY_VAULT_DATA_SECRET = "Microsoft.KeyVault.Data/vaults/secrets"  # noqa: S105 - a resource type
DATA_PLANE_MODE = "Microsoft.KeyVault.Data"


def _iso(moment: Any) -> Any:
    if isinstance(moment, int | float) and not isinstance(moment, bool):
        return dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ABSENT if moment is None else moment


def requests_for(type_token: str, name: str, inputs: Mapping[str, Any], now: dt.datetime) -> list[tuple[str, Request]]:
    """The ARM request(s) Azure Policy evaluates for one registered azure-native resource: (label, request). A Key Vault secret is
    two: the ARM PUT and the secret version Key Vault writes."""
    if type_token in NOT_ARM or not type_token.startswith("azure-native:"):
        return []
    arm_type = ARM_TYPES.get(type_token)
    if arm_type is None:
        raise KeyError(f"{type_token} has no ARM type in exo/landing_zone.ARM_TYPES: its policies were never looked at")
    path_inputs = set(facts.AZURE_PATH_INPUTS.get(type_token, ())) | {"scope"}
    body: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in path_inputs:
            continue
        key = RENAMED_INPUTS.get((type_token, key), key)
        if key == "properties" and isinstance(value, dict):
            properties.update(value)
        elif key in TOP_LEVEL and not (key == "sku" and type_token in SKU_IN_PROPERTIES):
            body[key] = value
        else:
            properties[key] = value
    body["properties"] = properties
    body.setdefault("name", next((inputs[k] for k in facts.AZURE_PATH_INPUTS.get(type_token, ())[-1:] if k in inputs), name))
    api_version = TYPE_API_VERSIONS.get(type_token) or API_VERSIONS[type_token.split(":")[1]]
    label = f"{arm_type.split('/')[-1]} {body['name']}"
    found = [(label, Request(arm_type, body, api_version, now))]
    if arm_type == "Microsoft.KeyVault/vaults/secrets":
        attributes = properties.get("attributes") or {}
        data = {
            "name": body["name"],
            "contentType": properties.get("contentType", ABSENT),
            "attributes": {
                "createdOn": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "notBefore": _iso(attributes.get("notBefore")),
                "expiresOn": _iso(attributes.get("expires")),
            },
        }
        data = {k: v for k, v in data.items() if v is not ABSENT}
        data["attributes"] = {k: v for k, v in data["attributes"].items() if v is not ABSENT}
        found.append((f"secretVersions {body['name']}", Request(KEY_VAULT_DATA_SECRET, data, api_version, now)))
    return found


@dataclass(frozen=True)
class Finding:
    rule: facts.AlzRule
    resource: str
    """The resource's kind and name, e.g. "storageAccounts stexo1234"."""
    kind: str
    """deny (the PUT is refused), modify (Azure rewrites a property on every PUT: perpetual drift) or remediate (a
    DeployIfNotExists remediation would rewrite the resource itself)."""
    detail: str = ""


def rules_in(landing_zone: str, guardrails_enforced: bool, rules: Sequence[facts.AlzRule]) -> list[facts.AlzRule]:
    """The rules in force in a subscription under `landing_zone` (corp or online)."""
    archetypes = facts.ALZ_ARCHETYPES[landing_zone]
    return [r for r in rules if r.archetype in archetypes and (r.enforcement_mode == "Default" or guardrails_enforced)]


def _applies(rule: facts.AlzRule, request: Request) -> bool:
    data_plane = request.type.startswith("Microsoft.KeyVault.Data/")
    if (rule.mode == DATA_PLANE_MODE) != data_plane:
        return False
    # Indexed: only resource types that take tags and a location.
    return not (rule.mode == "Indexed" and "location" not in request.body)


def check(
    requests: Iterable[tuple[str, Request]], landing_zone: str, guardrails_enforced: bool, rules: Sequence[facts.AlzRule]
) -> list[Finding]:
    """Every deny, modify and self-remediation the rules in force would apply to the requests."""
    found: list[Finding] = []
    active = rules_in(landing_zone, guardrails_enforced, rules)
    for label, request in requests:
        for rule in active:
            effect = rule.effect.lower()
            if effect not in ("deny", "modify", "deployifnotexists") or not _applies(rule, request):
                continue
            evaluator = Evaluator(request)
            if not evaluator.holds(rule.condition):
                continue
            if effect == "deny":
                found.append(Finding(rule, label, "deny"))
            elif effect == "modify":
                for operation in (rule.details or {}).get("operations", []):  # type: ignore[union-attr]
                    if "condition" in operation and not evaluator.expression(operation["condition"]):
                        continue
                    if operation["operation"].lower() == "addorreplace":
                        current = evaluator.field(operation["field"])
                        wanted = operation["value"]
                        if current is ABSENT or str(current).lower() != str(wanted).lower():
                            found.append(Finding(rule, label, "modify", f"{operation['field'].split('/')[-1]} -> {wanted}"))
            else:
                details = rule.details or {}
                if str(details.get("type", "")).lower() != request.type.lower():
                    continue  # deploys another resource beside ours: nothing of the stack changes
                existence = details.get("existenceCondition")
                if existence is None or not evaluator.holds(existence):  # type: ignore[arg-type]
                    found.append(Finding(rule, label, "remediate"))
    return found


# -- What each remaining denial or drift needs ------------------------------------------------------------------------------------

# An exemption's scope must exist before the request it exempts, and Azure denies the store, the variables and the secret when
# they are created: so each exemption is on the resource group, created first (createResourceGroup: false, for example the
# bootstrap's workload group) and holding only this stack's resources.
AUTOMATION_GROUP_SCOPE = "$(az group show --name <automation.resourceGroupName> --query id -o tsv)"
VAULT_GROUP_SCOPE = "$(az group show --name <keyVault.resourceGroupName> --query id -o tsv)"


@dataclass(frozen=True)
class Exemption:
    """A policy exemption an admin grants for what the program cannot change at no cost, with the reason it is needed."""

    name: str
    scope: str
    """A shell expression that yields the exempted scope's id (an exemption covers the scope and everything below it)."""
    assignment: str
    reference_ids: tuple[str, ...]
    category: str
    """Mitigated (the risk is handled otherwise) or Waiver (accepted)."""
    reason: str

    def command(self) -> str:
        # The assignment's id as Azure reports it for this resource, wherever in the management group tree it was made.
        assignment = (
            f"$(az policy assignment list --scope {self.scope} --disable-scope-strict-match "
            f"--query \"[?name=='{self.assignment}'].id\" -o tsv)"
        )
        return " \\\n  ".join(
            (
                f"az policy exemption create --name {self.name}",
                f"--scope {self.scope}",
                f"--policy-assignment {assignment}",
                f"--policy-definition-reference-ids {' '.join(self.reference_ids)}",
                f"--exemption-category {self.category}",
                f'--description "{self.reason}"',
            )
        )


EXEMPTIONS: tuple[Exemption, ...] = (
    Exemption(
        "exo-runbook-store-public-endpoint",
        AUTOMATION_GROUP_SCOPE,
        "Deny-Public-Endpoints",
        ("StorageDenyPaasPublicIP",),
        "Mitigated",
        "Automation fetches runbook content from its own network; the store holds only the repo's runbook text, read with a "
        "read-only HTTPS container SAS, no public blob access",
    ),
    Exemption(
        "exo-runbook-store-guardrails",
        AUTOMATION_GROUP_SCOPE,
        "Enforce-GR-Storage0",
        (
            "Deny-Storage-Shared-Key",
            "Deny-Storage-Restrict-NetworkRules",
            "Deny-Storage-NetworkRules",
            "Modify-Storage-Account-PublicEndpoint",
        ),
        "Mitigated",
        "azure-native uploads blobs with the account key and the content link is a service SAS signed with it; Automation "
        "reads the link from public Azure addresses, so the firewall cannot deny by default",
    ),
    Exemption(
        "exo-automation-variables",
        AUTOMATION_GROUP_SCOPE,
        "Enforce-GR-Automation0",
        ("Deny-Aa-Variables-Encrypt",),
        "Mitigated",
        "the Exchange RBAC desired and applied state is not secret; Azure returns no value for an encrypted variable, so a "
        "refresh could not see a hand edit of the desired state the runbook applies to Exchange",
    ),
    Exemption(
        "exo-automation-cmk",
        AUTOMATION_GROUP_SCOPE,
        "Enforce-Encrypt-CMK0",
        ("Deny-Aa-Cmk",),
        "Waiver",
        "the account holds runbook text, schedules and non-secret variables; platform-managed keys are accepted",
    ),
    Exemption(
        "exo-vault-secret-validity",
        VAULT_GROUP_SCOPE,
        "Enforce-GR-KeyVault",
        ("Deny-KV-Secrets-ValidityDays",),
        "Waiver",
        "the secret is the identity's certificate and key; its expiry is the certificate's, rotated by the program before it ends",
    ),
)
# Denials and drift a setting removes, by rule label: what to set instead of an exemption.
REMEDIES: Mapping[str, str] = {
    "Deny-Public-Endpoints/AutomationDenyPublicIP": "`landingZone: {archetype: corp}` (the account without public network access)",
    "Deny-Public-Endpoints/KeyVaultDenyPaasPublicIP": "`landingZone: {archetype: corp}` (the vault without public network access)",
    "Enforce-GR-KeyVault/Deny-KV-Secrets-ValidityDays": (
        "leave `certificate.validityMonths` unset on every identity whose certificate goes to the vault (89 days, within 90; "
        "and `renewBeforeDays` at most 44); a configured value over 2 is denied, and 2 months leave a renewal window of 30 days "
        "at most"
    ),
    "Enforce-GR-Automation0/Modify-Aa-Public-Network-Access": (
        "`automation.publicNetworkAccess: false` (or `archetype: corp`): the value the Modify writes, so nothing drifts; hybrid "
        "workers then need a private endpoint"
    ),
    "Enforce-GR-KeyVaultSup0/Modify-KV-Fw": (
        "`keyVault.publicNetworkAccess: false` (or `archetype: corp`): the program then declares the firewall the Modify sets"
    ),
}


def exemption_for(label: str) -> Exemption | None:
    assignment, _, reference = label.partition("/")
    return next((e for e in EXEMPTIONS if e.assignment == assignment and reference in e.reference_ids), None)
