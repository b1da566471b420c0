"""Regenerate exo/alz_policy_rules.json from local clones of Azure/Azure-Landing-Zones-Library and Azure/azure-policy.

usage: python scripts/extract_alz_rules.py <Azure-Landing-Zones-Library git dir> <azure-policy git dir>

Walks the ALZ architecture's archetypes (root, landing_zones, corp, online), their policy assignments and the policy set
definitions they assign, and keeps every member whose rule can act on a resource type this program registers, with the effect
the assignment gives it (parameters resolved) and the commit and path of each file read. Audit-only and disabled members are
kept too (marked by their effect), so the data shows what was looked at, not only what denies.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ARCHETYPES = ("root", "landing_zones", "corp", "online")
# Resource types of the program (and of the private endpoints of the Corp setup), ARM spelling, lower case; a rule on a child
# type (an account's variables, a storage account's blob services) is kept with its parent's.
TYPES = (
    "microsoft.storage/storageaccounts",
    "microsoft.automation/automationaccounts",
    "microsoft.keyvault/vaults",
    "microsoft.keyvault.data/vaults/secrets",
    "microsoft.resources/subscriptions/resourcegroups",
    "microsoft.authorization/roleassignments",
    "microsoft.network/privateendpoints",
    # automation.monitoring (issue 24): the workspace and its saved searches, the diagnostic setting, alerts and the workbook.
    "microsoft.operationalinsights/workspaces",
    "microsoft.insights/diagnosticsettings",
    "microsoft.insights/actiongroups",
    "microsoft.insights/scheduledqueryrules",
    "microsoft.insights/workbooks",
)
OUT = Path(__file__).resolve().parent.parent / "exo" / "alz_policy_rules.json"
PARAMETER = re.compile(r"\[parameters\('([^']+)'\)\]")
INNER_PARAMETER = re.compile(r"parameters\('([^']+)'\)")


def git(repo: str, *args: str) -> str:
    return subprocess.check_output(["git", "-C", repo, *args], text=True, stderr=subprocess.DEVNULL)


def head(repo: str) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    """Substitute "[parameters('x')]" (whole strings) by the value; leave other expressions for the evaluator."""
    if isinstance(value, str):
        match = PARAMETER.fullmatch(value)
        if match:
            # ARM parameter names are case-insensitive (Enforce-Guardrails-Automation spells one aaModifyLocalAUth).
            by_lower = {k.lower(): v for k, v in parameters.items()}
            return by_lower[match.group(1).lower()]
        if value.startswith("[") and "parameters(" in value:
            # Inside a larger expression: the value as an expression literal.
            by_lower = {k.lower(): v for k, v in parameters.items()}

            def literal(inner: re.Match[str]) -> str:
                found = by_lower[inner.group(1).lower()]
                return str(found) if isinstance(found, int | float) else "'" + str(found).replace("'", "''") + "'"

            return INNER_PARAMETER.sub(literal, value)
        return value
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, parameters) for k, v in value.items()}
    return value


def types_named(condition: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(condition, dict):
        if condition.get("field") == "type":
            for operator in ("equals", "in", "like"):
                value = condition.get(operator)
                if value is not None:
                    found |= {str(t).lower() for t in (value if isinstance(value, list) else [value])}
        for value in condition.values():
            found |= types_named(value)
    elif isinstance(condition, list):
        for value in condition:
            found |= types_named(value)
    return found


def main(alz: str, policy: str) -> None:
    alz_commit, policy_commit = head(alz), head(policy)
    # Built-in definitions by their name (the GUID at the end of the definition id): a file's `name`, else the end of its `id`.
    by_name: dict[str, str] = {}
    for path in git(policy, "ls-tree", "-r", "--name-only", "HEAD", "built-in-policies/policyDefinitions").splitlines():
        if not path.endswith(".json"):
            continue
        try:
            body = json.loads(git(policy, "show", f"HEAD:{path}"))
        except json.JSONDecodeError:
            continue
        name = body.get("name") or str(body.get("id", "")).split("/")[-1]
        if name:
            by_name[name] = path

    def definition(definition_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        name = definition_id.split("/")[-1]
        if name in by_name:
            path = by_name[name]
            return {"repo": "Azure/azure-policy", "path": path, "commit": policy_commit}, json.loads(git(policy, "show", f"HEAD:{path}"))
        path = f"platform/alz/policy_definitions/{name}.alz_policy_definition.json"
        return {"repo": "Azure/Azure-Landing-Zones-Library", "path": path, "commit": alz_commit}, json.loads(
            git(alz, "show", f"HEAD:{path}")
        )

    rules: list[dict[str, Any]] = []
    unresolved: list[str] = []
    for archetype in ARCHETYPES:
        archetype_path = f"platform/alz/archetype_definitions/{archetype}.alz_archetype_definition.json"
        for assignment_name in json.loads(git(alz, "show", f"HEAD:{archetype_path}"))["policy_assignments"]:
            assignment_path = f"platform/alz/policy_assignments/{assignment_name}.alz_policy_assignment.json"
            assignment = json.loads(git(alz, "show", f"HEAD:{assignment_path}"))["properties"]
            assigned = {k: v["value"] for k, v in (assignment.get("parameters") or {}).items()}
            target = assignment["policyDefinitionId"]
            members: list[tuple[str | None, str, dict[str, Any], dict[str, str] | None]] = []
            if "/policySetDefinitions/" in target:
                set_name = target.split("/")[-1]
                set_path = f"platform/alz/policy_set_definitions/{set_name}.alz_policy_set_definition.json"
                try:
                    policy_set = json.loads(git(alz, "show", f"HEAD:{set_path}"))["properties"]
                except subprocess.CalledProcessError:
                    continue  # a built-in initiative (monitoring, Defender, backup): none of its members denies our types
                set_parameters = {k: v.get("defaultValue") for k, v in policy_set.get("parameters", {}).items()}
                set_parameters.update(assigned)
                set_source = {"repo": "Azure/Azure-Landing-Zones-Library", "path": set_path, "commit": alz_commit}
                for member in policy_set["policyDefinitions"]:
                    values = {k: resolve(v["value"], set_parameters) for k, v in member.get("parameters", {}).items()}
                    members.append((member["policyDefinitionReferenceId"], member["policyDefinitionId"], values, set_source))
            else:
                members.append((None, target, assigned, None))
            for reference, definition_id, values, set_source in members:
                try:
                    source, body = definition(definition_id)
                except subprocess.CalledProcessError:
                    unresolved.append(f"{assignment_name} {reference}: {definition_id}")
                    continue
                properties = body.get("properties", body)
                parameters = {k: v.get("defaultValue") for k, v in properties.get("parameters", {}).items()}
                parameters.update(values)
                rule = properties["policyRule"]
                named = types_named(rule["if"])
                if not any(t == ours or t.startswith(ours + "/") for t in named for ours in TYPES):
                    continue
                effect = resolve(rule["then"]["effect"], parameters)
                raw_details = rule["then"].get("details")
                # What a Modify writes, and what a DeployIfNotExists looks for; its deployment template is not carried.
                details = (
                    {k: resolve(v, parameters) for k, v in raw_details.items() if k in ("type", "name", "existenceCondition", "operations")}
                    if isinstance(raw_details, dict)
                    else None
                )
                rules.append(
                    {
                        "archetype": archetype,
                        "assignment": assignment_name,
                        "enforcementMode": assignment.get("enforcementMode", "Default"),
                        "referenceId": reference,
                        "definitionId": definition_id.split("/")[-1],
                        "builtIn": source["repo"] == "Azure/azure-policy",
                        "displayName": properties.get("displayName", ""),
                        "mode": properties.get("mode", ""),
                        "effect": effect,
                        "if": resolve(rule["if"], parameters),
                        "details": details,
                        "source": source,
                        "assignmentSource": {"repo": "Azure/Azure-Landing-Zones-Library", "path": assignment_path, "commit": alz_commit},
                        "setSource": set_source,
                    }
                )
    OUT.write_text(
        json.dumps({"alzCommit": alz_commit, "azurePolicyCommit": policy_commit, "unresolved": unresolved, "rules": rules}, indent=1) + "\n"
    )
    print(f"{len(rules)} rules -> {OUT}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
