"""Well-known identifiers and catalogues, kept in one place.

Every value here is a fact about Microsoft's cloud, not a choice of ours. Each block names the source it was verified in; where
../shared/FACTS.md and the source disagree, the source wins.
"""

from __future__ import annotations

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
DEFAULT_ROLE = "Exchange Administrator"

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


# -- Azure Automation -------------------------------------------------------------------------------------------------------------

# The module's name is a constant, never config: the PowerShell Gallery carries look-alikes (ExchangeOnlineMangement, ...).
EXCHANGE_MODULE_NAME = "ExchangeOnlineManagement"
# A pinned gallery version as a content link (azure-docs articles/automation/shared-resources/modules.md); the gallery redirects to
# the .nupkg.
POWERSHELL_GALLERY_PACKAGE_URI = "https://www.powershellgallery.com/api/v2/package/{name}/{version}"
# -ManagedIdentity exists from ExchangeOnlineManagement 3.0.0 (connect-exo-powershell-managed-identity.md).
MANAGED_IDENTITY_MINIMUM_MODULE = (3, 0, 0)


@dataclass(frozen=True)
class ModuleRange:
    """ExchangeOnlineManagement versions first..last (inclusive; None: open) and the PowerShell 7 they need."""

    first: tuple[int, int, int]
    last: tuple[int, int, int] | None
    powershell7: tuple[int, int]


# office-docs-powershell exchange/docs-conceptual/exchange-online-powershell-v2.md (commit 93336da2): 3.0.0-3.4.0 need PowerShell
# 7.2+ (.NET 6), 3.5.0-3.9.2 need 7.4+ (.NET 8), 3.10.0+ need 7.6+ (.NET 10); Windows PowerShell 5.1 runs every version.
EXCHANGE_MODULE_MATRIX = (
    ModuleRange((3, 0, 0), (3, 4, 0), (7, 2)),
    ModuleRange((3, 5, 0), (3, 9, 2), (7, 4)),
    ModuleRange((3, 10, 0), None, (7, 6)),
)


@dataclass(frozen=True)
class AutomationRuntime:
    """A PowerShell runtime an Automation runbook can run on, and how its modules are installed there."""

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


# Runtime environments: azure-docs articles/automation/manage-runtime-environment.md (PowerShell 5.1 and 7.4; "It is not possible to
# run Runbooks in a User Created Runtime environment on a Hybrid Worker"); REST spec Microsoft.Automation 2024-10-23
# examples/runtimeEnvironment/createRuntimeEnvironment.json ({"language": "PowerShell", "version": "7.4"}) and
# examples/runbook/createOrUpdateRunbook.json (runbookType "PowerShell" + runtimeEnvironment). 7.2 uses PowerShell72Module and
# runbookType "PowerShell72" (pulumi-azure-native RunbookTypeEnum).
AUTOMATION_RUNTIMES: Mapping[str, AutomationRuntime] = MappingProxyType(
    {
        "PowerShell-7.4": AutomationRuntime("PowerShell-7.4", (7, 4), False, "runtime-environment", "PowerShell", "3.9.2", False),
        "PowerShell-7.2": AutomationRuntime("PowerShell-7.2", (7, 2), False, "powershell72-module", "PowerShell72", "3.4.0", True),
        "WindowsPowerShell-5.1": AutomationRuntime("WindowsPowerShell-5.1", (5, 1), True, "module", "PowerShell", "3.10.1", True),
    }
)
DEFAULT_AUTOMATION_RUNTIME = "PowerShell-7.4"
RUNTIME_ENVIRONMENT_LANGUAGE = "PowerShell"


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


# -- Key Vault -------------------------------------------------------------------------------------------------------------------

# Azure built-in role "Key Vault Secrets User": read secret contents; only on vaults that use the Azure RBAC permission model.
# Source: MicrosoftDocs/azure-docs articles/key-vault/general/rbac-guide.md, "Azure built-in roles for Key Vault data plane operations".
KEY_VAULT_SECRETS_USER_ROLE_ID = "4633458b-17de-408a-b874-0445c86b69e6"
# Content type of a secret that holds PEM text. For a plain secret Key Vault stores it as an opaque hint; it is the media type Key Vault
# itself gives the secret behind a certificate retrieved "in either PFX or PEM format" (certificate policy secret_props.contentType:
# application/x-pkcs12 or application/x-pem-file; MicrosoftDocs/azure-docs articles/key-vault/certificates/about-certificates.md).
PEM_CONTENT_TYPE = "application/x-pem-file"


# -- Exchange Online RBAC (issue 14) ----------------------------------------------------------------------------------------------

# Built-in Exchange Online management roles that an app's custom role group may hold. Source: MicrosoftDocs/OfficeDocs-Exchange
# Exchange/ExchangeOnline/permissions-exo/permissions-exo.md (commit bc3e21e14d5d86d35264ad4361a700befb585e9b), table "Built-in role
# groups" (the default roles of every built-in role group) plus the roles its text names as assigned to no role group by default
# (Address Lists, Mailbox Import Export) or only to Discovery Management (Mailbox Search). PARTIAL: Exchange Online has more roles
# than that table names (application roles such as "Application Mail.Read", end-user "My*" roles, newer service roles), and a
# tenant lists its own with Get-ManagementRole. End-user and application roles cannot be held by a role group for an app anyway
# (New-ManagementRoleAssignment.md: "-App ... you can only specify application roles"); admin roles go through a role group.
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

# Entra roles whose holder can run the reconciler (Sync-ExchangeRbac.ps1): it needs the Role Management management role, which by
# default only the Organization Management role group holds (permissions-exo.md), and Exchange Administrator and Global Administrator
# are members of that group (same article, "ExchangeServiceAdmins_" and "TenantAdmins_" rows).
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
