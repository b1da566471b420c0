"""A small Pulumi program for the vault tests: two identities' keys and certificates stored by CertificateVault.

The vault settings come from the `exo-automation:keyVault` config through parse_key_vault_settings, as the real program reads them, so
the tests cover config and component together. The identities are fixed here; the mock tenant's tls provider returns real PEMs.
"""

from __future__ import annotations

import pulumi
import pulumi_tls as tls

from components.certificate_vault import CertificateVault, CertificateVaultArgs, VaultedCertificate
from settings.key_vault import CONFIG_KEY, key_vault_settings_from_config

IDENTITIES = ("reports", "provisioning")
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def main() -> None:
    settings = key_vault_settings_from_config(pulumi.Config().get(CONFIG_KEY), pulumi.get_stack())
    if settings is None:
        pulumi.export("vault", None)
        return
    certificates: dict[str, VaultedCertificate] = {}
    for identity in IDENTITIES:
        key = tls.PrivateKey(f"{identity}-key", algorithm="RSA", rsa_bits=2048)
        certificate = tls.SelfSignedCert(
            f"{identity}-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"exo-automation-test-{identity}"),
            validity_period_hours=8760,
            early_renewal_hours=720,
            allowed_uses=["digital_signature", "client_auth"],
        )
        # Stands in for the app's key credential of this certificate: the secret must wait for whatever `ready` names.
        credential = tls.PrivateKey(f"{identity}-credential-stand-in", algorithm="RSA", rsa_bits=2048)
        certificates[identity] = VaultedCertificate(
            certificate_pem=certificate.cert_pem,
            private_key_pem=pulumi.Output.secret(key.private_key_pem_pkcs8),
            ready=[credential.id],
        )
        pulumi.export(f"{identity}CertificatePem", certificate.cert_pem)
        pulumi.export(f"{identity}PrivateKeyPem", pulumi.Output.secret(key.private_key_pem_pkcs8))
    vault = CertificateVault(
        "certificates",
        CertificateVaultArgs(
            resource_group_name=settings.resource_group_name,
            vault_name=settings.name,
            tenant_id=TENANT_ID,
            certificates=certificates,
            readers=settings.readers,
            location=settings.location,
            create_resource_group=settings.create_resource_group,
            public_network_access=settings.public_network_access,
            soft_delete_retention_days=settings.soft_delete_retention_days,
            tags=settings.tags,
        ),
    )
    pulumi.export("vault", vault.summary())
    pulumi.export("secretIds", vault.secret_ids)


main()
