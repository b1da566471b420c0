"""Host certificates: public certificates made on the Windows host that uses them, read from repo files and validated.

The key pair is generated on the host (`scripts/windows/New-ExoHostCertificate.ps1`), non-exportable in a CSP; the repo holds only the
public certificate. Everything here runs before any resource is registered, and every problem is one `ConfigError` naming the config
key. No message ever quotes a file's content: a file that holds a private key is named, never echoed.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exo.clock import rfc3339
from exo.key_material import private_key_form
from settings.values import ConfigError

if TYPE_CHECKING:
    from cryptography import x509

MINIMUM_RSA_BITS = 2048
"""The floor the policy pack enforces for every key (policy/exo_policies.py MINIMUM_RSA_BITS) and the generated mode's smallest size."""
DEFAULT_WARN_BEFORE_DAYS = 30
WARN_BEFORE_DAYS_RANGE = (1, 365)
_MAX_PATH = 260  # Windows' MAX_PATH: a longer "path" is content pasted by mistake
MAX_FILE_BYTES = 64 * 1024
"""A certificate is 1-2 KB; anything much larger is the wrong file."""

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_CERTIFICATE_LABELS = {b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"}
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")


@dataclass(frozen=True)
class HostCertificateFile:
    """One public certificate from the repo, validated."""

    path: str
    """As written in config: relative to the project directory."""
    certificate_pem: str
    """The certificate re-encoded as PEM (a DER .cer and a PEM file give the same text)."""
    thumbprint: str
    not_before: datetime.datetime
    not_after: datetime.datetime


@dataclass(frozen=True)
class HostCertificateSettings:
    """An identity whose certificates are made on its hosts: one key credential per listed certificate."""

    certificates: tuple[HostCertificateFile, ...]
    warn_before_days: int
    warnings: tuple[str, ...]
    """Expiry warnings at the moment the settings were read (preview and up print them); never resource inputs."""
    current_thumbprint: str
    """The certificate hosts should be on, and what the outputs show: the newest one that has started (see `current_of`)."""

    @property
    def current(self) -> HostCertificateFile:
        return next(c for c in self.certificates if c.thumbprint == self.current_thumbprint)

    @property
    def certificate_pems(self) -> tuple[str, ...]:
        """Every certificate's PEM, the current one first (what ExchangeAppIdentityArgs.host_certificates takes)."""
        current = self.current
        return (current.certificate_pem, *(c.certificate_pem for c in self.certificates if c is not current))


def _load_certificate(key: str, path: str, data: bytes) -> x509.Certificate:
    from cryptography import x509  # here: ~15 ms to import, and only stacks with host certificates read one

    labels = [m.group(1) for m in _PEM_BLOCK.finditer(data)]
    if labels:
        certificates = [label for label in labels if label in _CERTIFICATE_LABELS]
        if len(labels) != 1 or len(certificates) != 1:
            found = ", ".join(label.decode() for label in labels)
            raise ConfigError(key, f"{path} must hold exactly one PEM CERTIFICATE block (found: {found})")
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError:
            raise ConfigError(key, f"{path} is not a readable X.509 certificate (bad PEM or DER inside)") from None
    raw = data
    stripped = data.strip()
    if stripped and _BASE64_TEXT.fullmatch(stripped):
        try:
            raw = base64.b64decode(b"".join(stripped.split()), validate=True)
        except (ValueError, binascii.Error):
            raw = data
    try:
        return x509.load_der_x509_certificate(raw)
    except ValueError:
        raise ConfigError(
            key, f"{path} is not a certificate: expected a PEM file (-----BEGIN CERTIFICATE-----) or a DER .cer file"
        ) from None


def _read(key: str, raw: Any, project_dir: Path) -> tuple[str, bytes]:
    if not isinstance(raw, str):
        # Not echoed: a mis-pasted value could be anything, a key included.
        raise ConfigError(
            key, f"must be a path to a certificate file in the repository (relative to Pulumi.yaml), got a {type(raw).__name__}"
        )
    path = raw.strip()
    if "\n" in path or "-----" in path or len(path) > _MAX_PATH:
        # Pasted content instead of a path: say what it looks like, never repeat it.
        form = private_key_form(path.encode("utf-8", errors="replace"))
        if form is not None:
            raise ConfigError(
                key,
                f"holds private key material ({form}) instead of a path. Remove it from the stack config and its history, treat "
                "that key as disclosed, and list only the path of the public certificate the host exported",
            )
        raise ConfigError(
            key, "must be a path relative to the project directory, not a certificate's content; commit the file and list its path"
        )
    if not path or "\\" in path or Path(path).is_absolute():
        raise ConfigError(key, f"{path!r} must be a path relative to the project directory, with forward slashes")
    root = project_dir.resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root):
        raise ConfigError(key, f"{path!r} points outside the project directory; keep host certificates in the repository")
    if not file.is_file():
        raise ConfigError(key, f"{path} does not exist (relative to {root.name}/); commit the file the host exported")
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ConfigError(key, f"{path} is {size} bytes; a certificate is a few KB, is this the right file?")
    return path, file.read_bytes()


def parse_host_certificate(key: str, raw: Any, project_dir: Path, now: datetime.datetime) -> HostCertificateFile:
    path, data = _read(key, raw, project_dir)
    # Key material first, and by name only: the message must not carry any of it into logs, PR comments or CI output.
    form = private_key_form(data)
    if form is not None:
        raise ConfigError(
            key,
            f"{path} holds private key material ({form}), never only a public certificate. Do not commit it: remove the file "
            "from the repository and its history, treat that key as disclosed, and export only the certificate "
            "(scripts/windows/New-ExoHostCertificate.ps1 writes a .pem without the key)",
        )
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from certtool.material import thumbprint

    certificate = _load_certificate(key, path, data)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ConfigError(key, f"{path} has a {type(public_key).__name__} key; Entra certificate credentials for Exchange need RSA")
    if public_key.key_size < MINIMUM_RSA_BITS:
        raise ConfigError(key, f"{path} has a {public_key.key_size}-bit RSA key; at least {MINIMUM_RSA_BITS} bits are required")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise ConfigError(
            key, f"{path} is a CA certificate (basicConstraints CA=true); upload the host's own client certificate, not an issuer"
        )
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not_after <= now:
        raise ConfigError(
            key, f"{path} expired on {rfc3339(not_after)}; remove it from config (make a new one on the host first if none is left)"
        )
    if not_after <= not_before:
        raise ConfigError(key, f"{path} ends ({rfc3339(not_after)}) before it starts ({rfc3339(not_before)})")
    return HostCertificateFile(
        path=path,
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        thumbprint=thumbprint(certificate),
        not_before=not_before,
        not_after=not_after,
    )


def current_of(certificates: Sequence[HostCertificateFile], now: datetime.datetime) -> HostCertificateFile:
    """The newest certificate (latest end, then latest start) among those already valid; the newest of all if none has started."""
    started = [c for c in certificates if c.not_before <= now] or list(certificates)
    return max(started, key=lambda c: (c.not_after, c.not_before))


def expiry_warnings(identity: str, certificates: Sequence[HostCertificateFile], warn_days: int, now: datetime.datetime) -> list[str]:
    """Warnings for certificates within `warn_days` of their end, unless a newer listed one outlives the window (rotation done)."""
    horizon = now + datetime.timedelta(days=warn_days)
    later = [
        f"identity {identity}: host certificate {c.path} ({c.thumbprint}) starts {rfc3339(c.not_before)}; Entra accepts it only "
        "from then (is the host's clock ahead?)"
        for c in certificates
        if c.not_before > now
    ]
    if any(c.not_after > horizon for c in certificates):
        # A successor is already listed: the old one ending is the planned end of the overlap, not news.
        return later + [
            f"identity {identity}: host certificate {c.path} ({c.thumbprint}) ends {rfc3339(c.not_after)}; switch the hosts still "
            "on it to the newer certificate, then remove it from config"
            for c in certificates
            if c.not_after <= horizon
        ]
    return later + [
        f"identity {identity}: host certificate {c.path} ({c.thumbprint}) expires {rfc3339(c.not_after)}, in "
        f"{max(0, (c.not_after - now).days)} days, and no newer certificate is listed: run New-ExoHostCertificate.ps1 on the host "
        "and add the new .pem in a pull request (docs/certificate-handover.md, 'Host certificates')"
        for c in certificates
    ]


def parse_host_certificates(
    key: str, raw: Any, warn_before_days: int, identity: str, project_dir: Path, now: datetime.datetime
) -> HostCertificateSettings:
    """`key` is the full config key of the list (…certificate.hostCertificates)."""
    if not isinstance(raw, list):
        # Not echoed, unlike other config values: a key pasted here must not reach logs or PR comments.
        raise ConfigError(key, f"must be a list of certificate file paths, got a {type(raw).__name__}")
    entries: list[Any] = raw
    if not entries:
        raise ConfigError(key, "must list at least one certificate file; remove hostCertificates for a generated certificate")
    certificates: list[HostCertificateFile] = []
    for index, entry in enumerate(entries):
        item_key = f"{key}[{index}]"
        certificate = parse_host_certificate(item_key, entry, project_dir, now)
        for earlier_index, earlier in enumerate(certificates):
            if earlier.thumbprint == certificate.thumbprint:
                raise ConfigError(
                    item_key, f"{certificate.path} is the same certificate as {key}[{earlier_index}] (thumbprint {certificate.thumbprint})"
                )
        certificates.append(certificate)
    return HostCertificateSettings(
        certificates=tuple(certificates),
        warn_before_days=warn_before_days,
        warnings=tuple(expiry_warnings(identity, certificates, warn_before_days, now)),
        current_thumbprint=current_of(certificates, now).thumbprint,
    )
