"""Bootstrap configuration, read and validated once before any resource is registered."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from exo import azure_names
from settings.landing_zone import SUBNET_ID

CONFIG_NAMESPACE = "exo-bootstrap"
# Keys whose values arrive as JSON (lists, booleans); the rest are plain strings.
STRUCTURED_KEYS = frozenset({"deployEnvironments", "previewEnvironments", "planPullRequests"})

# `owner/name`, or the immutable form GitHub's OIDC subjects use, `owner@OWNER_ID/name@REPO_ID` (github/docs
# content/actions/reference/security/oidc.md @051718f, "Immutable subject claims": `@` cannot appear in either name).
_REPOSITORY = re.compile(
    r"^(?P<owner>[A-Za-z0-9][A-Za-z0-9-]{0,38})(?:@(?P<owner_id>[1-9][0-9]{0,19}))?"
    r"/(?P<name>[A-Za-z0-9._-]{1,100})(?:@(?P<repo_id>[1-9][0-9]{0,19}))?$"
)
_REPOSITORY_RULE = "expected 'owner/name' or 'owner@OWNER_ID/name@REPO_ID' of the GitHub repository"
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9._-]{1,255}$")
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]{1,255}$")
# Azure names are checked against the program's rules (exo/facts.py AZURE_INPUT_RULES, each with its REST spec source) wherever
# the bootstrap uses them, not against patterns of its own.
_STORAGE_ACCOUNT_USES = (
    ("azure-native:storage:StorageAccount", "accountName"),
    ("azure-native:storage:BlobContainer", "accountName"),
)
_CONTAINER_USES = (("azure-native:storage:BlobContainer", "containerName"),)
_KEY_VAULT_USES = (("azure-native:keyvault:Vault", "vaultName"),)
_RESOURCE_GROUP_USES = (
    ("azure-native:resources:ResourceGroup", "resourceGroupName"),
    ("azure-native:storage:StorageAccount", "resourceGroupName"),
    ("azure-native:keyvault:Vault", "resourceGroupName"),
)
_PREFIX = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# "A maximum of 20 federated identity credentials can be added to an application" (MicrosoftDocs/azure-docs, workload
# identity federation, "Important considerations and restrictions"). The planner spends one on the plan branch.
MAX_FEDERATED_CREDENTIALS = 20


class BootstrapConfigError(ValueError):
    """Bad bootstrap configuration; the message names the key (`exo-bootstrap:<key>`)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{CONFIG_NAMESPACE}:{key} {problem}")
        self.key = key


@dataclass(frozen=True)
class BootstrapSettings:
    github_repository: str
    """`owner/name` of the repository whose workflows may sign in."""
    github_owner_id: int | None
    """The owner's immutable id, when the config pinned it (`owner@ID/name@ID`); the bootstrap checks it against GitHub."""
    github_repository_id: int | None
    """The repository's immutable id, when the config pinned it."""
    deploy_environments: Sequence[str]
    """GitHub environments whose jobs may sign in as the deployer (one per tenant stack, usually one)."""
    plan_branch: str
    """Branch whose runs (drift checks, the deploy's plan job) may sign in as the planner."""
    preview_environments: Sequence[str]
    """GitHub environments (required reviewers, prevent self-review) whose jobs may sign in as the planner: a pull request's
    preview waits in one until a reviewer approves the run. A bare `pull_request` subject is never trusted."""
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
    main_stack_file: str | None = None
    """Path of the main stack's Pulumi.<stack>.yaml (relative to the repository root); None: Pulumi.<mainStack>.yaml there."""
    private_endpoint_subnet_id: str | None = None
    """The landing zone subnet the main stack's private endpoints join (`landingZone.privateEndpoints.subnetId` there): the
    deployer may join it, at that subnet only. None: the deployer joins no subnet."""


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


def _azure_name(get: Getter, key: str, uses: Sequence[tuple[str, str]], rule: str, default: str | None = None) -> str:
    value = get(key)
    if value is None or value == "":
        if default is None:
            raise BootstrapConfigError(key, f"is required ({rule})")
        value = default
    if not isinstance(value, str):
        raise BootstrapConfigError(key, f"is {value!r}; expected {rule}")
    problems = azure_names.problems(value, uses)
    if problems:
        raise BootstrapConfigError(key, f"is {value!r}; expected {rule}: {problems[0]}")
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
    if get("planPullRequests") is not None:
        raise BootstrapConfigError(
            "planPullRequests",
            "is no longer supported: unreviewed pull requests get no Azure identity; a pull request's preview signs in as the "
            "planner only from an approved preview environment (set previewEnvironments, default <deployEnvironment>-preview)",
        )
    preview_environments = get("previewEnvironments")
    if preview_environments is None:
        preview_environments = [f"{environment}-preview" for environment in environments]
    if not isinstance(preview_environments, list) or not preview_environments:
        raise BootstrapConfigError(
            "previewEnvironments",
            "must be a non-empty list of GitHub environment names, e.g. [exo-contoso-preview]",
        )
    if len(environments) > MAX_FEDERATED_CREDENTIALS:
        raise BootstrapConfigError(
            "deployEnvironments", f"lists {len(environments)} environments; an Entra app takes at most {MAX_FEDERATED_CREDENTIALS}"
        )
    if len(preview_environments) > MAX_FEDERATED_CREDENTIALS - 1:
        raise BootstrapConfigError(
            "previewEnvironments",
            f"lists {len(preview_environments)} environments; the planner takes at most {MAX_FEDERATED_CREDENTIALS - 1} besides its branch",
        )
    for environment in preview_environments:
        if not isinstance(environment, str) or not _ENVIRONMENT.match(environment):
            raise BootstrapConfigError("previewEnvironments", f"has an invalid GitHub environment name {environment!r}")
        if environment in environments:
            raise BootstrapConfigError(
                "previewEnvironments",
                f"names {environment!r}, which is also a deploy environment: a pull request's preview must never wait in the "
                "environment whose approval lets the deployer sign in",
            )
    repository = _REPOSITORY.match(_text(get, "githubRepository", _REPOSITORY, _REPOSITORY_RULE))
    assert repository is not None  # _text matched it
    if (repository["owner_id"] is None) != (repository["repo_id"] is None):
        raise BootstrapConfigError("githubRepository", f"is {repository.string!r}; {_REPOSITORY_RULE} (both ids or neither)")
    settings = BootstrapSettings(
        github_repository=f"{repository['owner']}/{repository['name']}",
        github_owner_id=int(repository["owner_id"]) if repository["owner_id"] else None,
        github_repository_id=int(repository["repo_id"]) if repository["repo_id"] else None,
        deploy_environments=tuple(environments),
        plan_branch=_text(get, "planBranch", _BRANCH, "a branch name", default="main"),
        preview_environments=tuple(preview_environments),
        location=_text(
            get,
            "location",
            re.compile(r"^[a-z0-9]+$"),
            "an Azure region name such as westeurope",
        ),
        name_prefix=prefix,
        workload_resource_group=_azure_name(
            get,
            "workloadResourceGroup",
            _RESOURCE_GROUP_USES,
            "a resource group name",
            default=f"{prefix}-rg",
        ),
        pipeline_resource_group=_azure_name(
            get,
            "pipelineResourceGroup",
            _RESOURCE_GROUP_USES,
            "a resource group name",
            default=f"{prefix}-pipeline-rg",
        ),
        state_storage_account=_azure_name(
            get,
            "stateStorageAccount",
            _STORAGE_ACCOUNT_USES,
            "3-24 lowercase letters and digits, globally unique",
        ),
        state_container=_azure_name(
            get,
            "stateContainer",
            _CONTAINER_USES,
            "a blob container name (3-63 lowercase)",
            default="pulumi-state",
        ),
        key_vault=_azure_name(
            get,
            "keyVault",
            _KEY_VAULT_USES,
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
    main_stack_file = get("mainStackFile")
    if main_stack_file not in (None, ""):
        if not isinstance(main_stack_file, str) or not re.fullmatch(r"[^\0\n]{1,500}\.ya?ml", main_stack_file):
            raise BootstrapConfigError("mainStackFile", f"is {main_stack_file!r}; expected the path of a Pulumi.<stack>.yaml file")
        settings = dataclasses.replace(settings, main_stack_file=main_stack_file)
    subnet = get("privateEndpointSubnetId")
    if subnet not in (None, ""):
        if not isinstance(subnet, str) or not SUBNET_ID.fullmatch(subnet):
            raise BootstrapConfigError(
                "privateEndpointSubnetId",
                f"is {subnet!r}; expected a subnet's resource id, /subscriptions/<id>/resourceGroups/<group>/providers/"
                "Microsoft.Network/virtualNetworks/<network>/subnets/<subnet>",
            )
        settings = dataclasses.replace(settings, private_endpoint_subnet_id=subnet)
    # The deployer's role on the workload group covers Microsoft.Storage/storageAccounts/*: in the pipeline's own group that
    # would include the state account (its keys, its shared-key switch). Azure resource group names ignore case.
    if settings.workload_resource_group.casefold() == settings.pipeline_resource_group.casefold():
        raise BootstrapConfigError(
            "workloadResourceGroup",
            f"is {settings.workload_resource_group!r}, the same resource group as pipelineResourceGroup: the deployer's role "
            "on the workload group would then reach the state storage account and Key Vault; use two resource groups",
        )
    return settings


def check_main_stack_subnet(settings: BootstrapSettings, main_stack_config: dict[str, Any] | None) -> None:
    """The subnet the main stack's private endpoints join (its Pulumi.<stack>.yaml, when the repository has it) must be the one
    the deployer may join: the join is granted at that subnet, outside the workload group, so the bootstrap must be told it."""
    zone = ((main_stack_config or {}).get("config") or {}).get("exo-automation:landingZone") or {}
    wanted = ((zone.get("privateEndpoints") if isinstance(zone, dict) else None) or {}).get("subnetId")
    if not isinstance(wanted, str):
        return
    have = settings.private_endpoint_subnet_id
    if have is None or have.casefold() != wanted.casefold():
        raise BootstrapConfigError(
            "privateEndpointSubnetId",
            f"is {have!r}, but Pulumi.{settings.main_stack}.yaml declares private endpoints in {wanted!r}: set "
            "privateEndpointSubnetId to that subnet so the deployer may join it (Microsoft.Network/virtualNetworks/subnets/"
            "join/action, granted at that subnet only)",
        )


def keeps_private_keys(main_stack_config: dict[str, Any] | None) -> bool:
    """Whether the main stack keeps generated private keys in its state, read from its Pulumi.<stack>.yaml (None: not in the
    repository, so unknown, which counts as keys: fail closed).

    An identity without `certificate.hostCertificates` gets a generated certificate (tls.PrivateKey: the key is a stack secret);
    a stack without `identities` gets the default identity, which is generated. Only a stack whose every identity uses host
    certificates is keyless. Such a stack's PR previews run as the planner, which decrypts state: with keys in it, a maintainer
    who approves a preview of their own change (prevent self-review binds the run's initiator, not the author) could read them.
    """
    if main_stack_config is None:
        return True
    identities = (main_stack_config.get("config") or {}).get("exo-automation:identities", [{"name": "exo"}])
    if not isinstance(identities, list):
        return True
    for identity in identities:
        certificate = (identity or {}).get("certificate") if isinstance(identity, dict) else None
        if not isinstance(certificate, dict) or not certificate.get("hostCertificates"):
            return True
    return False
