"""The specs settings/ produces from config and components/ build from: plain values, importable without any provider SDK."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from exo import facts
from exo.exchange_rbac_state import ExchangeRbacSpec
from exo.powershell_script import RoleDeclaration
from exo.schedule_time import Schedule

if TYPE_CHECKING:
    import pulumi


# --- Automation ---


@dataclass(frozen=True)
class RunbookSpec:
    """One runbook from the repo's runbooks/ folder."""

    name: str
    path: Path
    """Absolute path of the .ps1 file (read here)."""
    source: str
    """The same file relative to the project, for messages: the state must not carry this machine's absolute path."""
    content: str
    """The text published: the file with the shared module after its param() block (exo/runbook_assembly.py)."""
    sha256: str
    """Uppercase hex SHA-256 of `content` (UTF-8): the content hash Automation checks, and the blob's name."""
    description: str
    schedule: Schedule | None
    parameters: tuple[tuple[str, str], ...]
    """Job parameters besides Organization, as strings (Automation passes job parameters as strings)."""
    hybrid_worker: bool
    takes_environment_name: bool
    """The runbook declares -ExchangeEnvironmentName: the program passes the cloud's value outside the commercial cloud."""
    roles: RoleDeclaration
    """The Entra roles the runbook declares it needs (its `# exo-automation:roles` line)."""
    partitions: int = 1
    """Jobs per scheduled run: each gets -PartitionCount partitions and its own -PartitionIndex."""
    hybrid_identity: str | None = None
    """On a hybrid worker: the app identity whose certificate the job signs in with (-CertificateThumbprint, -AppId)."""


@dataclass(frozen=True)
class MonitoringSpec:
    """`automation.monitoring` as settings read it."""

    workspace_id: str | None
    """An existing workspace (for example the landing zone's platform workspace); None: the stack creates `workspace_name`."""
    workspace_subscription_id: str | None
    """The existing workspace's subscription (from its id): its saved functions are created there, whichever subscription the
    stack deploys to (an Azure Landing Zone keeps the platform workspace in the Management subscription)."""
    workspace_name: str
    retention_days: int
    diagnostic_setting: bool
    """False: another diagnostic setting (an Azure Landing Zone policy) already sends JobLogs and JobStreams to workspace_id."""
    emails: tuple[str, ...]
    webhook_url: str | None
    missing_run_grace_minutes: int | None
    """None: each schedule gets a grace period that fits its interval (settings.monitoring.grace_minutes)."""
    certificate_warning_days: int


@dataclass(frozen=True)
class AutomationSpec:
    """The Automation account, its managed identity's grant, its runtime and its runbooks."""

    location: str
    resource_group_name: str
    create_resource_group: bool
    account_name: str
    public_network_access: bool
    tags: tuple[tuple[str, str], ...]
    """The configured tags with PROGRAM_TAGS on top (settings.values.with_program_tags): what every Automation resource carries."""
    runtime: facts.AutomationRuntime
    exchange_module_version: str
    roles: tuple[facts.ExchangeRole, ...]
    storage_account_name: str | None
    """None: derived from the tenant and stack (storage account names are global)."""
    hybrid_worker_group: str | None
    runbooks: tuple[RunbookSpec, ...]
    exchange_rbac: ExchangeRbacSpec | None = None
    """Exchange management roles (and scope) for the managed identity itself, kept by the reconciler; an addition to roles."""
    reconciler: RunbookSpec | None = None
    """Sync-ExchangeRbac, published and scheduled like the runbooks, when any principal declares Exchange RBAC."""
    reconciler_former_owners: tuple[str, ...] = ()
    """Owner prefixes the reconciler's objects carried under an earlier stack or account name (`exchangeRbacSync.formerOwners`)."""
    runtime_warnings: tuple[str, ...] = ()
    """What previews report about the runtime's support on the program's clock reading (never a resource input)."""
    monitoring: MonitoringSpec | None = None
    """Job logs, alerts, saved functions and the workbook (`automation.monitoring`); None: off."""

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(role.display_name for role in self.roles)


# Set by the program, never by config: the national cloud's name for runbooks that take it (outside the commercial cloud).
ENVIRONMENT_PARAMETER = "ExchangeEnvironmentName"
# The program's own tags on everything in Automation; settings put them on top of the configured ones (settings.values).
PROGRAM_TAGS = {"managed-by": "exo-automation"}


# --- App certificates ---


@dataclass(frozen=True)
class CertificateSpec:
    """What the certificate looks like, and which generation of it the identity holds."""

    common_name: pulumi.Input[str]
    """Subject CN of the certificate."""
    rsa_bits: pulumi.Input[int]
    """RSA key size: 2048, 3072 or 4096."""
    validity_period_hours: pulumi.Input[int]
    """How long a certificate is valid."""
    early_renewal_hours: pulumi.Input[int]
    """How long before expiry the certificate is reissued by `pulumi up`."""
    generation: int = 1
    """Bumping it issues a new key and certificate under new resource names (planned rotation)."""
    keep_previous_generation: bool = False
    """Keep the previous generation's key credential next to the current one until hosts have switched (add before remove)."""


# --- Certificate vault ---


DEFAULT_PRINCIPAL_TYPE = "ServicePrincipal"


@dataclass(frozen=True)
class VaultReader:
    """A principal that may read the certificates: a managed identity or other service principal, a user or a group."""

    object_id: str
    principal_type: str = DEFAULT_PRINCIPAL_TYPE
    """The role assignment's principalType. It cannot be left to Azure: azure-native fills in the spec's default, User, when it is
    omitted, and a type that is not the object's own fails with UnmatchedPrincipalType. A plain object id in the config means a
    service principal (the managed identity of a host), which also spares ARM the directory look-up that fails while a principal
    created moments earlier is still replicating."""


@dataclass(frozen=True)
class CertificateVaultSpec:
    """Where the certificate vault lives and who may read the certificates in it (what settings produce from `keyVault`)."""

    name: str
    """Vault name: globally unique, part of https://<name>.vault.azure.net (3-24 letters, digits, hyphens)."""
    resource_group_name: str
    create_resource_group: bool
    """Declare the resource group too (in `location`); otherwise it must exist already."""
    location: str | None
    """Region; None places the vault in its (existing) resource group's region."""
    readers: tuple[VaultReader, ...]
    """The principals granted read on every certificate secret (managed identities of hybrid workers and Arc-enabled servers,
    users, groups). Plain values, because their object ids name the role assignment resources."""
    public_network_access: bool
    """False: reachable only through private endpoints and trusted Azure services."""
    tags: Mapping[str, str]
    """Tags on the resource group (when declared), the vault and its secrets: the configured ones with the program's on top."""
    soft_delete_retention_days: int = 90
    """7-90 days a deleted vault or secret stays recoverable; with purge protection, also how long a deleted vault's name stays taken."""
