# pyright: strict
"""Certificates and private keys in PEM form: loading, matching, thumbprints and validity."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from certtool.errors import BadInputError, ExpiredCertificateError, KeyMismatchError

# A PEM block: the label in BEGIN and END must agree. This only splits text; the DER inside is parsed by `cryptography`.
_PEM_BLOCK = re.compile(r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\r?\n.*?-----END (?P=label)-----", re.DOTALL)
_CERTIFICATE_LABELS = {"CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"}
_PRIVATE_KEY_LABELS = {"PRIVATE KEY", "RSA PRIVATE KEY"}


@dataclass(frozen=True)
class PemBundle:
    """What a set of PEM texts held: the certificates and at most one private key."""

    certificates: tuple[x509.Certificate, ...]
    private_key: rsa.RSAPrivateKey | None


@dataclass(frozen=True)
class Validity:
    """Where a certificate stands in its validity period at a given moment."""

    not_before: datetime.datetime
    not_after: datetime.datetime
    days_left: int
    expired: bool
    not_yet_valid: bool


def thumbprint(certificate: x509.Certificate) -> str:
    """Uppercase hex SHA-1 of the certificate's DER: what Windows and Entra show as the thumbprint."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()


def load_pem_bundle(text: bytes, source: str) -> PemBundle:
    """Parse every PEM block in `text`; `source` names the input in error messages."""
    certificates: list[x509.Certificate] = []
    keys: list[rsa.RSAPrivateKey] = []
    blocks = list(_PEM_BLOCK.finditer(text.decode("ascii", errors="replace")))
    if not blocks:
        raise BadInputError(f"{source}: no PEM block found (expected '-----BEGIN CERTIFICATE-----' or '-----BEGIN PRIVATE KEY-----').")
    for block in blocks:
        label = block.group("label")
        pem = block.group(0).encode("ascii")
        if label in _CERTIFICATE_LABELS:
            try:
                certificates.append(x509.load_pem_x509_certificate(pem))
            except ValueError as error:
                raise BadInputError(f"{source}: a CERTIFICATE block is not a valid X.509 certificate ({error}).") from error
        elif label == "ENCRYPTED PRIVATE KEY" or (label in _PRIVATE_KEY_LABELS and "ENCRYPTED" in block.group(0)):
            raise BadInputError(
                f"{source}: the private key is password-encrypted; give the unencrypted PKCS#8 key the stack outputs "
                "(privateKeys.<identity>) or decrypt it first."
            )
        elif label in _PRIVATE_KEY_LABELS:
            keys.append(_load_rsa_private_key(pem, source))
    if len(keys) > 1:
        raise BadInputError(f"{source}: found {len(keys)} private keys; give exactly one.")
    return PemBundle(tuple(certificates), keys[0] if keys else None)


def load_certificate_pem(text: str, source: str) -> x509.Certificate:
    """Exactly one certificate from PEM text."""
    bundle = load_pem_bundle(text.encode("ascii", errors="replace"), source)
    if len(bundle.certificates) != 1:
        raise BadInputError(f"{source}: expected one certificate, found {len(bundle.certificates)}.")
    return bundle.certificates[0]


def load_private_key_pem(text: str, source: str) -> rsa.RSAPrivateKey:
    """Exactly one unencrypted RSA private key from PEM text."""
    bundle = load_pem_bundle(text.encode("ascii", errors="replace"), source)
    if bundle.private_key is None:
        raise BadInputError(f"{source}: no private key found (expected '-----BEGIN PRIVATE KEY-----').")
    return bundle.private_key


def _load_rsa_private_key(pem: bytes, source: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise BadInputError(f"{source}: the PRIVATE KEY block is not a valid unencrypted private key ({error}).") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        # Windows CSP providers hold RSA keys; Exchange app-only authentication uses RSA certificates.
        raise BadInputError(f"{source}: the private key is {type(key).__name__}, but a CSP key provider needs an RSA key.")
    return key


def key_matches_certificate(private_key: rsa.RSAPrivateKey, certificate: x509.Certificate) -> bool:
    """True when the certificate's public key is the public half of `private_key`."""
    certificate_key = certificate.public_key()
    if not isinstance(certificate_key, rsa.RSAPublicKey):
        return False
    return certificate_key.public_numbers() == private_key.public_key().public_numbers()


def ensure_key_matches(private_key: rsa.RSAPrivateKey, certificate: x509.Certificate, what: str) -> None:
    """Raise KeyMismatchError unless the key belongs to the certificate; `what` names where both came from."""
    if not key_matches_certificate(private_key, certificate):
        raise KeyMismatchError(
            f"{what}: the private key does not match the certificate (thumbprint {thumbprint(certificate)}); "
            "they come from different key pairs, so Entra would reject every sign-in with this pair."
        )


def validity(certificate: x509.Certificate, now: datetime.datetime) -> Validity:
    """The certificate's validity at `now` (timezone-aware)."""
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    seconds_left = (not_after - now).total_seconds()
    return Validity(
        not_before=not_before,
        not_after=not_after,
        days_left=int(seconds_left // 86400),
        expired=now > not_after,
        not_yet_valid=now < not_before,
    )


def ensure_currently_valid(certificate: x509.Certificate, now: datetime.datetime, what: str) -> Validity:
    """Raise ExpiredCertificateError when the certificate is expired or not yet valid."""
    state = validity(certificate, now)
    if state.expired:
        raise ExpiredCertificateError(
            f"{what}: the certificate (thumbprint {thumbprint(certificate)}) expired on "
            f"{state.not_after.isoformat()}; Entra rejects it. Run `pulumi up` to rotate it, then export again."
        )
    if state.not_yet_valid:
        raise ExpiredCertificateError(
            f"{what}: the certificate (thumbprint {thumbprint(certificate)}) is not valid before "
            f"{state.not_before.isoformat()}; check the host clock or wait."
        )
    return state
