"""Well-known identifiers and catalogues, kept in one place.

Every value here is a fact about Microsoft's cloud, not a choice of ours. Each block names the source it was verified in; that
source, not any summary of it, is the authority.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Office 365 Exchange Online: the resource application, same app id in every tenant. Its service principal's *object* id differs per
# tenant and is looked up, never managed (destroy would delete Microsoft's SP from the tenant).
# Source: MicrosoftDocs/office-docs-powershell exchange/docs-conceptual/app-only-auth-powershell-v2.md.
EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"

# The application permission that lets an app run Exchange Online PowerShell. Look-alikes exist on the same SP
# (Exchange.ManageAsAppV2, Exchange.AdminAPI.ManageAsApp): we pin the id and check the value.
# Source: app-only-auth-powershell-v2.md and connect-exo-powershell-managed-identity.md.
MANAGE_AS_APP_ROLE_ID = "dc50a0fb-09a3-484d-be87-e023b12c6440"
MANAGE_AS_APP_ROLE_VALUE = "Exchange.ManageAsApp"


@dataclass(frozen=True)
class ExchangeRole:
    """An Entra built-in role that Exchange accepts for app-only access."""

    display_name: str
    template_id: str
    exchange_online: bool
    """Usable with Connect-ExchangeOnline."""
    security_compliance: bool
    """Usable with Connect-IPPSSession (Security & Compliance PowerShell)."""


GLOBAL_ADMINISTRATOR = "Global Administrator"

# The roles Exchange supports for app-only access ("Option 1" table of app-only-auth-powershell-v2.md); template ids are the Entra
# built-in role ids (MicrosoftDocs/entra-docs, identity/role-based-access-control/permissions-reference.md).
_ROLE_LIST = (
    ExchangeRole("Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de", True, False),
    ExchangeRole("Exchange Recipient Administrator", "31392ffb-586c-42d1-9346-e59415a2cc4e", True, False),
    ExchangeRole("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451", True, True),
    ExchangeRole("Compliance Administrator", "17315797-102d-40b4-93e0-432062caca18", True, True),
    ExchangeRole("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509", True, True),
    ExchangeRole("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d", True, True),
    ExchangeRole("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8", True, False),
    ExchangeRole(GLOBAL_ADMINISTRATOR, "62e90394-69f5-4237-9190-012177145e10", True, True),
)
ROLES: Mapping[str, ExchangeRole] = MappingProxyType({role.display_name: role for role in _ROLE_LIST})
# Defaults (choices, kept next to the roles they name). Neither is on ScubaGear's highly privileged list (SCUBAGEAR_PRIVILEGED_ROLES,
# below), so a default stack passes MS.AAD.7.4v1/7.5v1; tests/settings/test_scubagear_defaults.py holds them to that list and to the
# shipped runbooks' role headers. An app identity reads (writes are a conscious choice); the managed identity gets the least set both
# shipped runbooks accept (Invoke-ForwardingAudit.ps1 needs a recipient role next to Global Reader: Get-InboxRule refuses Global Reader).
DEFAULT_ROLE = "Global Reader"
DEFAULT_MANAGED_IDENTITY_ROLES: tuple[str, ...] = ("Exchange Recipient Administrator", "Global Reader")
# The default of both before issue 20; a stack that never set `roles` is told at preview how to keep it (settings/privilege.py).
PREVIOUS_DEFAULT_ROLE = "Exchange Administrator"

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

# Microsoft first-party applications whose service principals must never be managed as resources here (pulumi/pulumi-azuread #2045:
# destroying a managed one deletes it from the tenant). This module stays stdlib-only: the policy pack loads it by path.
MICROSOFT_FIRST_PARTY_APP_IDS: Mapping[str, str] = MappingProxyType(
    {
        EXCHANGE_ONLINE_APP_ID: "Office 365 Exchange Online",
        "00000007-0000-0ff1-ce00-000000000000": "Security & Compliance (Exchange Online Protection, GCC High/DoD resource)",
        MICROSOFT_GRAPH_APP_ID: "Microsoft Graph",
        "00000003-0000-0ff1-ce00-000000000000": "Office 365 SharePoint Online",
        "00000002-0000-0000-c000-000000000000": "Windows Azure Active Directory",
        "797f4846-ba00-4fd7-ba43-dac1f8f63013": "Windows Azure Service Management API",
    }
)


@dataclass(frozen=True)
class CloudEnvironment:
    """One national cloud: how the azuread provider names it and what Exchange PowerShell needs there."""

    azuread_environment: str
    exchange_environment_name: str
    """Value for Connect-ExchangeOnline -ExchangeEnvironmentName."""
    initial_domain_suffixes: tuple[str, ...]
    """Suffixes of a tenant's initial domain in this cloud (the only accepted -Organization form)."""
    ipps_connection_uri: str | None
    """Connect-IPPSSession -ConnectionUri; None where the module's default applies."""
    ipps_authorization_endpoint: str | None
    """Connect-IPPSSession -AzureADAuthorizationEndpointUri; None where the module's default applies."""


# azuread provider `environment` values (the names go-azure-sdk's environments.FromName parses; the provider reads ARM_ENVIRONMENT too)
# mapped to Connect-ExchangeOnline -ExchangeEnvironmentName (office-docs-powershell Connect-ExchangeOnline.md) and the
# Connect-IPPSSession -ConnectionUri / -AzureADAuthorizationEndpointUri values (Connect-IPPSSession.md). For DoD, Connect-IPPSSession.md
# and app-only-auth-powershell-v2.md disagree (l5.ps.compliance.protection.office365.us vs compliance.dod.microsoft.com); we follow the
# cmdlet reference. Germany is not offered: the provider's parser rejects it.
CLOUD_ENVIRONMENTS: Mapping[str, CloudEnvironment] = MappingProxyType(
    {
        "global": CloudEnvironment("global", "O365Default", (".onmicrosoft.com",), None, None),
        "usgovernmentl4": CloudEnvironment(
            "usgovernmentl4",
            "O365USGovGCCHigh",
            (".onmicrosoft.us", ".onmicrosoft.com"),
            "https://ps.compliance.protection.office365.us/powershell-liveid/",
            "https://login.microsoftonline.us/organizations",
        ),
        "usgovernmentl5": CloudEnvironment(
            "usgovernmentl5",
            "O365USGovDoD",
            (".onmicrosoft.us", ".onmicrosoft.com"),
            "https://l5.ps.compliance.protection.office365.us/powershell-liveid/",
            "https://login.microsoftonline.us/organizations",
        ),
        "china": CloudEnvironment(
            "china",
            "O365China",
            (".partner.onmschina.cn", ".onmschina.cn"),
            "https://ps.compliance.protection.partner.outlook.cn/powershell-liveid",
            "https://login.chinacloudapi.cn/organizations",
        ),
    }
)
DEFAULT_CLOUD_ENVIRONMENT = "global"
# Aliases the azuread provider accepts for the same clouds; normalised to the keys above.
CLOUD_ENVIRONMENT_ALIASES: Mapping[str, str] = MappingProxyType(
    {"public": "global", "usgovernment": "usgovernmentl4", "dod": "usgovernmentl5"}
)


# The Azure portal of each cloud (keys as CLOUD_ENVIRONMENTS): where alerts and the workbook link send people. Portal addresses as
# learn.microsoft.com lists them for Azure Government (azure-government/documentation-government-get-started-connect-with-portal)
# and Azure operated by 21Vianet (china/resources-developer-guide); an assumption, not checked against a live portal here.
AZURE_PORTALS: Mapping[str, str] = MappingProxyType(
    {
        "global": "https://portal.azure.com",
        "usgovernmentl4": "https://portal.azure.us",
        "usgovernmentl5": "https://portal.azure.us",
        "china": "https://portal.azure.cn",
    }
)


# azure-native's `environment` for each cloud (keys as CLOUD_ENVIRONMENTS): "Possible values are public, usgovernment, and china.
# Defaults to public" (pulumi-azure-native 3.29.0 Python SDK, provider.py, `environment`). An explicit provider (the one that
# reaches a workspace in another subscription) takes it from here; the SDK fills in `public` when it is not given.
AZURE_NATIVE_ENVIRONMENTS: Mapping[str, str] = MappingProxyType(
    {"global": "public", "usgovernmentl4": "usgovernment", "usgovernmentl5": "usgovernment", "china": "china"}
)


# The Azure Landing Zone policy that may already send an Automation account's logs (Azure/Enterprise-Scale
# src/resources/Microsoft.Authorization/policyDefinitions/Deploy-Diagnostics-AA.json @6df0903fb23c36db01dc670523a732918303e1f5):
# DeployIfNotExists a setting named by its profileName parameter (default below) with these categories and AllMetrics, to the
# assigned workspace, with no logAnalyticsDestinationType (AzureDiagnostics). It counts as present only when a setting of the
# account sends logs AND metrics to that workspace, so a logs-only setting of ours there would not stop it and the two would collide.
ALZ_AUTOMATION_DIAGNOSTICS_POLICY = "Deploy-Diagnostics-AA"
ALZ_DIAGNOSTICS_PROFILE_NAME = "setbypolicy"
ALZ_AUTOMATION_LOG_CATEGORIES = ("JobLogs", "JobStreams", "DscNodeStatus", "AuditEvent")


# -- Azure Automation -------------------------------------------------------------------------------------------------------------

# The module's name is a constant, never config: the PowerShell Gallery carries look-alikes (ExchangeOnlineMangement, ...).
EXCHANGE_MODULE_NAME = "ExchangeOnlineManagement"
# A pinned gallery version as a content link (azure-docs articles/automation/shared-resources/modules.md); the gallery redirects to
# the .nupkg.
POWERSHELL_GALLERY_PACKAGE_URI = "https://www.powershellgallery.com/api/v2/package/{name}/{version}"
# -ManagedIdentity exists from ExchangeOnlineManagement 3.0.0 (connect-exo-powershell-managed-identity.md).
MANAGED_IDENTITY_MINIMUM_MODULE = (3, 0, 0)

# Where the runtime and module facts below were read. Dates in these sources are facts about Microsoft's products; the program
# compares them with its one clock reading (exo/clock.py), never with the machine's clock.
SOURCE_EXCHANGE_MODULE_NOTES = (
    "MicrosoftDocs/office-docs-powershell exchange/docs-conceptual/exchange-online-powershell-v2.md "
    "@93336da2bca96c31c0fc8acc52658a30ef8a6c94"
)
SOURCE_POWERSHELL_LIFECYCLE = (
    "MicrosoftDocs/PowerShell-Docs reference/docs-conceptual/install/PowerShell-Support-Lifecycle.md "
    "@69c42d38f8720d86277dbfc1b76fbce3d2524c89"
)
SOURCE_AUTOMATION_RETIREMENT = (
    "MicrosoftDocs/azure-docs articles/automation/automation-runtime-retirement-policy.md @60a891b2d9ec7dfb277dc12a08c10bcefbaaf51f"
)
SOURCE_AUTOMATION_RUNBOOK_TYPES = (
    "MicrosoftDocs/azure-docs articles/automation/automation-runbook-types.md @577b2248d7525a8281f29d123447749f808b92e4"
)
SOURCE_MANAGE_RUNTIME_ENVIRONMENT = (
    "MicrosoftDocs/azure-docs articles/automation/manage-runtime-environment.md @0130715c9c842ac6b6bc9d684f4af05906b0e2b1"
)
SOURCE_RUNTIME_ENVIRONMENT_EXAMPLE = (
    "Azure/azure-rest-api-specs specification/automation/resource-manager/Microsoft.Automation/stable/2024-10-23/examples/"
    "runtimeEnvironment/createRuntimeEnvironment.json @5f717b7172e600a3c40be0cd5788698af021ec40"
)
# Microsoft's announcement, read only as third-party digests of the Azure Updates feed quote it: none of the stored copies of
# Microsoft's docs, the REST spec examples or Az.Automation's reference lists 7.6 (docs/runtimes.md weighs this evidence).
SOURCE_POWERSHELL_76_ANNOUNCEMENT = (
    "Azure update 568102, 'Generally Available: Azure Automation supports PowerShell 7.6 runbooks and Runtime environment' "
    "(2026-07-30, https://azure.microsoft.com/updates?id=568102), as quoted by third-party digests"
)
SOURCE_POWERSHELLGET_VERSIONS = (
    "MicrosoftDocs/PowerShell-Docs reference/docs-conceptual/whats-new/What-s-New-in-PowerShell-74.md "
    "@69c42d38f8720d86277dbfc1b76fbce3d2524c89"
)


@dataclass(frozen=True)
class ModuleRange:
    """ExchangeOnlineManagement versions first..last (inclusive; None: open) and the PowerShell 7 they need."""

    first: tuple[int, int, int]
    last: tuple[int, int, int] | None
    powershell7: tuple[int, int]


# SOURCE_EXCHANGE_MODULE_NOTES. Its release notes date the .NET moves: 3.5.1 "is upgraded to run on .NET 8, replacing the previous
# version based on .NET 6", and 3.10.0 raised "the minimum required version of PowerShell 7" to 7.6 (.NET 10). The page's support
# section instead puts 3.5.0 with the .NET 8 versions; the release that changed the target is the more specific statement, so 3.5.0
# stays on the .NET 6 line (docs/runtimes.md). Windows PowerShell 5.1 runs every version ("Windows PowerShell 5.1 isn't affected").
EXCHANGE_MODULE_MATRIX = (
    ModuleRange((3, 0, 0), (3, 5, 0), (7, 2)),
    ModuleRange((3, 5, 1), (3, 9, 2), (7, 4)),
    ModuleRange((3, 10, 0), None, (7, 6)),
)


@dataclass(frozen=True)
class GalleryModule:
    """A module the program imports from the PowerShell Gallery at a pinned version."""

    name: str
    version: str


# On module-based accounts (Windows PowerShell 5.1, PowerShell 7.2) "ExchangeOnlineManagement module version: 3.0.0 or higher" can
# fail unless PowerShellGet and PackageManagement are uploaded explicitly (SOURCE_AUTOMATION_RUNBOOK_TYPES, known issues of both
# tabs); the module's own page says REST connections in Windows need PowerShellGet, and it PackageManagement
# (SOURCE_EXCHANGE_MODULE_NOTES, "PowerShellGet required in Windows"). The versions are the last 2.x pair, the ones PowerShell 7.4
# ships beside PSResourceGet (SOURCE_POWERSHELLGET_VERSIONS). PackageManagement first: PowerShellGet depends on it.
EXCHANGE_MODULE_COMPANIONS = (GalleryModule("PackageManagement", "1.4.8.1"), GalleryModule("PowerShellGet", "2.2.5"))


@dataclass(frozen=True)
class AutomationRuntime:
    """A PowerShell runtime an Automation runbook can run on, how its modules are installed there, and until when it is supported."""

    name: str
    """The config value."""
    powershell: tuple[int, int]
    windows_powershell: bool
    module_resource: str
    """runtime-environment (automation.RuntimeEnvironment + Package), powershell72-module, or module (5.1)."""
    runbook_type: str
    default_module_version: str
    hybrid_workers: bool
    """Whether runbooks on this runtime can run on a hybrid worker group."""
    support_ends: dt.date | None
    """The last day of support: Automation ends it on the language's end-of-support date (SOURCE_AUTOMATION_RETIREMENT); None
    where no source gives a date."""
    support_source: str
    """Where `support_ends` (or its absence) was read."""
    offered_source: str
    """Where Microsoft says Automation offers this runtime, and how (docs/runtimes.md weighs each)."""

    @property
    def companion_modules(self) -> tuple[GalleryModule, ...]:
        """Modules imported before ExchangeOnlineManagement (module-based accounts only, see EXCHANGE_MODULE_COMPANIONS)."""
        return () if self.module_resource == "runtime-environment" else EXCHANGE_MODULE_COMPANIONS


_WINDOWS_POWERSHELL_SUPPORT = (
    f"no end date: Windows PowerShell is supported with Windows ({SOURCE_POWERSHELL_LIFECYCLE}), and {SOURCE_AUTOMATION_RETIREMENT} "
    "names none for the 5.1 sandbox"
)

_POWERSHELL_74_OFFERED = f"{SOURCE_MANAGE_RUNTIME_ENVIRONMENT}; {SOURCE_RUNTIME_ENVIRONMENT_EXAMPLE}"

# Runtime environments run only in the cloud sandbox: "It is not possible to run Runbooks in a User Created Runtime environment on a
# Hybrid Worker" (SOURCE_MANAGE_RUNTIME_ENVIRONMENT); its portal steps offer PowerShell 5.1 and 7.4, the REST spec example creates
# {"language": "PowerShell", "version": "7.4"} with runbookType "PowerShell" linking it. 7.2 uses PowerShell72Module and runbookType
# "PowerShell72" (pulumi-azure-native RunbookTypeEnum). Support ends: SOURCE_POWERSHELL_LIFECYCLE ("PowerShell 7.6 (LTS) ...
# 14-Nov-2028", "PowerShell 7.4 (LTS) ... 10-Nov-2026", "PowerShell 7.2 (LTS) ... 08-Nov-2024"), which Automation follows.
AUTOMATION_RUNTIMES: Mapping[str, AutomationRuntime] = MappingProxyType(
    {
        "WindowsPowerShell-5.1": AutomationRuntime(
            "WindowsPowerShell-5.1", (5, 1), True, "module", "PowerShell", "3.10.1", True,
            None, _WINDOWS_POWERSHELL_SUPPORT, SOURCE_AUTOMATION_RUNBOOK_TYPES,
        ),
        "PowerShell-7.6": AutomationRuntime(
            "PowerShell-7.6", (7, 6), False, "runtime-environment", "PowerShell", "3.10.1", False,
            dt.date(2028, 11, 14), SOURCE_POWERSHELL_LIFECYCLE, SOURCE_POWERSHELL_76_ANNOUNCEMENT,
        ),
        "PowerShell-7.4": AutomationRuntime(
            "PowerShell-7.4", (7, 4), False, "runtime-environment", "PowerShell", "3.9.2", False,
            dt.date(2026, 11, 10), SOURCE_POWERSHELL_LIFECYCLE, _POWERSHELL_74_OFFERED,
        ),
        "PowerShell-7.2": AutomationRuntime(
            "PowerShell-7.2", (7, 2), False, "powershell72-module", "PowerShell72", "3.4.0", True,
            dt.date(2024, 11, 8), SOURCE_POWERSHELL_LIFECYCLE, SOURCE_AUTOMATION_RUNBOOK_TYPES,
        ),
    }
)  # fmt: skip
RUNTIME_ENVIRONMENT_LANGUAGE = "PowerShell"
# Windows PowerShell 5.1, not 7.6: Microsoft's own docs, REST spec examples and Az.Automation reference (as stored) name no 7.6
# runtime environment, and the rule moves the default to 7.6 only on that word (docs/runtimes.md). 5.1 runs
# ExchangeOnlineManagement 3.10.x, has no end date, and is the one runtime hybrid workers can run.
DEFAULT_AUTOMATION_RUNTIME = "WindowsPowerShell-5.1"
# Days before a runtime's last day of support from which every preview warns.
RUNTIME_WARNING_DAYS = 90


@dataclass(frozen=True)
class DefaultRuntimeChange:
    """A release of this program that moved the default runtime: stacks that never set `runtime` move with it."""

    previous: str
    current: str
    changed_on: dt.date
    """The day of the release: stacks that never set `runtime` are told for DEFAULT_CHANGE_NOTICE_DAYS after it."""


DEFAULT_RUNTIME_CHANGES = (DefaultRuntimeChange("PowerShell-7.4", "WindowsPowerShell-5.1", dt.date(2026, 12, 6)),)
DEFAULT_CHANGE_NOTICE_DAYS = 365
# The release that made Global Reader the app identities' default role and [Exchange Recipient Administrator, Global Reader] the
# managed identity's (issue 20; Exchange Administrator before): stacks that never set `roles` are told for DEFAULT_CHANGE_NOTICE_DAYS.
DEFAULT_ROLES_CHANGED_ON = dt.date(2026, 12, 6)


def powershell7_needed(version: tuple[int, int, int]) -> tuple[int, int]:
    """The PowerShell 7 a module version needs; versions past the table need at least what its last row needs."""
    for row in EXCHANGE_MODULE_MATRIX:
        if row.first <= version and (row.last is None or version <= row.last):
            return row.powershell7
    return EXCHANGE_MODULE_MATRIX[-1].powershell7


def module_runs_on(version: tuple[int, int, int], runtime: AutomationRuntime) -> bool:
    if version < MANAGED_IDENTITY_MINIMUM_MODULE:
        return False
    return runtime.windows_powershell or powershell7_needed(version) <= runtime.powershell


def module_versions_for(runtime: AutomationRuntime) -> str:
    """Human-readable range of module versions that run on the runtime, for error messages."""
    rows = [row for row in EXCHANGE_MODULE_MATRIX if runtime.windows_powershell or row.powershell7 <= runtime.powershell]
    first = ".".join(map(str, rows[0].first))
    last = rows[-1].last
    return f"{first} to {'.'.join(map(str, last))}" if last else f"{first} or later"


def supported_on(runtime: AutomationRuntime, day: dt.date) -> bool:
    """Whether the runtime is still in support on `day` (its last day included)."""
    return runtime.support_ends is None or day <= runtime.support_ends


# -- Key Vault -------------------------------------------------------------------------------------------------------------------

# Azure built-in role "Key Vault Secrets User": read secret contents; only on vaults that use the Azure RBAC permission model.
# Source: MicrosoftDocs/azure-docs articles/key-vault/general/rbac-guide.md, "Azure built-in roles for Key Vault data plane operations".
KEY_VAULT_SECRETS_USER_ROLE_ID = "4633458b-17de-408a-b874-0445c86b69e6"
# Content type of a secret that holds PEM text. For a plain secret Key Vault stores it as an opaque hint; it is the media type Key Vault
# itself gives the secret behind a certificate retrieved "in either PFX or PEM format" (certificate policy secret_props.contentType:
# application/x-pkcs12 or application/x-pem-file; MicrosoftDocs/azure-docs articles/key-vault/certificates/about-certificates.md).
PEM_CONTENT_TYPE = "application/x-pem-file"


# -- Azure name and property rules ------------------------------------------------------------------------------------------------

# Where each rule below was read. Patterns are copied as the source writes them; azure-native checks path parameters against the
# spec's pattern and lengths in its Check, so `pulumi preview` refuses a name that breaks them (pulumi/pulumi-azure-native #1646,
# #2532: "does not match expression"; #4294: "is too long (29): at most 24 characters allowed"). The naming-rules page adds limits
# the spec leaves out (lengths, first and last character, consecutive hyphens); a name must satisfy every rule listed for it.
_SPECS = "Azure/azure-rest-api-specs specification/"
_AUTOMATION = _SPECS + "automation/resource-manager/Microsoft.Automation/"
SOURCE_AUTOMATION_COMMON_V1 = _AUTOMATION + "common/v1/definitions.json @037a540cbde5647192bf6c24029afda6b4289f77"
SOURCE_AUTOMATION_COMMON_V5 = _AUTOMATION + "common/v5/definitions.json @296a7bd8af50a045395dc6283712a2cf3670c538"
SOURCE_AUTOMATION_RUNBOOK = _AUTOMATION + "stable/2024-10-23/runbook.json @522de29f25d43626f8b56fa6ce199ee382b0a775"
SOURCE_AUTOMATION_SCHEDULE = _AUTOMATION + "stable/2024-10-23/schedule.json @f29d161d24f09a6c73ba772480487da288a97508"
SOURCE_AUTOMATION_JOB_SCHEDULE = _AUTOMATION + "stable/2024-10-23/jobSchedule.json @aedce9828dac759c73c4a031a08693c152ef0f59"
SOURCE_AUTOMATION_PACKAGE = _AUTOMATION + "stable/2024-10-23/package.json @c93887028b4d26ea3c19a1c5be394b4f69e636c3"
# No pattern on variableName; the body's `name` is required (VariableCreateOrUpdateParameters).
SOURCE_AUTOMATION_VARIABLE = _AUTOMATION + "stable/2024-10-23/variable.json @3ad24e76358466a2f50861f82f4bac383eaa56ce"
SOURCE_KEY_VAULT_SECRETS = (
    _SPECS + "keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/secrets.json @315e54b7359504c9af7e9783946a6b62f4434eb0"
)
# pulumi/pulumi-azure-native #1646 shows the provider's Check quoting this very pattern for keyvault:Vault.
SOURCE_KEY_VAULT_VAULT = (
    _SPECS + "keyvault/resource-manager/Microsoft.KeyVault/stable/2024-11-01/keyvault.json @315e54b7359504c9af7e9783946a6b62f4434eb0"
)
_STORAGE = _SPECS + "storage/resource-manager/Microsoft.Storage/stable/2024-01-01/"
SOURCE_STORAGE = _STORAGE + "storage.json @5a2abff0f2e61dac85740375816a18d468786b7b"
SOURCE_STORAGE_BLOB = _STORAGE + "blob.json @bb756a3644f7488f33d30643244dc51a9ba72577"
SOURCE_STORAGE_SDK_ENUMS = (
    "pulumi/pulumi-azure-native v3.29.0 sdk/python/pulumi_azure_native/storage/_enums.py (from storage.json 2024-01-01)"
)
SOURCE_ROLE_ASSIGNMENTS = (
    _SPECS + "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json "
    "@007a51db374076edb902fd44eb8299eea6336335"
)
SOURCE_COMMON_TYPES_RESOURCE_GROUP = _SPECS + "common-types/resource-management/v5/types.json @05432ee0bc8a3feb5bc0f6fd21f49bb7aeaf13af"
SOURCE_NAMING_RULES = (
    "https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules "
    "(MicrosoftDocs/azure-docs articles/azure-resource-manager/management/resource-name-rules.md @0010dc26241bb4932e606b2add027c294bb110ae)"
)


@dataclass(frozen=True)
class InputRule:
    """One rule a source states for one input of one azure-native resource (a path name or a body property)."""

    source: str
    pattern: str | None = None
    """Full-match regular expression, ASCII (Go's RE2, which azure-native uses, reads \\w as [0-9A-Za-z_])."""
    min_length: int | None = None
    max_length: int | None = None
    first: str | None = None
    """Characters the value must start with (a regex character class)."""
    last: str | None = None
    """Characters the value must end with (a regex character class)."""
    forbidden: str = ""
    """Characters the value must not contain."""
    no_repeat: str = ""
    """Characters that must not appear twice in a row."""
    enum: tuple[str, ...] = ()
    required: bool = False
    uuid: bool = False


def rule_problems(rule: InputRule, value: object) -> list[str]:
    """What is wrong with a value under one rule; empty when it conforms. None is 'absent' (only `required` objects to it)."""
    if value is None:
        return ["is required"] if rule.required else []
    # Pulumi carries every number as a double (a protobuf Value); azure-native sends an integral one as the spec's integer.
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    problems: list[str] = []
    if rule.pattern is not None and not re.fullmatch(rule.pattern, text, re.ASCII):
        problems.append(f"does not match {rule.pattern}")
    if rule.min_length is not None and len(text) < rule.min_length:
        problems.append(f"is shorter than {rule.min_length} characters")
    if rule.max_length is not None and len(text) > rule.max_length:
        problems.append(f"is longer than {rule.max_length} characters")
    if rule.first is not None and not re.match(rule.first, text[:1], re.ASCII):
        problems.append(f"must start with {rule.first}")
    if rule.last is not None and not re.match(rule.last, text[-1:], re.ASCII):
        problems.append(f"must end with {rule.last}")
    if rule.forbidden and set(rule.forbidden) & set(text):
        problems.append(f"must not contain any of {rule.forbidden}")
    for character in rule.no_repeat:
        if character * 2 in text:
            problems.append(f"must not contain {character * 2}")
    if rule.enum and text not in rule.enum:
        problems.append(f"is not one of {', '.join(rule.enum)}")
    if rule.uuid and not re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", text):
        problems.append("is not a GUID")
    return problems


# Resource group name as the Automation operations check it (no parentheses, unlike Microsoft.Resources) and as ARM defines it.
_AUTOMATION_RESOURCE_GROUP = (
    InputRule(SOURCE_AUTOMATION_COMMON_V1, pattern=r"^[-\w\._]+$", min_length=1, max_length=90),
    InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=90, last=r"[^.]"),
)
_RESOURCE_GROUP = (
    InputRule(SOURCE_COMMON_TYPES_RESOURCE_GROUP, pattern=r"^[-\w\._\(\)]+$", min_length=1, max_length=90),
    InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=90, last=r"[^.]"),
)
_AUTOMATION_ACCOUNT = (
    InputRule(SOURCE_AUTOMATION_COMMON_V1, pattern=r"^[A-Za-z0-9][-A-Za-z0-9]{4,48}[A-Za-z0-9]$"),
    InputRule(SOURCE_NAMING_RULES, pattern=r"^[A-Za-z0-9-]+$", min_length=6, max_length=50, first="[A-Za-z]", last="[A-Za-z0-9]"),
)
_RUNTIME_ENVIRONMENT = (InputRule(SOURCE_AUTOMATION_COMMON_V5, pattern=r"^[a-zA-Z][a-zA-Z-_0-9]*$"),)
_RUNBOOK = (
    InputRule(SOURCE_AUTOMATION_RUNBOOK, pattern=r"^[a-zA-Z][a-zA-Z-_0-9]*$"),
    InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=63),
)
_SCHEDULE = (InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=128, forbidden="<>*%&:\\?.+/", last=r"[^ ]"),)
_STORAGE_ACCOUNT = (
    InputRule(SOURCE_STORAGE, pattern=r"^[a-z0-9]+$", min_length=3, max_length=24),
    InputRule(SOURCE_NAMING_RULES, pattern=r"^[a-z0-9]+$", min_length=3, max_length=24),
)
_STORAGE_RESOURCE_GROUP = (InputRule(SOURCE_STORAGE, pattern=r"^[-\w\._\(\)]+$", min_length=1, max_length=90), *_RESOURCE_GROUP[1:])
_CONTAINER = (
    # Lengths in the parameter; the rest in its description ("Every dash (-) character must be immediately preceded and followed by
    # a letter or number"), which is no pattern azure-native could check: Azure refuses it when the request arrives.
    InputRule(SOURCE_STORAGE_BLOB, min_length=3, max_length=63),
    InputRule(SOURCE_STORAGE_BLOB, pattern=r"^[a-z0-9-]+$", first="[a-z0-9]", last="[a-z0-9]", no_repeat="-"),
    InputRule(SOURCE_NAMING_RULES, pattern=r"^[a-z0-9-]+$", min_length=3, max_length=63, first="[a-z0-9]", no_repeat="-"),
)
_VAULT = (
    InputRule(SOURCE_KEY_VAULT_VAULT, pattern=r"^[a-zA-Z0-9-]{3,24}$"),
    InputRule(SOURCE_NAMING_RULES, min_length=3, max_length=24, first="[A-Za-z]", last="[A-Za-z0-9]", no_repeat="-"),
)
_KEY_VAULT_SECRET_VAULT = (InputRule(SOURCE_KEY_VAULT_SECRETS, pattern=r"^[a-zA-Z0-9-]{3,24}$"), *_VAULT[1:])

# -- Azure Monitor (issue 24): Log Analytics workspace, saved searches, diagnostic setting, action group, log alerts, workbook --------
_INSIGHTS = _SPECS + "monitor/resource-manager/Microsoft.Insights/"
_OPERATIONAL_INSIGHTS = _SPECS + "operationalinsights/resource-manager/Microsoft.OperationalInsights/"
# workspaceName: ^[A-Za-z0-9][A-Za-z0-9-]+[A-Za-z0-9]$, 4-63 (WorkspaceNameParameter, referenced by Workspaces.json and SavedSearches.json).
SOURCE_OPERATIONAL_INSIGHTS_COMMON = _OPERATIONAL_INSIGHTS + "../common/v1/types.json @186661d0fab465b7c146635af004b720ab5c70fd"
# SavedSearchProperties requires category, displayName and query; savedSearchId has no pattern.
SOURCE_SAVED_SEARCHES = _OPERATIONAL_INSIGHTS + "stable/2023-09-01/SavedSearches.json @6e453266bfd553a5b5babb70148d792099a34760"
SOURCE_WORKSPACES = _OPERATIONAL_INSIGHTS + "stable/2023-09-01/Workspaces.json @c09d4df400a5d4c19b64b2fdb957eff3d23c50f5"
# The diagnostic setting's name and resourceUri have no pattern; logAnalyticsDestinationType is "Dedicated" or null (AzureDiagnostics).
SOURCE_DIAGNOSTIC_SETTINGS = _INSIGHTS + "preview/2021-05-01-preview/diagnosticsSettings_API.json @029741f2a57be0df0c346983e76f08dc7a69058a"
SOURCE_ACTION_GROUPS = _INSIGHTS + "preview/2024-10-01-preview/actionGroups_API.json @025aae4067b2b209daf98526e9c66be56faf1855"
# ruleName ^[^#<>%&:\?/{}*]{1,260}$; the resource requires location and properties.enabled, criteria, scopes; severity 0-4.
SOURCE_SCHEDULED_QUERY_RULES = (
    _INSIGHTS + "preview/2025-01-01-preview/scheduledQueryRule_API.json @2b7a62bd7f8940aeeaaa440f29629f63856b66b6"
)
# WorkbookProperties requires displayName, category and serializedData; kind is "shared"; resourceName has no pattern.
SOURCE_WORKBOOKS = (
    _SPECS + "applicationinsights/resource-manager/Microsoft.Insights/stable/2023-06-01/workbooks_API.json "
    "@2c5e86c4e9e8e78847d8ff2e5d735da408273f1b"
)
_WORKSPACE_NAME = (
    InputRule(SOURCE_OPERATIONAL_INSIGHTS_COMMON, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]+[A-Za-z0-9]$", min_length=4, max_length=63),
)
_ALERT_RULE_NAME = (InputRule(SOURCE_SCHEDULED_QUERY_RULES, pattern=r"^[^#<>%&:\\?/{}*]{1,260}$"),)
_MONITORING_INPUT_RULES: dict[tuple[str, str], tuple[InputRule, ...]] = {
    ("azure-native:operationalinsights:Workspace", "resourceGroupName"): _RESOURCE_GROUP,
    ("azure-native:operationalinsights:Workspace", "workspaceName"): _WORKSPACE_NAME,
    ("azure-native:operationalinsights:SavedSearch", "resourceGroupName"): _RESOURCE_GROUP,
    ("azure-native:operationalinsights:SavedSearch", "workspaceName"): _WORKSPACE_NAME,
    ("azure-native:operationalinsights:SavedSearch", "category"): (InputRule(SOURCE_SAVED_SEARCHES, required=True),),
    ("azure-native:operationalinsights:SavedSearch", "displayName"): (InputRule(SOURCE_SAVED_SEARCHES, required=True),),
    ("azure-native:operationalinsights:SavedSearch", "query"): (InputRule(SOURCE_SAVED_SEARCHES, required=True),),
    # A function is called by its alias: a KQL identifier (letters, digits, '_', not starting with a digit).
    ("azure-native:operationalinsights:SavedSearch", "functionAlias"): (
        InputRule(SOURCE_SAVED_SEARCHES, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    ),
    ("azure-native:monitor:DiagnosticSetting", "resourceUri"): (InputRule(SOURCE_DIAGNOSTIC_SETTINGS, required=True),),
    ("azure-native:monitor:DiagnosticSetting", "name"): (InputRule(SOURCE_DIAGNOSTIC_SETTINGS, required=True),),
    ("azure-native:monitor:DiagnosticSetting", "logAnalyticsDestinationType"): (
        InputRule(SOURCE_DIAGNOSTIC_SETTINGS, enum=("Dedicated",)),
    ),
    ("azure-native:monitor:ActionGroup", "resourceGroupName"): _RESOURCE_GROUP,
    ("azure-native:monitor:ActionGroup", "groupShortName"): (InputRule(SOURCE_ACTION_GROUPS, required=True, max_length=12),),
    ("azure-native:monitor:ActionGroup", "enabled"): (InputRule(SOURCE_ACTION_GROUPS, required=True),),
    ("azure-native:monitor:ScheduledQueryRule", "resourceGroupName"): _RESOURCE_GROUP,
    ("azure-native:monitor:ScheduledQueryRule", "ruleName"): _ALERT_RULE_NAME,
    ("azure-native:monitor:ScheduledQueryRule", "location"): (InputRule(SOURCE_SCHEDULED_QUERY_RULES, required=True),),
    ("azure-native:monitor:ScheduledQueryRule", "enabled"): (InputRule(SOURCE_SCHEDULED_QUERY_RULES, required=True),),
    ("azure-native:monitor:ScheduledQueryRule", "criteria"): (InputRule(SOURCE_SCHEDULED_QUERY_RULES, required=True),),
    ("azure-native:monitor:ScheduledQueryRule", "scopes"): (InputRule(SOURCE_SCHEDULED_QUERY_RULES, required=True),),
    ("azure-native:monitor:ScheduledQueryRule", "severity"): (
        InputRule(SOURCE_SCHEDULED_QUERY_RULES, required=True, enum=("0", "1", "2", "3", "4")),
    ),
    ("azure-native:applicationinsights:Workbook", "resourceGroupName"): _RESOURCE_GROUP,
    # No pattern in the spec; the program names workbooks by GUID as the portal does.
    ("azure-native:applicationinsights:Workbook", "resourceName"): (InputRule(SOURCE_WORKBOOKS, uuid=True),),
    ("azure-native:applicationinsights:Workbook", "displayName"): (InputRule(SOURCE_WORKBOOKS, required=True),),
    ("azure-native:applicationinsights:Workbook", "category"): (InputRule(SOURCE_WORKBOOKS, required=True),),
    ("azure-native:applicationinsights:Workbook", "serializedData"): (InputRule(SOURCE_WORKBOOKS, required=True),),
    ("azure-native:applicationinsights:Workbook", "kind"): (InputRule(SOURCE_WORKBOOKS, enum=("shared",)),),
}
_MONITORING_PATH_INPUTS: dict[str, tuple[str, ...]] = {
    "azure-native:operationalinsights:Workspace": ("resourceGroupName", "workspaceName"),
    "azure-native:operationalinsights:SavedSearch": ("resourceGroupName", "workspaceName", "savedSearchId"),
    "azure-native:monitor:DiagnosticSetting": ("resourceUri", "name"),
    "azure-native:monitor:ActionGroup": ("resourceGroupName", "actionGroupName"),
    "azure-native:monitor:ScheduledQueryRule": ("resourceGroupName", "ruleName"),
    "azure-native:applicationinsights:Workbook": ("resourceGroupName", "resourceName"),
}

# (azure-native type token, input) -> every rule for that input. Inputs are the SDK's camelCase names; a dotted path reaches into
# an object (`runbook.name`). A body property that names another resource (a runbook's runtimeEnvironment, a job schedule's runbook
# and schedule) is held to that resource's name rules: it must be that name. Inputs the sources give no rule for are absent on
# purpose: module and package names (no pattern in module.json or package.json of 2024-10-23), hybrid worker group names (none in
# hybridRunbookWorkerGroup.json, none on the naming-rules page), role assignment scopes.
# Every Automation resource the program registers sits under the account's path (resource group, then account name).
_AUTOMATION_CHILD_KINDS = (
    "AutomationAccount",
    "RuntimeEnvironment",
    "Package",
    "Module",
    "PowerShell72Module",
    "HybridRunbookWorkerGroup",
    "Runbook",
    "Schedule",
    "JobSchedule",
    "Variable",
)
AZURE_INPUT_RULES: Mapping[tuple[str, str], tuple[InputRule, ...]] = MappingProxyType(
    {
        ("azure-native:resources:ResourceGroup", "resourceGroupName"): _RESOURCE_GROUP,
        **{(f"azure-native:automation:{kind}", "resourceGroupName"): _AUTOMATION_RESOURCE_GROUP for kind in _AUTOMATION_CHILD_KINDS},
        **{(f"azure-native:automation:{kind}", "automationAccountName"): _AUTOMATION_ACCOUNT for kind in _AUTOMATION_CHILD_KINDS},
        ("azure-native:automation:RuntimeEnvironment", "runtimeEnvironmentName"): _RUNTIME_ENVIRONMENT,
        ("azure-native:automation:Package", "runtimeEnvironmentName"): _RUNTIME_ENVIRONMENT,
        ("azure-native:automation:Package", "contentLink"): (InputRule(SOURCE_AUTOMATION_PACKAGE, required=True),),
        ("azure-native:automation:Runbook", "runbookName"): _RUNBOOK,
        ("azure-native:automation:Runbook", "runtimeEnvironment"): _RUNTIME_ENVIRONMENT,
        ("azure-native:automation:Schedule", "scheduleName"): _SCHEDULE,
        # The body's name is required (ScheduleCreateOrUpdateParameters); it is the schedule's name again.
        ("azure-native:automation:Schedule", "name"): (InputRule(SOURCE_AUTOMATION_SCHEDULE, required=True), *_SCHEDULE),
        ("azure-native:automation:Schedule", "startTime"): (InputRule(SOURCE_AUTOMATION_SCHEDULE, required=True),),
        ("azure-native:automation:Schedule", "frequency"): (
            InputRule(SOURCE_AUTOMATION_SCHEDULE, required=True, enum=("OneTime", "Day", "Hour", "Week", "Month", "Minute")),
        ),
        ("azure-native:automation:Variable", "name"): (InputRule(SOURCE_AUTOMATION_VARIABLE, required=True),),
        ("azure-native:automation:JobSchedule", "jobScheduleId"): (InputRule(SOURCE_AUTOMATION_JOB_SCHEDULE, uuid=True),),
        ("azure-native:automation:JobSchedule", "runbook.name"): (InputRule(SOURCE_AUTOMATION_JOB_SCHEDULE, required=True), *_RUNBOOK),
        ("azure-native:automation:JobSchedule", "schedule.name"): (
            InputRule(SOURCE_AUTOMATION_JOB_SCHEDULE, required=True),
            *_SCHEDULE,
        ),
        ("azure-native:storage:StorageAccount", "resourceGroupName"): _STORAGE_RESOURCE_GROUP,
        ("azure-native:storage:StorageAccount", "accountName"): _STORAGE_ACCOUNT,
        # Issue 23: the store's landing-zone settings, each an enumeration of the 2024-01-01 spec as azure-native 3.29.0 carries it
        # (pulumi_azure_native/storage/_enums.py); bypass is a comma-separated set of flags, or None.
        ("azure-native:storage:StorageAccount", "allowedCopyScope"): (InputRule(SOURCE_STORAGE_SDK_ENUMS, enum=("PrivateLink", "AAD")),),
        ("azure-native:storage:StorageAccount", "publicNetworkAccess"): (
            InputRule(SOURCE_STORAGE_SDK_ENUMS, enum=("Enabled", "Disabled", "SecuredByPerimeter")),
        ),
        ("azure-native:storage:StorageAccount", "networkRuleSet.defaultAction"): (
            InputRule(SOURCE_STORAGE_SDK_ENUMS, enum=("Allow", "Deny")),
        ),
        ("azure-native:storage:StorageAccount", "networkRuleSet.bypass"): (
            InputRule(SOURCE_STORAGE_SDK_ENUMS, pattern=r"None|(Logging|Metrics|AzureServices)(, ?(Logging|Metrics|AzureServices))*"),
        ),
        ("azure-native:storage:StorageAccount", "encryption.keySource"): (
            InputRule(SOURCE_STORAGE_SDK_ENUMS, enum=("Microsoft.Storage", "Microsoft.Keyvault")),
        ),
        **{
            ("azure-native:storage:StorageAccount", f"encryption.services.{service}.keyType"): (
                InputRule(SOURCE_STORAGE_SDK_ENUMS, enum=("Service", "Account")),
            )
            for service in ("blob", "file", "queue", "table")
        },
        ("azure-native:storage:BlobContainer", "resourceGroupName"): _STORAGE_RESOURCE_GROUP,
        ("azure-native:storage:BlobContainer", "accountName"): _STORAGE_ACCOUNT,
        ("azure-native:storage:BlobContainer", "containerName"): _CONTAINER,
        ("azure-native:storage:Blob", "accountName"): _STORAGE_ACCOUNT,
        ("azure-native:storage:Blob", "containerName"): _CONTAINER,
        ("azure-native:storage:Blob", "blobName"): (InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=1024),),
        ("azure-native:keyvault:Vault", "resourceGroupName"): _RESOURCE_GROUP,
        # No name rule carried for private endpoints: the naming-rules page (at the commit cited) has no privateEndpoints row; the
        # program's own names are pe-<target>-<sub-resource>: letters, digits and hyphens, at most 61 characters.
        ("azure-native:network:PrivateEndpoint", "resourceGroupName"): _RESOURCE_GROUP,
        ("azure-native:keyvault:Vault", "vaultName"): _VAULT,
        ("azure-native:keyvault:Secret", "resourceGroupName"): _RESOURCE_GROUP,
        ("azure-native:keyvault:Secret", "vaultName"): _KEY_VAULT_SECRET_VAULT,
        ("azure-native:keyvault:Secret", "secretName"): (
            InputRule(SOURCE_KEY_VAULT_SECRETS, pattern=r"^[a-zA-Z0-9-]{1,127}$"),
            InputRule(SOURCE_NAMING_RULES, min_length=1, max_length=127),
        ),
        ("azure-native:authorization:RoleAssignment", "roleAssignmentName"): (InputRule(SOURCE_ROLE_ASSIGNMENTS, uuid=True),),
        ("azure-native:authorization:RoleAssignment", "principalId"): (InputRule(SOURCE_ROLE_ASSIGNMENTS, required=True),),
        ("azure-native:authorization:RoleAssignment", "roleDefinitionId"): (InputRule(SOURCE_ROLE_ASSIGNMENTS, required=True),),
        ("azure-native:authorization:RoleAssignment", "principalType"): (
            InputRule(SOURCE_ROLE_ASSIGNMENTS, enum=("User", "Group", "ServicePrincipal", "ForeignGroup")),
        ),
        **_MONITORING_INPUT_RULES,
    }
)
# The path parameters of each resource type: the inputs azure-native puts into the request URL (the conformance test and the mock
# tenant check these on every registration).
AZURE_PATH_INPUTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "azure-native:resources:ResourceGroup": ("resourceGroupName",),
        "azure-native:automation:AutomationAccount": ("resourceGroupName", "automationAccountName"),
        "azure-native:automation:RuntimeEnvironment": ("resourceGroupName", "automationAccountName", "runtimeEnvironmentName"),
        "azure-native:automation:Package": ("resourceGroupName", "automationAccountName", "runtimeEnvironmentName", "packageName"),
        "azure-native:automation:Module": ("resourceGroupName", "automationAccountName", "moduleName"),
        "azure-native:automation:PowerShell72Module": ("resourceGroupName", "automationAccountName", "moduleName"),
        "azure-native:automation:HybridRunbookWorkerGroup": ("resourceGroupName", "automationAccountName", "hybridRunbookWorkerGroupName"),
        "azure-native:automation:Runbook": ("resourceGroupName", "automationAccountName", "runbookName"),
        "azure-native:automation:Schedule": ("resourceGroupName", "automationAccountName", "scheduleName"),
        "azure-native:automation:JobSchedule": ("resourceGroupName", "automationAccountName", "jobScheduleId"),
        "azure-native:automation:Variable": ("resourceGroupName", "automationAccountName", "variableName"),
        "azure-native:storage:StorageAccount": ("resourceGroupName", "accountName"),
        "azure-native:storage:BlobContainer": ("resourceGroupName", "accountName", "containerName"),
        "azure-native:storage:Blob": ("resourceGroupName", "accountName", "containerName", "blobName"),
        "azure-native:keyvault:Vault": ("resourceGroupName", "vaultName"),
        "azure-native:keyvault:Secret": ("resourceGroupName", "vaultName", "secretName"),
        "azure-native:authorization:RoleAssignment": ("scope", "roleAssignmentName"),
        "azure-native:network:PrivateEndpoint": ("resourceGroupName", "privateEndpointName"),
        **_MONITORING_PATH_INPUTS,
    }
)


def input_problems(type_token: str, input_path: str, value: object) -> list[str]:
    """Every rule's objection to one input value, each naming its source."""
    return [
        f"{problem} ({rule.source})"
        for rule in AZURE_INPUT_RULES.get((type_token, input_path), ())
        for problem in rule_problems(rule, value)
    ]


# -- Exchange Online RBAC (issue 14) ----------------------------------------------------------------------------------------------

# Built-in Exchange Online management roles that an app's custom role group may hold. Source: MicrosoftDocs/OfficeDocs-Exchange
# Exchange/ExchangeOnline/permissions-exo/permissions-exo.md (commit bc3e21e14d5d86d35264ad4361a700befb585e9b), table "Built-in role
# groups" (the default roles of every built-in role group) plus the roles its text names as assigned to no role group by default
# (Address Lists, Mailbox Import Export) or only to Discovery Management (Mailbox Search). PARTIAL: Exchange Online has more roles
# than that table names (application roles such as "Application Mail.Read", end-user "My*" roles, newer service roles), and a
# tenant lists its own with Get-ManagementRole. End-user roles cannot be assigned to an app at all ("-App ... you can't specify user
# roles; you can only specify application or management roles", New-ManagementRoleAssignment.md since office-docs-powershell commit
# 684088c9, 2026-05-18); this program gives admin roles through a role group (docs/exchange-rbac.md says why).
EXCHANGE_MANAGEMENT_ROLES: frozenset[str] = frozenset(
    {
        "Address Lists",
        "Audit Logs",
        "Compliance Admin",
        "Data Loss Prevention",
        "Distribution Groups",
        "E-Mail Address Policies",
        "Federated Sharing",
        "Information Rights Management",
        "Journaling",
        "Legal Hold",
        "Mail Enabled Public Folders",
        "Mail Recipient Creation",
        "Mail Recipients",
        "Mail Tips",
        "Mailbox Import Export",
        "Mailbox Search",
        "Message Tracking",
        "Migration",
        "Move Mailboxes",
        "Org Custom Apps",
        "Org Marketplace Apps",
        "Organization Client Access",
        "Organization Configuration",
        "Organization Transport Settings",
        "Public Folders",
        "Recipient Policies",
        "Remote and Accepted Domains",
        "Reset Password",
        "Retention Management",
        "Role Management",
        "Security Admin",
        "Security Group Creation and Membership",
        "Security Reader",
        "Team Mailboxes",
        "Transport Hygiene",
        "Transport Rules",
        "UM Mailboxes",
        "UM Prompts",
        "Unified Messaging",
        "User Options",
        "View-Only Audit Logs",
        "View-Only Configuration",
        "View-Only Recipients",
    }
)
# Refused in exchangeRbac: a holder of Role Management can create role assignments for itself, so no declared scope would bound it
# ("allows users to view, create, and modify Exchange Online role groups", permissions-exo.md). Use an Entra role for such an identity.
SELF_WIDENING_EXCHANGE_ROLES: frozenset[str] = frozenset({"Role Management"})

# Management roles whose cmdlets change organization-wide configuration (transport, journaling, domains, organization settings…) rather
# than recipient objects: a recipient write scope (-CustomRecipientWriteScope, -RecipientAdministrativeUnitScope) bounds which
# recipients a role may change and leaves these roles' settings organization-wide (configuration objects fall under a configuration
# write scope, which Exchange Online does not let an assignment set: office-docs-powershell New-ManagementRoleAssignment.md, commit
# 93336da2, says -CustomConfigWriteScope and -ExclusiveConfigWriteScope are "available only in on-premises Exchange"). Classified from
# the opening sentence of each role's own page, MicrosoftDocs/OfficeDocs-Exchange Exchange/ExchangeServer2013/<role>-role-exchange-2013-
# help.md (read in the fork x13-me/OfficeDocs-Exchange: organization-configuration-role… at commit 04af1b36 "enables administrators to
# manage organization-wide settings"; address-lists-role… at 06c6ba12 "…address lists, global address lists (GALs), address book
# policies, and offline address lists (OABs) in an organization"; e-mail-address-policies-role… at 2728a0b6 "…email address policies in
# an organization"), and the role names of issue 22. PARTIAL, like the list above: a role not named here is described with its scope.
ORGANIZATION_CONFIGURATION_ROLES: frozenset[str] = frozenset(
    {
        "Address Lists",
        "Data Loss Prevention",
        "E-Mail Address Policies",
        "Federated Sharing",
        "Information Rights Management",
        "Journaling",
        "Mail Tips",
        "Org Custom Apps",
        "Org Marketplace Apps",
        "Organization Client Access",
        "Organization Configuration",
        "Organization Transport Settings",
        "Remote and Accepted Domains",
        "Retention Management",
        "Transport Hygiene",
        "Transport Rules",
    }
)

# Entra roles whose holder can run the reconciler (Sync-ExchangeRbac.ps1): it needs the Role Management management role, which by
# default only the Organization Management role group holds (permissions-exo.md), and Exchange Administrator and Global Administrator
# are members of that group (same article, "ExchangeServiceAdmins_" and "TenantAdmins_" rows). Microsoft's Tenant Configuration Management
# docs name Exchange Administrator the least privileged Entra role for changing role groups and management role assignments
# (microsoftgraph/microsoft-graph-docs-contrib concepts/includes/utcm/exchange/microsoft-exchange-rolegroup.md and
# microsoft-exchange-managementroleassignment.md @70f8ded9e9a46bdaaa7ed4efab2893384d97f5d9). Both are on ScubaGear's privileged list.
RBAC_RECONCILER_ROLES: tuple[str, ...] = ("Exchange Administrator", GLOBAL_ADMINISTRATOR)

# Recipient properties that a management scope's -RecipientRestrictionFilter can use in Exchange Online: New-ManagementScope.md points
# to "Filterable properties for the RecipientFilter parameter"; every section there marked Exchange Online (MicrosoftDocs/
# office-docs-powershell exchange/docs-conceptual/recipientfilter-properties.md, commit 2a9e5c36dc22cb7f0b060810d9ad42b34985b60a;
# "CustomAttribute1 to CustomAttribute15" and "ExtensionCustomAttribute1 to ExtensionCustomAttribute5" expanded).
RECIPIENT_FILTER_PROPERTIES: frozenset[str] = frozenset(
    {
        "AcceptMessagesOnlyFrom",
        "AcceptMessagesOnlyFromDLMembers",
        "ActiveSyncAllowedDeviceIDs",
        "ActiveSyncBlockedDeviceIDs",
        "ActiveSyncEnabled",
        "ActiveSyncMailboxPolicy",
        "ActiveSyncSuppressReadReceipt",
        "AddressBookPolicy",
        "AddressListMembership",
        "AdminDisplayName",
        "AdministrativeUnits",
        "AggregatedMailboxGuids",
        "Alias",
        "AllowUMCallsFromNonUsers",
        "ArbitrationMailbox",
        "ArchiveDatabase",
        "ArchiveDomain",
        "ArchiveGuid",
        "ArchiveName",
        "ArchiveQuota",
        "ArchiveRelease",
        "ArchiveState",
        "ArchiveStatus",
        "ArchiveWarningQuota",
        "AssistantName",
        "AuditEnabled",
        "AuditLogAgeLimit",
        "AuthenticationPolicy",
        "C",
        "CalendarLoggingQuota",
        "CalendarRepairDisabled",
        "Certificate",
        "CertificateSubject",
        "City",
        "Co",
        "CommonName",
        "Company",
        "ComplianceTagHoldApplied",
        "CountryOrRegion",
        "CustomAttribute1",
        "CustomAttribute10",
        "CustomAttribute11",
        "CustomAttribute12",
        "CustomAttribute13",
        "CustomAttribute14",
        "CustomAttribute15",
        "CustomAttribute2",
        "CustomAttribute3",
        "CustomAttribute4",
        "CustomAttribute5",
        "CustomAttribute6",
        "CustomAttribute7",
        "CustomAttribute8",
        "CustomAttribute9",
        "DataEncryptionPolicy",
        "DefaultPublicFolderMailbox",
        "DeletedItemFlags",
        "DeliverToMailboxAndForward",
        "Department",
        "Description",
        "DirectReports",
        "DisabledArchiveDatabase",
        "DisabledArchiveGuid",
        "DisplayName",
        "DistinguishedName",
        "EcpEnabled",
        "ElcExpirationSuspensionEndDate",
        "ElcExpirationSuspensionStartDate",
        "ElcMailboxFlags",
        "EmailAddresses",
        "EmailAddressPolicyEnabled",
        "EntryId",
        "EwsApplicationAccessPolicy",
        "EwsEnabled",
        "ExchangeGuid",
        "ExchangeUserAccountControl",
        "ExchangeVersion",
        "ExpansionServer",
        "ExtensionCustomAttribute1",
        "ExtensionCustomAttribute2",
        "ExtensionCustomAttribute3",
        "ExtensionCustomAttribute4",
        "ExtensionCustomAttribute5",
        "ExternalDirectoryObjectId",
        "ExternalEmailAddress",
        "ExternalOofOptions",
        "Fax",
        "FirstName",
        "ForwardingAddress",
        "ForwardingSmtpAddress",
        "GeneratedOfflineAddressBooks",
        "GrantSendOnBehalfTo",
        "GroupType",
        "Guid",
        "HasActiveSyncDevicePartnership",
        "HiddenFromAddressListsEnabled",
        "HiddenGroupMembershipEnabled",
        "HomeMTA",
        "HomePhone",
        "Id",
        "ImapEnabled",
        "ImmutableId",
        "IncludedRecipients",
        "IncludeInGarbageCollection",
        "Initials",
        "InPlaceHolds",
        "InPlaceHoldsRaw",
        "InternetEncoding",
        "IsDirSynced",
        "IsExcludedFromServingHierarchy",
        "IsHierarchyReady",
        "IsHierarchySyncEnabled",
        "IsInactiveMailbox",
        "IsMailboxEnabled",
        "IsSecurityPrincipal",
        "IsSoftDeletedByDisable",
        "IsSoftDeletedByRemove",
        "IssueWarningQuota",
        "JournalArchiveAddress",
        "LanguagesRaw",
        "LastExchangeChangedTime",
        "LastName",
        "LdapRecipientFilter",
        "LegacyExchangeDN",
        "LitigationHoldDate",
        "LitigationHoldEnabled",
        "LitigationHoldOwner",
        "LocaleID",
        "MailboxMoveBatchName",
        "MailboxMoveFlags",
        "MailboxMoveRemoteHostName",
        "MailboxMoveSourceMDB",
        "MailboxMoveStatus",
        "MailboxMoveTargetMDB",
        "MailboxPlan",
        "MailboxRelease",
        "MailTipTranslations",
        "ManagedBy",
        "Manager",
        "MAPIEnabled",
        "MapiRecipient",
        "MaxBlockedSenders",
        "MaxReceiveSize",
        "MaxSafeSenders",
        "MaxSendSize",
        "MemberDepartRestriction",
        "MemberJoinRestriction",
        "MemberOfGroup",
        "Members",
        "MessageHygieneFlags",
        "MobileFeaturesEnabled",
        "MobileMailboxFlags",
        "MobilePhone",
        "ModeratedBy",
        "ModerationEnabled",
        "Name",
        "NetID",
        "Notes",
        "ObjectCategory",
        "ObjectClass",
        "Office",
        "OfflineAddressBook",
        "OtherFax",
        "OtherHomePhone",
        "OtherTelephone",
        "OWAEnabled",
        "OWAforDevicesEnabled",
        "OWAMailboxPolicy",
        "Pager",
        "Phone",
        "PhoneticDisplayName",
        "PoliciesExcluded",
        "PoliciesIncluded",
        "PopEnabled",
        "PostalCode",
        "PostOfficeBox",
        "PreviousRecipientTypeDetails",
        "PrimaryGroupId",
        "PrimarySmtpAddress",
        "ProhibitSendQuota",
        "ProhibitSendReceiveQuota",
        "ProtocolSettings",
        "PublicFolderContacts",
        "QueryBaseDN",
        "RawCanonicalName",
        "RawExternalEmailAddress",
        "RawName",
        "RecipientContainer",
        "RecipientDisplayType",
        "RecipientFilter",
        "RecipientLimits",
        "RecipientType",
        "RecipientTypeDetails",
        "RecoverableItemsQuota",
        "RecoverableItemsWarningQuota",
        "RejectMessagesFrom",
        "RejectMessagesFromDLMembers",
        "RemoteAccountPolicy",
        "RemotePowerShellEnabled",
        "RemoteRecipientType",
        "ReportToManagerEnabled",
        "ReportToOriginatorEnabled",
        "RequireAllSendersAreAuthenticated",
        "ResourceCapacity",
        "ResourceCustom",
        "ResourceMetaData",
        "ResourcePropertiesDisplay",
        "ResourceSearchProperties",
        "ResourceType",
        "RetainDeletedItemsFor",
        "RetentionComment",
        "RetentionPolicy",
        "RetentionUrl",
        "RoleAssignmentPolicy",
        "RulesQuota",
        "SafeRecipientsHash",
        "SafeSendersHash",
        "SamAccountName",
        "SCLDeleteThresholdInt",
        "SCLJunkThresholdInt",
        "SCLQuarantineThresholdInt",
        "SCLRejectThresholdInt",
        "SecurityProtocol",
        "SendDeliveryReportsTo",
        "SendOofMessageToOriginatorEnabled",
        "ServerLegacyDN",
        "ServerName",
        "SharingPolicy",
        "SimpleDisplayName",
        "SingleItemRecoveryEnabled",
        "SKUAssigned",
        "SMimeCertificate",
        "StateOrProvince",
        "StreetAddress",
        "StsRefreshTokensValidFrom",
        "TelephoneAssistant",
        "TextEncodedORAddress",
        "ThrottlingPolicy",
        "Title",
        "UnicodePassword",
        "UsageLocation",
        "UseDatabaseQuotaDefaults",
        "UserAccountControl",
        "UserPrincipalName",
        "VoiceMailSettings",
        "WebPage",
        "WhenChanged",
        "WhenChangedUTC",
        "WhenCreated",
        "WhenCreatedUTC",
        "WhenMailboxCreated",
        "WhenSoftDeleted",
        "WindowsEmailAddress",
        "WindowsLiveID",
    }
)
# OPATH operators (office-docs-powershell exchange/docs-conceptual/recipient-filters.md, "Additional OPATH syntax information", plus
# -ge/-le from about_Comparison_Operators which that section points to).
OPATH_COMPARISON_OPERATORS: tuple[str, ...] = ("-eq", "-ne", "-like", "-notlike", "-gt", "-lt", "-ge", "-le")
OPATH_LOGICAL_OPERATORS: tuple[str, ...] = ("-and", "-or", "-not")


# -- CISA ScubaGear (issue 20) ------------------------------------------------------------------------------------------------------
# What the baseline scanner many tenants run checks about the objects this program makes. Read in cisagov/ScubaGear at commit
# 4d34e9a48e38ce5c2e14c0fdfbaee53e57594ae2 (paths below under PowerShell/ScubaGear/).
SCUBAGEAR_REPO = "cisagov/ScubaGear"
SCUBAGEAR_COMMIT = "4d34e9a48e38ce5c2e14c0fdfbaee53e57594ae2"
_SCUBA = f"{SCUBAGEAR_REPO} PowerShell/ScubaGear/"
SOURCE_SCUBAGEAR_DEFAULTS = f"{_SCUBA}Modules/ScubaConfig/ScubaConfigDefaults.json @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_AAD_REGO = f"{_SCUBA}Rego/AADConfig.rego @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_AAD_PROVIDER = f"{_SCUBA}Modules/Providers/ExportAADProvider.psm1 @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_CONFIG_SCHEMA = f"{_SCUBA}Modules/ScubaConfig/ScubaConfigSchema.json @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_RISKY_PERMISSIONS = f"{_SCUBA}schemas/RiskyAppPermissions.json @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_AAD_BASELINE = f"{_SCUBA}baselines/aad.md @{SCUBAGEAR_COMMIT}"
SOURCE_SCUBAGEAR_EXO_BASELINE = f"{_SCUBA}baselines/exo.md @{SCUBAGEAR_COMMIT}"
SOURCE_ENTRA_BUILT_IN_ROLES = (
    "MicrosoftDocs/entra-docs docs/identity/role-based-access-control/permissions-reference.md @00fe95d60143bbf5f832cdd8bb74765b182c2d8f"
)

# ScubaGear's "highly privileged" roles: `privilegedRoles` in ScubaConfigDefaults.json (the same list as aad.md, "Highly Privileged
# Roles"). ScubaGear matches them by display name against the tenant's role templates (Get-PrivilegedRole in ExportAADProvider.psm1);
# the template ids are Entra's (SOURCE_ENTRA_BUILT_IN_ROLES, "All roles" table).
SCUBAGEAR_PRIVILEGED_ROLES: Mapping[str, str] = MappingProxyType(
    {
        GLOBAL_ADMINISTRATOR: "62e90394-69f5-4237-9190-012177145e10",
        "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
        "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
        "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
        "Hybrid Identity Administrator": "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2",
        "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    }
)

# MS.AAD.7.4v1 fails for a privileged role with an active assignment whose EndDateTime is null, unless every such principal id is in
# the config's Aad["MS.AAD.7.4v1"].RoleExclusions (Users or Groups: the Rego subtracts both lists from the principal ids, whatever
# kind of principal they are). MS.AAD.7.5v1 fails for a privileged role with an assignment whose StartDateTime is null (made outside
# PIM) and has no exclusion at all. Both read every assignment schedule instance of the role, service principals included
# (Get-MgBetaRoleManagementDirectoryRoleAssignmentScheduleInstance in GetConfigurationsForRoles), and both also fail without an
# Entra ID P2 licence. Source: SOURCE_SCUBAGEAR_AAD_REGO (sections MS.AAD.7.4v1, MS.AAD.7.5v1), SOURCE_SCUBAGEAR_AAD_PROVIDER.
SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL = "MS.AAD.7.4v1"
SCUBAGEAR_PAM_CONTROL = "MS.AAD.7.5v1"
SCUBAGEAR_PRIVILEGED_ROLE_CONTROLS: tuple[str, ...] = (SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL, SCUBAGEAR_PAM_CONTROL)

# The config file's shapes (SOURCE_SCUBAGEAR_CONFIG_SCHEMA): RoleExclusions takes only Users and Groups, lists of GUIDs, unique, no
# other key; ScubaGear's configuration docs (docs/configuration/configuration.md, "Privileged User Policy Exclusions") support it for
# MS.AAD.7.4v1 only. AnnotatePolicy.<policy id> takes Comment (required, non-empty), RemediationDate (yyyy-mm-dd), IncorrectResult
# (boolean), nothing else; it annotates a result without changing it.
SCUBAGEAR_CONFIG_PRODUCT_KEY = "Aad"
SCUBAGEAR_ROLE_EXCLUSIONS_KEY = "RoleExclusions"
SCUBAGEAR_ROLE_EXCLUSION_LISTS: tuple[str, ...] = ("Users", "Groups")
SCUBAGEAR_ROLE_EXCLUSION_POLICIES: tuple[str, ...] = (SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL,)
SCUBAGEAR_ANNOTATE_KEY = "AnnotatePolicy"
SCUBAGEAR_ANNOTATION_FIELDS: tuple[str, ...] = ("Comment", "RemediationDate", "IncorrectResult")
SCUBAGEAR_POLICY_ID_PATTERN = re.compile(r"^[Mm][Ss]\.[a-zA-Z]+\.[0-9]+\.[0-9]+[Vv][0-9]+$")  # validation.policyIdPattern (defaults)

# RiskyAppPermissions.json rates the application permission this program grants (MANAGE_AS_APP_ROLE_ID) "Critical". ScubaGear lists
# such apps in its report (risky applications); no AADConfig.rego control passes or fails on it (SOURCE_SCUBAGEAR_RISKY_PERMISSIONS).
SCUBAGEAR_MANAGE_AS_APP_RISK = "Critical"

# MS.AAD.5.7v1: application certificate lifetime restricted to 365 days or less, checked as an app management policy whose
# asymmetricKeyLifetime MaxLifetime is at most P366D (Entra compares "less than"; SOURCE_SCUBAGEAR_AAD_BASELINE and _REGO). A tenant
# with such a policy refuses a key credential that lives longer when `up` adds it.
SCUBAGEAR_CERTIFICATE_MAX_DAYS = 365


# -- Azure Landing Zones policies (issue 23) --------------------------------------------------------------------------------------

# The ALZ library's default assignments (archetypes root, landing_zones, corp, online) and the definitions they assign, as data:
# exo/alz_policy_rules.json, made by scripts/extract_alz_rules.py from Azure/Azure-Landing-Zones-Library and Azure/azure-policy
# (each rule names the repository, path and commit of its definition, its assignment and its policy set). Only rules that can
# act on a resource type this program registers are kept; exo/landing_zone.py evaluates them.
ALZ_POLICY_RULES_FILE = "alz_policy_rules.json"
# The archetypes a subscription under the Corp and the Online management group inherits (platform/alz/architecture_definitions/
# alz.alz_architecture_definition.json: alz (root) > landingzones > corp | online).
ALZ_ARCHETYPES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"corp": ("root", "landing_zones", "corp"), "online": ("root", "landing_zones", "online")}
)


# Enforce-GR-KeyVault (enforced as ALZ ships) gives Deny-KV-Secrets-ValidityDays maximumValidityInDays 90
# (platform/alz/policy_set_definitions/Enforce-Guardrails-KeyVault_20260203.alz_policy_set_definition.json, parameter default).
ALZ_SECRET_MAXIMUM_VALIDITY_DAYS = 90
# The release from which a generated certificate that goes to the Key Vault defaults to a day less than
# ALZ_SECRET_MAXIMUM_VALIDITY_DAYS (it was 12 months like every other certificate; settings/stack.py): identities that never set
# `validityMonths` are told for DEFAULT_CHANGE_NOTICE_DAYS after it, since their next `up` reissues the certificate.
DEFAULT_VAULTED_VALIDITY_CHANGED_ON = dt.date(2026, 12, 6)


@dataclass(frozen=True)
class AlzRule:
    """One policy definition as one ALZ assignment assigns it, with the effect and parameters that assignment gives it."""

    archetype: str
    assignment: str
    enforcement_mode: str
    """Default (enforced) or DoNotEnforce (the `*0` guardrail assignments ALZ ships unenforced)."""
    reference_id: str | None
    """The member's policyDefinitionReferenceId in its policy set (what an exemption's policyDefinitionReferenceIds names)."""
    definition_id: str
    built_in: bool
    display_name: str
    mode: str
    effect: str
    condition: Mapping[str, object]
    details: Mapping[str, object] | None
    source: str
    """repository path @commit of the definition."""
    assignment_source: str

    @property
    def label(self) -> str:
        return f"{self.assignment}/{self.reference_id}" if self.reference_id else self.assignment

    @property
    def definition_resource_id(self) -> str:
        """The definition's id as an exemption or the portal names it (ALZ's own definitions live at the ALZ root group)."""
        kind = "policyDefinitions"
        if self.built_in:
            return f"/providers/Microsoft.Authorization/{kind}/{self.definition_id}"
        return f"/providers/Microsoft.Management/managementGroups/<alz root>/providers/Microsoft.Authorization/{kind}/{self.definition_id}"


def _source(entry: Mapping[str, str]) -> str:
    return f"{entry['repo']} {entry['path']} @{entry['commit']}"


def load_alz_rules() -> tuple[AlzRule, ...]:
    """The rules of exo/alz_policy_rules.json (read on demand: the program itself never needs them)."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).resolve().parent / ALZ_POLICY_RULES_FILE).read_text(encoding="utf-8"))
    return tuple(
        AlzRule(
            archetype=r["archetype"],
            assignment=r["assignment"],
            enforcement_mode=r["enforcementMode"],
            reference_id=r["referenceId"],
            definition_id=r["definitionId"],
            built_in=r["builtIn"],
            display_name=r["displayName"],
            mode=r["mode"],
            effect=r["effect"],
            condition=r["if"],
            details=r["details"],
            source=_source(r["source"]),
            assignment_source=_source(r["assignmentSource"]),
        )
        for r in data["rules"]
    )
