"""Stack settings: the raw config strings parsed and validated once, into typed values, before any resource exists.

`__main__.py` reads the config and hands the raw strings here; nothing below touches `pulumi.Config`. Every problem is reported as one
`ConfigError` that names the full config key (for example `exo-automation:identities[1].certificate.rsaBits`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pulumi

from components import facts

PROJECT = "exo-automation"

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


class ConfigError(pulumi.RunError):
    """A config value is wrong. The message names the key; Pulumi prints it without a stack trace."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config {key}: {problem}")


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


# The config keys of this project, with what each holds. Pulumi.yaml declares the same keys; a test keeps the two in step.
CONFIG_KEYS = {
    "identities": "list of app identities (objects); the default is one identity named 'exo' with Exchange Administrator",
    "organization": "the tenant's initial *.onmicrosoft.com domain; looked up when unset",
    "allowGlobalAdministrator": "allow the Global Administrator role on an identity",
    "additionalOwners": "object ids that co-own every app registration",
}

_IDENTITY_KEYS = ("name", "displayName", "roles", "securityCompliance", "certificate")
_CERTIFICATE_KEYS = ("commonName", "validityMonths", "renewBeforeDays", "rsaBits", "generation", "keepPreviousGeneration")
GENERATION_RANGE = (1, 999)

T = TypeVar("T")


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


def _parse_json(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(key, f"is not valid JSON/YAML structured config ({error.msg} at position {error.pos})") from None


def _parse_bool(key: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(key, f"must be true or false, got {raw!r}")


def _expect(key: str, value: Any, kind: type[T], description: str) -> T:
    # bool is an int in Python; a number is never accepted where a flag is meant, nor the other way round.
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(key, f"must be {description}, got {json.dumps(value)}")


def _reject_unknown_keys(key: str, value: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(key, f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(known)}")


def _bounded_int(key: str, value: Any, low: int, high: int) -> int:
    number = _expect(key, value, int, f"a whole number from {low} to {high}")
    if not low <= number <= high:
        raise ConfigError(key, f"must be from {low} to {high}, got {number}")
    return number


def _optional(mapping: Mapping[str, Any], name: str, default: T, parse: Callable[[Any], T]) -> T:
    return parse(mapping[name]) if name in mapping and mapping[name] is not None else default


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


def _parse_roles(key: str, value: Any, allow_global_administrator: bool) -> tuple[facts.ExchangeRole, ...]:
    names = _expect(key, value, list, "a list of role names")
    if not names:
        raise ConfigError(key, f"must name at least one role; valid roles: {', '.join(facts.ROLES)}")
    roles: list[facts.ExchangeRole] = []
    for index, item in enumerate(names):
        item_key = f"{key}[{index}]"
        name = _expect(item_key, item, str, "a role display name")
        # Match case-insensitively: people type "exchange administrator".
        role = next((r for r in facts.ROLES.values() if r.display_name.lower() == name.strip().lower()), None)
        if role is None:
            raise ConfigError(
                item_key, f"{name!r} is not a role Exchange supports for app-only access; valid roles: {', '.join(facts.ROLES)}"
            )
        if role.display_name == facts.GLOBAL_ADMINISTRATOR and not allow_global_administrator:
            raise ConfigError(
                item_key,
                f"Global Administrator is refused for least privilege; set {_key('allowGlobalAdministrator')} to true "
                "to allow it, or pick a narrower role such as Exchange Administrator",
            )
        if role in roles:
            raise ConfigError(item_key, f"{role.display_name} is listed twice")
        roles.append(role)
    return tuple(roles)


def _parse_certificate(key: str, value: Any, default_common_name: str) -> CertificateSettings:
    mapping = _expect(key, value, dict, "an object")
    _reject_unknown_keys(key, mapping, _CERTIFICATE_KEYS)

    def common_name(raw: Any) -> str:
        text = _expect(f"{key}.commonName", raw, str, "a string").strip()
        if not text or len(text) > _CN_MAX or any(c in text for c in ',+="\\<>;#\n\r'):
            raise ConfigError(f"{key}.commonName", f'must be 1 to {_CN_MAX} characters without , + = " \\ < > ; # (got {raw!r})')
        return text

    validity = _optional(
        mapping, "validityMonths", DEFAULT_VALIDITY_MONTHS, lambda v: _bounded_int(f"{key}.validityMonths", v, *VALIDITY_MONTHS_RANGE)
    )
    renew = _optional(
        mapping,
        "renewBeforeDays",
        DEFAULT_RENEW_BEFORE_DAYS,
        lambda v: _bounded_int(f"{key}.renewBeforeDays", v, *RENEW_BEFORE_DAYS_RANGE),
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
        bits = _expect(f"{key}.rsaBits", raw, int, "a whole number")
        if bits not in RSA_KEY_SIZES:
            raise ConfigError(f"{key}.rsaBits", f"must be one of {', '.join(map(str, RSA_KEY_SIZES))}, got {bits}")
        return bits

    generation = _optional(mapping, "generation", 1, lambda v: _bounded_int(f"{key}.generation", v, *GENERATION_RANGE))
    keep_previous = _optional(
        mapping, "keepPreviousGeneration", False, lambda v: _expect(f"{key}.keepPreviousGeneration", v, bool, "true or false")
    )
    if keep_previous and generation == 1:
        raise ConfigError(
            f"{key}.keepPreviousGeneration", "generation 1 has no previous generation; bump generation to 2 to rotate with an overlap"
        )
    return CertificateSettings(
        common_name=_optional(mapping, "commonName", default_common_name, common_name),
        validity_months=validity,
        renew_before_days=renew,
        rsa_bits=_optional(mapping, "rsaBits", DEFAULT_RSA_BITS, rsa_bits),
        generation=generation,
        keep_previous_generation=keep_previous,
    )


def _parse_identity(key: str, value: Any, stack: str, allow_global_administrator: bool) -> IdentitySettings:
    mapping = _expect(key, value, dict, "an object with at least a name")
    _reject_unknown_keys(key, mapping, _IDENTITY_KEYS)
    if "name" not in mapping:
        raise ConfigError(f"{key}.name", "is required (lowercase letters, digits and hyphens)")
    name = _expect(f"{key}.name", mapping["name"], str, "a string")
    if not _NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{key}.name", f"{name!r} must be 1 to 32 lowercase letters, digits or hyphens, starting with a letter and not ending in '-'"
        )

    def display_name(raw: Any) -> str:
        text = _expect(f"{key}.displayName", raw, str, "a string").strip()
        if not text or len(text) > _DISPLAY_NAME_MAX:
            raise ConfigError(f"{key}.displayName", f"must be 1 to {_DISPLAY_NAME_MAX} characters")
        return text

    shown = _optional(mapping, "displayName", f"{PROJECT}-{stack}-{name}", display_name)
    roles = _optional(
        mapping,
        "roles",
        (facts.ROLES[facts.DEFAULT_ROLE],),
        lambda v: _parse_roles(f"{key}.roles", v, allow_global_administrator),
    )
    security_compliance = _optional(
        mapping, "securityCompliance", False, lambda v: _expect(f"{key}.securityCompliance", v, bool, "true or false")
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
    return IdentitySettings(name, shown, roles, security_compliance, certificate)


def _parse_owners(key: str, raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = _expect(key, _parse_json(key, raw), list, "a list of object ids")
    owners: list[str] = []
    for index, item in enumerate(items):
        text = _expect(f"{key}[{index}]", item, str, "an object id (GUID)")
        try:
            owners.append(str(uuid.UUID(text)))
        except ValueError:
            raise ConfigError(f"{key}[{index}]", f"{text!r} is not an object id (GUID)") from None
    if len(set(owners)) != len(owners):
        raise ConfigError(key, "lists an owner twice")
    return tuple(owners)


def parse_settings(config: Mapping[str, str | None], stack: str, azuread_environment: str | None) -> StackSettings:
    """Validate the project's raw config (bare key -> string as Pulumi hands it over) into settings.

    `azuread_environment` is the azuread provider's cloud (its `environment` setting or ARM_ENVIRONMENT).
    """
    cloud = parse_cloud("azuread:environment", azuread_environment)
    allow_global_administrator = _parse_bool(_key("allowGlobalAdministrator"), config.get("allowGlobalAdministrator"), default=False)

    raw_identities = config.get("identities")
    identities_key = _key("identities")
    entries = (
        [{"name": DEFAULT_IDENTITY_NAME}]
        if raw_identities is None
        else _expect(identities_key, _parse_json(identities_key, raw_identities), list, "a list of identity objects")
    )
    if not entries:
        raise ConfigError(identities_key, "must list at least one identity (remove the key for the default one)")
    identities = tuple(
        _parse_identity(f"{identities_key}[{index}]", entry, stack, allow_global_administrator) for index, entry in enumerate(entries)
    )
    for attribute, label in (("name", "name"), ("display_name", "displayName")):
        seen: dict[str, int] = {}
        for index, identity in enumerate(identities):
            value = str(getattr(identity, attribute)).lower()
            if value in seen:
                raise ConfigError(f"{identities_key}[{index}].{label}", f"{value!r} is already used by {identities_key}[{seen[value]}]")
            seen[value] = index

    raw_organization = config.get("organization")
    organization = parse_organization(_key("organization"), raw_organization, cloud) if raw_organization not in (None, "") else None
    return StackSettings(
        identities=identities,
        organization=organization,
        cloud=cloud,
        allow_global_administrator=allow_global_administrator,
        additional_owners=_parse_owners(_key("additionalOwners"), config.get("additionalOwners")),
    )
