"""Private blob storage that hosts runbook files for Azure Automation to publish from (azure-native has no inline runbook content)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import storage

CONTAINER_NAME = "runbooks"


@dataclass
class RunbookStoreArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the storage account."""
    location: pulumi.Input[str]
    """Azure region."""
    account_name: pulumi.Input[str]
    """Globally unique storage account name (3-24 lowercase letters and digits)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the storage account."""


class RunbookStore(pulumi.ComponentResource):
    """A locked-down storage account and a private container: HTTPS only, TLS 1.2, no public blob access.

    Shared-key access stays on: azure-native's Blob uploads with the account key (pulumi/pulumi-azure-native #2015) and the
    service SAS that Automation fetches a runbook with is signed with it. The key itself never enters the program or its state.
    """

    account_name: pulumi.Output[str]
    container_name: pulumi.Output[str]
    resource_group_name: pulumi.Output[str]

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
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        container = storage.BlobContainer(
            f"{name}-container",
            account_name=account.name,
            resource_group_name=args.resource_group_name,
            container_name=CONTAINER_NAME,
            public_access=storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.account_name = account.name
        self.container_name = container.name
        self.resource_group_name = pulumi.Output.from_input(args.resource_group_name)
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"accountName": self.account_name, "containerName": self.container_name})
