"""The desired Exchange RBAC state, published where the reconciler runbook reads it, and the record of what it last applied.

Where: an Automation variable in the account the reconciler runs in. Get-AutomationVariable reads it with no further grant (a blob
would need a Storage data role for the managed identity and a network path to the storage account), and it sits inside the trust
boundary that already matters: whoever can change the variable can change the runbook. It holds no secret (app ids, object ids, role
names, filters), so it is not encrypted and `pulumi preview` shows its change. The REST API takes a variable's value as a JSON-serialised
value (REST example createOrUpdateVariable: `"value": "\\"ComputerName.domain.com\\""`), so the document's text is JSON-encoded once more.

When: the reconciler runs on a frequent schedule (hourly by default, config `automation.exchangeRbacSync.schedule`). A run whose
document's SHA-256 equals the one recorded in the second variable (written by the runbook after a fully applied run) less than
`FullRunAfterHours` ago ends before it connects to Exchange; a changed document is therefore applied within the hour after `up`, and
drift is still checked once a day. No one-off schedule: a OneTime schedule started from a clock anchor would start in the past when it
is re-created after a failed `up`, a manual delete or a republish of the runbook (which drops its job schedules), and Azure refuses both
a past start and a link to an expired schedule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import automation

from exo.exchange_rbac_state import VARIABLE_NAME, ExchangeRbacSpec, PrincipalRbac, desired_state, principal_state, state_json, state_sha256

if TYPE_CHECKING:
    from components.app_identity import ExchangeAppIdentity

# Written by Sync-ExchangeRbac after a fully applied run; the program creates it once and never sends its value again.
APPLIED_VARIABLE_NAME = "ExchangeRbacAppliedState"


@dataclass
class ExchangeRbacPrincipal:
    """A principal with declared Exchange RBAC, as the component receives it (ids may be unknown at preview)."""

    name: str
    """Config name of the identity, or "automation"."""
    kind: str
    """application or managedIdentity."""
    app_id: pulumi.Input[str] | None
    """Client (application) id: New-ServicePrincipal -AppId. None: looked up from the service principal (a managed identity's
    client id is not in the Automation account's ARM response)."""
    object_id: pulumi.Input[str]
    """Object id of the Entra service principal: New-ServicePrincipal -ObjectId, and the role group member."""
    settings: ExchangeRbacSpec
    """Roles and scope."""


@dataclass
class ExchangeRbacStateArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the Automation account."""
    automation_account_name: pulumi.Input[str]
    """The Automation account the reconciler runs in."""
    owner_prefix: str
    """Name prefix of every Exchange object this stack owns (exchange_rbac_state.owner_prefix)."""
    label: str
    """Human-readable owner (project and stack) for role group display names."""
    principals: Sequence[ExchangeRbacPrincipal]
    """Every principal with exchangeRbac."""
    former_owners: Sequence[str] = ()
    """Owner prefixes of an earlier stack or account name whose Exchange objects the reconciler takes over or removes."""


class ExchangeRbacState(pulumi.ComponentResource):
    """Automation variable with the desired state, and the variable in which Sync-ExchangeRbac records what it last applied."""

    state_json: pulumi.Output[str]
    """The published document's text (canonical JSON)."""
    state_sha256: pulumi.Output[str]
    """Uppercase hex SHA-256 of that text: the value a job checks before it applies anything."""
    variable_name: pulumi.Output[str]
    applied_variable_name: pulumi.Output[str]

    def __init__(self, name: str, args: ExchangeRbacStateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ExchangeRbacState", name, None, opts)
        entries = [
            pulumi.Output.all(self._app_id(principal), principal.object_id).apply(
                lambda ids, p=principal: principal_state(
                    args.owner_prefix, PrincipalRbac(p.name, p.kind, str(ids[0]), str(ids[1]), p.settings), args.label
                )
            )
            for principal in args.principals
        ]
        former = tuple(args.former_owners)
        text = pulumi.Output.all(*entries).apply(lambda values: state_json(desired_state(args.owner_prefix, values, args.label, former)))
        sha = text.apply(state_sha256)
        variable = automation.Variable(
            f"{name}-desired-state",
            variable_name=VARIABLE_NAME,
            name=VARIABLE_NAME,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            value=text.apply(json.dumps),
            is_encrypted=False,
            description="Desired Exchange Online RBAC, read by Sync-ExchangeRbac (exo-automation; edits are overwritten on up)",
            opts=pulumi.ResourceOptions(parent=self),
        )
        applied = automation.Variable(
            f"{name}-applied-state",
            variable_name=APPLIED_VARIABLE_NAME,
            name=APPLIED_VARIABLE_NAME,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            # An empty record: the first run is a full one. The runbook owns the value from then on.
            value=json.dumps("{}"),
            is_encrypted=False,
            description="SHA-256 and time of the Exchange RBAC state Sync-ExchangeRbac last applied (written by the runbook)",
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )
        self.state_json = text
        self.state_sha256 = sha
        self.variable_name = variable.name
        self.applied_variable_name = applied.name
        self.register_outputs(
            {"stateSha256": self.state_sha256, "variableName": self.variable_name, "appliedVariableName": self.applied_variable_name}
        )

    def _app_id(self, principal: ExchangeRbacPrincipal) -> pulumi.Input[str]:
        if principal.app_id is not None:
            return principal.app_id
        found = azuread.get_service_principal_output(object_id=principal.object_id, opts=pulumi.InvokeOutputOptions(parent=self))
        return found.client_id


def application_principals(
    declared: Sequence[tuple[str, ExchangeRbacSpec]], identities: Mapping[str, ExchangeAppIdentity]
) -> list[ExchangeRbacPrincipal]:
    """The app identities that declare Exchange RBAC (name and spec, in config order), as the reconciler's desired state names them."""
    return [
        ExchangeRbacPrincipal(
            name=name,
            kind="application",
            app_id=identities[name].client_id,
            object_id=identities[name].service_principal_object_id,
            settings=spec,
        )
        for name, spec in declared
    ]
