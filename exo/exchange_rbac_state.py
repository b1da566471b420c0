"""The desired Exchange RBAC state as data, and the reconciler's plan as an executable specification.

Pure functions, no Pulumi: the program publishes `state_json(desired_state(...))`; `runbooks/Sync-ExchangeRbac.ps1` reads that text and
makes Exchange match it, following the same plan as `plan()` here (docs/exchange-rbac.md states it; tests run `plan()` on recorded
states, and read the runbook's structure with tree-sitter).

Ownership (`owner_prefixes`, `is_owned`): an Exchange object belongs to the reconciler when its name (a service principal's
DisplayName) starts, compared without case, with one of its owner prefixes: the document's `owner` (`exoa-<6 hex>-`), the prefixes
listed in `formerOwners`, and the owner the last applied run recorded (a renamed stack). It creates objects only under `owner`; it
reads, changes and removes only owned objects. A service principal whose AppId a declared principal uses but whose ObjectId is not the
declared one (the Entra service principal was re-created) is replaced when owned and refused when not. Role groups and scopes are
content-addressed (`<prefix><principal>-<8 hex>`, the hash of the principal's roles and scope): a changed declaration is a NEW group,
joined before the old one is emptied and removed.

Order: every list the plan walks is sorted by its key lower-cased, compared ordinally (Python `str` order, .NET `StringComparer.
Ordinal` on the lower-cased key in the runbook), so both produce the same steps in the same order.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exo import facts

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


def desired_state(prefix: str, principals: Iterable[Mapping[str, Any]], label: str, former_owners: Sequence[str] = ()) -> dict[str, Any]:
    """The whole document: sorted, no clock, so an unchanged stack publishes the same text.

    `former_owners`: owner prefixes this stack's objects carried before (another stack or Automation account name); the reconciler
    treats objects under them as its own, to hand over (service principals) or remove (role groups, scopes, custom roles)."""
    if not OWNER_PATTERN.fullmatch(prefix):
        raise ValueError(f"owner prefix {prefix!r} does not match {OWNER_PATTERN.pattern}")
    for former in former_owners:
        if not OWNER_PATTERN.fullmatch(former.lower()):
            raise ValueError(f"former owner prefix {former!r} does not match {OWNER_PATTERN.pattern}")
    entries = sorted(principals, key=lambda p: str(p["name"]))
    for entry in entries:
        names = [entry["displayName"], entry["roleGroup"]["name"], *(a["name"] for a in entry["roleGroup"]["assignments"])]
        for name in names:
            if not name.startswith(prefix) or len(name) > NAME_MAX:
                raise ValueError(f"{name!r} must start with {prefix} and be at most {NAME_MAX} characters")
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "managedBy": "exo-automation",
        "owner": prefix,
        "label": label,
        "principals": entries,
    }
    formers = sorted({f.lower() for f in former_owners} - {prefix.lower()})
    if formers:
        # Only when set: a stack that never moved publishes the same bytes as before this field existed.
        document["formerOwners"] = formers
    return document


def state_json(document: Mapping[str, Any]) -> str:
    """The published text: canonical JSON (sorted keys, no spaces). Its SHA-256 is what a job checks before it applies."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def state_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest().upper()


def organization_configuration_roles(settings: ExchangeRbacSpec) -> tuple[str, ...]:
    """The held roles (a custom role by its parent) whose cmdlets change organization-wide configuration, not recipients: a
    recipient write scope does not bound them (facts.ORGANIZATION_CONFIGURATION_ROLES)."""
    held = list(settings.roles) + ([settings.custom_role.parent] if settings.custom_role is not None else [])
    known = {role.lower() for role in facts.ORGANIZATION_CONFIGURATION_ROLES}
    return tuple(role for role in held if role.lower() in known)


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
        organization = organization_configuration_roles(settings)
        if settings.scope is not None and organization:
            # A recipient write scope bounds recipient objects; these roles change tenant-wide settings the scope cannot reach.
            result["unscopedRoles"] = list(organization)
            result["summary"] = (
                f"only the cmdlets of {'; '.join(settings.role_labels)}; recipient changes limited to {scope}; "
                f"{', '.join(organization)} change organization-wide settings, which a recipient scope does not limit; "
                "reads organization-wide"
            )
        else:
            labels = "; ".join(settings.role_labels)
            result["summary"] = f"only the cmdlets of {labels}; changes limited to {scope}; reads organization-wide"
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


def owner_prefixes(desired: Mapping[str, Any], recorded_owner: str | None = None) -> tuple[str, ...]:
    """Every prefix whose objects the reconciler owns: `owner` first, then `formerOwners` and the owner the last applied run recorded.

    Raises ValueError for a prefix this program does not write (a tampered document must not widen what the job may remove)."""
    owner = str(desired.get("owner", ""))
    if not OWNER_PATTERN.fullmatch(owner):
        raise ValueError(f"owner prefix {owner!r} is not one this program writes")
    prefixes = [owner.lower()]
    for former in [*desired.get("formerOwners", []), *([recorded_owner] if recorded_owner else [])]:
        if not OWNER_PATTERN.fullmatch(str(former).lower()):
            raise ValueError(f"former owner prefix {former!r} is not one this program writes")
        if str(former).lower() not in prefixes:
            prefixes.append(str(former).lower())
    return tuple(prefixes)


def is_owned(name: object, prefixes: Sequence[str]) -> bool:
    """The one ownership rule: the name starts with an owner prefix, compared without case (Exchange names are case-insensitive)."""
    text = str(name or "").lower()
    return any(text.startswith(prefix.lower()) for prefix in prefixes)


def _key(value: object) -> str:
    """The sort key of every list the plan walks: lower-cased, compared ordinally (the runbook's Get-OrdinalSorted)."""
    return str(value).lower()


def plan(desired: Mapping[str, Any], actual: Mapping[str, Any], recorded_owner: str | None = None) -> list[Step]:
    """The steps that make `actual` (what Exchange holds) match `desired` (the published document).

    `actual`: {"servicePrincipals": [{"objectId", "appId", "displayName"}], "scopes": [{"name", "filter"}],
    "roles": [{"name", "cmdlets": [names]}] (owned custom roles),
    "roleGroups": [{"name", "members": [ids], "assignments": [{"name", "role", "scope"}]}]} as `read_actual_state` (and the runbook's
    Read-ActualState) builds it: a member is the ObjectId of the Exchange service principal it is, else its own Exchange GUID.
    `recorded_owner`: the owner prefix in the applied-state record of the last successful run (a stack renamed since), if any.
    Raises ValueError where Exchange holds a foreign object in the way (the runbook throws the same refusal).
    """
    prefixes = owner_prefixes(desired, recorded_owner)
    current = prefixes[0]
    owned = lambda name: is_owned(name, prefixes)  # noqa: E731 - read like the runbook's Test-Owned
    principals = sorted(desired["principals"], key=lambda p: _key(p["name"]))
    steps: list[Step] = []
    service_principals = sorted(actual.get("servicePrincipals", []), key=lambda s: _key(s["objectId"]))
    groups = {_key(g["name"]): g for g in actual.get("roleGroups", []) if owned(g["name"])}
    removed_members: set[str] = set()

    # 1. Service principals. An owned one that holds a declared AppId under another ObjectId points at an Entra service principal that
    #    was deleted and re-created: it leaves its owned groups and goes first (Exchange would refuse a second one for the AppId).
    #    A declared one is created, or renamed when it carries a former owner prefix or its name drifted. Foreign ones are refused.
    sp_by_object = {_key(sp["objectId"]): sp for sp in service_principals}
    for p in principals:
        for old in service_principals:
            if _key(old.get("appId", "")) != _key(p["appId"]) or _key(old["objectId"]) == _key(p["objectId"]):
                continue
            if not owned(old["displayName"]):
                raise ValueError(
                    f"Exchange holds service principal {old['displayName']!r} ({old['objectId']}) for the AppId of {p['name']} "
                    f"({p['appId']}), not created by this stack; New-ServicePrincipal for {p['objectId']} cannot succeed while it "
                    f"exists: remove it (Remove-ServicePrincipal) or rename it to {p['displayName']} to hand it over"
                )
            for _name, group in sorted(groups.items()):
                if _key(old["objectId"]) in {_key(m) for m in group.get("members", [])}:
                    steps.append(Step("Remove-RoleGroupMember", group["name"], "superseded", {"member": _key(old["objectId"])}))
            removed_members.add(_key(old["objectId"]))
            steps.append(Step("Remove-ServicePrincipal", str(old["objectId"]), "superseded", {"displayName": str(old["displayName"])}))
        existing = sp_by_object.get(_key(p["objectId"]))
        if existing is None:
            steps.append(Step("New-ServicePrincipal", p["objectId"], "missing", {"appId": p["appId"], "displayName": p["displayName"]}))
        elif not owned(existing["displayName"]):
            raise ValueError(
                f"Exchange already holds service principal {existing['displayName']!r} for {p['name']} ({p['objectId']}), not created "
                f"by this stack; remove it or rename it to {p['displayName']} to hand it over"
            )
        elif existing["displayName"] != p["displayName"]:
            reason = "drift" if is_owned(existing["displayName"], (current,)) else "superseded"
            steps.append(Step("Set-ServicePrincipal", p["objectId"], reason, {"displayName": p["displayName"]}))

    # 2. Scopes (filter scopes only; an administrative unit is referenced, not created).
    scopes = {_key(s["name"]): s for s in actual.get("scopes", []) if owned(s["name"])}
    declared_scopes = {}
    for p in principals:
        scope = p["roleGroup"]["scope"]
        if scope is not None and scope["kind"] == "filter":
            declared_scopes[_key(scope["name"])] = scope
            existing = scopes.get(_key(scope["name"]))
            if existing is None:
                steps.append(Step("New-ManagementScope", scope["name"], "missing", {"filter": scope["filter"]}))
            elif _normalised_filter(existing.get("filter")) != _normalised_filter(scope["filter"]):
                steps.append(Step("Set-ManagementScope", scope["name"], "drift", {"filter": scope["filter"]}))

    # 2b. Custom roles: created with only the declared cmdlets (never a full copy of the parent); entries drifted back.
    roles = {_key(r["name"]): r for r in actual.get("roles", []) if owned(r["name"])}
    declared_roles = set()
    for p in principals:
        custom = p["roleGroup"].get("customRole")
        if custom is None:
            continue
        declared_roles.add(_key(custom["name"]))
        existing = roles.get(_key(custom["name"]))
        if existing is None:
            detail = {"parent": custom["parent"], "cmdlets": ",".join(custom["cmdlets"])}
            steps.append(Step("New-ManagementRole", custom["name"], "missing", detail))
            continue
        have_cmdlets = {_key(c): str(c) for c in existing.get("cmdlets", [])}
        for cmdlet in custom["cmdlets"]:
            if have_cmdlets.pop(_key(cmdlet), None) is None:
                steps.append(Step("Add-ManagementRoleEntry", custom["name"], "drift", {"cmdlet": cmdlet}))
        for extra in sorted(have_cmdlets.values(), key=_key):
            steps.append(Step("Remove-ManagementRoleEntry", custom["name"], "drift", {"cmdlet": extra}))

    # 3. Role groups, empty; 4. their assignments, scoped; extra or mis-scoped assignments on owned groups go (that only narrows).
    for p in principals:
        group = p["roleGroup"]
        existing = groups.get(_key(group["name"]))
        if existing is None:
            steps.append(Step("New-RoleGroup", group["name"], "missing", {"displayName": group["displayName"]}))
        have = {_key(a["name"]): a for a in (existing or {}).get("assignments", [])}
        want_scope = _assignment_scope(group["scope"])
        for assignment in group["assignments"]:
            found = have.pop(_key(assignment["name"]), None)
            if found is not None:
                # Case-insensitive, as Exchange (and the runbook's -ne) compares names.
                same_role = _key(found.get("role", "")) == _key(assignment["role"])
                same_scope = _key(found.get("scope", "")) == _key(want_scope)
                if not (same_role and same_scope):
                    steps.append(Step("Remove-ManagementRoleAssignment", found["name"], "drift", {"role": str(found.get("role"))}))
                    found = None
            if found is None:
                steps.append(
                    Step(
                        "New-ManagementRoleAssignment",
                        assignment["name"],
                        "missing",
                        {"role": assignment["role"], "roleGroup": group["name"], "scope": want_scope},
                    )
                )
        for _name, extra in sorted(have.items()):
            steps.append(Step("Remove-ManagementRoleAssignment", extra["name"], "drift", {"role": str(extra.get("role"))}))

    # 5. Membership: only the declared principal, added once its group holds every scoped assignment.
    for p in principals:
        group = p["roleGroup"]
        members = {_key(m) for m in (groups.get(_key(group["name"])) or {}).get("members", [])} - removed_members
        if _key(p["objectId"]) not in members:
            steps.append(Step("Add-RoleGroupMember", group["name"], "missing", {"member": p["objectId"]}))
        for stranger in sorted(members - {_key(p["objectId"])}):
            steps.append(Step("Remove-RoleGroupMember", group["name"], "drift", {"member": stranger}))

    # 6. Obsolete owned groups (of this owner or a former one): emptied, then removed, only now that every replacement above exists.
    wanted_groups = {_key(p["roleGroup"]["name"]) for p in principals}
    for name, group in sorted(groups.items()):
        if name in wanted_groups:
            continue
        for member in sorted({_key(m) for m in group.get("members", [])} - removed_members):
            steps.append(Step("Remove-RoleGroupMember", group["name"], "obsolete", {"member": member}))
        steps.append(Step("Remove-RoleGroup", group["name"], "obsolete", {}))

    # 7. Obsolete owned scopes and custom roles (their assignments went with the groups); 8. obsolete owned service principals.
    for name, scope in sorted(scopes.items()):
        if name not in declared_scopes:
            steps.append(Step("Remove-ManagementScope", scope["name"], "obsolete", {}))
    for name, role in sorted(roles.items()):
        if name not in declared_roles:
            steps.append(Step("Remove-ManagementRole", role["name"], "obsolete", {}))
    wanted_sps = {_key(p["objectId"]) for p in principals}
    for sp in service_principals:
        oid = _key(sp["objectId"])
        if owned(sp["displayName"]) and oid not in wanted_sps and oid not in removed_members:
            steps.append(Step("Remove-ServicePrincipal", str(sp["objectId"]), "obsolete", {"displayName": str(sp["displayName"])}))
    return steps


# -- The read-back: Exchange's answers as the plan reads them --------------------------------------------------------------------------

# RecipientWriteScope of a role assignment (the ScopeType values Test-ServicePrincipalAuthorization.md shows: Organization,
# CustomRecipientScope, AdministrativeUnit): an AU-scoped assignment carries the AU's id in CustomRecipientWriteScope (Microsoft365DSC
# MSFT_EXOManagementRoleAssignment.psm1, commit 04eebd715f4c66665867732c47a625ae0b00e39a, Get-TargetResource). Any other value (an
# exclusive or OU scope, which this program never sets) reads as a scope no declaration has, so the assignment is re-created.
WRITE_SCOPE_ORGANIZATION = "Organization"
WRITE_SCOPE_CUSTOM = "CustomRecipientScope"
WRITE_SCOPE_ADMINISTRATIVE_UNIT = "AdministrativeUnit"


class ReadBackError(ValueError):
    """Exchange answered in a form the reconciler cannot compare; the job fails rather than guess."""


def _text(answer: Mapping[str, Any], name: str) -> str:
    value = answer.get(name)
    return "" if value is None else str(value)


def assignment_scope_text(assignment: Mapping[str, Any]) -> str:
    """An assignment's scope as the plan compares it ("", "scope:<name>", "au:<id>"), from its RecipientWriteScope."""
    write_scope = _text(assignment, "RecipientWriteScope")
    custom = _text(assignment, "CustomRecipientWriteScope")
    if not write_scope:
        name = _text(assignment, "Name")
        raise ReadBackError(f"role assignment {name!r} came back without RecipientWriteScope; cannot compare its scope")
    if write_scope.lower() == WRITE_SCOPE_ADMINISTRATIVE_UNIT.lower():
        return f"au:{custom}"
    if write_scope.lower() == WRITE_SCOPE_CUSTOM.lower():
        return f"scope:{custom}"
    if write_scope.lower() == WRITE_SCOPE_ORGANIZATION.lower() and not custom:
        return ""
    return f"other:{write_scope}:{custom}"


def member_id(member: Mapping[str, Any], service_principals: Sequence[Mapping[str, Any]]) -> str:
    """A role group member as the plan compares it: the ObjectId of the Exchange service principal it is, else its own GUID.

    Matched by Exchange's own identity of the object, GUID or DistinguishedName (Get-ServicePrincipal.md lists both as identities of a
    service principal; Add-/Remove-RoleGroupMember.md accept both for -Member). Never by DisplayName or Name, which another principal
    can share. Not by `Get-ServicePrincipal -Identity <member>` either: with a value that matches nothing it returns every service
    principal (Get-ServicePrincipal.md, "Caution")."""
    guid = _text(member, "Guid").lower()
    dn = _text(member, "DistinguishedName").lower()
    if not guid and not dn:
        raise ReadBackError("a role group member came back without Guid or DistinguishedName; cannot compare membership")
    for sp in service_principals:
        if (guid and guid == str(sp.get("guid", "")).lower()) or (dn and dn == str(sp.get("distinguishedName", "")).lower()):
            return str(sp["objectId"]).lower()
    return guid or dn


def read_actual_state(answers: Mapping[str, Any], prefixes: Sequence[str]) -> dict[str, Any]:
    """What the runbook's Read-ActualState builds from Exchange's answers, for the owner `prefixes` (see `owner_prefixes`).

    `answers`: {"Get-ServicePrincipal": [objects], "Get-ManagementScope": [...], "Get-ManagementRole": [...],
    "Get-ManagementRoleEntry": {role: [...]}, "Get-RoleGroup": [...], "Get-RoleGroupMember": {group: [...]},
    "Get-ManagementRoleAssignment": {group: [...]}}, each object with the property names the cmdlets return."""
    service_principals = [
        {
            "objectId": _text(sp, "ObjectId"),
            "appId": _text(sp, "AppId"),
            "displayName": _text(sp, "DisplayName"),
            "guid": _text(sp, "Guid"),
            "distinguishedName": _text(sp, "DistinguishedName"),
        }
        for sp in answers.get("Get-ServicePrincipal", [])
    ]
    scopes = [
        {"name": _text(scope, "Name"), "filter": _text(scope, "RecipientFilter")}
        for scope in answers.get("Get-ManagementScope", [])
        if is_owned(_text(scope, "Name"), prefixes)
    ]
    roles = []
    for role in answers.get("Get-ManagementRole", []):
        name = _text(role, "Name")
        if is_owned(name, prefixes):
            entries = answers.get("Get-ManagementRoleEntry", {}).get(name, [])
            roles.append({"name": name, "cmdlets": [_text(entry, "Name") for entry in entries]})
    groups = []
    for group in answers.get("Get-RoleGroup", []):
        name = _text(group, "Name")
        if not is_owned(name, prefixes):
            continue
        members = [member_id(m, service_principals) for m in answers.get("Get-RoleGroupMember", {}).get(name, [])]
        assignments = [
            {"name": _text(a, "Name"), "role": _text(a, "Role"), "scope": assignment_scope_text(a)}
            for a in answers.get("Get-ManagementRoleAssignment", {}).get(name, [])
        ]
        groups.append({"name": name, "members": members, "assignments": assignments})
    return {"servicePrincipals": service_principals, "scopes": scopes, "roles": roles, "roleGroups": groups}


def _assignment_scope(scope: Mapping[str, str] | None) -> str:
    """How an assignment is scoped, as one comparable text: "", "scope:<name>" or "au:<id>"."""
    if scope is None:
        return ""
    if scope["kind"] == "filter":
        return f"scope:{scope['name']}"
    return f"au:{scope['administrativeUnitId']}"
