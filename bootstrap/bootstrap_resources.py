"""Components of the bootstrap stack: the two pipeline identities and the state backend they use."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread
from bootstrap_permissions import ENTRA_TOKEN_EXCHANGE_AUDIENCE, GITHUB_OIDC_ISSUER

# Namespace for deterministic role assignment / definition names (stable across runs, never random).
_NAME_NAMESPACE = uuid.UUID("6f0f3c5e-0b7e-4d55-9a57-2f1c1c3a9e41")


def stable_guid(*parts: str) -> str:
    return str(uuid.uuid5(_NAME_NAMESPACE, "|".join(parts)))


_NAME_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_CREDENTIAL_NAME_LIMIT = 120  # Entra: a federated identity credential's name is at most 120 characters


def credential_name(subject: str) -> str:
    """A federated credential name derived from its subject (Entra allows letters, digits, - and _), unique per subject.

    Replacing the other characters with `-` is not one-to-one (`environment:prod.eu` and `environment:prod-eu` would share a
    name), so a subject whose environment or branch name has such a character, or whose name would be cut at the limit, gets
    the first 10 hex digits of its subject's SHA-256 appended. Names made only of letters, digits, `-` and `_` map one-to-one
    and keep the names earlier versions gave them: `github-environment-<name>-ids`, `github-ref-refs-heads-<branch>-ids`
    (`-ids`: the immutable form, whose repository segment carries `@<id>`; earlier versions also trusted the name form).
    """
    parts = subject.split(":", 2)
    tail = parts[2] if len(parts) == 3 else subject
    suffix = "-ids" if "@" in parts[1 if len(parts) > 1 else 0] else ""
    readable = ("github-" + re.sub(r"[^A-Za-z0-9_-]+", "-", tail)).strip("-")
    kind, _, value = tail.partition(":")
    if kind == "ref" and value.startswith("refs/heads/"):
        value = value[len("refs/heads/") :]
    one_to_one = kind in ("environment", "ref") and _NAME_SAFE.fullmatch(value) is not None
    if one_to_one and len(readable) + len(suffix) <= _CREDENTIAL_NAME_LIMIT:
        return readable + suffix
    digest = hashlib.sha256(subject.encode()).hexdigest()[:10]
    return f"{readable[: _CREDENTIAL_NAME_LIMIT - len(suffix) - len(digest) - 1]}-{digest}{suffix}"


def github_subjects_for_deployer(prefixes: Sequence[str], environments: Sequence[str]) -> list[str]:
    # Jobs that name an environment get `environment:<name>` as their subject, so only jobs that passed the
    # environment's protection rules (reviewers, no self-review, no admin bypass, main only) can become the deployer.
    # `prefixes`: the repository's immutable `repo:OWNER@ID/REPO@ID` only (github_preflight.py).
    return [f"{prefix}:environment:{environment}" for environment in environments for prefix in prefixes]


def github_subjects_for_planner(prefixes: Sequence[str], branch: str, preview_environments: Sequence[str]) -> list[str]:
    # Runs of the reviewed branch (drift, the deploy's plan job), and jobs in a preview environment, which start only after a
    # reviewer other than the run's initiator approved that run. Never `...:pull_request`: that is every same-repo branch, unreviewed.
    subjects = [f"{prefix}:ref:refs/heads/{branch}" for prefix in prefixes]
    return subjects + [f"{prefix}:environment:{environment}" for environment in preview_environments for prefix in prefixes]


class PipelineIdentityArgs:
    def __init__(
        self,
        display_name: str,
        owner_object_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
        subjects: Sequence[str],
        graph_app_id: str,
        graph_object_id: pulumi.Input[str],
        graph_app_role_ids: pulumi.Output[Mapping[str, str]],
        graph_app_roles: Sequence[str],
    ) -> None:
        self.display_name = display_name
        """Display name of the app registration."""
        self.owner_object_ids = owner_object_ids
        """Owners of the app and its service principal (the admin who runs the bootstrap)."""
        self.subjects = subjects
        """GitHub OIDC subjects allowed to sign in as this identity."""
        self.graph_app_id = graph_app_id
        """Microsoft Graph's app id (from exo.facts)."""
        self.graph_object_id = graph_object_id
        """Object id of Microsoft Graph's service principal in this tenant (looked up, never managed)."""
        self.graph_app_role_ids = graph_app_role_ids
        """Graph app role ids by permission value, from the looked-up service principal."""
        self.graph_app_roles = graph_app_roles
        """Graph application permissions to grant."""


class PipelineIdentity(pulumi.ComponentResource):
    """An Entra app that GitHub Actions signs in as through federated credentials; no secret exists."""

    client_id: pulumi.Output[str]
    """Application (client) id: ARM_CLIENT_ID / AZURE_CLIENT_ID in the workflows."""
    object_id: pulumi.Output[str]
    """Service principal object id: the principal Azure role assignments name."""

    def __init__(
        self,
        name: str,
        args: PipelineIdentityArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("exo-bootstrap:index:PipelineIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role_ids = args.graph_app_role_ids
        self.application = azuread.Application(
            f"{name}-app",
            display_name=args.display_name,
            owners=args.owner_object_ids,
            sign_in_audience="AzureADMyOrg",
            # Declared for the portal's "API permissions" view; the AppRoleAssignments below are the consent.
            required_resource_accesses=[
                azuread.ApplicationRequiredResourceAccessArgs(
                    resource_app_id=args.graph_app_id,
                    resource_accesses=[
                        azuread.ApplicationRequiredResourceAccessResourceAccessArgs(
                            id=role_ids.apply(lambda ids, value=value: ids[value]),
                            type="Role",
                        )
                        for value in args.graph_app_roles
                    ],
                )
            ],
            opts=child,
        )
        self.service_principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=self.application.client_id,
            owners=args.owner_object_ids,
            opts=child,
        )
        self.credentials = [
            azuread.ApplicationFederatedIdentityCredential(
                f"{name}-{credential_name(subject)}",
                application_id=self.application.id,
                display_name=credential_name(subject),
                description=f"GitHub Actions: {subject}",
                issuer=GITHUB_OIDC_ISSUER,
                audiences=[ENTRA_TOKEN_EXCHANGE_AUDIENCE],
                subject=subject,
                opts=child,
            )
            for subject in args.subjects
        ]
        self.graph_grants = [
            azuread.AppRoleAssignment(
                f"{name}-graph-{value}",
                app_role_id=role_ids.apply(lambda ids, value=value: ids[value]),
                principal_object_id=self.service_principal.object_id,
                resource_object_id=args.graph_object_id,
                opts=child,
            )
            for value in args.graph_app_roles
        ]
        self.client_id = self.application.client_id
        self.object_id = self.service_principal.object_id
        # Outputs registered so `pulumi stack` shows them on the component too.
        self.register_outputs({"clientId": self.client_id, "objectId": self.object_id})


class StateBackendArgs:
    def __init__(
        self,
        resource_group_name: pulumi.Input[str],
        location: str,
        tenant_id: pulumi.Input[str],
        storage_account_name: str,
        container_name: str,
        key_vault_name: str,
        key_name: str,
    ) -> None:
        self.resource_group_name = resource_group_name
        """Resource group of the pipeline's own resources (state and key), apart from the workload."""
        self.location = location
        self.tenant_id = tenant_id
        self.storage_account_name = storage_account_name
        self.container_name = container_name
        self.key_vault_name = key_vault_name
        self.key_name = key_name


class StateBackend(pulumi.ComponentResource):
    """Blob container for `azblob://` stack state and a Key Vault key for the `azurekeyvault://` secrets provider."""

    backend_url: pulumi.Output[str]
    secrets_provider: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: StateBackendArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("exo-bootstrap:index:StateBackend", name, None, opts)
        # State is the record of the tenant: protect it from an accidental destroy of this stack.
        child = pulumi.ResourceOptions(parent=self, protect=True)
        self.account = azure_native.storage.StorageAccount(
            f"{name}-account",
            account_name=args.storage_account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=azure_native.storage.Kind.STORAGE_V2,
            sku=azure_native.storage.SkuArgs(name=azure_native.storage.SkuName.STANDARD_ZRS),
            enable_https_traffic_only=True,
            minimum_tls_version=azure_native.storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            # Entra-only data access: the backend signs in with DefaultAzureCredential, never an account key.
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            opts=child,
        )
        self.blob_service = azure_native.storage.BlobServiceProperties(
            f"{name}-blob-service",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            blob_services_name="default",
            is_versioning_enabled=True,
            delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(enabled=True, days=30),
            container_delete_retention_policy=azure_native.storage.DeleteRetentionPolicyArgs(enabled=True, days=30),
            opts=child,
        )
        self.container = azure_native.storage.BlobContainer(
            f"{name}-container",
            account_name=self.account.name,
            resource_group_name=args.resource_group_name,
            container_name=args.container_name,
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=child,
        )
        self.vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            vault_name=args.key_vault_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            properties=azure_native.keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=azure_native.keyvault.SkuArgs(
                    family=azure_native.keyvault.SkuFamily.A,
                    name=azure_native.keyvault.SkuName.STANDARD,
                ),
                enable_rbac_authorization=True,
                enable_purge_protection=True,
                soft_delete_retention_in_days=90,
            ),
            opts=child,
        )
        self.key = azure_native.keyvault.Key(
            f"{name}-key",
            key_name=args.key_name,
            vault_name=self.vault.name,
            resource_group_name=args.resource_group_name,
            properties=azure_native.keyvault.KeyPropertiesArgs(
                kty=azure_native.keyvault.JsonWebKeyType.RSA,
                key_size=3072,
                key_ops=[
                    azure_native.keyvault.JsonWebKeyOperation.ENCRYPT,
                    azure_native.keyvault.JsonWebKeyOperation.DECRYPT,
                ],
            ),
            opts=child,
        )
        self.backend_url = pulumi.Output.concat("azblob://", self.container.name)
        self.secrets_provider = pulumi.Output.concat("azurekeyvault://", self.vault.name, ".vault.azure.net/keys/", self.key.name)
        self.register_outputs({"backendUrl": self.backend_url, "secretsProvider": self.secrets_provider})


def role_definition_id(subscription_id: pulumi.Input[str], role_guid: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role_guid,
    )


def grant(
    name: str,
    *,
    principal_id: pulumi.Input[str],
    role_definition: pulumi.Input[str],
    scope: pulumi.Input[str],
    principal_type: str,
    opts: pulumi.ResourceOptions | None = None,
) -> azure_native.authorization.RoleAssignment:
    """One Azure role assignment; its name is derived from (scope, principal, role), so re-runs are idempotent."""
    assignment_name = pulumi.Output.all(scope, principal_id, role_definition).apply(lambda parts: stable_guid(*(str(p) for p in parts)))
    return azure_native.authorization.RoleAssignment(
        name,
        role_assignment_name=assignment_name,
        principal_id=principal_id,
        # Always explicit: the SDK would default to "User", and for a new service principal the right type
        # also avoids "principal not found" while Entra replicates it.
        principal_type=principal_type,
        role_definition_id=role_definition,
        scope=scope,
        opts=opts,
    )
