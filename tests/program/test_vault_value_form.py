"""Why the secret holds PEM text and not a PFX: the same key and certificate must give the same bytes on every run."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from certtool.pfx import build_pfx
from components.certificate_vault import certificate_validity, pem_bundle


def key_and_certificate() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "exo-automation-test")])
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def test_a_pfx_of_the_same_key_and_certificate_differs_on_every_export() -> None:
    key, certificate = key_and_certificate()
    first = build_pfx(key, certificate, "a long test password", iterations=1000)
    second = build_pfx(key, certificate, "a long test password", iterations=1000)
    assert first != second  # fresh random salts: as a Pulumi input this would diff on every preview


def test_the_pem_bundle_of_the_same_key_and_certificate_is_always_the_same() -> None:
    key, certificate = key_and_certificate()
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    bundle = pem_bundle(certificate_pem, key_pem)
    assert bundle == pem_bundle(certificate_pem, key_pem)
    # Trailing whitespace differences in what the provider hands over do not change the value.
    assert bundle == pem_bundle(certificate_pem + "\n\n", key_pem.rstrip())
    assert bundle.index("BEGIN CERTIFICATE") < bundle.index("BEGIN PRIVATE KEY") and bundle.endswith("-----\n")
    assert certificate_validity(certificate_pem) == (
        int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()),
        int(dt.datetime(2027, 11, 1, tzinfo=dt.UTC).timestamp()),
    )
