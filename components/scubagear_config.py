"""The `scubaGearConfig` output: every principal given a ScubaGear highly privileged role, and the config fragment naming them
(exo/scubagear.py builds it; docs/scubagear.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pulumi

from exo import scubagear

if TYPE_CHECKING:
    from components.app_identity import ExchangeAppIdentity
    from components.automation import ExchangeAutomation


def scubagear_config(
    privileged: Sequence[tuple[str, str | None, tuple[str, ...]]],
    identities: Mapping[str, ExchangeAppIdentity],
    automation: ExchangeAutomation | None,
) -> pulumi.Output[dict[str, object]]:
    """`privileged`: (label, identity name or None for the Automation account's managed identity, the privileged roles it holds)."""
    held: list[tuple[str, pulumi.Output[str], tuple[str, ...]]] = []
    for label, identity, roles in privileged:
        if identity is not None:
            held.append((label, identities[identity].service_principal_object_id, roles))
        elif automation is not None:
            held.append((label, automation.account.principal_id, roles))
    return pulumi.Output.all(*(object_id for _, object_id, _ in held)).apply(
        lambda object_ids: scubagear.scubagear_output(
            [scubagear.PrivilegedPrincipal(label, object_id, roles) for (label, _, roles), object_id in zip(held, object_ids, strict=True)]
        )
    )
