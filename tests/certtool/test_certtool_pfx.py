"""The PFX handed to Windows: real keys, real round trips, and evidence that the key bag names a CSP."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import char, univ
from pyasn1_modules import rfc5958, rfc7292

from certtool import pfx
from certtool.errors import BadInputError, WrongPasswordError
from certtool.material import key_matches_certificate, thumbprint
from tests.certtool.conftest import KeyPair

PASSWORD = "correct horse battery staple"
SHROUDED_KEY_BAG = univ.ObjectIdentifier("1.2.840.113549.1.12.10.1.2")
CSP_NAME_OID = univ.ObjectIdentifier("1.3.6.1.4.1.311.17.1")
DATA = univ.ObjectIdentifier("1.2.840.113549.1.7.1")
ENCRYPTED_DATA = univ.ObjectIdentifier("1.2.840.113549.1.7.6")
TRIPLE_DES_PBE = "1.2.840.113549.1.12.1.3"
PBES2 = "1.2.840.113549.1.5.13"
SHA1 = "1.3.14.3.2.26"
SHA256 = "2.16.840.1.101.3.4.2.1"
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command-line tool is not installed")


def key_bags(data: bytes) -> list[Any]:
    """Every shrouded key bag of a PFX, found by walking RFC 7292 structures independently of certtool."""
    pfx_value, _ = decoder.decode(data, asn1Spec=rfc7292.PFX())
    auth_octets, _ = decoder.decode(bytes(pfx_value["authSafe"]["content"]), asn1Spec=univ.OctetString())
    safes, _ = decoder.decode(bytes(auth_octets), asn1Spec=rfc7292.AuthenticatedSafe())
    bags = []
    for content_info in safes:
        if content_info["contentType"] != DATA:
            continue
        octets, _ = decoder.decode(bytes(content_info["content"]), asn1Spec=univ.OctetString())
        contents, _ = decoder.decode(bytes(octets), asn1Spec=rfc7292.SafeContents())
        bags += [bag for bag in contents if bag["bagId"] == SHROUDED_KEY_BAG]
    return bags


def csp_attributes(bag: Any) -> list[Any]:
    return [attribute for attribute in bag["bagAttributes"] if attribute["attrType"] == CSP_NAME_OID]


@pytest.mark.parametrize("encryption", list(pfx.PfxEncryption))
def test_round_trip_gives_back_the_same_key_and_certificate(pair: KeyPair, encryption: pfx.PfxEncryption) -> None:
    data = pfx.build_pfx(pair.key, pair.certificate, PASSWORD, encryption=encryption)

    # cryptography (OpenSSL underneath) checks the MAC we recomputed and decrypts the key.
    loaded = pkcs12.load_pkcs12(data, PASSWORD.encode())
    assert loaded.cert is not None and loaded.key is not None
    assert loaded.cert.certificate == pair.certificate
    assert thumbprint(loaded.cert.certificate) == pair.thumbprint
    assert loaded.key.private_numbers() == pair.key.private_numbers()  # type: ignore[union-attr]
    assert loaded.additional_certs == []

    contents = pfx.read_pfx(data, PASSWORD, "test.pfx")
    assert key_matches_certificate(contents.private_key, contents.certificate)
    assert thumbprint(contents.certificate) == pair.thumbprint
    assert contents.encryption is encryption


def test_thumbprint_is_uppercase_sha1_of_the_der(pair: KeyPair) -> None:
    der = pair.certificate.public_bytes(serialization.Encoding.DER)
    assert pair.thumbprint == hashlib.sha1(der).hexdigest().upper()


@pytest.mark.parametrize("encryption", list(pfx.PfxEncryption))
def test_key_bag_names_the_aes_csp_as_a_bmpstring(pair: KeyPair, encryption: pfx.PfxEncryption) -> None:
    data = pfx.build_pfx(pair.key, pair.certificate, PASSWORD, encryption=encryption)

    bags = key_bags(data)
    assert len(bags) == 1
    attributes = csp_attributes(bags[0])
    assert len(attributes) == 1
    values = attributes[0]["attrValues"]
    assert len(values) == 1
    # PFXImportCertStore reads the provider name from this attribute; OpenSSL writes it as a BMPString.
    value, rest = decoder.decode(bytes(values[0]), asn1Spec=char.BMPString())
    assert rest == b""
    assert str(value) == "Microsoft Enhanced RSA and AES Cryptographic Provider"


def test_cryptography_alone_writes_no_csp_name(pair: KeyPair) -> None:
    """Why the attribute is added by hand: without it .NET and Windows choose the provider themselves."""
    protection = serialization.BestAvailableEncryption(PASSWORD.encode())
    data = pkcs12.serialize_key_and_certificates(b"x", pair.key, pair.certificate, None, protection)
    assert [csp_attributes(bag) for bag in key_bags(data)] == [[]]


@pytest.mark.parametrize(
    ("encryption", "algorithm", "mac"),
    [
        (pfx.PfxEncryption.TRIPLEDES_SHA1, TRIPLE_DES_PBE, SHA1),
        (pfx.PfxEncryption.AES256_SHA256, PBES2, SHA256),
    ],
)
def test_encryption_profiles_use_the_promised_algorithms(pair: KeyPair, encryption: pfx.PfxEncryption, algorithm: str, mac: str) -> None:
    data = pfx.build_pfx(pair.key, pair.certificate, PASSWORD, encryption=encryption)
    pfx_value, _ = decoder.decode(data, asn1Spec=rfc7292.PFX())
    assert str(pfx_value["macData"]["mac"]["digestAlgorithm"]["algorithm"]) == mac
    assert int(pfx_value["macData"]["iterations"]) == pfx.DEFAULT_ITERATIONS

    encrypted_key, _ = decoder.decode(bytes(key_bags(data)[0]["bagValue"]), asn1Spec=rfc5958.EncryptedPrivateKeyInfo())
    assert str(encrypted_key["encryptionAlgorithm"]["algorithm"]) == algorithm

    contents = pfx.read_pfx(data, PASSWORD, "test.pfx")
    if encryption is pfx.PfxEncryption.TRIPLEDES_SHA1:
        assert contents.key_encryption == contents.certificate_encryption == "pbeWithSHAAnd3-KeyTripleDES-CBC"
    else:
        assert contents.key_encryption == contents.certificate_encryption == "PBES2 (PBKDF2 with HMAC-SHA256, AES-256-CBC)"


@pytest.mark.parametrize("hash_algorithm", [hashes.SHA1(), hashes.SHA256()])
@pytest.mark.parametrize(
    "password",
    ["ascii password", "pässwörd-ünïcödé", "clé 🔑 with an astral character"],
)
def test_kdf_reproduces_openssl_macs(pair: KeyPair, hash_algorithm: hashes.HashAlgorithm, password: str) -> None:
    """The one hand-written primitive (RFC 7292 B.2 KDF), checked against MACs that OpenSSL computed."""
    protection = serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(1000).hmac_hash(hash_algorithm).build(password.encode())
    data = pkcs12.serialize_key_and_certificates(b"x", pair.key, pair.certificate, None, protection)
    pfx_value, _ = decoder.decode(data, asn1Spec=rfc7292.PFX())
    mac_data = pfx_value["macData"]
    auth_octets, _ = decoder.decode(bytes(pfx_value["authSafe"]["content"]), asn1Spec=univ.OctetString())
    digest = hash_algorithm.name
    key = pfx.pkcs12_kdf(
        pfx.bmp_password(password),
        bytes(mac_data["macSalt"]),
        3,
        int(mac_data["iterations"]),
        digest,
        hash_algorithm.digest_size,
    )
    assert hmac.new(key, bytes(auth_octets), digest).digest() == bytes(mac_data["mac"]["digest"])


def test_kdf_output_longer_than_one_digest_is_stable() -> None:
    """Lengths past one hash block exercise the RFC's I-block update; the prefix must not change."""
    long = pfx.pkcs12_kdf(pfx.bmp_password("pw"), b"saltsalt", 1, 10, "sha1", 64)
    short = pfx.pkcs12_kdf(pfx.bmp_password("pw"), b"saltsalt", 1, 10, "sha1", 20)
    assert long[:20] == short and len(long) == 64 and long[20:40] != long[:20]


def test_other_structure_is_left_byte_for_byte(pair: KeyPair) -> None:
    """Only the key bag's attribute set and the MAC change; the encrypted certificate safe is untouched."""
    protection = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(PASSWORD.encode())
    )
    base = pkcs12.serialize_key_and_certificates(b"x", pair.key, pair.certificate, None, protection)
    patched = pfx.add_csp_name(base, PASSWORD, pfx.CSP_NAME, mac_iterations=2000)

    def safes(data: bytes) -> list[Any]:
        value, _ = decoder.decode(data, asn1Spec=rfc7292.PFX())
        octets, _ = decoder.decode(bytes(value["authSafe"]["content"]), asn1Spec=univ.OctetString())
        result, _ = decoder.decode(bytes(octets), asn1Spec=rfc7292.AuthenticatedSafe())
        return list(result)

    before, after = safes(base), safes(patched)
    encrypted_before = [encoder.encode(item) for item in before if item["contentType"] == ENCRYPTED_DATA]
    encrypted_after = [encoder.encode(item) for item in after if item["contentType"] == ENCRYPTED_DATA]
    assert encrypted_before == encrypted_after and len(encrypted_before) == 1
    bag_before, bag_after = key_bags(base)[0], key_bags(patched)[0]
    assert bytes(bag_before["bagValue"]) == bytes(bag_after["bagValue"])  # the encrypted key itself
    assert len(bag_after["bagAttributes"]) == len(bag_before["bagAttributes"]) + 1


def test_wrong_password_is_reported_as_such(pair: KeyPair) -> None:
    data = pfx.build_pfx(pair.key, pair.certificate, PASSWORD)
    with pytest.raises(WrongPasswordError, match="wrong password"):
        pfx.read_pfx(data, PASSWORD + "x", "host.pfx")


def test_altered_file_fails_the_integrity_check(pair: KeyPair) -> None:
    data = bytearray(pfx.build_pfx(pair.key, pair.certificate, PASSWORD))
    data[len(data) // 2] ^= 0x01
    with pytest.raises((WrongPasswordError, BadInputError)):
        pfx.read_pfx(bytes(data), PASSWORD, "host.pfx")


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02 definitely not DER", "not a PKCS#12"),
        (b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "PEM text"),
    ],
)
def test_bad_files_get_a_clear_message(payload: bytes, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        pfx.read_pfx(payload, PASSWORD, "host.pfx")


def test_truncated_pfx_is_not_a_pfx(pair: KeyPair) -> None:
    data = pfx.build_pfx(pair.key, pair.certificate, PASSWORD)
    with pytest.raises(BadInputError, match="not a PKCS#12"):
        pfx.read_pfx(data[: len(data) - 40], PASSWORD, "host.pfx")


def test_refuses_a_key_that_does_not_match(pair: KeyPair, other_pair: KeyPair) -> None:
    with pytest.raises(ValueError, match="does not match"):
        pfx.build_pfx(other_pair.key, pair.certificate, PASSWORD)


def test_refuses_an_empty_password(pair: KeyPair) -> None:
    with pytest.raises(ValueError, match="non-empty password"):
        pfx.build_pfx(pair.key, pair.certificate, "")


@needs_openssl
@pytest.mark.parametrize("encryption", list(pfx.PfxEncryption))
def test_openssl_reads_the_csp_name_and_verifies_the_mac(pair: KeyPair, encryption: pfx.PfxEncryption, tmp_path: Path) -> None:
    path = tmp_path / "host.pfx"
    path.write_bytes(pfx.build_pfx(pair.key, pair.certificate, PASSWORD, encryption=encryption))
    result = subprocess.run(
        [
            str(OPENSSL),
            "pkcs12",
            "-in",
            str(path),
            "-info",
            "-nocerts",
            "-nodes",
            "-passin",
            "env:PFX_PASSWORD",
        ],
        capture_output=True,
        text=True,
        env={"PFX_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Microsoft CSP Name: Microsoft Enhanced RSA and AES Cryptographic Provider" in result.stdout
    assert f"MAC: {'sha1' if encryption is pfx.PfxEncryption.TRIPLEDES_SHA1 else 'sha256'}" in result.stderr + result.stdout


@needs_openssl
def test_attribute_is_byte_identical_to_openssl_export_csp(pair: KeyPair, tmp_path: Path) -> None:
    """`openssl pkcs12 -export -CSP NAME` is the reference writer of this attribute; ours encodes the same."""
    (tmp_path / "cert.pem").write_text(pair.certificate_pem)
    (tmp_path / "key.pem").write_text(pair.key_pem)
    subprocess.run(
        [
            str(OPENSSL),
            "pkcs12",
            "-export",
            "-in",
            str(tmp_path / "cert.pem"),
            "-inkey",
            str(tmp_path / "key.pem"),
            "-CSP",
            pfx.CSP_NAME,
            "-passout",
            "env:PFX_PASSWORD",
            "-out",
            str(tmp_path / "openssl.pfx"),
        ],
        env={"PFX_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    reference = csp_attributes(key_bags((tmp_path / "openssl.pfx").read_bytes())[0])
    ours = csp_attributes(key_bags(pfx.build_pfx(pair.key, pair.certificate, PASSWORD))[0])
    assert [encoder.encode(item) for item in ours] == [encoder.encode(item) for item in reference]
