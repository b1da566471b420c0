"""Stack settings: the raw config strings parsed and validated once, into typed values, before any resource exists.

`__main__.py` reads the config and hands the raw strings here; nothing below touches `pulumi.Config`. Every problem is reported as one
`ConfigError` that names the full config key (for example `exo-automation:identities[1].certificate.rsaBits`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components import facts
from components.automation_settings import AutomationSettings, RunbookSettings, parse_automation, reconciler_runbook
from components.config_values import (
    PROJECT,
    ConfigError,
    bounded_int,
    expect,
    key_of,
    optional,
    parse_bool,
    parse_json,
    parse_roles,
    reject_duplicates,
    reject_unknown_keys,
)
from components.exchange_rbac_settings import CONFIG_KEY as EXCHANGE_RBAC_KEY
from components.exchange_rbac_settings import MANAGED_IDENTITY_PRINCIPAL, ExchangeRbacSettings, parse_exchange_rbac
from components.vault_settings import CONFIG_KEY as KEY_VAULT_KEY
from components.vault_settings import CONFIG_KEY_DESCRIPTION as KEY_VAULT_DESCRIPTION
from components.vault_settings import KeyVaultSettings, parse_key_vault_settings

# Bounds that keep certificates useful and the renewal window meaningful.
VALIDITY_MONTHS_RANGE = (1, 24)
RENEW_BEFORE_DAYS_RANGE = (7, 180)
RSA_KEY_SIZES = (2048, 3072, 4096)
HOURS_PER_MONTH = 730  # 365 days / 12, so that 12 months is exactly 8,760 hours

DEFAULT_IDENTITY_NAME = "exo"
DEFAULT_VALIDITY_MONTHS = 12
DEFAULT_RENEW_BEFORE_DAYS = 30
DEFAULT_RSA_BITS = 2048

_NAME_PATTERN = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
_DISPLAY_NAME_MAX = 120  # Entra's limit for an application's displayName
_CN_MAX = 64  # X.520 upper bound for a common name


@dataclass(frozen=True)
class CertificateSettings:
    """The self-signed certificate an app identity authenticates with."""

    common_name: str
    validity_months: int
    renew_before_days: int
    rsa_bits: int
    generation: int
    keep_previous_generation: bool

    @property
    def validity_period_hours(self) -> int:
        return self.validity_months * HOURS_PER_MONTH

    @property
    def early_renewal_hours(self) -> int:
        return self.renew_before_days * 24


@dataclass(frozen=True)
class IdentitySettings:
    """One Entra app registration that runs Exchange Online PowerShell app-only."""

    name: str
    display_name: str
    roles: tuple[facts.ExchangeRole, ...]
    security_compliance: bool
    certificate: CertificateSettings
    exchange_rbac: ExchangeRbacSettings | None = None
    """Exchange management roles (and scope) held through a role group the reconciler runbook keeps; None: Entra roles only."""

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(role.display_name for role in self.roles)


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs from config, validated."""

    identities: tuple[IdentitySettings, ...]
    organization: str | None
    """Override of the tenant's initial domain; None means look it up."""
    cloud: facts.CloudEnvironment
    allow_global_administrator: bool
    additional_owners: tuple[str, ...]
    """Object ids that co-own every app registration besides the deploying principal."""
    automation: AutomationSettings | None = None
    """The Azure Automation account with a managed identity; None when not enabled."""
    key_vault: KeyVaultSettings | None = None
    """The Key Vault that hands certificates to hosts with a managed identity; None when not enabled."""
    rbac_reconciler: RunbookSettings | None = None
    """Sync-ExchangeRbac.ps1 with its schedule, when any principal declares exchangeRbac; None otherwise."""

    @property
    def uses_exchange_rbac(self) -> bool:
        return self.rbac_reconciler is not None


# The config keys of this project, with what each holds. Pulumi.yaml declares the same keys; a test keeps the two in step.
CONFIG_KEYS = {
    "identities": "list of app identities (objects); the default is one identity named 'exo' with Exchange Administrator",
    "organization": "the tenant's initial *.onmicrosoft.com domain; looked up when unset",
    "allowGlobalAdministrator": "allow the Global Administrator role on an identity",
    "additionalOwners": "object ids that co-own every app registration",
    "automation": "an Azure Automation account whose managed identity runs the repo's runbooks on schedules; off unless enabled",
    KEY_VAULT_KEY: KEY_VAULT_DESCRIPTION,
}

_IDENTITY_KEYS = ("name", "displayName", "roles", "securityCompliance", "certificate", EXCHANGE_RBAC_KEY)
_CERTIFICATE_KEYS = ("commonName", "validityMonths", "renewBeforeDays", "rsaBits", "generation", "keepPreviousGeneration")
GENERATION_RANGE = (1, 999)


def parse_organization(key: str, value: str, cloud: facts.CloudEnvironment) -> str:
    """Accept only a tenant's initial domain: Connect-ExchangeOnline rejects a GUID and misbehaves with vanity domains."""
    text = value.strip().lower()
    try:
        uuid.UUID(text)
    except ValueError:
        pass
    else:
        raise ConfigError(
            key,
            f"{value!r} is a tenant id; Connect-ExchangeOnline -Organization needs the initial domain "
            f"(<tenant>{cloud.initial_domain_suffixes[0]}), and ExchangeOnlineManagement 3.9+ rejects a GUID",
        )
    if not any(text.endswith(suffix) and len(text) > len(suffix) for suffix in cloud.initial_domain_suffixes):
        raise ConfigError(
            key,
            f"{value!r} is not an initial domain; use the tenant's <name>{' or <name>'.join(cloud.initial_domain_suffixes)} "
            "domain (a custom domain gives permission errors in Connect-ExchangeOnline), or unset it to look it up",
        )
    label = text[: -len(next(s for s in cloud.initial_domain_suffixes if text.endswith(s)))]
    if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", label):
        raise ConfigError(key, f"{value!r} has an invalid tenant name {label!r}")
    return text


def parse_cloud(key: str, value: str | None) -> facts.CloudEnvironment:
    name = (value or facts.DEFAULT_CLOUD_ENVIRONMENT).strip().lower()
    name = facts.CLOUD_ENVIRONMENT_ALIASES.get(name, name)
    if name not in facts.CLOUD_ENVIRONMENTS:
        raise ConfigError(key, f"unknown cloud {value!r}; one of {', '.join(facts.CLOUD_ENVIRONMENTS)}")
    return facts.CLOUD_ENVIRONMENTS[name]


def _parse_certificate(key: str, value: Any, default_common_name: str) -> CertificateSettings:
    mapping = expect(key, value, dict, "an object")
    reject_unknown_keys(key, mapping, _CERTIFICATE_KEYS)

    def common_name(raw: Any) -> str:
        text = expect(f"{key}.commonName", raw, str, "a string").strip()
        if not text or len(text) > _CN_MAX or any(c in text for c in ',+="\\<>;#\n\r'):
            raise ConfigError(f"{key}.commonName", f'must be 1 to {_CN_MAX} characters without , + = " \\ < > ; # (got {raw!r})')
        return text

    validity = optional(
        mapping, "validityMonths", DEFAULT_VALIDITY_MONTHS, lambda v: bounded_int(f"{key}.validityMonths", v, *VALIDITY_MONTHS_RANGE)
    )
    renew = optional(
        mapping,
        "renewBeforeDays",
        DEFAULT_RENEW_BEFORE_DAYS,
        lambda v: bounded_int(f"{key}.renewBeforeDays", v, *RENEW_BEFORE_DAYS_RANGE),
    )
    # The renewal window must leave most of the lifetime unrenewed, or every `up` would reissue the certificate.
    validity_days = validity * HOURS_PER_MONTH // 24
    if renew * 2 > validity_days:
        raise ConfigError(
            f"{key}.renewBeforeDays",
            f"{renew} days is more than half of the {validity}-month ({validity_days}-day) validity; "
            f"use at most {validity_days // 2} or a longer validityMonths",
        )

    def rsa_bits(raw: Any) -> int:
        bits = expect(f"{key}.rsaBits", raw, int, "a whole number")
        if bits not in RSA_KEY_SIZES:
            raise ConfigError(f"{key}.rsaBits", f"must be one of {', '.join(map(str, RSA_KEY_SIZES))}, got {bits}")
        return bits

    generation = optional(mapping, "generation", 1, lambda v: bounded_int(f"{key}.generation", v, *GENERATION_RANGE))
    keep_previous = optional(
        mapping, "keepPreviousGeneration", False, lambda v: expect(f"{key}.keepPreviousGeneration", v, bool, "true or false")
    )
    if keep_previous and generation == 1:
        raise ConfigError(
            f"{key}.keepPreviousGeneration", "generation 1 has no previous generation; bump generation to 2 to rotate with an overlap"
        )
    return CertificateSettings(
        common_name=optional(mapping, "commonName", default_common_name, common_name),
        validity_months=validity,
        renew_before_days=renew,
        rsa_bits=optional(mapping, "rsaBits", DEFAULT_RSA_BITS, rsa_bits),
        generation=generation,
        keep_previous_generation=keep_previous,
    )


def _parse_identity(key: str, value: Any, stack: str, allow_global_administrator: bool) -> IdentitySettings:
    mapping = expect(key, value, dict, "an object with at least a name")
    reject_unknown_keys(key, mapping, _IDENTITY_KEYS)
    if "name" not in mapping:
        raise ConfigError(f"{key}.name", "is required (lowercase letters, digits and hyphens)")
    name = expect(f"{key}.name", mapping["name"], str, "a string")
    if not _NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{key}.name", f"{name!r} must be 1 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending in '-'"
        )

    def display_name(raw: Any) -> str:
        text = expect(f"{key}.displayName", raw, str, "a string").strip()
        if not text or len(text) > _DISPLAY_NAME_MAX:
            raise ConfigError(f"{key}.displayName", f"must be 1 to {_DISPLAY_NAME_MAX} characters")
        return text

    shown = optional(mapping, "displayName", f"{PROJECT}-{stack}-{name}", display_name)
    exchange_rbac = optional(mapping, EXCHANGE_RBAC_KEY, None, lambda v: parse_exchange_rbac(f"{key}.{EXCHANGE_RBAC_KEY}", v))
    # With exchangeRbac, Entra roles are an optional addition (none by default: no directory role assignment at all).
    roles = optional(
        mapping,
        "roles",
        () if exchange_rbac is not None else (facts.ROLES[facts.DEFAULT_ROLE],),
        lambda v: () if exchange_rbac is not None and v == [] else parse_roles(f"{key}.roles", v, allow_global_administrator),
    )
    security_compliance = optional(
        mapping, "securityCompliance", False, lambda v: expect(f"{key}.securityCompliance", v, bool, "true or false")
    )
    if security_compliance and not any(role.security_compliance for role in roles):
        usable = [r.display_name for r in facts.ROLES.values() if r.security_compliance]
        raise ConfigError(
            f"{key}.securityCompliance",
            f"Security & Compliance PowerShell (Connect-IPPSSession) does not accept {', '.join(r.display_name for r in roles)}; "
            f"add one of {', '.join(usable)} to roles, or set securityCompliance to false",
        )
    raw_certificate = mapping.get("certificate")
    certificate = _parse_certificate(f"{key}.certificate", {} if raw_certificate is None else raw_certificate, shown[:_CN_MAX])
    return IdentitySettings(name, shown, roles, security_compliance, certificate, exchange_rbac)


def _parse_owners(key: str, raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = expect(key, parse_json(key, raw), list, "a list of object ids")
    owners: list[str] = []
    for index, item in enumerate(items):
        text = expect(f"{key}[{index}]", item, str, "an object id (GUID)")
        try:
            owners.append(str(uuid.UUID(text)))
        except ValueError:
            raise ConfigError(f"{key}[{index}]", f"{text!r} is not an object id (GUID)") from None
    if len(set(owners)) != len(owners):
        raise ConfigError(key, "lists an owner twice")
    return tuple(owners)


def _rbac_reconciler(
    identities: tuple[IdentitySettings, ...], automation: AutomationSettings | None, project_dir: Path
) -> RunbookSettings | None:
    """Exchange RBAC is applied by a runbook on the Automation account: it must exist and hold a role that can manage RBAC."""
    declared = [i for i, identity in enumerate(identities) if identity.exchange_rbac is not None]
    # exchangeRbacSync alone keeps the reconciler with an empty desired state: that is how owned Exchange objects are removed.
    if not declared and (automation is None or (automation.exchange_rbac is None and automation.rbac_sync is None)):
        return None
    if automation is not None and automation.exchange_rbac is not None:
        # The managed identity is the principal named "automation" in the desired state; an identity may not take that name too.
        clash = next((i for i, identity in enumerate(identities) if identity.name == MANAGED_IDENTITY_PRINCIPAL), None)
        if clash is not None:
            raise ConfigError(
                f"{key_of('identities')}[{clash}].name",
                f"{MANAGED_IDENTITY_PRINCIPAL!r} names the Automation managed identity in Exchange RBAC; rename this identity",
            )
    if automation is None:
        raise ConfigError(
            f"{key_of('identities')}[{declared[0]}].{EXCHANGE_RBAC_KEY}",
            f"needs {key_of('automation')}: the Automation account's managed identity runs the reconciler that applies Exchange RBAC",
        )
    if not any(role.display_name in facts.RBAC_RECONCILER_ROLES for role in automation.roles):
        raise ConfigError(
            f"{key_of('automation')}.roles",
            f"the managed identity runs the Exchange RBAC reconciler, which needs the Role Management role: add one of "
            f"{', '.join(facts.RBAC_RECONCILER_ROLES)} (held: {', '.join(automation.role_names)})",
        )
    return reconciler_runbook(f"{key_of('automation')}.exchangeRbacSync", automation, project_dir)


def parse_settings(
    config: Mapping[str, str | None], stack: str, azuread_environment: str | None, project_dir: Path | None = None
) -> StackSettings:
    """Validate the project's raw config (bare key -> string as Pulumi hands it over) into settings.

    `azuread_environment` is the azuread provider's cloud (its `environment` setting or ARM_ENVIRONMENT); `project_dir` is where
    runbook files are read from (the folder of Pulumi.yaml).
    """
    cloud = parse_cloud("azuread:environment", azuread_environment)
    allow_global_administrator = parse_bool(key_of("allowGlobalAdministrator"), config.get("allowGlobalAdministrator"), default=False)

    raw_identities = config.get("identities")
    identities_key = key_of("identities")
    entries = (
        [{"name": DEFAULT_IDENTITY_NAME}]
        if raw_identities is None
        else expect(identities_key, parse_json(identities_key, raw_identities), list, "a list of identity objects")
    )
    if not entries:
        raise ConfigError(identities_key, "must list at least one identity (remove the key for the default one)")
    identities = tuple(
        _parse_identity(f"{identities_key}[{index}]", entry, stack, allow_global_administrator) for index, entry in enumerate(entries)
    )
    reject_duplicates(identities_key, "name", [identity.name for identity in identities])
    reject_duplicates(identities_key, "displayName", [identity.display_name for identity in identities])

    automation = parse_automation(
        key_of("automation"),
        None if config.get("automation") in (None, "") else parse_json(key_of("automation"), str(config.get("automation"))),
        stack=stack,
        project_dir=project_dir or Path(__file__).resolve().parent.parent,
        allow_global_administrator=allow_global_administrator,
    )
    rbac_reconciler = _rbac_reconciler(identities, automation, project_dir or Path(__file__).resolve().parent.parent)

    raw_organization = config.get("organization")
    organization = parse_organization(key_of("organization"), raw_organization, cloud) if raw_organization not in (None, "") else None
    return StackSettings(
        identities=identities,
        organization=organization,
        cloud=cloud,
        allow_global_administrator=allow_global_administrator,
        additional_owners=_parse_owners(key_of("additionalOwners"), config.get("additionalOwners")),
        automation=automation,
        rbac_reconciler=rbac_reconciler,
        key_vault=parse_key_vault_settings(
            None if config.get(KEY_VAULT_KEY) in (None, "") else parse_json(key_of(KEY_VAULT_KEY), str(config.get(KEY_VAULT_KEY))),
            key_of(KEY_VAULT_KEY),
            stack,
        ),
    )
