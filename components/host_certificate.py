"""A certificate made on the Windows host that uses it, uploaded to an app registration as a key credential. No key in state."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azuread as azuread

from exo.clock import rfc3339


@dataclass
class HostCertificateArgs:
    application_id: pulumi.Input[str]
    """Resource id of the application (`Application.id`, "/applications/<object id>"), not its client id."""
    certificate_pem: str
    """The host's public certificate, PEM. Its dates and thumbprint are read from it, never from the clock."""


class HostCertificate(pulumi.ComponentResource):
    """The app's key credential for one public certificate. The private key stays non-exportable on the host that made it.

    Every input of `ApplicationCertificate` forces a replacement, so the credential is named by the certificate's thumbprint: listing
    a new certificate adds a credential, removing one deletes exactly that one, and reordering the list changes nothing.
    """

    certificate_pem: pulumi.Output[str]
    """The certificate, PEM (public)."""
    thumbprint: pulumi.Output[str]
    """SHA-1 thumbprint, uppercase hex: what -CertificateThumbprint takes."""
    not_before: pulumi.Output[str]
    """Start of validity, RFC 3339; also the key credential's start date."""
    not_after: pulumi.Output[str]
    """End of validity, RFC 3339; also the key credential's end date."""
    key_id: pulumi.Output[str]
    """Key id of the app's key credential."""

    def __init__(self, name: str, args: HostCertificateArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:HostCertificate", name, None, opts)
        # Imported here: `cryptography` costs ~15 ms to import, and only a stack with host certificates needs it.
        from cryptography import x509

        from certtool.material import thumbprint

        certificate = x509.load_pem_x509_certificate(args.certificate_pem.encode("ascii"))
        start, end = rfc3339(certificate.not_valid_before_utc), rfc3339(certificate.not_valid_after_utc)
        credential = azuread.ApplicationCertificate(
            f"{name}-credential",
            application_id=args.application_id,
            type="AsymmetricX509Cert",
            encoding="pem",
            value=args.certificate_pem,
            # Both dates from the certificate. Entra refuses an end past the certificate's ("Key credential end date is invalid").
            # An unset start is left to Entra ("usually the start date of the certificate", pulumi-azuread 6.11.1
            # ApplicationCertificateArgs.start_date); set, it is in the inputs where a reviewer and the policy pack's lifetime
            # rule see it. key_id stays unset so a re-created credential gets a fresh one.
            start_date=start,
            end_date=end,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.certificate_pem = pulumi.Output.from_input(args.certificate_pem)
        self.thumbprint = pulumi.Output.from_input(thumbprint(certificate))
        self.not_before = pulumi.Output.from_input(start)
        self.not_after = pulumi.Output.from_input(end)
        self.key_id = credential.key_id
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs(
            {
                "certificatePem": self.certificate_pem,
                "thumbprint": self.thumbprint,
                "notBefore": self.not_before,
                "notAfter": self.not_after,
                "keyId": self.key_id,
            }
        )
