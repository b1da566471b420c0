"""The grant that lets a principal run Exchange Online PowerShell app-only: Exchange.ManageAsApp plus supported directory roles.

One component for every principal: an app registration's service principal and an Automation account's managed identity alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_azuread as azuread

from components.tenant import ExchangeServicePrincipal
from exo import facts


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


@dataclass
class ExchangeGrantArgs:
    principal_object_id: pulumi.Input[str]
    """Object id of the service principal (app SP or managed identity) that receives the grant."""
    exchange: ExchangeServicePrincipal
    """This tenant's Office 365 Exchange Online service principal (looked up, never managed) and the Exchange.ManageAsApp role
    verified on it."""
    roles: Sequence[facts.ExchangeRole] = field(default_factory=lambda: [facts.ROLES[facts.DEFAULT_ROLE]])
    """The Entra roles to assign, from the catalogue of roles Exchange supports for app-only access (facts.ROLES). Empty: no
    directory role (the principal's permissions come from Exchange RBAC only)."""


class ExchangeGrant(pulumi.ComponentResource):
    """Exchange.ManageAsApp (an app role assignment: this *is* admin consent) and directory roles for one principal."""

    app_role_assignment_id: pulumi.Output[str]
    """Id of the Exchange.ManageAsApp assignment."""
    role_assignment_ids: pulumi.Output[dict[str, str]]
    """Directory role display name -> role assignment id."""

    def __init__(self, name: str, args: ExchangeGrantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ExchangeGrant", name, None, opts)
        # No roles is allowed: Exchange.ManageAsApp alone, for a principal whose permissions come from Exchange RBAC (role groups).
        # A new principal takes a while to replicate in Entra. The provider retries the app role assignment on 404 but not the
        # directory role assignment, so the roles wait for the app role assignment: once it exists, the principal is visible.
        manage_as_app = azuread.AppRoleAssignment(
            f"{name}-manage-as-app",
            app_role_id=args.exchange.manage_as_app_role_id,
            principal_object_id=args.principal_object_id,
            resource_object_id=args.exchange.object_id,
            # Its retry loop is what absorbs the delay: give it longer than the provider's default 5 minutes.
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=pulumi.CustomTimeouts(create="15m")),
        )
        assignments = {
            role.display_name: azuread.DirectoryRoleAssignment(
                f"{name}-{_slug(role.display_name)}",
                # A built-in role's template id works directly: no DirectoryRole activation resource is needed.
                role_id=role.template_id,
                principal_object_id=args.principal_object_id,
                directory_scope_id="/",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[manage_as_app]),
            )
            for role in args.roles
        }
        self.app_role_assignment_id = manage_as_app.id
        self.role_assignment_ids = pulumi.Output.all(**{role: assignment.id for role, assignment in assignments.items()}).apply(
            lambda ids: dict(ids)
        )
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"appRoleAssignmentId": self.app_role_assignment_id, "roleAssignmentIds": self.role_assignment_ids})
