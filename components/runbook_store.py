"""Private blob storage that hosts runbook files for Azure Automation to publish from (azure-native has no inline runbook content).

One read-only container SAS links every runbook: valid at every runbook PUT and the same all renewal period long. Why, and the designs
weighed: docs/design.md, *Runbook links*.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import storage

CONTAINER_NAME = "runbooks"
LINK_RENEWAL_PERIOD = dt.timedelta(days=180)
LINK_MARGIN = dt.timedelta(days=30)
# Azure's clock may be behind the runner's at the very start of a period.
LINK_CLOCK_SKEW = dt.timedelta(minutes=15)
_PERIODS_FROM = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Encryption settings Azure accepts only when the account is created (azure-docs articles/storage/common/
# infrastructure-encryption-enable.md; account-scoped-keys for queues and tables, account-encryption-key-create.md).
CREATE_ONLY_ENCRYPTION_INPUTS = ("requireInfrastructureEncryption", "services.queue.keyType", "services.table.keyType")


def blob_name(runbook_name: str, sha256: str) -> str:
    """Where a runbook's content version lives in the container: named by its hash, so a new version is a new blob."""
    return f"{runbook_name}/{sha256}.ps1"


def link_window(now: dt.datetime) -> tuple[str, str]:
    """SAS start and expiry (RFC 3339) for the renewal period `now` falls in: the same for every moment of that period."""
    period = (now - _PERIODS_FROM) // LINK_RENEWAL_PERIOD
    start = _PERIODS_FROM + period * LINK_RENEWAL_PERIOD
    return (
        (start - LINK_CLOCK_SKEW).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (start + LINK_RENEWAL_PERIOD + LINK_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


@dataclass
class RunbookStoreArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the storage account."""
    location: pulumi.Input[str]
    """Azure region."""
    account_name: pulumi.Input[str]
    """Globally unique storage account name (3-24 lowercase letters and digits)."""
    now: dt.datetime
    """The program's clock reading: picks the link's renewal period."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the storage account."""


class RunbookStore(pulumi.ComponentResource):
    """A locked-down storage account and a private container: HTTPS only, TLS 1.2, no public blob access, no cross-tenant
    replication or copy, infrastructure (double) encryption with account-scoped keys.

    Shared-key access stays on: azure-native's Blob uploads with the account key (pulumi/pulumi-azure-native #2015) and the
    service SAS that Automation fetches a runbook with is signed with it. The key itself never enters the program or its state.
    """

    account_name: pulumi.Output[str]
    container_name: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]
    link_expiry: str
    """When the current links expire (RFC 3339); they are renewed before, at the end of the renewal period."""
    link_version: pulumi.Output[str]
    """A digest of the container SAS (not secret: a one-way hash): changes when the links change (renewal, storage key rotation)."""

    def __init__(self, name: str, args: RunbookStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:RunbookStore", name, None, opts)
        account = storage.StorageAccount(
            f"{name}-account",
            account_name=args.account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            kind=storage.Kind.STORAGE_V2,
            sku=storage.SkuArgs(name=storage.SkuName.STANDARD_LRS),
            enable_https_traffic_only=True,
            minimum_tls_version=storage.MinimumTlsVersion.TLS1_2,
            allow_blob_public_access=False,
            allow_shared_key_access=True,
            allow_cross_tenant_replication=False,
            # Copies only from accounts in this tenant (ALZ Enforce-GR-Storage0 Deny-Storage-CopyScope).
            allowed_copy_scope=storage.AllowedCopyScope.AAD,
            # Reachable from public networks on purpose: Automation fetches the content link from its own network (docs/design.md,
            # "Runbook links"). Said explicitly, with no trusted-service bypass, so that a network guardrail sees what is meant
            # (docs/landing-zone.md: the one exemption this store needs).
            public_network_access=storage.PublicNetworkAccess.ENABLED,
            network_rule_set=storage.NetworkRuleSetArgs(default_action=storage.DefaultAction.ALLOW, bypass=storage.Bypass.NONE),
            # Double encryption at rest and account-scoped keys for every service (ALZ Deny-Storage-Infra-Encryption and
            # Deny-Storage-ServicesEncryption). Azure takes infrastructure encryption and the queue and table key types only when
            # the account is created, hence replace_on_changes; the name is fixed, so the old account goes first.
            encryption=storage.EncryptionArgs(
                key_source=storage.KeySource.MICROSOFT_STORAGE,
                require_infrastructure_encryption=True,
                services=storage.EncryptionServicesArgs(
                    blob=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    file=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    queue=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                    table=storage.EncryptionServiceArgs(enabled=True, key_type=storage.KeyType.ACCOUNT),
                ),
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                replace_on_changes=[f"encryption.{path}" for path in CREATE_ONLY_ENCRYPTION_INPUTS],
                delete_before_replace=True,
            ),
        )
        container = storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            container_name=CONTAINER_NAME,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        start, expiry = link_window(args.now)
        self._token = storage.list_storage_account_service_sas_output(
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            canonicalized_resource=pulumi.Output.concat("/blob/", account.name, "/", container.name),
            resource=storage.SignedResource.C,
            permissions=storage.Permissions.R,
            protocols=storage.HttpProtocol.HTTPS,
            shared_access_start_time=start,
            shared_access_expiry_time=expiry,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[container]),
        ).service_sas_token
        self.account_name = account.name
        self.container_name = container.name
        self.resource_group_name = pulumi.Output.from_input(args.resource_group_name)
        self.link_expiry = expiry
        self.link_version = pulumi.Output.unsecret(self._token.apply(lambda token: hashlib.sha256(token.encode()).hexdigest()[:16]))
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"accountName": self.account_name, "containerName": self.container_name, "linkExpiry": expiry})

    def content_link(self, blob_name: str) -> pulumi.Output[str]:
        """The HTTPS link Automation reads `blob_name` from, with the container SAS: a secret (the SAS is a credential)."""
        return pulumi.Output.secret(
            pulumi.Output.concat(
                "https://", self.account_name, ".blob.core.windows.net/", self.container_name, "/", blob_name, "?", self._token
            )
        )
