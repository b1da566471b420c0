"""The desired Exchange RBAC state as data, and the reconciler's plan as an executable specification.

Pure functions, no Pulumi: the program publishes `state_json(desired_state(...))`; `runbooks/Sync-ExchangeRbac.ps1` reads that text and
makes Exchange match it, following the same plan as `plan()` here (docs/exchange-rbac.md states it; tests run `plan()` on recorded
states, and read the runbook's structure with tree-sitter).

Ownership: every Exchange object the reconciler creates is named with the stack's owner prefix `exoa-<6 hex>-`; it reads, changes and
removes only objects whose name carries that prefix. Role groups and scopes are content-addressed (`<prefix><principal>-<8 hex>`,
the hash of the principal's roles and scope): a changed declaration is a NEW group, joined before the old one is emptied and removed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The managed identity's name in the desired state (an app identity may not take it).
MANAGED_IDENTITY_PRINCIPAL = "automation"


@dataclass(frozen=True)
class RecipientScope:
    """Where the roles apply: recipients matching an OPATH filter, or the members of an administrative unit."""

    filter: str | None = None
    administrative_unit_id: str | None = None

    def describe(self) -> str:
        if self.filter is not None:
            return f"recipients where {self.filter}"
        return f"members of administrative unit {self.administrative_unit_id}"


@dataclass(frozen=True)
class CustomRole:
    """A management role copied from a built-in parent with only the listed cmdlets (New-ManagementRole -Parent -EnabledCmdlets)."""

    parent: str
    cmdlets: tuple[str, ...]
    """Sorted, case as written; each must be a cmdlet of the parent (the reconciler fails loudly otherwise)."""


@dataclass(frozen=True)
class ExchangeRbacSpec:
    """Management roles for one principal, held through a custom role group the reconciler owns, optionally scoped."""

    roles: tuple[str, ...]
    """Canonical role names, sorted: the order in config carries no meaning."""
    scope: RecipientScope | None
    custom_role: CustomRole | None = None
    """A role with only some of a built-in role's cmdlets, held by the same role group."""

    @property
    def role_labels(self) -> tuple[str, ...]:
        """What the principal holds, for outputs: built-in roles, and the custom role as parent + cmdlets."""
        custom = ()
        if self.custom_role is not None:
            custom = (f"{self.custom_role.parent} limited to {', '.join(self.custom_role.cmdlets)}",)
        return (*self.roles, *custom)


SCHEMA_VERSION = 1
VARIABLE_NAME = "ExchangeRbacDesiredState"
OWNER_PATTERN = re.compile(r"^exoa-[0-9a-f]{6}-$")
NAME_MAX = 64  # New-RoleGroup / New-ManagementScope / New-ManagementRoleAssignment -Name (New-ManagementRoleAssignment.md: 64)


def owner_prefix(stack: str, account_name: str) -> str:
    """The name prefix of everything one stack's reconciler owns: stable across runs, distinct between stacks and accounts."""
    return f"exoa-{hashlib.sha256(f'exo-automation/{stack}/{account_name}'.lower().encode()).hexdigest()[:6]}-"


def _short_hash(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class PrincipalRbac:
    """One principal's declared Exchange RBAC, with the directory ids the reconciler needs for New-ServicePrincipal."""

    name: str
    """The identity's config name, or "automation" for the managed identity."""
    kind: str
    """application or managedIdentity."""
    app_id: str
    object_id: str
    """Object id of the service principal in Entra (New-ServicePrincipal -ObjectId)."""
    settings: ExchangeRbacSpec


def _scope_data(settings: ExchangeRbacSpec) -> dict[str, str] | None:
    scope = settings.scope
    if scope is None:
        return None
    if scope.filter is not None:
        return {"kind": "filter", "filter": scope.filter}
    return {"kind": "administrativeUnit", "administrativeUnitId": str(scope.administrative_unit_id)}


def _custom_role_data(settings: ExchangeRbacSpec) -> dict[str, Any] | None:
    custom = settings.custom_role
    return None if custom is None else {"parent": custom.parent, "cmdlets": list(custom.cmdlets)}


def role_group_name(prefix: str, principal: str, settings: ExchangeRbacSpec) -> str:
    content = {
        "principal": principal,
        "roles": list(settings.roles),
        "scope": _scope_data(settings),
        "customRole": _custom_role_data(settings),
    }
    return f"{prefix}{principal}-{_short_hash(content)}"


def principal_state(prefix: str, principal: PrincipalRbac, label: str) -> dict[str, Any]:
    """The desired Exchange objects for one principal (names are fixed here; the runbook never invents one)."""
    settings = principal.settings
    group = role_group_name(prefix, principal.name, settings)
    digest = group[-8:]
    scope = _scope_data(settings)
    if scope is not None and scope["kind"] == "filter":
        scope = {**scope, "name": group}
    custom = _custom_role_data(settings)
    if custom is not None:
        # The custom role shares the group's content-addressed name: a changed cmdlet list is a new role in a new group.
        custom = {"name": group, **custom}
    roles = sorted(settings.roles, key=str.lower) + ([group] if custom is not None else [])
    assignments = [{"name": f"{prefix}{digest}-{_short_hash(role)}", "role": role} for role in roles]
    return {
        "name": principal.name,
        "kind": principal.kind,
        "appId": principal.app_id,
        "objectId": principal.object_id,
        "displayName": f"{prefix}{principal.name}",
        "roleGroup": {
            "name": group,
            "displayName": f"{label} {principal.name} ({digest})",
            "roles": sorted(settings.roles, key=str.lower),
            "customRole": custom,
            "assignments": assignments,
            "scope": scope,
        },
    }


def desired_state(prefix: str, principals: Iterable[Mapping[str, Any]], label: str) -> dict[str, Any]:
    """The whole document: sorted, no clock, so an unchanged stack publishes the same text."""
    if not OWNER_PATTERN.fullmatch(prefix):
        raise ValueError(f"owner prefix {prefix!r} does not match {OWNER_PATTERN.pattern}")
    entries = sorted(principals, key=lambda p: str(p["name"]))
    for entry in entries:
        names = [entry["displayName"], entry["roleGroup"]["name"], *(a["name"] for a in entry["roleGroup"]["assignments"])]
        for name in names:
            if not name.startswith(prefix) or len(name) > NAME_MAX:
                raise ValueError(f"{name!r} must start with {prefix} and be at most {NAME_MAX} characters")
    return {"schemaVersion": SCHEMA_VERSION, "managedBy": "exo-automation", "owner": prefix, "label": label, "principals": entries}


def state_json(document: Mapping[str, Any]) -> str:
    """The published text: canonical JSON (sorted keys, no spaces). Its SHA-256 is what a job checks before it applies."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def state_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def effective_permissions(entra_roles: Sequence[str], settings: ExchangeRbacSpec | None) -> dict[str, Any]:
    """What a principal can do, in words an admin reads in the stack outputs."""
    result: dict[str, Any] = {"entraRoles": list(entra_roles)}
    if settings is not None:
        result["exchangeRoles"] = list(settings.role_labels)
        # A management scope limits what the roles may change; Exchange has no custom read scope (reads stay organization-wide).
        result["exchangeScope"] = settings.scope.describe() if settings.scope is not None else "whole organization (no scope)"
    if not entra_roles and settings is None:
        result["summary"] = "nothing in Exchange"
    elif entra_roles:
        result["summary"] = f"Entra roles {', '.join(entra_roles)} apply organization-wide" + (
            "; Exchange roles add to them" if settings else ""
        )
    else:
        assert settings is not None
        scope = settings.scope.describe() if settings.scope is not None else "the whole organization"
        result["summary"] = f"only the cmdlets of {'; '.join(settings.role_labels)}; changes limited to {scope}; reads organization-wide"
    return result


# -- The plan: what the reconciler does, in this order ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    action: str
    """The Exchange cmdlet the runbook runs for this step."""
    target: str
    """The owned object it acts on (name, or service principal object id)."""
    reason: str
    """missing (declared, absent), drift (an owned object differs from its declaration), obsolete (owned, no longer declared)."""
    detail: Mapping[str, str]


def _normalised_filter(text: str | None) -> str:
    value = " ".join((text or "").split()).lower()
    while value.startswith("(") and value.endswith(")") and _balanced(value[1:-1]):
        value = value[1:-1].strip()
    return value


def _balanced(text: str) -> bool:
    depth = 0
    for character in text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            return False
    return depth == 0


def plan(desired: Mapping[str, Any], actual: Mapping[str, Any]) -> list[Step]:
    """The steps that make `actual` (what Exchange holds) match `desired` (the published document).

    `actual`: {"servicePrincipals": [{"objectId", "appId", "displayName"}], "scopes": [{"name", "filter"}],
    "roles": [{"name", "cmdlets": [names]}] (owned custom roles),
    "roleGroups": [{"name", "members": [object ids], "assignments": [{"name", "role", "scope"}]}]} as the runbook reads it.
    Raises ValueError where Exchange holds a foreign object in the way (the runbook throws the same refusal).
    """
    prefix = str(desired["owner"])
    if not OWNER_PATTERN.fullmatch(prefix):
        raise ValueError(f"owner prefix {prefix!r} is not one this program writes")
    owned = lambda name: str(name).startswith(prefix)  # noqa: E731 - the one ownership rule, read like the runbook's Test-Owned
    principals = list(desired["principals"])
    steps: list[Step] = []

    # 1. Service principals: create the declared ones, correct an owned one's display name; refuse a foreign pointer to our app.
    sp_by_object = {str(sp["objectId"]).lower(): sp for sp in actual.get("servicePrincipals", [])}
    for p in principals:
        existing = sp_by_object.get(str(p["objectId"]).lower())
        if existing is None:
            steps.append(Step("New-ServicePrincipal", p["objectId"], "missing", {"appId": p["appId"], "displayName": p["displayName"]}))
        elif not owned(existing["displayName"]):
            raise ValueError(
                f"Exchange already holds service principal {existing['displayName']!r} for {p['name']} ({p['objectId']}), not created "
                f"by this stack; remove it or rename it to {p['displayName']} to hand it over"
            )
        elif existing["displayName"] != p["displayName"]:
            steps.append(Step("Set-ServicePrincipal", p["objectId"], "drift", {"displayName": p["displayName"]}))

    # 2. Scopes (filter scopes only; an administrative unit is referenced, not created).
    scopes = {str(s["name"]).lower(): s for s in actual.get("scopes", []) if owned(s["name"])}
    declared_scopes = {}
    for p in principals:
        scope = p["roleGroup"]["scope"]
        if scope is not None and scope["kind"] == "filter":
            declared_scopes[scope["name"].lower()] = scope
            existing = scopes.get(scope["name"].lower())
            if existing is None:
                steps.append(Step("New-ManagementScope", scope["name"], "missing", {"filter": scope["filter"]}))
            elif _normalised_filter(existing.get("filter")) != _normalised_filter(scope["filter"]):
                steps.append(Step("Set-ManagementScope", scope["name"], "drift", {"filter": scope["filter"]}))

    # 2b. Custom roles: created with only the declared cmdlets (never a full copy of the parent); entries drifted back.
    roles = {str(r["name"]).lower(): r for r in actual.get("roles", []) if owned(r["name"])}
    declared_roles = set()
    for p in principals:
        custom = p["roleGroup"].get("customRole")
        if custom is None:
            continue
        declared_roles.add(custom["name"].lower())
        existing = roles.get(custom["name"].lower())
        if existing is None:
            detail = {"parent": custom["parent"], "cmdlets": ",".join(custom["cmdlets"])}
            steps.append(Step("New-ManagementRole", custom["name"], "missing", detail))
            continue
        have_cmdlets = {str(c).lower(): str(c) for c in existing.get("cmdlets", [])}
        for cmdlet in custom["cmdlets"]:
            if have_cmdlets.pop(cmdlet.lower(), None) is None:
                steps.append(Step("Add-ManagementRoleEntry", custom["name"], "drift", {"cmdlet": cmdlet}))
        for extra in sorted(have_cmdlets.values()):
            steps.append(Step("Remove-ManagementRoleEntry", custom["name"], "drift", {"cmdlet": extra}))

    # 3. Role groups, empty; 4. their assignments, scoped; extra or mis-scoped assignments on owned groups go (that only narrows).
    groups = {str(g["name"]).lower(): g for g in actual.get("roleGroups", []) if owned(g["name"])}
    for p in principals:
        group = p["roleGroup"]
        existing = groups.get(group["name"].lower())
        if existing is None:
            steps.append(Step("New-RoleGroup", group["name"], "missing", {"displayName": group["displayName"]}))
        have = {str(a["name"]).lower(): a for a in (existing or {}).get("assignments", [])}
        want_scope = _assignment_scope(group["scope"])
        for assignment in group["assignments"]:
            current = have.pop(assignment["name"].lower(), None)
            if current is not None:
                # Case-insensitive, as Exchange (and the runbook's -ne) compares names.
                same_role = str(current.get("role", "")).lower() == assignment["role"].lower()
                same_scope = str(current.get("scope", "")).lower() == want_scope.lower()
                if not (same_role and same_scope):
                    steps.append(Step("Remove-ManagementRoleAssignment", current["name"], "drift", {"role": str(current.get("role"))}))
                    current = None
            if current is None:
                steps.append(
                    Step(
                        "New-ManagementRoleAssignment",
                        assignment["name"],
                        "missing",
                        {"role": assignment["role"], "roleGroup": group["name"], "scope": want_scope},
                    )
                )
        for extra in have.values():
            steps.append(Step("Remove-ManagementRoleAssignment", extra["name"], "drift", {"role": str(extra.get("role"))}))

    # 5. Membership: only the declared principal, added once its group holds every scoped assignment.
    for p in principals:
        group = p["roleGroup"]
        members = {str(m).lower() for m in (groups.get(group["name"].lower()) or {}).get("members", [])}
        if str(p["objectId"]).lower() not in members:
            steps.append(Step("Add-RoleGroupMember", group["name"], "missing", {"member": p["objectId"]}))
        for stranger in sorted(members - {str(p["objectId"]).lower()}):
            steps.append(Step("Remove-RoleGroupMember", group["name"], "drift", {"member": stranger}))

    # 6. Obsolete owned groups: emptied, then removed, only now that every replacement above exists.
    wanted_groups = {p["roleGroup"]["name"].lower() for p in principals}
    for name, group in sorted(groups.items()):
        if name in wanted_groups:
            continue
        for member in sorted(group.get("members", [])):
            steps.append(Step("Remove-RoleGroupMember", group["name"], "obsolete", {"member": str(member)}))
        steps.append(Step("Remove-RoleGroup", group["name"], "obsolete", {}))

    # 7. Obsolete owned scopes and custom roles (their assignments went with the groups); 8. obsolete owned service principals.
    for name, scope in sorted(scopes.items()):
        if name not in declared_scopes:
            steps.append(Step("Remove-ManagementScope", scope["name"], "obsolete", {}))
    for name, role in sorted(roles.items()):
        if name not in declared_roles:
            steps.append(Step("Remove-ManagementRole", role["name"], "obsolete", {}))
    wanted_sps = {str(p["objectId"]).lower() for p in principals}
    for sp in sorted(actual.get("servicePrincipals", []), key=lambda s: str(s["objectId"])):
        if owned(sp["displayName"]) and str(sp["objectId"]).lower() not in wanted_sps:
            steps.append(Step("Remove-ServicePrincipal", str(sp["objectId"]), "obsolete", {}))
    return steps


def _assignment_scope(scope: Mapping[str, str] | None) -> str:
    """How an assignment is scoped, as one comparable text: "", "scope:<name>" or "au:<id>"."""
    if scope is None:
        return ""
    if scope["kind"] == "filter":
        return f"scope:{scope['name']}"
    return f"au:{scope['administrativeUnitId']}"
