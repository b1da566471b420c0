"""Why the secret holds PEM text and not a PFX: the same key and certificate must give the same bytes on every run."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric import rsa

from certtool.pfx import build_pfx
from components.certificate_vault import certificate_validity, pem_bundle
from tests.host_certificate_files import HostCertificate, make_host_certificate, rsa_key


def key_and_certificate() -> HostCertificate:
    """A fixed-date certificate, so that its validity is known exactly."""
    return make_host_certificate(dt.datetime(2026, 11, 1, tzinfo=dt.UTC), starts_days=0, days=365, key=rsa_key())


def test_a_pfx_of_the_same_key_and_certificate_differs_on_every_export() -> None:
    made = key_and_certificate()
    assert isinstance(made.key, rsa.RSAPrivateKey)
    key, certificate = made.key, made.certificate
    first = build_pfx(key, certificate, "a long test password", iterations=1000)
    second = build_pfx(key, certificate, "a long test password", iterations=1000)
    assert first != second  # fresh random salts: as a Pulumi input this would diff on every preview


def test_the_pem_bundle_of_the_same_key_and_certificate_is_always_the_same() -> None:
    made = key_and_certificate()
    certificate_pem, key_pem = made.pem.decode(), made.key_pem().decode()
    bundle = pem_bundle(certificate_pem, key_pem)
    assert bundle == pem_bundle(certificate_pem, key_pem)
    # Trailing whitespace differences in what the provider hands over do not change the value.
    assert bundle == pem_bundle(certificate_pem + "\n\n", key_pem.rstrip())
    assert bundle.index("BEGIN CERTIFICATE") < bundle.index("BEGIN PRIVATE KEY") and bundle.endswith("-----\n")
    assert certificate_validity(certificate_pem) == (
        int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()),
        int(dt.datetime(2027, 11, 1, tzinfo=dt.UTC).timestamp()),
    )
