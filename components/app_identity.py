"""An Entra app registration that runs Exchange Online PowerShell app-only with a certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import pulumi
import pulumi_azuread as azuread

from components.app_certificate import AppCertificate, AppCertificateArgs, certificate_thumbprint
from components.exchange_grant import ExchangeGrant, ExchangeGrantArgs
from components.host_certificate import HostCertificate, HostCertificateArgs
from components.tenant import ExchangeServicePrincipal, Tenant
from exo import connect_commands, facts
from exo.specs import CertificateSpec

GENERATED = "generated"
HOST = "host"


@dataclass
class ExchangeAppIdentityArgs:
    display_name: pulumi.Input[str]
    """Display name of the app registration."""
    owners: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Object ids of the app's owners (the deploying principal first)."""
    roles: Sequence[facts.ExchangeRole]
    """Entra roles the identity holds, from the catalogue of roles Exchange supports for app-only access."""
    exchange: ExchangeServicePrincipal
    """This tenant's Office 365 Exchange Online service principal and its verified Exchange.ManageAsApp role (looked up)."""
    tenant_id: pulumi.Input[str]
    """The tenant the identity lives in."""
    organization: pulumi.Input[str]
    """The tenant's initial domain, for -Organization."""
    cloud: facts.CloudEnvironment
    """The national cloud: decides -ExchangeEnvironmentName and the Security & Compliance endpoints."""
    certificate: CertificateSpec | None
    """Subject, key size, lifetime and generation of the certificate the program generates; None when the hosts make their own."""
    host_certificates: Sequence[str] = ()
    """Public certificates (PEM) made on the hosts, each its own key credential; the first is the current one. Instead of
    `certificate`: the program then holds no private key."""
    now: dt.datetime | None = None
    """The program's clock reading, for the warning about a kept previous generation close to its end (None: no warning)."""


# A kept previous generation renews only once it has ended, and then for a full term with its old key: say so this long before.
KEPT_GENERATION_WARNING = dt.timedelta(days=14)


def kept_generation_warning(identity: str, not_after: str, now: dt.datetime) -> str | None:
    """The preview's warning for a kept previous generation that ends within KEPT_GENERATION_WARNING of `now` (or has ended)."""
    end = dt.datetime.fromisoformat(not_after.replace("Z", "+00:00"))
    if now < end - KEPT_GENERATION_WARNING:
        return None
    when = "ended" if now >= end else "ends"
    return (
        f"identity {identity}: the kept previous certificate generation {when} {not_after}; finish the rotation and remove "
        "certificate.keepPreviousGeneration, or an up after its end reissues it for a full term with its old key "
        "(docs/operations.md#certificate-rotation)"
    )


class ExchangeAppIdentity(pulumi.ComponentResource):
    """App registration + service principal + certificate + Exchange grant: one unattended Exchange Online identity."""

    client_id: pulumi.Output[str]
    """Application (client) id: -AppId."""
    application_object_id: pulumi.Output[str]
    """Object id of the app registration."""
    service_principal_object_id: pulumi.Output[str]
    """Object id of the app's service principal: the principal that holds the grant."""
    tenant_id: pulumi.Output[str]
    organization: pulumi.Output[str]
    thumbprint: pulumi.Output[str]
    certificate_pem: pulumi.Output[str]
    certificate_not_after: pulumi.Output[str]
    private_key_pem: pulumi.Output[str] | None
    """PKCS#8 PEM private key (secret) of a generated certificate; None for host certificates (the key never left the host)."""
    previous_thumbprint: pulumi.Output[str] | None
    """Thumbprint of the previous generation while it is kept for the overlap."""
    certificate_generation: int | None
    """Generation of a generated certificate; None for host certificates."""
    certificate_source: str
    """"generated" (the program made the key; it is in state) or "host" (made on the host; only the public certificate is here)."""
    credentials: pulumi.Output[list[dict[str, str]]]
    """Every certificate the app accepts: thumbprint, notBefore, notAfter."""
    connect_command: pulumi.Output[str]
    """Connect-ExchangeOnline with the certificate thumbprint."""
    roles: list[str]
    """Entra roles the identity holds."""
    exchange_environment_name: str
    """-ExchangeEnvironmentName of the identity's cloud."""
    ipps_connect_command: pulumi.Output[str] | None
    """Connect-IPPSSession with the certificate, where the roles allow Security & Compliance PowerShell."""

    def __init__(self, name: str, args: ExchangeAppIdentityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ExchangeAppIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        application = azuread.Application(
            f"{name}-app",
            display_name=args.display_name,
            description="Unattended Exchange Online PowerShell (app-only, certificate). Managed by exo-automation.",
            owners=args.owners,
            sign_in_audience="AzureADMyOrg",
            prevent_duplicate_names=True,
            # Declares the permission so the portal lists it; the app role assignment in ExchangeGrant is the consent itself.
            required_resource_accesses=[
                azuread.ApplicationRequiredResourceAccessArgs(
                    resource_app_id=facts.EXCHANGE_ONLINE_APP_ID,
                    resource_accesses=[
                        azuread.ApplicationRequiredResourceAccessResourceAccessArgs(id=facts.MANAGE_AS_APP_ROLE_ID, type="Role")
                    ],
                )
            ],
            opts=child,
        )
        service_principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            owners=args.owners,
            # Nobody signs in to this app interactively; only the app itself acquires tokens.
            app_role_assignment_required=True,
            opts=child,
        )
        if (args.certificate is None) == (not args.host_certificates):
            raise ValueError(f"{name}: give either a generated certificate spec or host certificates, not both or neither")
        self.certificate_generation = None
        self.previous_thumbprint = None
        self.private_key_pem = None
        if args.certificate is not None:
            generation = args.certificate.generation
            current: AppCertificate | HostCertificate = AppCertificate(
                f"{name}-certificate-g{generation}",
                AppCertificateArgs(application_id=application.id, spec=args.certificate),
                opts=child,
            )
            previous = (
                AppCertificate(
                    f"{name}-certificate-g{generation - 1}",
                    AppCertificateArgs(application_id=application.id, spec=args.certificate, retired=True),
                    opts=child,
                )
                if args.certificate.keep_previous_generation
                else None
            )
            self.certificate_source = GENERATED
            self.certificate_generation = generation
            self.private_key_pem = current.private_key_pem
            self.previous_thumbprint = previous.thumbprint if previous is not None else None
            if previous is not None and args.now is not None:
                previous.not_after.apply(lambda end, now=args.now: _warn(kept_generation_warning(name, end, now)) if end else None)
            accepted: list[AppCertificate | HostCertificate] = [current, *([previous] if previous is not None else [])]
        else:
            hosted = [
                HostCertificate(
                    f"{name}-host-{certificate_thumbprint(pem).lower()}",
                    HostCertificateArgs(application_id=application.id, certificate_pem=pem),
                    opts=child,
                )
                for pem in args.host_certificates
            ]
            current = hosted[0]
            self.certificate_source = HOST
            accepted = list(hosted)
        ExchangeGrant(
            f"{name}-grant",
            ExchangeGrantArgs(
                principal_object_id=service_principal.object_id,
                exchange=args.exchange,
                roles=args.roles,
            ),
            opts=child,
        )

        cloud = args.cloud
        self.roles = [role.display_name for role in args.roles]
        self.exchange_environment_name = cloud.exchange_environment_name
        self.client_id = application.client_id
        self.application_object_id = application.object_id
        self.service_principal_object_id = service_principal.object_id
        self.tenant_id = pulumi.Output.from_input(args.tenant_id)
        self.organization = pulumi.Output.from_input(args.organization)
        self.thumbprint = current.thumbprint
        self.certificate_pem = current.certificate_pem
        self.certificate_not_after = current.not_after
        self.credential_key_id = current.key_id
        self.credentials = pulumi.Output.all(*[pulumi.Output.all(c.thumbprint, c.not_after) for c in accepted]).apply(
            lambda pairs: [{"thumbprint": thumb, "notAfter": not_after} for thumb, not_after in pairs]
        )
        self.connect_command = pulumi.Output.all(self.thumbprint, self.client_id, self.organization).apply(
            lambda v: connect_commands.exchange_certificate_command(v[0], v[1], v[2], cloud)
        )
        allows_compliance = any(role.security_compliance for role in args.roles)
        self.ipps_connect_command = (
            pulumi.Output.all(self.thumbprint, self.client_id, self.organization).apply(
                lambda v: connect_commands.compliance_certificate_command(v[0], v[1], v[2], cloud)
            )
            if allows_compliance
            else None
        )
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs(
            {
                "clientId": self.client_id,
                "servicePrincipalObjectId": self.service_principal_object_id,
                "thumbprint": self.thumbprint,
                "certificateNotAfter": self.certificate_not_after,
                "connectCommand": self.connect_command,
            }
        )

    def summary(self) -> dict[str, pulumi.Input[object]]:
        """The identity's stack output: everything a user pastes, nothing secret (the private key is exported apart)."""
        values: dict[str, pulumi.Input[object]] = {
            "clientId": self.client_id,
            "tenantId": self.tenant_id,
            "organization": self.organization,
            "exchangeEnvironmentName": self.exchange_environment_name,
            "roles": self.roles,
            "applicationObjectId": self.application_object_id,
            "servicePrincipalObjectId": self.service_principal_object_id,
            "thumbprint": self.thumbprint,
            "certificatePem": self.certificate_pem,
            "certificateNotAfter": self.certificate_not_after,
            "certificateSource": self.certificate_source,
            "credentials": self.credentials,
            "connectCommand": self.connect_command,
        }
        if self.certificate_generation is not None:
            values["certificateGeneration"] = self.certificate_generation
        if self.previous_thumbprint is not None:
            values["previousThumbprint"] = self.previous_thumbprint
        if self.ipps_connect_command is not None:
            values["ippsConnectCommand"] = self.ipps_connect_command
        return values


class IdentityPlan(Protocol):
    """What the settings say about one identity (settings.stack.IdentitySettings); components do not import settings/."""

    @property
    def name(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def roles(self) -> tuple[facts.ExchangeRole, ...]: ...
    @property
    def generated_certificate(self) -> CertificateSpec | None: ...
    @property
    def host_certificate_pems(self) -> tuple[str, ...]: ...


def _warn(message: str | None) -> None:
    if message is not None:
        pulumi.log.warn(message)


def app_identities(
    planned: Sequence[IdentityPlan],
    tenant: Tenant,
    cloud: facts.CloudEnvironment,
    additional_owners: Sequence[str],
    now: dt.datetime | None = None,
) -> dict[str, ExchangeAppIdentity]:
    """One ExchangeAppIdentity per configured identity, in config order, each owned by the deployer first, then the extra owners."""
    owners = pulumi.Output.all(tenant.deployer_object_id, *additional_owners).apply(lambda ids: sorted(set(ids), key=ids.index))
    return {
        identity.name: ExchangeAppIdentity(
            identity.name,
            ExchangeAppIdentityArgs(
                display_name=identity.display_name,
                owners=owners,
                roles=identity.roles,
                exchange=tenant.exchange,
                tenant_id=tenant.tenant_id,
                organization=tenant.organization,
                cloud=cloud,
                certificate=identity.generated_certificate,
                host_certificates=identity.host_certificate_pems,
                now=now,
            ),
        )
        for identity in planned
    }
