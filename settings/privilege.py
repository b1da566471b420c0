"""What a stack's Entra roles mean for CISA ScubaGear, said at preview: the default-role change and privileged assignments.

Two kinds of warning, computed from the parsed settings and from which `roles` keys the config actually sets:
- the default roles changed (issue 20): a stack that leaves `roles` unset gets one line naming the keys and how to keep the old role.
  Without state the program cannot tell a stack that relied on the old default from a new one, so every stack that leaves a `roles`
  key unset sees it; setting the key (to any value, the new default included) is the acknowledgement that ends it (docs/scubagear.md).
- one warning per principal the stack assigns a ScubaGear highly privileged role (MS.AAD.7.4v1 and MS.AAD.7.5v1 will fail), with
  the config alternatives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exo import facts, scubagear


@dataclass(frozen=True)
class RoleHolder:
    """One principal's Entra roles as the config gave them (the parsed names, and whether `roles` was set at all)."""

    label: str
    """`identity exo` or `automation managed identity`, as warnings and the scubaGearConfig output name it."""
    roles_key: str
    roles: tuple[str, ...]
    roles_set: bool
    default_roles: tuple[str, ...]
    """What an unset `roles` means now."""
    previous_default_roles: tuple[str, ...]
    """What an unset `roles` meant before issue 20 (the same as default_roles where nothing changed)."""
    alternatives: str
    """The config alternatives to a privileged role for this principal, in words."""


def roles_set(mapping: Mapping[str, Any] | None) -> bool:
    """Whether a config object sets `roles` (a null value is unset, as settings.values.optional reads it)."""
    return isinstance(mapping, Mapping) and mapping.get("roles") is not None


def default_change_notice(holders: Sequence[RoleHolder], today: dt.date) -> str | None:
    """One line for every principal whose unset `roles` now means something else; None when every such key is set, or once the
    notice period after the change has passed (a stack made since then never knew the old default)."""
    ends = facts.DEFAULT_ROLES_CHANGED_ON + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS)
    changed = [h for h in holders if not h.roles_set and h.default_roles != h.previous_default_roles]
    if not changed or today >= ends:
        return None
    parts = "; ".join(f"{h.roles_key} ({h.label}) is not set and now means [{', '.join(h.default_roles)}]" for h in changed)
    previous = sorted({role for h in changed for role in h.previous_default_roles})
    keep = "; ".join(f"{h.roles_key} to [{', '.join(h.previous_default_roles)}]" for h in changed)
    return (
        f"Default Entra roles changed: {parts}; before, {'it' if len(changed) == 1 else 'each'} meant [{', '.join(previous)}], "
        f"which CISA ScubaGear counts as highly privileged ({' and '.join(facts.SCUBAGEAR_PRIVILEGED_ROLE_CONTROLS)} fail). "
        f"To keep the old role set {keep} (the preview then shows no role change); to accept the new default, set the same keys "
        f"to it. Setting them either way ends this notice; it stops by itself on {ends.isoformat()} ({scubagear.DOCS})."
    )


def privileged_warning(holder: RoleHolder) -> str | None:
    """The warning for one principal that holds a ScubaGear highly privileged role; None when it holds none."""
    privileged = scubagear.privileged_roles(holder.roles)
    if not privileged:
        return None
    return (
        f"{holder.label} ({holder.roles_key}) is assigned {', '.join(privileged)} permanently and outside PIM; CISA ScubaGear counts "
        f"{'it' if len(privileged) == 1 else 'them'} as highly privileged, so {facts.SCUBAGEAR_PERMANENT_ASSIGNMENT_CONTROL} fails "
        f"unless its object id is in that control's RoleExclusions and {facts.SCUBAGEAR_PAM_CONTROL} fails with no exclusion (it "
        f"can only be annotated): the stack output scubaGearConfig holds both. Alternatives: {holder.alternatives} "
        f"({scubagear.DOCS})."
    )


def privilege_warnings(holders: Sequence[RoleHolder], now: dt.datetime) -> tuple[str, ...]:
    """Every ScubaGear line a preview prints for these principals: the default-change notice first, then one per privileged one.
    `now` is the program's one clock reading (exo/clock.py)."""
    notice = default_change_notice(holders, now.date())
    privileged = [warning for holder in holders if (warning := privileged_warning(holder)) is not None]
    return ((notice,) if notice else ()) + tuple(privileged)


IDENTITY_ALTERNATIVES = (
    "a smaller role set in roles ([Global Reader] to read; [Exchange Recipient Administrator, Global Reader] to change recipients), "
    "or exchangeRbac (Exchange management roles, optionally scoped, and no directory role at all)"
)


def automation_alternatives(runbooks_fit_default: bool, reconciler: bool) -> str:
    """What the managed identity could hold instead, given what its runbooks and the Exchange RBAC reconciler need."""
    default = ", ".join(facts.DEFAULT_MANAGED_IDENTITY_ROLES)
    runbooks = (
        f"roles [{default}] covers every configured runbook's role header"
        if runbooks_fit_default
        else "a configured runbook's role header needs more than "
        f"[{default}]: narrow that runbook, or run it as an app identity with exchangeRbac"
    )
    if reconciler:
        return (
            f"{runbooks}; but the Exchange RBAC reconciler (exchangeRbac) needs Role Management, which no Entra role below "
            f"{' or '.join(facts.RBAC_RECONCILER_ROLES)} carries: record the exclusion, or drop exchangeRbac"
        )
    return runbooks
