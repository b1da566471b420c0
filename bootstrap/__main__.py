"""Bootstrap stack (run once per tenant by an administrator): the pipeline's identities and state backend.

Separate from the main program because the main program's pipeline signs in *as* the deployer created here and
keeps its state in the container created here. See docs/gitops.md#bootstrapping-the-pipeline-identity.
"""

import json
import sys
from collections.abc import Mapping
from pathlib import Path

# Pulumi runs this project from bootstrap/; the program's facts and Azure name rules are the package `exo` at the repository root,
# and the GitHub client and environment rules are the workflow scripts' own (.github/scripts), so both check the same rules.
_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO / ".github" / "scripts"))
sys.path.insert(0, str(_REPO))

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread
import yaml
from bootstrap_permissions import (
    DEPLOYER_GRAPH_APP_ROLES,
    DEPLOYER_SUBNET_ACTIONS,
    DEPLOYER_WORKLOAD_ACTIONS,
    KEY_VAULT_CRYPTO_USER,
    PLANNER_GRAPH_APP_ROLES,
    PLANNER_WORKLOAD_ACTIONS,
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
)
from bootstrap_resources import (
    PipelineIdentity,
    PipelineIdentityArgs,
    StateBackend,
    StateBackendArgs,
    github_subjects_for_deployer,
    github_subjects_for_planner,
    grant,
    role_definition_id,
    stable_guid,
)
from bootstrap_settings import CONFIG_NAMESPACE, STRUCTURED_KEYS, check_main_stack_subnet, keeps_private_keys, parse_settings
from github_preflight import check, client_from_env

from exo.facts import MICROSOFT_GRAPH_APP_ID

config = pulumi.Config(CONFIG_NAMESPACE)
# Lists and booleans arrive as JSON; everything else is read as the plain string it is.
settings = parse_settings(
    lambda key: config.get_object(key) if key in STRUCTURED_KEYS else config.get(key),
    pulumi.get_stack(),
)
# The main stack's own config, when the repository has it: its private endpoints' subnet must be the one granted below.
_main_stack_file = _REPO / (settings.main_stack_file or f"Pulumi.{settings.main_stack}.yaml")
_main_stack_config = yaml.safe_load(_main_stack_file.read_text()) if _main_stack_file.is_file() else None
check_main_stack_subnet(settings, _main_stack_config)
# A stack with generated private keys in state gets no PR preview: no preview-environment credential exists for it, so no
# approval (not even a self-approval) lets pull-request code sign in as the planner and decrypt the keys.
previews = not keeps_private_keys(_main_stack_config)
if not previews:
    pulumi.log.info(
        f"Pulumi.{settings.main_stack}.yaml keeps generated private keys in state (or is not in this checkout): no federated "
        "credential for previewEnvironments, so pull requests get no preview of this stack (docs/security.md)"
    )
# Fail closed: before any resource, GitHub must confirm it enforces every environment the credentials will trust.
github_repository = check(client_from_env(settings.github_repository), settings, previews=previews)
subject_prefixes = github_repository.subject_prefixes

admin = azuread.get_client_config_output()
azure_client = azure_native.authorization.get_client_config_output()
graph = azuread.get_service_principal_output(client_id=MICROSOFT_GRAPH_APP_ID)

planner = PipelineIdentity(
    f"{settings.name_prefix}-planner",
    PipelineIdentityArgs(
        display_name=f"{settings.name_prefix} pipeline planner ({settings.github_repository})",
        owner_object_ids=[admin.object_id],
        subjects=github_subjects_for_planner(subject_prefixes, settings.plan_branch, settings.preview_environments if previews else ()),
        graph_app_id=MICROSOFT_GRAPH_APP_ID,
        graph_object_id=graph.object_id,
        graph_app_role_ids=graph.app_role_ids,
        graph_app_roles=list(PLANNER_GRAPH_APP_ROLES),
    ),
)
deployer = PipelineIdentity(
    f"{settings.name_prefix}-deployer",
    PipelineIdentityArgs(
        display_name=f"{settings.name_prefix} pipeline deployer ({settings.github_repository})",
        owner_object_ids=[admin.object_id],
        subjects=github_subjects_for_deployer(subject_prefixes, settings.deploy_environments),
        graph_app_id=MICROSOFT_GRAPH_APP_ID,
        graph_object_id=graph.object_id,
        graph_app_role_ids=graph.app_role_ids,
        graph_app_roles=list(DEPLOYER_GRAPH_APP_ROLES),
    ),
)

pipeline_group = azure_native.resources.ResourceGroup(
    "pipeline",
    resource_group_name=settings.pipeline_resource_group,
    location=settings.location,
)
workload_group = azure_native.resources.ResourceGroup(
    "workload",
    resource_group_name=settings.workload_resource_group,
    location=settings.location,
)
backend = StateBackend(
    "state",
    StateBackendArgs(
        resource_group_name=pipeline_group.name,
        location=settings.location,
        tenant_id=admin.tenant_id,
        storage_account_name=settings.state_storage_account,
        container_name=settings.state_container,
        key_vault_name=settings.key_vault,
        key_name=settings.secrets_key,
    ),
)


def workload_role(identity: str, purpose: str, actions: Mapping[str, str]) -> azure_native.authorization.RoleDefinition:
    """A custom role assignable only on the workload resource group, with a name stable across runs."""
    return azure_native.authorization.RoleDefinition(
        f"{identity}-role",
        role_definition_id=workload_group.id.apply(lambda scope: stable_guid(scope, f"{identity}-role")),
        role_name=f"{settings.name_prefix} {identity} ({settings.workload_resource_group})",
        description=purpose,
        role_type="CustomRole",
        scope=workload_group.id,
        assignable_scopes=[workload_group.id],
        permissions=[azure_native.authorization.PermissionArgs(actions=list(actions))],
    )


deployer_role = workload_role(
    "deployer",
    "What the exo-automation main stack deploys: Automation, runbook storage, monitoring, private endpoints.",
    DEPLOYER_WORKLOAD_ACTIONS,
)
planner_role = workload_role(
    "planner",
    "Read the exo-automation workload, including runbook blobs (read with the storage account key).",
    PLANNER_WORKLOAD_ACTIONS,
)


subnet_role: azure_native.authorization.RoleDefinition | None = None
if settings.private_endpoint_subnet_id is not None:
    # Outside the workload group. Custom roles are assignable at resource groups and above (Azure custom roles,
    # AssignableScopes), so the role is defined on the network's group and assigned at the one subnet: the deployer joins no other.
    subnet_id = settings.private_endpoint_subnet_id
    network_group = subnet_id.split("/providers/", 1)[0]
    subnet_role = azure_native.authorization.RoleDefinition(
        "deployer-subnet-role",
        role_definition_id=stable_guid(subnet_id.lower(), "deployer-subnet-role"),
        role_name=f"{settings.name_prefix} deployer subnet join ({subnet_id.rsplit('/', 1)[-1]})",
        description="Place the exo-automation main stack's private endpoints in the landing zone subnet.",
        role_type="CustomRole",
        scope=network_group,
        assignable_scopes=[network_group],
        permissions=[azure_native.authorization.PermissionArgs(actions=list(DEPLOYER_SUBNET_ACTIONS))],
    )


def builtin_role(role_guid: str) -> pulumi.Output[str]:
    return role_definition_id(azure_client.subscription_id, role_guid)


# (name, principal object id, principal type, role definition id, scope)
role_assignments = [
    (
        "deployer-workload",
        deployer.object_id,
        "ServicePrincipal",
        deployer_role.id,
        workload_group.id,
    ),
    (
        "deployer-state",
        deployer.object_id,
        "ServicePrincipal",
        builtin_role(STORAGE_BLOB_DATA_CONTRIBUTOR),
        backend.container.id,
    ),
    (
        "deployer-secrets",
        deployer.object_id,
        "ServicePrincipal",
        builtin_role(KEY_VAULT_CRYPTO_USER),
        backend.key.id,
    ),
    (
        "planner-workload",
        planner.object_id,
        "ServicePrincipal",
        planner_role.id,
        workload_group.id,
    ),
    (
        "planner-state",
        planner.object_id,
        "ServicePrincipal",
        builtin_role(STORAGE_BLOB_DATA_READER),
        backend.container.id,
    ),
    (
        "planner-secrets",
        planner.object_id,
        "ServicePrincipal",
        builtin_role(KEY_VAULT_CRYPTO_USER),
        backend.key.id,
    ),
    # The administrator (a user signed in with `az login`) creates the main stack once (`pulumi stack init
    # --secrets-provider ...`): Owner grants no data-plane access, so give them the deployer's state and key access.
    (
        "admin-state",
        admin.object_id,
        "User",
        builtin_role(STORAGE_BLOB_DATA_CONTRIBUTOR),
        backend.container.id,
    ),
    (
        "admin-secrets",
        admin.object_id,
        "User",
        builtin_role(KEY_VAULT_CRYPTO_USER),
        backend.key.id,
    ),
]
if subnet_role is not None and settings.private_endpoint_subnet_id is not None:
    role_assignments.append(
        ("deployer-subnet", deployer.object_id, "ServicePrincipal", subnet_role.id, settings.private_endpoint_subnet_id)
    )
for name, principal_id, principal_type, role_definition, scope in role_assignments:
    grant(
        name,
        principal_id=principal_id,
        principal_type=principal_type,
        role_definition=role_definition,
        scope=scope,
    )

pulumi.export("tenantId", admin.tenant_id)
pulumi.export("subscriptionId", azure_client.subscription_id)
pulumi.export("plannerClientId", planner.client_id)
pulumi.export("deployerClientId", deployer.client_id)
pulumi.export("deployerObjectId", deployer.object_id)
pulumi.export("workloadResourceGroup", workload_group.name)
pulumi.export("stateStorageAccount", backend.account.name)
pulumi.export("stateContainer", backend.container.name)
pulumi.export("backendUrl", backend.backend_url)
pulumi.export("secretsProvider", backend.secrets_provider)
# Paste into .github/pulumi-stacks.json "stacks".
stacks_manifest_row = pulumi.Output.all(
    admin.tenant_id,
    azure_client.subscription_id,
    planner.client_id,
    deployer.client_id,
    backend.account.name,
    backend.container.name,
).apply(
    lambda values: json.dumps(
        {
            "stack": settings.main_stack,
            "environment": settings.deploy_environments[0],
            # Absent for a stack with keys in state: the preview workflow then skips it with a note.
            **({"previewEnvironment": settings.preview_environments[0]} if previews else {}),
            "tenantId": values[0],
            "subscriptionId": values[1],
            "plannerClientId": values[2],
            "deployerClientId": values[3],
            "stateStorageAccount": values[4],
            "stateContainer": values[5],
        }
    )
)
pulumi.export("stacksManifestRow", stacks_manifest_row)
