"""An Azure Key Vault holding each identity's certificate and private key, readable only by the hosts that run the tasks.

Hybrid Runbook Workers and Arc-enabled servers have a managed identity; with read access to one secret they fetch the certificate at
run time instead of having a PFX copied onto them. The secret value is deterministic, so `pulumi preview` shows no change until the
certificate itself changes: the certificate PEM followed by the PKCS#8 private key PEM, both exactly as the tls provider keeps them in
state. A PFX would not do: PKCS#12 encryption draws a fresh random salt and IV on every export, so its bytes (and the secret) would
differ on every run.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pulumi
import pulumi_azure_native as azure_native

from exo import facts
from exo.specs import CertificateVaultSpec

if TYPE_CHECKING:
    from components.app_identity import ExchangeAppIdentity

# Namespace of the role assignment names: uuid5 over it and stable strings gives the same GUID on every run and machine.
ROLE_ASSIGNMENT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:exo-automation:key-vault-role-assignment")


def secret_name(identity: str) -> str:
    """The secret that holds an identity's certificate and key. Identity names (lowercase letters, digits, hyphens) fit Key Vault's
    1-127 character rule as they are."""
    return f"{identity}-certificate-pem"


def pem_bundle(certificate_pem: str, private_key_pem: str) -> str:
    """Certificate PEM, then private key PEM, each ending in one newline: a pure function of the two, so the same inputs give the
    same bytes on every run (no salt, no IV, no timestamp)."""
    return f"{certificate_pem.strip()}\n{private_key_pem.strip()}\n"


def role_assignment_name(vault_name: str, secret: str, principal_id: str, role_id: str = facts.KEY_VAULT_SECRETS_USER_ROLE_ID) -> str:
    """A role assignment's name must be a GUID unique in the tenant. The vault name is globally unique, so vault/secret/principal/role
    identifies the assignment, and uuid5 over it is the same on every `up`: a re-run never creates a duplicate assignment."""
    return str(uuid.uuid5(ROLE_ASSIGNMENT_NAMESPACE, f"{vault_name.lower()}/secrets/{secret}|{principal_id.lower()}|{role_id}"))


def subscription_of(resource_id: str) -> str:
    """The subscription id of an ARM resource id (/subscriptions/<id>/resourceGroups/...)."""
    parts = resource_id.split("/")
    if len(parts) < 3 or parts[1].lower() != "subscriptions" or not parts[2]:
        raise ValueError(f"not an Azure resource id: {resource_id!r}")
    return parts[2]


def certificate_validity(certificate_pem: str) -> tuple[int, int]:
    """(not before, not after) of the certificate as Unix seconds: Key Vault's nbf and exp attributes for the secret."""
    from cryptography import x509  # here: ~15 ms to import, needed only once a certificate is known

    certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    return int(certificate.not_valid_before_utc.timestamp()), int(certificate.not_valid_after_utc.timestamp())


@dataclass
class VaultedCertificate:
    """One identity's certificate and key, as the stack holds them."""

    certificate_pem: pulumi.Input[str]
    """The certificate, PEM."""
    private_key_pem: pulumi.Input[str]
    """The PKCS#8 PEM private key (a secret)."""
    ready: Sequence[pulumi.Input[object]] = ()
    """Outputs the secret waits for, such as the id of the app's key credential for this certificate: hosts then never fetch a
    certificate Entra does not accept yet."""


@dataclass
class CertificateVaultArgs:
    spec: CertificateVaultSpec
    """The vault's place, readers, network access, retention and tags."""
    tenant_id: pulumi.Input[str]
    """Entra tenant whose tokens the vault accepts."""
    certificates: Mapping[str, VaultedCertificate]
    """Identity name -> its certificate and key; one secret each."""


class CertificateVault(pulumi.ComponentResource):
    """Key Vault (Azure RBAC, soft delete, purge protection) + one secret per identity + Key Vault Secrets User on each secret for each
    configured reader, and nothing else: no access policies, no vault-wide role."""

    vault_id: pulumi.Output[str]
    """ARM id of the vault."""
    vault_uri: pulumi.Output[str]
    """https://<name>.vault.azure.net/: what hosts pass to Get-ExoCertificateFromKeyVault.ps1 -VaultUri."""
    secret_names: dict[str, str]
    """Identity name -> secret name."""
    secret_ids: pulumi.Output[dict[str, str]]
    """Identity name -> ARM id of its secret (the scope of the readers' role assignments)."""
    secret_uris: pulumi.Output[dict[str, str]]
    """Identity name -> data-plane URI of the current version of its secret."""
    role_assignment_ids: pulumi.Output[list[str]]
    """ARM ids of the readers' role assignments."""

    def __init__(self, name: str, args: CertificateVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:CertificateVault", name, None, opts)
        spec = args.spec
        if not args.certificates:
            raise ValueError(f"CertificateVault {name}: no certificates to store")
        if not spec.readers:
            raise ValueError(f"CertificateVault {name}: no readers; nobody could fetch the certificates")
        if not 7 <= spec.soft_delete_retention_days <= 90:
            raise ValueError(f"CertificateVault {name}: soft_delete_retention_days must be 7 to 90")
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(spec.tags)

        resource_group_name: pulumi.Input[str] = spec.resource_group_name
        if spec.create_resource_group:
            if spec.location is None:
                raise ValueError(f"CertificateVault {name}: create_resource_group needs a location")
            resource_group = azure_native.resources.ResourceGroup(
                f"{name}-resource-group",
                resource_group_name=spec.resource_group_name,
                location=spec.location,
                tags=tags,
                opts=child,
            )
            resource_group_name = resource_group.name

        vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            vault_name=spec.name,
            resource_group_name=resource_group_name,
            location=spec.location,
            tags=tags,
            properties=azure_native.keyvault.VaultPropertiesArgs(
                tenant_id=args.tenant_id,
                sku=azure_native.keyvault.SkuArgs(family=azure_native.keyvault.SkuFamily.A, name=azure_native.keyvault.SkuName.STANDARD),
                # Data access by Azure RBAC only: the access policies below stay empty and would be ignored anyway.
                enable_rbac_authorization=True,
                access_policies=[],
                # Soft delete keeps a deleted secret recoverable; purge protection stops anyone, the deployer included, from
                # destroying it for good before the retention ends. Purge protection cannot be switched off again.
                enable_soft_delete=True,
                soft_delete_retention_in_days=spec.soft_delete_retention_days,
                enable_purge_protection=True,
                public_network_access="Enabled" if spec.public_network_access else "Disabled",
                # A private vault's firewall denies too, as ALZ's "Configure key vaults to enable firewall" (Modify) would set it:
                # declared, so a landing zone that enforces it sees no drift; trusted services keep the bypass Azure gives by
                # default. A public vault keeps Azure's default (allow).
                network_acls=None
                if spec.public_network_access
                else azure_native.keyvault.NetworkRuleSetArgs(
                    default_action=azure_native.keyvault.NetworkRuleAction.DENY,
                    bypass=azure_native.keyvault.NetworkRuleBypassOptions.AZURE_SERVICES,
                ),
                # Nothing else reads the vault: not VM deployment, not disk encryption, not ARM template deployments.
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
            ),
            opts=child,
        )
        subscription_id = vault.id.apply(subscription_of)
        role_definition_id = subscription_id.apply(
            lambda sub: f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{facts.KEY_VAULT_SECRETS_USER_ROLE_ID}"
        )

        secrets: dict[str, azure_native.keyvault.Secret] = {}
        assignments: list[azure_native.authorization.RoleAssignment] = []
        self.secret_names = {}
        for identity, material in args.certificates.items():
            name_of_secret = secret_name(identity)
            self.secret_names[identity] = name_of_secret
            certificate_pem = pulumi.Output.from_input(material.certificate_pem)
            # Output.all carries the secretness of the key and the dependencies of `ready` into the value; secret() makes sure
            # the value is a secret even if a caller passed a plain key.
            value = pulumi.Output.secret(
                pulumi.Output.all(certificate_pem, material.private_key_pem, *material.ready).apply(lambda v: pem_bundle(v[0], v[1]))
            )
            validity = certificate_pem.apply(certificate_validity)
            secret = azure_native.keyvault.Secret(
                f"{name}-{identity}-secret",
                secret_name=name_of_secret,
                vault_name=vault.name,
                resource_group_name=resource_group_name,
                tags=tags,
                properties=azure_native.keyvault.SecretPropertiesArgs(
                    value=value,
                    content_type=facts.PEM_CONTENT_TYPE,
                    # nbf/exp are informational for secrets (a get still works outside them); they let Key Vault's near-expiry
                    # events and the "secrets should have an expiration date" policy see the certificate's lifetime.
                    attributes=azure_native.keyvault.SecretAttributesArgs(
                        enabled=True,
                        not_before=validity.apply(lambda v: v[0]),
                        expires=validity.apply(lambda v: v[1]),
                    ),
                ),
                opts=child,
            )
            secrets[identity] = secret
            for reader in spec.readers:
                assignments.append(
                    azure_native.authorization.RoleAssignment(
                        f"{name}-{identity}-reader-{reader.object_id}",
                        role_assignment_name=pulumi.Output.from_input(spec.name).apply(
                            lambda vault_name, s=name_of_secret, r=reader.object_id: role_assignment_name(vault_name, s, r)
                        ),
                        # Least privilege: read on this one secret, not on the vault (which would also reach every other identity's).
                        scope=secret.id,
                        role_definition_id=role_definition_id,
                        principal_id=reader.object_id,
                        # Users, groups or service principals, as the config says (a plain object id is a service principal). Left
                        # out, azure-native would send its default, User; a type that is not the object's own is refused by ARM.
                        principal_type=reader.principal_type,
                        description=f"exo-automation: {identity} certificate for a host that runs Exchange Online tasks",
                        opts=child,
                    )
                )

        self.vault_id = vault.id
        self.vault_uri = vault.properties.apply(lambda p: p.vault_uri)
        self.secret_ids = pulumi.Output.all(**{i: s.id for i, s in secrets.items()}).apply(lambda ids: dict(ids))
        # Built from the vault URI rather than read from the secrets: the SDK sends a secret's whole `properties` as one secret, so
        # the engine marks all of that resource's `properties` outputs secret, and the URIs are not.
        names = dict(self.secret_names)
        self.secret_uris = self.vault_uri.apply(lambda uri: {i: f"{uri.rstrip('/')}/secrets/{n}" for i, n in names.items()} if uri else {})
        self.role_assignment_ids = pulumi.Output.all(*[a.id for a in assignments]).apply(list)
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs(
            {
                "vaultId": self.vault_id,
                "vaultUri": self.vault_uri,
                "secretNames": self.secret_names,
                "secretIds": self.secret_ids,
                "secretUris": self.secret_uris,
            }
        )

    def summary(self) -> dict[str, pulumi.Input[object]]:
        """The vault's stack output: what a host needs to fetch a certificate (nothing secret)."""
        return {"vaultId": self.vault_id, "vaultUri": self.vault_uri, "secretNames": self.secret_names, "secretUris": self.secret_uris}


def certificate_vault_for(
    spec: CertificateVaultSpec | None, tenant_id: pulumi.Input[str], identities: Mapping[str, ExchangeAppIdentity]
) -> CertificateVault | None:
    """The vault `keyVault` asks for, holding every generated identity's certificate and key; None when it is off."""
    if spec is None:
        return None
    return CertificateVault(
        "certificate-vault",
        CertificateVaultArgs(
            spec=spec,
            tenant_id=tenant_id,
            certificates={
                # A host fetches the certificate only once Entra holds it as a key credential. Host certificates have no key here.
                name: VaultedCertificate(identity.certificate_pem, identity.private_key_pem, ready=[identity.credential_key_id])
                for name, identity in identities.items()
                if identity.private_key_pem is not None
            },
        ),
    )
