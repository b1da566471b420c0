"""A self-signed certificate for app-only authentication, uploaded to an app registration as a key credential."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread
import pulumi_tls as tls

# The package, imported while the program runs: the language host runs `__main__.py` with runpy.run_path on the project directory,
# which puts the directory on sys.path only until `__main__` returns, and certificate_thumbprint runs later, in an apply. A package
# already imported finds its submodules through its own __path__ (found by the real engine, tests/engine).
import certtool  # noqa: F401
from exo.specs import CertificateSpec


def certificate_thumbprint(certificate_pem: str) -> str:
    """Windows' thumbprint of a PEM certificate (what -CertificateThumbprint takes); certtool computes the same from a PFX."""
    # Imported here, not at the top: `cryptography` costs ~15 ms to import, and a preview only needs it when a certificate is at hand.
    from cryptography import x509

    from certtool.material import thumbprint

    return thumbprint(x509.load_pem_x509_certificate(certificate_pem.encode("ascii")))


@dataclass
class AppCertificateArgs:
    application_id: pulumi.Input[str]
    """Resource id of the application (`Application.id`, "/applications/<object id>"), not its client id."""
    spec: CertificateSpec
    """Subject, key size and lifetime."""
    retired: bool = False
    """A previous generation kept only for the overlap: later spec changes must not reissue it."""


class AppCertificate(pulumi.ComponentResource):
    """RSA key, self-signed client-auth certificate, and the app's key credential for it.

    Early renewal reissues the certificate (same key) on the first `pulumi up` inside the window and replaces the key credential;
    Pulumi creates the replacement before it deletes the old credential. For an overlap that lasts beyond one `up` (hosts that hold
    the certificate in a file or store), the identity keeps a previous generation alive: see ExchangeAppIdentity.
    """

    certificate_pem: pulumi.Output[str]
    """The certificate, PEM."""
    thumbprint: pulumi.Output[str]
    """SHA-1 thumbprint, uppercase hex."""
    not_after: pulumi.Output[str]
    """End of validity, RFC 3339; also the key credential's end date."""
    private_key_pem: pulumi.Output[str]
    """PKCS#8 PEM private key (secret)."""
    key_id: pulumi.Output[str]
    """Key id of the app's key credential."""

    def __init__(self, name: str, args: AppCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:AppCertificate", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = args.spec
        # A retired generation ignores later spec changes, so nothing the config says reissues it; and it renews only once ended
        # (early_renewal_hours 0, updated in place): tls plans an early renewal from the *planned* window, which would otherwise
        # give the generation that hosts still use a new certificate in the middle of the overlap.
        frozen = (
            pulumi.ResourceOptions(parent=self, ignore_changes=["rsaBits", "subject", "validityPeriodHours", "allowedUses"])
            if args.retired
            else child
        )
        key = tls.PrivateKey(f"{name}-key", algorithm="RSA", rsa_bits=spec.rsa_bits, opts=frozen)
        certificate = tls.SelfSignedCert(
            f"{name}-cert",
            private_key_pem=key.private_key_pem,
            subject=tls.SelfSignedCertSubjectArgs(common_name=spec.common_name),
            validity_period_hours=spec.validity_period_hours,
            early_renewal_hours=0 if args.retired else spec.early_renewal_hours,
            # Client authentication with a signature: what Entra's certificate credential flow needs, nothing more.
            allowed_uses=["digital_signature", "client_auth"],
            set_subject_key_id=True,
            opts=frozen,
        )
        credential = azuread.ApplicationCertificate(
            f"{name}-credential",
            application_id=args.application_id,
            type="AsymmetricX509Cert",
            encoding="pem",
            value=certificate.cert_pem,
            # The credential ends with the certificate; Entra rejects an end date past the certificate's ("Key credential end date
            # is invalid"). key_id stays unset so each replacement gets a fresh one and the overlap works.
            end_date=certificate.validity_end_time,
            opts=child,
        )
        self.certificate_pem = certificate.cert_pem
        self.thumbprint = certificate.cert_pem.apply(certificate_thumbprint)
        self.not_after = certificate.validity_end_time
        self.private_key_pem = pulumi.Output.secret(key.private_key_pem_pkcs8)
        self.key_id = credential.key_id
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs(
            {
                "certificatePem": self.certificate_pem,
                "thumbprint": self.thumbprint,
                "notAfter": self.not_after,
                "privateKeyPem": self.private_key_pem,
                "keyId": self.key_id,
            }
        )
