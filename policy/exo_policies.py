"""Rules of the exo-automation policy pack, as pure functions over (resource type, inputs).

CrossGuard hands a policy the resource's inputs with the engine's camelCase names (e.g. `rsaBits`,
`validityPeriodHours`), exactly what `pulumi.runtime.Mocks.new_resource` receives as `args.inputs`. Each rule
here takes such a mapping and returns violation messages, so the same code runs in the pack (`__main__.py`),
in unit tests with crafted resources, and over every resource a whole program registers under mocks:

    import exo_policies                      # with policy/ and the repository root on sys.path, as policy/__main__.py runs
    violations = exo_policies.evaluate([exo_policies.ResourceRecord(args.typ, args.name, args.inputs), ...])

This module is stdlib-only on purpose: it runs in the policy pack's own virtualenv (pulumi-policy pins an
older protobuf than the program's SDKs) and in the program's test virtualenv alike.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from exo import facts as program_facts

REPO_ROOT = Path(__file__).resolve().parent.parent
FACTS_PATH = REPO_ROOT / "components" / "facts.py"

# Resource type tokens as the engine reports them (checked against the class registrations in
# pulumi_azuread 6.11.1, pulumi_azure_native 3.29.0, pulumi_tls 5.6.2).
AZUREAD_APPLICATION = "azuread:index/application:Application"
AZUREAD_APPLICATION_PASSWORD = "azuread:index/applicationPassword:ApplicationPassword"
AZUREAD_APPLICATION_CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
AZUREAD_SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
AZUREAD_SERVICE_PRINCIPAL_PASSWORD = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
AZUREAD_SERVICE_PRINCIPAL_CERTIFICATE = "azuread:index/servicePrincipalCertificate:ServicePrincipalCertificate"
AZUREAD_DIRECTORY_ROLE_ASSIGNMENT = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
TLS_SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"
TLS_LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert"
AUTOMATION_ACCOUNT = "azure-native:automation:AutomationAccount"
AUTOMATION_SCHEDULE = "azure-native:automation:Schedule"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"

MINIMUM_RSA_BITS = 2048
# pulumi-tls documents 2048 as the default of `rsaBits` when the input is left out.
TLS_DEFAULT_RSA_BITS = 2048
ACCEPTED_TLS_VERSIONS = frozenset({"TLS1_2", "TLS1_3"})

EnforcementName = Literal["advisory", "mandatory"]


@dataclass(frozen=True)
class Catalog:
    """The well-known ids the rules need, read from `exo/facts.py` (the one place they live)."""

    exchange_role_names_by_template_id: Mapping[str, str]
    global_administrator_template_id: str
    first_party_apps: Mapping[str, str]


def load_catalog(facts: ModuleType = program_facts) -> Catalog:
    """The catalog from the program's `exo/facts.py`, imported as the package `exo` (stdlib-only, so the pack's own virtualenv
    imports it too; `policy/__main__.py` puts the repository root on the path, as the tests' pytest configuration does)."""
    return _catalog_from_module(facts)


def _catalog_from_module(facts: ModuleType) -> Catalog:
    roles: Mapping[str, Any] = facts.ROLES
    global_admin_name: str = facts.GLOBAL_ADMINISTRATOR
    exchange_roles: dict[str, str] = {}
    for display_name, role in roles.items():
        if bool(role.exchange_online) or bool(role.security_compliance):
            exchange_roles[str(role.template_id).lower()] = str(display_name)
    first_party: Mapping[str, str] = facts.MICROSOFT_FIRST_PARTY_APP_IDS
    return Catalog(
        exchange_role_names_by_template_id=exchange_roles,
        global_administrator_template_id=str(roles[global_admin_name].template_id).lower(),
        first_party_apps={str(app_id).lower(): str(name) for app_id, name in first_party.items()},
    )


@dataclass(frozen=True)
class PolicySettings:
    """Configurable limits. CrossGuard config keys (camelCase) are named next to each field."""

    max_certificate_validity_days: int = 365
    """`maxValidityDays` of policy `certificate-validity-bounded`."""

    allow_global_administrator: bool = False
    """`allowGlobalAdministrator` of policy `exchange-app-only-directory-roles`."""

    schedule_minimum_lead_minutes: int = 5
    """`minimumLeadMinutes` of policy `schedule-start-in-future`; Azure wants >= 5 minutes at creation."""


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may consult besides the resource itself."""

    catalog: Catalog
    settings: PolicySettings
    now: datetime


RuleCheck = Callable[[str, Mapping[str, Any], RuleContext], list[str]]


@dataclass(frozen=True)
class Rule:
    """One policy: its CrossGuard name, what it says, which resource types it inspects, and its check."""

    name: str
    description: str
    resource_types: frozenset[str]
    check: RuleCheck
    enforcement: EnforcementName = "mandatory"
    config_properties: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResourceRecord:
    """A resource as the engine (or a mock monitor) sees it: type token, logical name, camelCase inputs."""

    type: str
    name: str
    inputs: Mapping[str, Any]


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: EnforcementName
    resource_type: str
    resource_name: str
    message: str


# ---------------------------------------------------------------------------------------------- helpers


def _parse_rfc3339(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A start time without an offset is read as UTC; Azure would apply the schedule's timeZone instead.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# A key credential's start is the certificate's own notBefore when the credential does not set `startDate` (Entra then takes it
# from the certificate): judging it from the clock of whoever runs the pack would make the verdict depend on the day it runs.
# A minimal DER walk keeps this module stdlib-only (RFC 5280 section 4.1: Certificate -> TBSCertificate -> Validity).
_DER_SEQUENCE = 0x30
_DER_EXPLICIT_VERSION = 0xA0
_DER_UTC_TIME = 0x17
_DER_GENERALIZED_TIME = 0x18


def _der_element(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at `offset`; ValueError when it does not fit."""
    if offset + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    end = start + length
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, start, end


def _der_time(tag: int, text: bytes) -> datetime:
    value = text.decode("ascii")
    if tag == _DER_UTC_TIME:  # YYMMDDHHMMSSZ; RFC 5280 4.1.2.5.1: YY >= 50 is 19YY
        year = int(value[:2])
        value = f"{1900 + year if year >= 50 else 2000 + year}{value[2:]}"
    elif tag != _DER_GENERALIZED_TIME:
        raise ValueError("not a Time")
    return datetime.strptime(value, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC)


def certificate_validity(der: bytes) -> tuple[datetime, datetime]:
    """(notBefore, notAfter) of a DER X.509 certificate; ValueError when `der` is not one."""
    tag, start, _ = _der_element(der, 0)
    if tag != _DER_SEQUENCE:
        raise ValueError("not a certificate")
    tag, position, _ = _der_element(der, start)  # tbsCertificate
    if tag != _DER_SEQUENCE:
        raise ValueError("not a certificate")
    tag, _, end = _der_element(der, position)
    if tag == _DER_EXPLICIT_VERSION:
        position = end
    for _skipped in ("serialNumber", "signature", "issuer"):
        _, _, position = _der_element(der, position)
    tag, position, _ = _der_element(der, position)  # validity
    if tag != _DER_SEQUENCE:
        raise ValueError("not a certificate")
    times: list[datetime] = []
    for _bound in ("notBefore", "notAfter"):
        tag, start, end = _der_element(der, position)
        times.append(_der_time(tag, der[start:end]))
        position = end
    return times[0], times[1]


def key_credential_certificate_der(value: Any, encoding: Any) -> bytes | None:
    """The DER certificate of an azuread key credential's `value` in its `encoding` (pem, the default; base64; hex), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    form = encoding if isinstance(encoding, str) and encoding else "pem"
    try:
        if form == "pem":
            match = re.search(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", value, re.DOTALL)
            return base64.b64decode("".join(match.group(1).split()), validate=True) if match else None
        if form == "base64":
            return base64.b64decode("".join(value.split()), validate=True)
        if form == "hex":
            return bytes.fromhex(value.strip())
    except (ValueError, binascii.Error):
        return None
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


# ---------------------------------------------------------------------------------------------- rules


def check_no_client_secrets(resource_type: str, inputs: Mapping[str, Any], _ctx: RuleContext) -> list[str]:
    if resource_type in (
        AZUREAD_APPLICATION_PASSWORD,
        AZUREAD_SERVICE_PRINCIPAL_PASSWORD,
    ):
        return [
            (
                "client secrets are not allowed: authenticate the app with a certificate (ApplicationCertificate) "
                "or use a managed identity; remove this password resource."
            )
        ]
    if resource_type == AZUREAD_APPLICATION and inputs.get("password"):
        return [
            (
                "client secrets are not allowed: remove the inline `password` block of this Application and "
                "authenticate with a certificate or a managed identity."
            )
        ]
    return []


def check_no_first_party_service_principal(resource_type: str, inputs: Mapping[str, Any], ctx: RuleContext) -> list[str]:
    client_id = inputs.get("clientId")
    if not isinstance(client_id, str):
        return []
    app_name = ctx.catalog.first_party_apps.get(client_id.lower())
    if app_name is None:
        return []
    return [
        (
            f"ServicePrincipal for Microsoft first-party app {app_name} ({client_id}) must not be a managed "
            "resource (destroy would delete it from the tenant); look it up with "
            "azuread.get_service_principal_output(client_id=...) instead."
        )
    ]


def check_directory_roles(resource_type: str, inputs: Mapping[str, Any], ctx: RuleContext) -> list[str]:
    messages: list[str] = []
    role_id = inputs.get("roleId")
    if isinstance(role_id, str):
        role_key = role_id.lower()
        if role_key == ctx.catalog.global_administrator_template_id:
            if not ctx.settings.allow_global_administrator:
                messages.append(
                    f"Global Administrator ({role_id}) is denied: pick the least-privileged Exchange role "
                    "(e.g. Exchange Administrator or Exchange Recipient Administrator), or set "
                    "`allowGlobalAdministrator: true` in this policy's config to accept it deliberately."
                )
        elif role_key not in ctx.catalog.exchange_role_names_by_template_id:
            supported = ", ".join(
                sorted(
                    name
                    for template_id, name in ctx.catalog.exchange_role_names_by_template_id.items()
                    if ctx.settings.allow_global_administrator or template_id != ctx.catalog.global_administrator_template_id
                )
            )
            messages.append(
                f"directory role {role_id} is not one that Exchange app-only authentication supports; "
                f"`roleId` must be the template id of one of: {supported}."
            )
    scope = inputs.get("directoryScopeId")
    if isinstance(scope, str) and scope not in ("", "/"):
        messages.append(
            f"directory role assignment is scoped to {scope!r}; Exchange app-only roles cannot be scoped, "
            "assign them tenant-wide (`directoryScopeId` '/' or unset) and narrow access with Exchange RBAC."
        )
    return messages


def check_rsa_key_size(resource_type: str, inputs: Mapping[str, Any], _ctx: RuleContext) -> list[str]:
    if inputs.get("algorithm") != "RSA":
        return []
    raw_bits = inputs.get("rsaBits")
    bits = TLS_DEFAULT_RSA_BITS if raw_bits is None else _as_int(raw_bits)
    if bits is None or bits < MINIMUM_RSA_BITS:
        return [f"RSA key size {raw_bits!r} is too small: set `rsaBits` to at least {MINIMUM_RSA_BITS}."]
    return []


def check_certificate_validity(resource_type: str, inputs: Mapping[str, Any], ctx: RuleContext) -> list[str]:
    max_days = ctx.settings.max_certificate_validity_days
    if resource_type in (TLS_SELF_SIGNED_CERT, TLS_LOCALLY_SIGNED_CERT):
        hours = _as_int(inputs.get("validityPeriodHours"))
        if hours is None or hours <= 0:
            return ["certificate validity is not set: `validityPeriodHours` must be a positive number of hours."]
        if hours > max_days * 24:
            return [
                (
                    f"certificate validity of {hours} hours exceeds the maximum of {max_days} days "
                    f"({max_days * 24} hours); lower `validityPeriodHours` or raise `maxValidityDays`."
                )
            ]
        return []
    # Entra key credentials (ApplicationCertificate / ServicePrincipalCertificate).
    end = _parse_rfc3339(inputs.get("endDate"))
    if end is None:
        return [
            (
                "application certificate has no valid `endDate`: set it (RFC3339) to the certificate's notAfter so "
                "Entra expires the credential with the certificate."
            )
        ]
    start = _parse_rfc3339(inputs.get("startDate"))
    if start is None:
        der = key_credential_certificate_der(inputs.get("value"), inputs.get("encoding"))
        try:
            start = certificate_validity(der)[0] if der is not None else None
        except ValueError:
            start = None
    if start is None:
        return [
            (
                "application certificate has no `startDate` and its `value` is not a certificate the pack can read: set "
                "`startDate` (RFC3339) to the certificate's notBefore."
            )
        ]
    if end - start > timedelta(days=max_days):
        return [
            (
                f"application certificate `endDate` {inputs.get('endDate')} is more than {max_days} days after "
                f"its start; keep credential lifetime within `maxValidityDays`."
            )
        ]
    return []


def check_automation_account(resource_type: str, inputs: Mapping[str, Any], _ctx: RuleContext) -> list[str]:
    messages: list[str] = []
    identity = inputs.get("identity")
    identity_type = identity.get("type") if isinstance(identity, Mapping) else None
    if not isinstance(identity_type, str) or "Assigned" not in identity_type:
        messages.append(
            "Automation account has no managed identity: set `identity.type` to 'SystemAssigned' "
            "(or 'UserAssigned') so runbooks connect with Connect-ExchangeOnline -ManagedIdentity."
        )
    if inputs.get("disableLocalAuth") is not True:
        messages.append("Automation account allows local (shared key) authentication: set `disableLocalAuth` to true.")
    return messages


def check_storage_account(resource_type: str, inputs: Mapping[str, Any], _ctx: RuleContext) -> list[str]:
    messages: list[str] = []
    if inputs.get("enableHttpsTrafficOnly") is not True:
        messages.append("storage account must be HTTPS-only: set `enableHttpsTrafficOnly` to true explicitly.")
    if inputs.get("minimumTlsVersion") not in ACCEPTED_TLS_VERSIONS:
        messages.append(
            f"storage account minimum TLS version is {inputs.get('minimumTlsVersion')!r}: set "
            "`minimumTlsVersion` to 'TLS1_2' (the service default is TLS 1.0)."
        )
    if inputs.get("allowBlobPublicAccess") is not False:
        messages.append("storage account must not allow public blob access: set `allowBlobPublicAccess` to false.")
    return messages


def check_schedule_start(resource_type: str, inputs: Mapping[str, Any], ctx: RuleContext) -> list[str]:
    start = _parse_rfc3339(inputs.get("startTime"))
    if start is None:
        return [f"schedule `startTime` {inputs.get('startTime')!r} is not an RFC3339 date-time."]
    earliest = ctx.now + timedelta(minutes=ctx.settings.schedule_minimum_lead_minutes)
    if start < earliest:
        return [
            (
                f"schedule `startTime` {inputs.get('startTime')} is in the past (or less than "
                f"{ctx.settings.schedule_minimum_lead_minutes} minutes ahead); Azure rejects it when the schedule "
                "is created or replaced. Move it to a future date-time."
            )
        ]
    return []


_DEFAULTS = PolicySettings()

RULES: Sequence[Rule] = (
    Rule(
        name="no-client-secrets",
        description="Applications and service principals authenticate with certificates, never client secrets.",
        resource_types=frozenset(
            {
                AZUREAD_APPLICATION,
                AZUREAD_APPLICATION_PASSWORD,
                AZUREAD_SERVICE_PRINCIPAL_PASSWORD,
            }
        ),
        check=check_no_client_secrets,
    ),
    Rule(
        name="no-first-party-service-principal",
        description="Microsoft first-party service principals (Exchange Online, Graph, ...) are looked up, not managed.",
        resource_types=frozenset({AZUREAD_SERVICE_PRINCIPAL}),
        check=check_no_first_party_service_principal,
    ),
    Rule(
        name="exchange-app-only-directory-roles",
        description="Directory roles are assigned only from the set Exchange app-only supports; no Global Administrator.",
        resource_types=frozenset({AZUREAD_DIRECTORY_ROLE_ASSIGNMENT}),
        check=check_directory_roles,
        config_properties={
            "allowGlobalAdministrator": {
                "type": "boolean",
                "default": _DEFAULTS.allow_global_administrator,
            }
        },
    ),
    Rule(
        name="rsa-key-minimum-size",
        description=f"RSA private keys are at least {MINIMUM_RSA_BITS} bits.",
        resource_types=frozenset({TLS_PRIVATE_KEY}),
        check=check_rsa_key_size,
    ),
    Rule(
        name="certificate-validity-bounded",
        description="Certificates and application key credentials have an end date within the configured maximum.",
        resource_types=frozenset(
            {
                TLS_SELF_SIGNED_CERT,
                TLS_LOCALLY_SIGNED_CERT,
                AZUREAD_APPLICATION_CERTIFICATE,
                AZUREAD_SERVICE_PRINCIPAL_CERTIFICATE,
            }
        ),
        check=check_certificate_validity,
        config_properties={
            "maxValidityDays": {
                "type": "integer",
                "minimum": 1,
                "default": _DEFAULTS.max_certificate_validity_days,
            }
        },
    ),
    Rule(
        name="automation-account-managed-identity",
        description="Automation accounts use a managed identity and have local authentication disabled.",
        resource_types=frozenset({AUTOMATION_ACCOUNT}),
        check=check_automation_account,
    ),
    Rule(
        name="storage-account-secure-transport",
        description="Storage accounts are HTTPS-only, TLS 1.2+, and allow no public blob access.",
        resource_types=frozenset({STORAGE_ACCOUNT}),
        check=check_storage_account,
    ),
    Rule(
        name="schedule-start-in-future",
        description="Automation schedules do not use a start time in the past.",
        resource_types=frozenset({AUTOMATION_SCHEDULE}),
        check=check_schedule_start,
        # Advisory: a policy sees every resource on every run, not only creations, so a schedule created
        # long ago would otherwise block every later deploy. See docs/policy.md.
        enforcement="advisory",
        config_properties={
            "minimumLeadMinutes": {
                "type": "integer",
                "minimum": 0,
                "default": _DEFAULTS.schedule_minimum_lead_minutes,
            }
        },
    ),
)

RULES_BY_NAME: Mapping[str, Rule] = {rule.name: rule for rule in RULES}


def settings_from_config(config: Mapping[str, Any], base: PolicySettings | None = None) -> PolicySettings:
    """Overlay one policy's CrossGuard config (camelCase keys) onto `base`."""
    settings = base or PolicySettings()
    max_days = _as_int(config.get("maxValidityDays"))
    lead = _as_int(config.get("minimumLeadMinutes"))
    allow_ga = config.get("allowGlobalAdministrator")
    return PolicySettings(
        max_certificate_validity_days=max_days if max_days is not None else settings.max_certificate_validity_days,
        allow_global_administrator=allow_ga if isinstance(allow_ga, bool) else settings.allow_global_administrator,
        schedule_minimum_lead_minutes=lead if lead is not None else settings.schedule_minimum_lead_minutes,
    )


def check_resource(rule: Rule, resource_type: str, inputs: Mapping[str, Any], ctx: RuleContext) -> list[str]:
    """Messages of one rule for one resource; empty when the rule does not apply or passes."""
    if resource_type not in rule.resource_types:
        return []
    return rule.check(resource_type, inputs, ctx)


def evaluate(
    resources: Iterable[ResourceRecord],
    *,
    settings: PolicySettings | None = None,
    now: datetime | None = None,
    catalog: Catalog | None = None,
    rules: Sequence[Rule] = RULES,
) -> list[Violation]:
    """Run every rule over every resource; the list is empty when all pass."""
    ctx = RuleContext(
        catalog=catalog or load_catalog(),
        settings=settings or PolicySettings(),
        now=now or datetime.now(UTC),
    )
    violations: list[Violation] = []
    for resource in resources:
        for rule in rules:
            for message in check_resource(rule, resource.type, resource.inputs, ctx):
                violations.append(
                    Violation(
                        rule.name,
                        rule.enforcement,
                        resource.type,
                        resource.name,
                        message,
                    )
                )
    return violations
