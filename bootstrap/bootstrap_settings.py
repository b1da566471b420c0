"""Bootstrap configuration, read and validated once before any resource is registered."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CONFIG_NAMESPACE = "exo-bootstrap"
# Keys whose values arrive as JSON (lists, booleans); the rest are plain strings.
STRUCTURED_KEYS = frozenset({"deployEnvironments", "planPullRequests"})

_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
_STORAGE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_KEY_VAULT = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_CONTAINER = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_RESOURCE_GROUP = re.compile(r"^[\w().-]{1,89}[\w()-]$")
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,30}$")


class BootstrapConfigError(ValueError):
    """Bad bootstrap configuration; the message names the key (`exo-bootstrap:<key>`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{CONFIG_NAMESPACE}:{key} {problem}")
        self.key = key


@dataclass(frozen=True)
class BootstrapSettings:
    github_repository: str
    """`owner/name` of the repository whose workflows may sign in."""
    deploy_environments: Sequence[str]
    """GitHub environments whose jobs may sign in as the deployer (one per tenant stack, usually one)."""
    plan_branch: str
    """Branch whose runs (scheduled drift checks) may sign in as the planner."""
    plan_pull_requests: bool
    """Whether pull-request runs may sign in as the planner (previews)."""
    location: str
    name_prefix: str
    workload_resource_group: str
    pipeline_resource_group: str
    state_storage_account: str
    state_container: str
    key_vault: str
    secrets_key: str
    main_stack: str
    """Name of the main program's stack in this tenant (goes into the stacks-manifest row)."""


Getter = Callable[[str], Any]


def _text(
    get: Getter,
    key: str,
    pattern: re.Pattern[str],
    rule: str,
    default: str | None = None,
) -> str:
    value = get(key)
    if value is None or value == "":
        if default is None:
            raise BootstrapConfigError(key, f"is required ({rule})")
        value = default
    if not isinstance(value, str) or not pattern.match(value):
        raise BootstrapConfigError(key, f"is {value!r}; expected {rule}")
    return value


def parse_settings(get: Getter, stack: str) -> BootstrapSettings:
    """Build settings from a config getter (`pulumi.Config(CONFIG_NAMESPACE).get_object`)."""
    prefix = _text(
        get,
        "namePrefix",
        _PREFIX,
        "lowercase letters, digits and hyphens",
        default="exo-automation",
    )
    environments = get("deployEnvironments")
    if not isinstance(environments, list) or not environments:
        raise BootstrapConfigError(
            "deployEnvironments",
            "must be a non-empty list of GitHub environment names, e.g. [exo-contoso]",
        )
    for environment in environments:
        if not isinstance(environment, str) or not _ENVIRONMENT.match(environment):
            raise BootstrapConfigError(
                "deployEnvironments",
                f"has an invalid GitHub environment name {environment!r}",
            )
    plan_pull_requests = get("planPullRequests")
    if plan_pull_requests is None:
        plan_pull_requests = True
    if not isinstance(plan_pull_requests, bool):
        raise BootstrapConfigError("planPullRequests", f"is {plan_pull_requests!r}; expected true or false")
    return BootstrapSettings(
        github_repository=_text(
            get,
            "githubRepository",
            _REPOSITORY,
            "'owner/name' of the GitHub repository",
        ),
        deploy_environments=tuple(environments),
        plan_branch=_text(get, "planBranch", _BRANCH, "a branch name", default="main"),
        plan_pull_requests=plan_pull_requests,
        location=_text(
            get,
            "location",
            re.compile(r"^[a-z0-9]+$"),
            "an Azure region name such as westeurope",
        ),
        name_prefix=prefix,
        workload_resource_group=_text(
            get,
            "workloadResourceGroup",
            _RESOURCE_GROUP,
            "a resource group name",
            default=f"{prefix}-rg",
        ),
        pipeline_resource_group=_text(
            get,
            "pipelineResourceGroup",
            _RESOURCE_GROUP,
            "a resource group name",
            default=f"{prefix}-pipeline-rg",
        ),
        state_storage_account=_text(
            get,
            "stateStorageAccount",
            _STORAGE_ACCOUNT,
            "3-24 lowercase letters and digits, globally unique",
        ),
        state_container=_text(
            get,
            "stateContainer",
            _CONTAINER,
            "a blob container name (3-63 lowercase)",
            default="pulumi-state",
        ),
        key_vault=_text(
            get,
            "keyVault",
            _KEY_VAULT,
            "a Key Vault name (3-24 letters, digits, hyphens)",
        ),
        secrets_key=_text(
            get,
            "secretsKey",
            _PREFIX,
            "a key name (letters, digits, hyphens)",
            default="pulumi-secrets",
        ),
        main_stack=_text(
            get,
            "mainStack",
            _ENVIRONMENT,
            "the main program's stack name",
            default=stack,
        ),
    )
