"""Every config key the program reads, described once: name, type, default, rule, example.

This is the one source of the configuration docs: `python -m settings.config_docs` writes docs/configuration.md and the descriptions in
Pulumi.yaml's `config` section from it, and tests/settings/test_config_schema.py fails when either is out of date or when the parsers
accept a key this table does not describe (or the other way round). Defaults that are facts (runtime, module versions, roles) are read
from exo/facts.py and the parsers' own constants, never written here as literals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from exo import facts
from exo.monitoring import DEFAULT_GRACE_MINUTES, GRACE_RANGE
from settings import automation, host_certificate, key_vault, landing_zone, monitoring, stack


@dataclass(frozen=True)
class Setting:
    """One config key. `path` is its place under `exo-automation:`: `automation.runtime`, `identities[].certificate.rsaBits`."""

    path: str
    type: str
    default: str
    """As a reader should read it ("required", "none", a value, or how it is derived)."""
    rule: str
    example: str = ""


def _range(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]}-{bounds[1]}"


def _roles(names: tuple[str, ...] | list[str]) -> str:
    return f"[{', '.join(names)}]"


def module_version_defaults() -> str:
    """The ExchangeOnlineManagement default of every runtime, as the docs state it."""
    return ", ".join(f"{r.default_module_version} ({r.name})" for r in facts.AUTOMATION_RUNTIMES.values())


def _runtime_rule() -> str:
    ends = ", ".join(f"{r.name}: {r.support_ends.isoformat() if r.support_ends else 'none'}" for r in facts.AUTOMATION_RUNTIMES.values())
    moves = "; ".join(f"the default was {c.previous} before {c.changed_on.isoformat()}" for c in facts.DEFAULT_RUNTIME_CHANGES)
    return (
        f"one of {', '.join(facts.AUTOMATION_RUNTIMES)}. WindowsPowerShell-5.1 and PowerShell-7.2 use modules, PowerShell-7.6 and "
        f"PowerShell-7.4 a runtime environment. End of support: {ends}; previews warn from {facts.RUNTIME_WARNING_DAYS} days before "
        f"and then name the value to set ({moves}). Why this default: [runtimes](runtimes.md)"
    )


_ASSIGNABLE_ROLES = ", ".join(name for name in facts.ROLES if name != facts.GLOBAL_ADMINISTRATOR)
_COMPLIANCE_ROLES = ", ".join(name for name, role in facts.ROLES.items() if role.security_compliance)
_CERT = "identities[].certificate"
_RBAC_RULES = (
    ("roles", "list of strings", "none", "built-in Exchange Online management roles; the app gets them through a role group the "
     "`Sync-ExchangeRbac` runbook keeps (Role Management is refused). With `exchangeRbac`, the identity's `roles` defaults to `[]`",
     "[View-Only Recipients]"),
    ("customRole", "object", "none", "`{parent, cmdlets}`: a role copied from a built-in `parent` with only the listed cmdlets "
     "(`New-ManagementRole -Parent -EnabledCmdlets`), held by the same role group; `roles` may then be omitted", ""),
    ("customRole.parent", "string", "required", "a built-in management role", "View-Only Recipients"),
    ("customRole.cmdlets", "list of strings", "required", "the only cmdlets the copy keeps", "[Get-Mailbox, Get-Recipient]"),
    ("recipientScope", "object", "none (whole organization)", "one of `filter` or `administrativeUnit`: bounds what the roles can "
     "change, not what `Get-*` returns", ""),
    ("recipientScope.filter", "string", "none", "an OPATH recipient filter, parsed at preview", "Department -eq 'Sales'"),
    ("recipientScope.administrativeUnit", "string", "none", "an Entra administrative unit's object id", ""),
)  # fmt: skip


def _exchange_rbac(prefix: str, summary: str) -> list[Setting]:
    return [Setting(prefix, "object", "none", summary)] + [
        Setting(f"{prefix}.{name}", kind, default, rule, example) for name, kind, default, rule, example in _RBAC_RULES
    ]


def _schedule(prefix: str, default: str, summary: str) -> list[Setting]:
    frequencies = "/".join(automation.FREQUENCIES)
    return [
        Setting(prefix, "object", default, summary),
        Setting(f"{prefix}.frequency", "string", "required", frequencies, "Day"),
        Setting(f"{prefix}.interval", "integer", "1", f"{_range(automation.INTERVAL_RANGE)} frequencies between runs", "1"),
        Setting(f"{prefix}.time", "string", "required", "the time of day, HH:MM (24-hour)", "05:30"),
        Setting(f"{prefix}.timeZone", "string", "required", "an IANA time zone name", "Europe/Berlin"),
        Setting(f"{prefix}.weekDays", "list of strings", "none", "with frequency Week: the days it runs", "[Monday]"),
        Setting(f"{prefix}.monthDays", "list of integers", "none", "with frequency Month: the days of the month it runs", "[1, 15]"),
    ]


def settings() -> tuple[Setting, ...]:
    """Every key, parents before their fields, in the order the docs show them."""
    cert_ranges = (stack.VALIDITY_MONTHS_RANGE, stack.RENEW_BEFORE_DAYS_RANGE)
    runtimes = facts.AUTOMATION_RUNTIMES
    hybrid_runtimes = " and ".join(n for n, r in runtimes.items() if r.hybrid_workers)
    rows: list[Setting] = [
        # The top-level keys (Pulumi.yaml declares exactly these).
        Setting("identities", "list of objects", '[{name: exo}]', "the app identities to create, each an app registration with a "
                "certificate and the Exchange.ManageAsApp grant; at least one", "[{name: reports}, {name: provisioning}]"),
        Setting("organization", "string", "looked up", "the tenant's initial domain (`<name>.onmicrosoft.com`; `.onmicrosoft.us` in US "
                "Government clouds) for `Connect-ExchangeOnline -Organization`; a tenant GUID or a custom domain is refused",
                "contoso.onmicrosoft.com"),
        Setting("allowGlobalAdministrator", "boolean", "false", "allow `Global Administrator` in `roles` (refused otherwise: least "
                "privilege)", "false"),
        Setting("additionalOwners", "list of strings", "[]", "object ids (GUIDs) that co-own every app registration, besides the "
                "deploying principal", ""),
        Setting("automation", "object", "{enabled: false}", "an Azure Automation account whose system-assigned managed identity runs "
                "the repo's runbooks (`Connect-ExchangeOnline -ManagedIdentity`); see [Automation and runbooks](automation.md)", ""),
        Setting("keyVault", "object", "{enabled: false}", "an Azure Key Vault (RBAC, soft delete, purge protection) holding each "
                "generated identity's certificate and key as one PEM secret, for hosts that fetch it with their managed identity; "
                "see [certificate hand-over](certificate-handover.md#key-vault)", ""),
        Setting("landingZone", "object", "{} (none)", "where the stack deploys under Azure Landing Zones; either archetype makes "
                "preview warn about what ALZ would still deny; see [landing zones](landing-zone.md)", "{archetype: corp}"),
        # identities[]
        Setting("identities[].name", "string", "required", "1-32 lowercase letters, digits, hyphens; names the resources and the "
                "outputs; unique", "reports"),
        Setting("identities[].displayName", "string", "exo-automation-<stack>-<name>", "the app registration's display name; unique "
                "across identities", ""),
        Setting("identities[].roles", "list of strings", f"{_roles([facts.DEFAULT_ROLE])}; [] with exchangeRbac",
                f"Entra roles by display name, any of {_ASSIGNABLE_ROLES}; Global Administrator only with `allowGlobalAdministrator`. "
                f"The default was {_roles([facts.PREVIOUS_DEFAULT_ROLE])} before: set `roles` to keep it, and preview says so while "
                "`roles` is unset. Exchange Administrator and Global Administrator are highly privileged for CISA ScubaGear: preview "
                "warns and the `scubaGearConfig` output names them ([ScubaGear](scubagear.md))", "[Exchange Recipient Administrator]"),
        Setting("identities[].securityCompliance", "boolean", "false", "`true` says the identity is for `Connect-IPPSSession` too: "
                f"refused unless a role allows it ({_COMPLIANCE_ROLES})", "true"),
        Setting(_CERT, "object", "a generated certificate", "one of two modes, whose settings do not mix: generated (the key is made "
                "by the program and kept in state) or host (`hostCertificates`; no key in state). `keyVault` needs at least one "
                "generated identity; see [identities and certificates](identities.md#identity-modes-and-what-is-in-state)", ""),
        Setting(f"{_CERT}.commonName", "string", "the display name", "generated mode: the subject CN", ""),
        Setting(f"{_CERT}.validityMonths", "integer",
                f"{stack.DEFAULT_VALIDITY_MONTHS}; with keyVault {stack.DEFAULT_VAULTED_VALIDITY_DAYS} days",
                f"generated mode: {_range(cert_ranges[0])} (a month is 730 hours). Unset with `keyVault`, the certificate "
                f"lives {stack.DEFAULT_VAULTED_VALIDITY_DAYS} days: Azure Landing Zones deny a vault secret valid over "
                f"{facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS} days, hosts read the renewed one on their next run, and the stack needs an "
                f"`up` at least every `renewBeforeDays` (default {stack.DEFAULT_VAULTED_RENEW_BEFORE_DAYS}) days "
                f"([landing zones](landing-zone.md)); it was {stack.DEFAULT_VALIDITY_MONTHS} months before, and until "
                f"{(facts.DEFAULT_VAULTED_VALIDITY_CHANGED_ON + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS)).isoformat()} "
                "preview says so while it is unset. A tenant whose app management policy limits certificate lifetime (ScubaGear "
                "MS.AAD.5.7v1: 365 days) refuses a longer one at `up`, not at preview: keep it at or below the tenant's maximum", "6"),
        Setting(f"{_CERT}.renewBeforeDays", "integer", f"{stack.DEFAULT_RENEW_BEFORE_DAYS}; {stack.DEFAULT_VAULTED_RENEW_BEFORE_DAYS} "
                "with keyVault and validityMonths unset", f"generated mode: {_range(cert_ranges[1])} and at most half the validity",
                "14"),
        Setting(f"{_CERT}.rsaBits", "integer", str(stack.DEFAULT_RSA_BITS), "generated mode: 2048, 3072 or 4096", "3072"),
        Setting(f"{_CERT}.generation", "integer", "1", f"generated mode, {_range(stack.GENERATION_RANGE)}: bump to issue a new key and "
                "certificate (planned rotation)", "2"),
        Setting(f"{_CERT}.keepPreviousGeneration", "boolean", "false", "generated mode: keep the previous generation's credential next "
                "to the new one", "true"),
        Setting(f"{_CERT}.hostCertificates", "list of strings", "none", "host mode: paths, relative to Pulumi.yaml and inside the "
                "project, of public certificates made on the hosts by `scripts/windows/New-ExoHostCertificate.ps1` (PEM or DER, one "
                "per file, RSA ≥ 2048, not a CA, not expired, no private key material); each becomes its own key credential with the "
                "certificate's dates; list the next one beside the old one to rotate",
                "[certificates/prod/tasks-exo01-20261130.crt]"),
        Setting(f"{_CERT}.warnBeforeDays", "integer", str(host_certificate.DEFAULT_WARN_BEFORE_DAYS), "host mode only, "
                f"{_range(host_certificate.WARN_BEFORE_DAYS_RANGE)}: preview and up warn this many days before the newest listed "
                "certificate ends", "45"),
        *_exchange_rbac("identities[].exchangeRbac", "Exchange RBAC through a role group the `Sync-ExchangeRbac` runbook keeps; needs "
                        "`automation` with Exchange Administrator ([Exchange RBAC](exchange-rbac.md))"),
        # automation
        Setting("automation.enabled", "boolean", "true when the object is given", "`false` turns it off", "true"),
        Setting("automation.location", "string", "required", "an Azure region name", "westeurope"),
        Setting("automation.resourceGroupName", "string", "rg-exo-automation-<stack>", "1-90 letters, digits, `_`, `-`, `.`, not ending "
                "in `.` (no parentheses: Automation refuses them). A default built from the stack name is used as it is when Azure "
                "accepts it, otherwise normalised and suffixed with a hash of the stack name", ""),
        Setting("automation.createResourceGroup", "boolean", "true", "`false` uses an existing group (the bootstrap's)", "false"),
        Setting("automation.accountName", "string", "aa-exo-automation-<stack>", "6-50 letters, digits, hyphens; a letter first, a "
                "letter or digit last; the default is normalised like the group's", ""),
        Setting("automation.publicNetworkAccess", "boolean", "true (false with landingZone.archetype corp)", "the account's endpoints "
                "from public networks; `true` is refused in a corp landing zone", "false"),
        Setting("automation.tags", "map of strings", "{}", "`managed-by: exo-automation` is always added; the program's tags win over "
                "configured ones of the same name", "{environment: dev}"),
        Setting("automation.runtime", "string", facts.DEFAULT_AUTOMATION_RUNTIME, _runtime_rule(), "PowerShell-7.6"),
        Setting("automation.exchangeModuleVersion", "string", module_version_defaults(), "ExchangeOnlineManagement 3.0.0+ (for "
                "`-ManagedIdentity`) that runs on the runtime: 3.5.1-3.9.2 need 7.4, 3.10+ need 7.6, Windows PowerShell 5.1 runs "
                "every 3.x; an incompatible pair is refused with the versions that would work", "3.10.1"),
        Setting("automation.roles", "list of strings", _roles(facts.DEFAULT_MANAGED_IDENTITY_ROLES), "the managed identity's Entra roles, "
                "as for identities; the default is the least set the shipped runbooks accept (it was "
                f"{_roles([facts.PREVIOUS_DEFAULT_ROLE])} before: set `roles` to keep that). Must cover the roles every runbook "
                "declares in its `# exo-automation:roles` line, else one error naming the runbook and the missing role; the Exchange "
                "RBAC reconciler needs Exchange Administrator", "[Exchange Administrator]"),
        Setting("automation.storageAccountName", "string", "stexo + a hash of tenant, stack and account", "3-24 lowercase letters and "
                "digits, globally unique", ""),
        Setting("automation.hybridWorkerGroup", "string", "none", "declares the group (1-128 letters, digits, `.`, `-`, `_`); only "
                f"with {hybrid_runtimes}: runtime environments cannot run on hybrid workers", "exo-hybrid"),
        Setting("automation.runbooks", "list of objects", "[]", "the runbooks to publish; see [runbooks](runbooks.md)", ""),
        Setting("automation.runbooks[].name", "string", "required", "a letter, then up to 62 letters, digits, `-`, `_`; unique",
                "ForwardingAudit"),
        Setting("automation.runbooks[].file", "string", "required", "a `.ps1` under `runbooks/`; it must parse, declare a mandatory "
                "`-Organization` and carry a `# exo-automation:roles` line naming supported roles that `roles` covers",
                "runbooks/Invoke-ForwardingAudit.ps1"),
        Setting("automation.runbooks[].description", "string", "none", "the runbook's description in Azure", ""),
        Setting("automation.runbooks[].parameters", "map", "{}", "only parameters the runbook declares; strings, numbers, true/false (job "
                f"parameters are strings); `{automation.ORGANIZATION_PARAMETER}`, `ExchangeEnvironmentName`, "
                f"`{automation.PARTITION_COUNT_PARAMETER}` and `{automation.PARTITION_INDEX_PARAMETER}` are set by the program; every "
                "mandatory one must be given", "{Remediate: false, OutputFormat: JsonLines}"),
        Setting("automation.runbooks[].partitions", "integer", "1", f"{_range(automation.PARTITIONS_RANGE)} jobs per scheduled run: job "
                f"*i* of *N* gets `{automation.PARTITION_COUNT_PARAMETER} N`, `{automation.PARTITION_INDEX_PARAMETER} i` on its own "
                "schedule (Azure links a runbook to a schedule only once), starts spread over 30 minutes; needs a schedule and a "
                "runbook that declares both parameters; not with an `Identity` parameter ([scale](runbooks.md#scale))", "7"),
        *_schedule("automation.runbooks[].schedule", "none (published only)", "when the runbook runs"),
        Setting("automation.runbooks[].hybridWorker", "boolean", "false", "the scheduled job runs on `hybridWorkerGroup`", "true"),
        Setting("automation.runbooks[].hybridIdentity", "string", "none", "required with `hybridWorker`: the identity (of `identities`) "
                f"whose certificate the job signs in with, passed as `-{automation.CERTIFICATE_PARAMETER}` (current, previous) and "
                f"`-{automation.APP_ID_PARAMETER}`; its roles must cover the runbook's roles line "
                "([hybrid workers](runbooks.md#hybrid-workers))", "tasks"),
        *_exchange_rbac("automation.exchangeRbac", "the managed identity's own Exchange RBAC, as on an identity (an addition: it keeps "
                        "`roles`)"),
        Setting("automation.exchangeRbacSync", "object", "added when any exchangeRbac is declared", "the `Sync-ExchangeRbac` runbook "
                "the program adds when any `exchangeRbac` is declared or this object is given; `roles` must hold Exchange "
                "Administrator. Given without any `exchangeRbac` it publishes an empty state, which removes what the reconciler "
                "created", ""),
        *_schedule("automation.exchangeRbacSync.schedule", "hourly at :15 UTC", "as a runbook's: a full run when the state changed, "
                   "else once a day"),
        Setting("automation.exchangeRbacSync.dryRun", "boolean", "false", "`true` only reports the plan and drift", "true"),
        Setting("automation.exchangeRbacSync.formerOwners", "list of strings", "none", "owner prefixes `exoa-<6 hex>-` of this stack's "
                "Exchange objects under an earlier stack or account name, taken over or removed "
                "([ownership](exchange-rbac.md#ownership))", ""),
        Setting("automation.monitoring", "object", "none (off)", "job logs to Log Analytics, alerts to an action group, saved functions "
                "and a workbook ([monitoring](monitoring.md))", ""),
        Setting("automation.monitoring.enabled", "boolean", "true when the object is given", "`false` turns it off", ""),
        Setting("automation.monitoring.emails", "list of strings", "required", "at least one address that receives the alerts",
                "[exchange-admins@contoso.com]"),
        Setting("automation.monitoring.webhookUrl", "string", "none", "an https URL the action group also calls", ""),
        Setting("automation.monitoring.workspaceId", "string", "none (the stack creates one)", "an existing "
                "Microsoft.OperationalInsights/workspaces id; then `workspaceName` and `retentionDays` do not apply", ""),
        Setting("automation.monitoring.workspaceName", "string", "log-exo-automation-<stack>", "the workspace the stack creates", ""),
        Setting("automation.monitoring.retentionDays", "integer", str(monitoring.DEFAULT_RETENTION_DAYS),
                f"{_range(monitoring.RETENTION_RANGE)}, for the workspace the stack creates", "90"),
        Setting("automation.monitoring.diagnosticSetting", "boolean", "true", "`false` when another setting (for example the landing "
                "zone's Deploy-Diagnostics-AA) already sends JobLogs and JobStreams to `workspaceId`", "false"),
        Setting("automation.monitoring.missingRunGraceMinutes", "integer", f"per schedule, at most {DEFAULT_GRACE_MINUTES}",
                f"{_range(GRACE_RANGE)}; must be shorter than "
                "every schedule's interval", "60"),
        Setting("automation.monitoring.certificateWarningDays", "integer", str(monitoring.DEFAULT_CERTIFICATE_WARNING_DAYS),
                f"{_range(monitoring.CERTIFICATE_WARNING_RANGE)}: alert this many days before a certificate ends; preview warns "
                "when it is more than a generated certificate's `renewBeforeDays` (the alert would fire before `up` can renew)", "30"),
        # keyVault
        Setting("keyVault.enabled", "boolean", "required when given", "`true` declares the vault, `false` keeps the settings without it",
                "true"),
        Setting("keyVault.name", "string", "required", "3-24 letters, digits and hyphens, a letter first, a letter or digit last, no "
                "`--`; globally unique (a DNS name)", "kv-exo-contoso"),
        Setting("keyVault.resourceGroupName", "string", "required", "as `automation.resourceGroupName`", ""),
        Setting("keyVault.createResourceGroup", "boolean", "false", "`true` creates the group (then `location` is required)", ""),
        Setting("keyVault.location", "string", "none", "required when creating the group", "westeurope"),
        Setting("keyVault.readers", "list", "required", "at least one principal granted Key Vault Secrets User on each secret: an object "
                "id, which means a service principal such as a managed identity, or `{objectId, type}`", ""),
        Setting("keyVault.readers[].objectId", "string", "required", "the principal's object id (GUID)", ""),
        Setting("keyVault.readers[].type", "string", "required",
                f"in the object form, one of {', '.join(key_vault.PRINCIPAL_TYPES)}", "Group"),
        Setting("keyVault.publicNetworkAccess", "boolean", "true (false with landingZone.archetype corp)", "the vault from public "
                "networks", ""),
        Setting("keyVault.softDeleteRetentionDays", "integer", str(key_vault.DEFAULT_SOFT_DELETE_RETENTION_DAYS),
                _range(key_vault.SOFT_DELETE_RETENTION_RANGE), ""),
        Setting("keyVault.tags", "map of strings", "{}", "on the vault and its secrets (at most 15 tags in all); the program's tags win",
                ""),
        # landingZone
        Setting("landingZone.archetype", "string", "required when given", f"{' or '.join(landing_zone.ARCHETYPES)}; corp turns "
                "`publicNetworkAccess` off on the Automation account and the vault (a configured true there is refused)", "corp"),
        Setting("landingZone.privateEndpoints", "object", "none", "corp only: private endpoints for the account (Webhook, "
                "DSCAndHybridWorker) and the vault; without it the network team brings them", ""),
        Setting("landingZone.privateEndpoints.subnetId", "string", "required", "a subnet's resource id", ""),
        Setting("landingZone.privateEndpoints.location", "string", "the Automation account's region", "the virtual network's region",
                ""),
    ]  # fmt: skip
    return tuple(rows)


# Where each parser lists the fields it accepts (and rejects any other with reject_unknown_keys): the schema's object paths.
def parser_fields() -> dict[str, tuple[str, ...]]:
    from settings import exchange_rbac

    rbac = {"": exchange_rbac._KEYS, ".customRole": exchange_rbac._CUSTOM_ROLE_KEYS, ".recipientScope": exchange_rbac._SCOPE_KEYS}
    fields: dict[str, tuple[str, ...]] = {
        "": stack.CONFIG_KEYS,
        "identities[]": stack._IDENTITY_KEYS,
        _CERT: stack._CERTIFICATE_KEYS,
        "automation": automation._AUTOMATION_KEYS,
        "automation.runbooks[]": automation._RUNBOOK_KEYS,
        "automation.runbooks[].schedule": automation._SCHEDULE_KEYS,
        "automation.exchangeRbacSync": automation._RBAC_SYNC_KEYS,
        "automation.exchangeRbacSync.schedule": automation._SCHEDULE_KEYS,
        "automation.monitoring": monitoring._KEYS,
        "keyVault": key_vault._FIELDS,
        "keyVault.readers[]": key_vault._READER_FIELDS,
        "landingZone": landing_zone._FIELDS,
        "landingZone.privateEndpoints": landing_zone._ENDPOINT_FIELDS,
    }
    for owner in ("identities[].exchangeRbac", "automation.exchangeRbac"):
        fields.update({owner + suffix: keys for suffix, keys in rbac.items()})
    return fields
