"""PEM inputs: what is accepted, and the clear errors for everything else."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certtool import material
from certtool.errors import BadInputError, ExpiredCertificateError, KeyMismatchError
from tests.certtool.conftest import NOW, KeyPair, make_certificate


def test_bundle_with_certificate_and_key(pair: KeyPair) -> None:
    bundle = material.load_pem_bundle((pair.certificate_pem + pair.key_pem).encode(), "bundle.pem")
    assert bundle.certificates == (pair.certificate,)
    assert bundle.private_key is not None
    assert material.key_matches_certificate(bundle.private_key, pair.certificate)


def test_traditional_rsa_key_format_is_accepted(pair: KeyPair) -> None:
    traditional = pair.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert material.load_private_key_pem(traditional, "key.pem").private_numbers() == pair.key.private_numbers()


def test_key_mismatch_names_the_certificate(pair: KeyPair, other_pair: KeyPair) -> None:
    with pytest.raises(KeyMismatchError, match=pair.thumbprint):
        material.ensure_key_matches(other_pair.key, pair.certificate, "identity 'exo'")


def test_encrypted_key_is_refused_with_advice(pair: KeyPair) -> None:
    encrypted = pair.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret-passphrase"),
    ).decode()
    with pytest.raises(BadInputError, match="password-encrypted"):
        material.load_private_key_pem(encrypted, "key.pem")


def test_non_rsa_key_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(BadInputError, match="needs an RSA key"):
        material.load_private_key_pem(pem, "key.pem")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello, not PEM", "no PEM block"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a valid X.509",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "not a valid unencrypted private key",
        ),
    ],
)
def test_bad_pem_gets_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        material.load_pem_bundle(text.encode(), "input.pem")


def test_two_keys_are_ambiguous(pair: KeyPair, other_pair: KeyPair) -> None:
    with pytest.raises(BadInputError, match="2 private keys"):
        material.load_pem_bundle((pair.key_pem + other_pair.key_pem).encode(), "keys.pem")


def test_validity_counts_whole_days_left(pair: KeyPair) -> None:
    state = material.validity(pair.certificate, NOW)
    assert state.days_left == 365 and not state.expired and not state.not_yet_valid


def test_expired_certificate_is_refused(rsa_keys: list[rsa.RSAPrivateKey]) -> None:
    expired = make_certificate(
        rsa_keys[0],
        not_before=NOW - datetime.timedelta(days=400),
        not_after=NOW - datetime.timedelta(days=1),
    )
    with pytest.raises(ExpiredCertificateError, match="expired on"):
        material.ensure_currently_valid(expired, NOW, "identity 'exo'")


def test_not_yet_valid_certificate_is_refused(
    rsa_keys: list[rsa.RSAPrivateKey],
) -> None:
    future = make_certificate(
        rsa_keys[0],
        not_before=NOW + datetime.timedelta(days=2),
        not_after=NOW + datetime.timedelta(days=300),
    )
    with pytest.raises(ExpiredCertificateError, match="not valid before"):
        material.ensure_currently_valid(future, NOW, "identity 'exo'")
