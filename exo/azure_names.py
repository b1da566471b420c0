"""Azure names the program derives itself: valid under every rule in `facts.AZURE_INPUT_RULES`, and the same on every run.

Pulumi accepts stack names Azure does not (underscores, dots, upper case, up to 100 characters). A default built from the stack name
is kept exactly as it is when every rule accepts it, so existing stacks keep their names; otherwise the stack name is normalised to
the characters the rules allow, shortened, and suffixed with a hash of the *original* stack name, so that two stacks that normalise
alike (`team_a` and `team.a`) still get different names.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence

from exo import facts

ACCOUNT = "azure-native:automation:AutomationAccount"
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
RUNTIME_ENVIRONMENT = "azure-native:automation:RuntimeEnvironment"

# Everywhere a resource group name goes as a path parameter: the group itself, the Automation operations (no parentheses there)
# and storage. A name fit for all of them is fit for each.
RESOURCE_GROUP_USES = (
    (RESOURCE_GROUP, "resourceGroupName"),
    (ACCOUNT, "resourceGroupName"),
    ("azure-native:storage:StorageAccount", "resourceGroupName"),
)
ACCOUNT_USES = ((ACCOUNT, "automationAccountName"),)
RUNTIME_ENVIRONMENT_USES = ((RUNTIME_ENVIRONMENT, "runtimeEnvironmentName"), ("azure-native:automation:Package", "runtimeEnvironmentName"))

_HASH_LENGTH = 8

# The namespace of the names derived with uuid5 (schedule versions, job schedule ids): fixed, so the same inputs give the same name on
# every run. Changing it renames those resources in Azure.
NAME_NAMESPACE = uuid.UUID("5f1e2b0e-3c1a-4d8e-9b7a-6a0c2e4d8f10")


def problems(value: str, uses: Sequence[tuple[str, str]]) -> list[str]:
    """Every rule's objection to `value` wherever it is used; empty when all accept it."""
    return [problem for type_token, input_name in uses for problem in facts.input_problems(type_token, input_name, value)]


def stack_hash(stack: str) -> str:
    return hashlib.sha256(stack.encode()).hexdigest()[:_HASH_LENGTH]


def _from_stack(prefix: str, stack: str, disallowed: str, max_length: int, uses: Sequence[tuple[str, str]]) -> str:
    candidate = f"{prefix}{stack}"
    if not problems(candidate, uses):
        return candidate
    tail = re.sub(disallowed, "-", stack).strip("-.")
    suffix = f"-{stack_hash(stack)}"
    head = f"{prefix}{tail}"[: max_length - len(suffix)].rstrip("-.")
    name = f"{head}{suffix}"
    found = problems(name, uses)
    if found:
        # Unreachable for any stack name Pulumi accepts; a rule change in facts that breaks the scheme must fail loudly.
        raise ValueError(f"derived name {name!r} for stack {stack!r} is still invalid: {found[0]}")
    return name


def default_resource_group_name(stack: str) -> str:
    """rg-exo-automation-<stack>; letters, digits, '-' and '_' only (no '.', which a name may not end with), at most 90."""
    return _from_stack("rg-exo-automation-", stack, r"[^A-Za-z0-9_-]+", 90, RESOURCE_GROUP_USES)


def default_account_name(stack: str) -> str:
    """aa-exo-automation-<stack>; letters, digits and '-' only, at most 50."""
    return _from_stack("aa-exo-automation-", stack, r"[^A-Za-z0-9-]+", 50, ACCOUNT_USES)


def runtime_environment_name(powershell: tuple[int, int]) -> str:
    """PowerShell-7-4-Exchange: the spec's RuntimeEnvironmentNameParameter (^[a-zA-Z][a-zA-Z-_0-9]*$) refuses the '.' of 7.4."""
    name = f"PowerShell-{powershell[0]}-{powershell[1]}-Exchange"
    found = problems(name, RUNTIME_ENVIRONMENT_USES)
    if found:
        raise ValueError(f"runtime environment name {name!r} is invalid: {found[0]}")
    return name


def default_storage_account_name(tenant_id: str, stack: str, account_name: str) -> str:
    """Storage account names are global: derive one from the tenant, stack and account, the same on every run."""
    digest = hashlib.sha256(f"{tenant_id}/{stack}/{account_name}".lower().encode()).hexdigest()
    return f"stexo{digest[:19]}"


WORKSPACE_USES = (("azure-native:operationalinsights:Workspace", "workspaceName"),)


def default_workspace_name(stack: str) -> str:
    """log-exo-automation-<stack>; letters, digits and '-' only, at most 63 (the workspace name rules)."""
    return _from_stack("log-exo-automation-", stack, r"[^A-Za-z0-9-]+", 63, WORKSPACE_USES)
