"""What CISA's ScubaGear will say about the Entra role assignments a stack makes, and the config fragment that records them.

Pure functions over role names and object ids; the rules they apply are data in `exo/facts.py` (ScubaGear block, with sources).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from exo import facts

DOCS = "docs/scubagear.md"
MANAGED_IDENTITY_LABEL = "automation managed identity"


def identity_label(name: str) -> str:
    """How warnings and the scubaGearConfig output name an app identity's service principal."""
    return f"identity {name}"


def privileged_roles(role_names: Iterable[str]) -> tuple[str, ...]:
    """The roles ScubaGear counts as highly privileged, in the order given."""
    return tuple(name for name in role_names if name in facts.SCUBAGEAR_PRIVILEGED_ROLES)


@dataclass(frozen=True)
class PrivilegedPrincipal:
    """A principal this stack assigns at least one ScubaGear-privileged role, directly and permanently (not through PIM)."""

    label: str
    """Who it is, as the config names it: `identity exo` or `automation managed identity`."""
    object_id: str
    roles: tuple[str, ...]


def _comment(principals: Sequence[PrivilegedPrincipal]) -> str:
    held = "; ".join(f"{p.label} ({p.object_id}): {', '.join(p.roles)}" for p in principals)
    return (
        f"exo-automation assigns these roles to service principals directly and permanently, not through a PAM system: {held}. "
        f"Unattended software cannot activate a role (ScubaGear aad.md, {facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL} exceptions); "
        f"{facts.SCUBAGEAR_PAM_CONTROL} offers no exclusion, so this "
        f"annotation records the decision. See {DOCS} in exo-automation."
    )


def _object_ids(principals: Sequence[PrivilegedPrincipal]) -> dict[str, list[str]]:
    """Each distinct object id (canonical GUID form), in order, with the labels of the principals that have it."""
    owners: dict[str, list[str]] = {}
    for principal in principals:
        owners.setdefault(str(uuid.UUID(principal.object_id)), []).append(principal.label)
    return owners


def config_fragment(principals: Sequence[PrivilegedPrincipal]) -> dict[str, Any]:
    """The part of a ScubaGear config file that lists these principals: MS.AAD.7.4v1 RoleExclusions and an MS.AAD.7.5v1 note.

    ScubaGear's RoleExclusions has only Users and Groups (ScubaConfigSchema.json); its Rego compares principal ids alone, so service
    principal object ids go under Users. Empty when no principal holds a privileged role: nothing to exclude.
    """
    if not principals:
        return {}
    return {
        facts.SCUBAGEAR_CONFIG_PRODUCT_KEY: {
            facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL: {
                facts.SCUBAGEAR_ROLE_EXCLUSIONS_KEY: {"Users": list(_object_ids(principals))},
            },
        },
        facts.SCUBAGEAR_ANNOTATE_KEY: {facts.SCUBAGEAR_PAM_CONTROL: {"Comment": _comment(principals)}},
    }


def config_fragment_yaml(principals: Sequence[PrivilegedPrincipal]) -> str:
    """The same fragment as YAML to paste into a ScubaGear config file, each object id commented with whose it is."""
    if not principals:
        return ""
    lines = [
        f"{facts.SCUBAGEAR_CONFIG_PRODUCT_KEY}:",
        f"  {facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL}:",
        f"    {facts.SCUBAGEAR_ROLE_EXCLUSIONS_KEY}:",
        "      Users:",
        *(f"        - {object_id} # {', '.join(labels)}" for object_id, labels in _object_ids(principals).items()),
        f"{facts.SCUBAGEAR_ANNOTATE_KEY}:",
        f"  {facts.SCUBAGEAR_PAM_CONTROL}:",
        # A JSON string is a valid YAML double-quoted scalar: no quoting rules of our own.
        f"    Comment: {json.dumps(_comment(principals))}",
    ]
    return "\n".join(lines) + "\n"


def scubagear_output(principals: Sequence[PrivilegedPrincipal]) -> dict[str, object]:
    """The `scubaGearConfig` stack output: which principals ScubaGear will flag, and the fragment that records them."""
    return {
        "privilegedAssignments": [{"principal": p.label, "objectId": p.object_id, "roles": list(p.roles)} for p in principals],
        "controls": list(facts.SCUBAGEAR_PRIVILEGED_ROLE_CONTROLS) if principals else [],
        "fragment": config_fragment(principals),
        "yaml": config_fragment_yaml(principals),
        "note": (
            f"Merge 'fragment' (or 'yaml') into your ScubaGear config file. {facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL} accepts "
            f"RoleExclusions; {facts.SCUBAGEAR_PAM_CONTROL} has no exclusion and can only be annotated (AnnotatePolicy): it "
            f"still fails. {DOCS}."
            if principals
            else f"No ScubaGear highly privileged role is assigned by this stack: nothing to exclude. {DOCS}."
        ),
    }
