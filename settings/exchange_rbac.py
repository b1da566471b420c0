"""`exchangeRbac` of an identity or of the Automation managed identity: Exchange management roles and an optional recipient scope.

Shape (inside `exo-automation:identities[i]` or `exo-automation:automation`):

    exchangeRbac:
      roles: [View-Only Recipients]              # built-in Exchange Online management roles; the app gets a custom role group of them
      customRole:                                # optional: a role copied from a built-in parent with only these cmdlets
        parent: View-Only Recipients
        cmdlets: [Get-Mailbox, Get-Recipient]
      recipientScope:                            # optional; at most one of:
        filter: "Department -eq 'Sales'"         #   an OPATH recipient filter (New-ManagementScope -RecipientRestrictionFilter)
        administrativeUnit: <object id>          #   an Entra administrative unit (-RecipientAdministrativeUnitScope)

Parsed before any resource exists; every error names the full config key.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from exo import facts
from exo.exchange_rbac_state import CustomRole, ExchangeRbacSpec, RecipientScope
from settings.opath import OpathError, parse_filter
from settings.values import ConfigError, expect, reject_unknown_keys

CONFIG_KEY = "exchangeRbac"
# The Automation account's managed identity in the desired state (identities use their config names).
_KEYS = ("roles", "customRole", "recipientScope")
_CUSTOM_ROLE_KEYS = ("parent", "cmdlets")
_CMDLET = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")
_SCOPE_KEYS = ("filter", "administrativeUnit")
# New-ManagementScope -RecipientRestrictionFilter is a string; keep it well inside what a job parameter and a log line carry.
FILTER_MAX = 1024


def _role(name: str) -> str:
    canonical = {role.lower(): role for role in facts.EXCHANGE_MANAGEMENT_ROLES}
    return canonical.get(" ".join(name.split()).lower(), "")


def _parse_roles(key: str, value: Any, allow_empty: bool) -> tuple[str, ...]:
    names = expect(key, value, list, "a list of Exchange Online management role names")
    if not names and not allow_empty:
        raise ConfigError(key, "must name at least one management role, for example View-Only Recipients (or declare customRole)")
    roles: list[str] = []
    for index, item in enumerate(names):
        item_key = f"{key}[{index}]"
        name = expect(item_key, item, str, "a management role name")
        role = _role(name) or None
        if role is None:
            entra = next((r for r in facts.ROLES if r.lower() == name.strip().lower()), None)
            hint = f"; {entra} is an Entra role: put it in roles, not exchangeRbac.roles" if entra and entra != "Security Reader" else ""
            raise ConfigError(
                item_key,
                f"{name!r} is not a built-in Exchange Online management role this program knows{hint}; known roles: "
                f"{', '.join(sorted(facts.EXCHANGE_MANAGEMENT_ROLES))}",
            )
        if role in facts.SELF_WIDENING_EXCHANGE_ROLES:
            raise ConfigError(
                item_key,
                f"{role} lets the identity assign itself any role, so no scope would bound it; grant an Entra role "
                "(roles) to an identity that must manage RBAC",
            )
        if role in roles:
            raise ConfigError(item_key, f"{role} is listed twice")
        roles.append(role)
    return tuple(sorted(roles))


def _parse_custom_role(key: str, value: Any) -> CustomRole:
    mapping = expect(key, value, dict, "an object with parent and cmdlets")
    reject_unknown_keys(key, mapping, _CUSTOM_ROLE_KEYS)
    for required in _CUSTOM_ROLE_KEYS:
        if required not in mapping:
            raise ConfigError(f"{key}.{required}", "is required")
    parent_name = expect(f"{key}.parent", mapping["parent"], str, "a built-in management role name")
    parent = _role(parent_name)
    if not parent:
        raise ConfigError(f"{key}.parent", f"{parent_name!r} is not a built-in Exchange Online management role this program knows")
    if parent in facts.SELF_WIDENING_EXCHANGE_ROLES:
        raise ConfigError(f"{key}.parent", f"{parent} cannot be the parent: a copy of it could still assign roles")
    names = expect(f"{key}.cmdlets", mapping["cmdlets"], list, "a list of cmdlet names such as Get-Mailbox")
    if not names:
        raise ConfigError(f"{key}.cmdlets", "must list at least one cmdlet of the parent role")
    cmdlets: list[str] = []
    for index, item in enumerate(names):
        item_key = f"{key}.cmdlets[{index}]"
        cmdlet = expect(item_key, item, str, "a cmdlet name such as Get-Mailbox").strip()
        if not _CMDLET.fullmatch(cmdlet):
            raise ConfigError(item_key, f"{cmdlet!r} is not a cmdlet name (Verb-Noun, no wildcards or parameters)")
        if cmdlet.lower() in (c.lower() for c in cmdlets):
            raise ConfigError(item_key, f"{cmdlet} is listed twice")
        cmdlets.append(cmdlet)
    return CustomRole(parent, tuple(sorted(cmdlets, key=str.lower)))


def _parse_scope(key: str, value: Any) -> RecipientScope:
    mapping = expect(key, value, dict, "an object with filter or administrativeUnit")
    reject_unknown_keys(key, mapping, _SCOPE_KEYS)
    given = [name for name in _SCOPE_KEYS if mapping.get(name) is not None]
    if len(given) != 1:
        raise ConfigError(key, "must set exactly one of filter (an OPATH recipient filter) or administrativeUnit (an object id)")
    if given == ["filter"]:
        filter_key = f"{key}.filter"
        text = expect(filter_key, mapping["filter"], str, "an OPATH filter such as \"Department -eq 'Sales'\"").strip()
        if len(text) > FILTER_MAX:
            raise ConfigError(filter_key, f"is {len(text)} characters; at most {FILTER_MAX}")
        try:
            parse_filter(text)
        except OpathError as error:
            raise ConfigError(filter_key, f"{text!r} does not parse as an OPATH recipient filter: {error}") from None
        return RecipientScope(filter=text)
    unit_key = f"{key}.administrativeUnit"
    raw = expect(unit_key, mapping["administrativeUnit"], str, "the object id (GUID) of an Entra administrative unit")
    try:
        return RecipientScope(administrative_unit_id=str(uuid.UUID(raw)))
    except ValueError:
        raise ConfigError(unit_key, f"{raw!r} is not an object id (GUID); use the administrative unit's object id") from None


def parse_exchange_rbac(key: str, value: Any) -> ExchangeRbacSpec:
    """`…exchangeRbac` (already JSON-decoded) into settings."""
    mapping = expect(key, value, dict, "an object with roles and an optional recipientScope")
    reject_unknown_keys(key, mapping, _KEYS)
    custom_role = None if mapping.get("customRole") is None else _parse_custom_role(f"{key}.customRole", mapping["customRole"])
    if "roles" not in mapping and custom_role is None:
        raise ConfigError(
            f"{key}.roles", "is required (or customRole): the Exchange Online management roles, for example [View-Only Recipients]"
        )
    roles = _parse_roles(f"{key}.roles", mapping.get("roles") or [], allow_empty=custom_role is not None)
    scope = None if mapping.get("recipientScope") is None else _parse_scope(f"{key}.recipientScope", mapping["recipientScope"])
    return ExchangeRbacSpec(roles, scope, custom_role)
