# pyright: strict
"""PKCS#12 (PFX) files whose private key Windows imports into a CSP key provider, not CNG.

Exchange Online app-only authentication rejects certificates whose key lives in a CNG key storage provider.
Windows' PFXImportCertStore picks the provider from the "Microsoft CSP Name" attribute
(OID 1.3.6.1.4.1.311.17.1) on the PKCS8ShroudedKeyBag; `openssl pkcs12 -export -CSP NAME` writes the same
attribute. `cryptography` writes PFX files but cannot add arbitrary bag attributes, so:

1. `cryptography` builds and encrypts the PFX (key, certificate, PBE, MAC): no hand-written cipher code;
2. pyasn1 with the RFC 7292 module of pyasn1-modules re-opens the unencrypted SafeContents that holds the
   shrouded key bag and appends the attribute (the encrypted key bytes are untouched);
3. the integrity MAC over the changed AuthenticatedSafe is recomputed with HMAC keyed by the RFC 7292
   appendix B.2 KDF, the one piece written here: no installable Python library exposes it (OpenSSL has it
   internally; `cryptography` does not expose it). Tests prove it against OpenSSL's own MACs.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import importlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyasn1.codec.der import decoder as _der_decoder
from pyasn1.codec.der import encoder as _der_encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import char, univ

from certtool.errors import BadInputError, WrongPasswordError
from certtool.material import key_matches_certificate

# pyasn1-modules ships no type information: its ASN.1 specifications are used as untyped values.
rfc5652: Any = importlib.import_module("pyasn1_modules.rfc5652")
rfc5958: Any = importlib.import_module("pyasn1_modules.rfc5958")
rfc7292: Any = importlib.import_module("pyasn1_modules.rfc7292")
rfc8018: Any = importlib.import_module("pyasn1_modules.rfc8018")

CSP_NAME_ATTRIBUTE_OID = "1.3.6.1.4.1.311.17.1"
# PROV_RSA_AES: the CSP that can make the SHA-256 RSA signatures Entra client assertions need. The default
# Windows picks for RSA when no name is given (MS_ENHANCED_PROV, PROV_RSA_FULL) cannot sign with SHA-256.
CSP_NAME = "Microsoft Enhanced RSA and AES Cryptographic Provider"
# Key/certificate PBE and MAC iterations. Windows itself exports with 2000; OpenSSL's MAC default is 2048. The MAC
# is the cheapest check a password guesser can run, so it gets the same count as the encryption. 3 x 50,000 stays
# well inside .NET's PKCS#12 loader limits (300,000 per KDF or MAC, 1,000,000 in total).
DEFAULT_ITERATIONS = 50_000

_DATA_OID = univ.ObjectIdentifier("1.2.840.113549.1.7.1")
_ENCRYPTED_DATA_OID = univ.ObjectIdentifier("1.2.840.113549.1.7.6")
_SHROUDED_KEY_BAG_OID = univ.ObjectIdentifier("1.2.840.113549.1.12.10.1.2")
_FRIENDLY_NAME_OID = univ.ObjectIdentifier("1.2.840.113549.1.9.20")
_CSP_NAME_OID = univ.ObjectIdentifier(CSP_NAME_ATTRIBUTE_OID)
_PBES2_OID = "1.2.840.113549.1.5.13"

_MAC_DIGESTS = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_ALGORITHM_NAMES = {
    "1.2.840.113549.1.12.1.3": "pbeWithSHAAnd3-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.4": "pbeWithSHAAnd2-KeyTripleDES-CBC",
    "1.2.840.113549.1.12.1.5": "pbeWithSHAAnd128BitRC2-CBC",
    "1.2.840.113549.1.12.1.6": "pbeWithSHAAnd40BitRC2-CBC",
    "2.16.840.1.101.3.4.1.2": "AES-128-CBC",
    "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
    "2.16.840.1.101.3.4.1.42": "AES-256-CBC",
    "1.2.840.113549.2.7": "HMAC-SHA1",
    "1.2.840.113549.2.9": "HMAC-SHA256",
    "1.2.840.113549.2.10": "HMAC-SHA384",
    "1.2.840.113549.2.11": "HMAC-SHA512",
}


class PfxEncryption(enum.Enum):
    """How the PFX protects the key and certificate; the value is the command-line name."""

    # PKCS#12 PBE with 3-key Triple-DES and a SHA-1 MAC: what Windows Server 2016 and earlier can import.
    TRIPLEDES_SHA1 = "tripledes-sha1"
    # PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC) with a SHA-256 MAC: Windows 10 1709 / Windows Server 2019 and later.
    AES256_SHA256 = "aes256-sha256"

    @property
    def windows_support(self) -> str:
        if self is PfxEncryption.TRIPLEDES_SHA1:
            return "every supported Windows and Windows Server release (including Windows Server 2016)"
        return "Windows 10 1709 / Windows Server 2019 and later (Windows Server 2016 cannot read it)"


@dataclass(frozen=True)
class PfxContents:
    """A PFX read back with its password, plus the structure facts that decide how Windows imports it."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    additional_certificates: tuple[x509.Certificate, ...]
    csp_name: str | None
    friendly_name: str | None
    key_encryption: str
    certificate_encryption: str
    mac_digest: str | None
    mac_iterations: int | None
    encryption: PfxEncryption | None


def pkcs12_kdf(
    password: bytes,
    salt: bytes,
    purpose: int,
    iterations: int,
    digest: str,
    length: int,
) -> bytes:
    """RFC 7292 appendix B.2 key derivation.

    `password` is already formatted as the RFC requires (BMPString with a two-byte terminator, see
    `bmp_password`); `purpose` is 1 (cipher key), 2 (IV) or 3 (MAC key).
    """
    block_size = hashlib.new(digest).block_size
    diversifier = bytes([purpose]) * block_size

    def fill(value: bytes) -> bytes:
        if not value:
            return b""
        target = block_size * -(-len(value) // block_size)
        return (value * (target // len(value) + 1))[:target]

    material = bytearray(fill(salt) + fill(password))
    output = b""
    while True:
        block = hashlib.new(digest, diversifier + bytes(material)).digest()
        for _ in range(iterations - 1):
            block = hashlib.new(digest, block).digest()
        output += block
        if len(output) >= length:
            return output[:length]
        increment = int.from_bytes(fill(block)[:block_size], "big") + 1
        modulus = 1 << (8 * block_size)
        for start in range(0, len(material), block_size):
            chunk = (int.from_bytes(material[start : start + block_size], "big") + increment) % modulus
            material[start : start + block_size] = chunk.to_bytes(block_size, "big")


def bmp_password(password: str) -> bytes:
    """The password as PKCS#12 feeds it to its KDF: big-endian UTF-16 with a two-byte NUL terminator."""
    return password.encode("utf-16-be") + b"\x00\x00"


def build_pfx(
    private_key: rsa.RSAPrivateKey,
    certificate: x509.Certificate,
    password: str,
    *,
    encryption: PfxEncryption = PfxEncryption.TRIPLEDES_SHA1,
    friendly_name: str = "exo-automation",
    iterations: int = DEFAULT_ITERATIONS,
) -> bytes:
    """A PFX of the key and certificate whose key bag names the AES CSP, protected by `password`."""
    if not password:
        raise ValueError("a PFX for Windows hosts needs a non-empty password")
    if not key_matches_certificate(private_key, certificate):
        raise ValueError("the private key does not match the certificate")
    if encryption is PfxEncryption.TRIPLEDES_SHA1:
        algorithm, mac_hash = pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC, hashes.SHA1()
    else:
        algorithm, mac_hash = pkcs12.PBES.PBESv2SHA256AndAES256CBC, hashes.SHA256()
    protection = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(iterations)
        .key_cert_algorithm(algorithm)
        .hmac_hash(mac_hash)
        .build(password.encode("utf-8"))
    )
    base = pkcs12.serialize_key_and_certificates(friendly_name.encode("utf-8"), private_key, certificate, None, protection)
    return add_csp_name(base, password, CSP_NAME, mac_iterations=iterations)


def add_csp_name(pfx_der: bytes, password: str, csp_name: str, *, mac_iterations: int) -> bytes:
    """Add the Microsoft CSP Name attribute to every shrouded key bag of `pfx_der` and re-MAC it."""
    pfx = _decode_pfx(pfx_der, "PFX")
    safes = _authenticated_safe(pfx)
    added = 0
    for content_info in _iterate(safes):
        if content_info["contentType"] != _DATA_OID:
            continue  # encrypted SafeContents hold the certificate; the key bag is in plain data
        safe_contents = _decode_data_content(content_info["content"], rfc7292.SafeContents())
        for bag in _iterate(safe_contents):
            if bag["bagId"] != _SHROUDED_KEY_BAG_OID:
                continue
            attributes = bag["bagAttributes"]
            for attribute in _iterate(attributes):
                if attribute["attrType"] == _CSP_NAME_OID:
                    raise ValueError("the key bag already names a CSP")
            attribute = rfc7292.PKCS12Attribute()
            attribute["attrType"] = _CSP_NAME_OID
            attribute["attrValues"].append(univ.Any(_der_encode(char.BMPString(csp_name))))
            attributes.append(attribute)
            added += 1
        content_info["content"] = univ.Any(_der_encode(univ.OctetString(_der_encode(safe_contents))))
    if added != 1:
        raise ValueError(f"expected one shrouded key bag in unencrypted data, found {added}")
    new_auth_safe = _der_encode(safes)
    pfx["authSafe"]["content"] = univ.Any(_der_encode(univ.OctetString(new_auth_safe)))
    mac_data = pfx["macData"]
    digest = _MAC_DIGESTS[str(mac_data["mac"]["digestAlgorithm"]["algorithm"])]
    salt = bytes(mac_data["macSalt"])
    mac_data["iterations"] = mac_iterations
    mac_data["mac"]["digest"] = _mac(new_auth_safe, password, salt, mac_iterations, digest)
    return _der_encode(pfx)


def read_pfx(data: bytes, password: str, source: str) -> PfxContents:
    """Open a PFX the way an importer would, reporting structure problems and a wrong password clearly."""
    pfx = _decode_pfx(data, source)
    mac_digest: str | None = None
    mac_iterations: int | None = None
    if pfx["macData"].isValue:
        mac_data = pfx["macData"]
        algorithm = str(mac_data["mac"]["digestAlgorithm"]["algorithm"])
        if algorithm not in _MAC_DIGESTS:
            raise BadInputError(f"{source}: unsupported PFX integrity MAC algorithm {algorithm}.")
        mac_digest = _MAC_DIGESTS[algorithm]
        mac_iterations = int(mac_data["iterations"])
        expected = bytes(mac_data["mac"]["digest"])
        computed = _mac(
            _auth_safe_octets(pfx),
            password,
            bytes(mac_data["macSalt"]),
            mac_iterations,
            mac_digest,
        )
        if not hmac.compare_digest(expected, computed):
            raise WrongPasswordError(
                f"{source}: wrong password (the PFX integrity check failed; if the password is right, the file was altered or truncated)."
            )
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode("utf-8"))
    except ValueError as error:
        raise BadInputError(f"{source}: the PFX could not be decrypted ({error}).") from error
    if loaded.key is None or loaded.cert is None:
        raise BadInputError(f"{source}: the PFX must hold a private key and its certificate.")
    if not isinstance(loaded.key, rsa.RSAPrivateKey):
        raise BadInputError(f"{source}: the PFX key is {type(loaded.key).__name__}; a CSP key provider needs RSA.")
    structure = _structure(pfx)
    return PfxContents(
        private_key=loaded.key,
        certificate=loaded.cert.certificate,
        additional_certificates=tuple(extra.certificate for extra in loaded.additional_certs),
        csp_name=structure.csp_name,
        friendly_name=structure.friendly_name,
        key_encryption=structure.key_encryption,
        certificate_encryption=structure.certificate_encryption,
        mac_digest=mac_digest,
        mac_iterations=mac_iterations,
        encryption=_classify(structure.key_oid, structure.certificate_oid, mac_digest),
    )


@dataclass(frozen=True)
class _Structure:
    csp_name: str | None
    friendly_name: str | None
    key_encryption: str
    key_oid: str
    certificate_encryption: str
    certificate_oid: str


def _structure(pfx: Any) -> _Structure:
    csp_name: str | None = None
    friendly_name: str | None = None
    key_encryption = key_oid = "none"
    certificate_encryption = certificate_oid = "none"
    for content_info in _iterate(_authenticated_safe(pfx)):
        if content_info["contentType"] == _ENCRYPTED_DATA_OID:
            encrypted, _ = _der_decode(bytes(content_info["content"]), rfc5652.EncryptedData())
            algorithm = encrypted["encryptedContentInfo"]["contentEncryptionAlgorithm"]
            certificate_oid, certificate_encryption = _describe_algorithm(algorithm)
            continue
        if content_info["contentType"] != _DATA_OID:
            continue
        for bag in _iterate(_decode_data_content(content_info["content"], rfc7292.SafeContents())):
            if bag["bagId"] != _SHROUDED_KEY_BAG_OID:
                continue
            encrypted_key, _ = _der_decode(bytes(bag["bagValue"]), rfc5958.EncryptedPrivateKeyInfo())
            key_oid, key_encryption = _describe_algorithm(encrypted_key["encryptionAlgorithm"])
            for attribute in _iterate(bag["bagAttributes"]):
                if attribute["attrType"] == _CSP_NAME_OID:
                    csp_name = _bmp_text(attribute["attrValues"][0])
                elif attribute["attrType"] == _FRIENDLY_NAME_OID:
                    friendly_name = _bmp_text(attribute["attrValues"][0])
    return _Structure(
        csp_name,
        friendly_name,
        key_encryption,
        key_oid,
        certificate_encryption,
        certificate_oid,
    )


def _describe_algorithm(algorithm: Any) -> tuple[str, str]:
    oid = str(algorithm["algorithm"])
    if oid != _PBES2_OID:
        return oid, _ALGORITHM_NAMES.get(oid, oid)
    params, _ = _der_decode(bytes(algorithm["parameters"]), rfc8018.PBES2_params())
    cipher_oid = str(params["encryptionScheme"]["algorithm"])
    kdf_params, _ = _der_decode(
        bytes(params["keyDerivationFunc"]["parameters"]),
        rfc8018.PBKDF2_params(),
    )
    prf_oid = str(kdf_params["prf"]["algorithm"])
    cipher = _ALGORITHM_NAMES.get(cipher_oid, cipher_oid)
    prf = _ALGORITHM_NAMES.get(prf_oid, prf_oid)
    return f"{oid}/{cipher_oid}", f"PBES2 (PBKDF2 with {prf}, {cipher})"


def _classify(key_oid: str, certificate_oid: str, mac_digest: str | None) -> PfxEncryption | None:
    triple_des = "1.2.840.113549.1.12.1.3"
    aes256 = f"{_PBES2_OID}/2.16.840.1.101.3.4.1.42"
    if key_oid == certificate_oid == triple_des and mac_digest == "sha1":
        return PfxEncryption.TRIPLEDES_SHA1
    if key_oid == certificate_oid == aes256 and mac_digest == "sha256":
        return PfxEncryption.AES256_SHA256
    return None


def _mac(auth_safe: bytes, password: str, salt: bytes, iterations: int, digest: str) -> bytes:
    key = pkcs12_kdf(
        bmp_password(password),
        salt,
        3,
        iterations,
        digest,
        hashlib.new(digest).digest_size,
    )
    return hmac.new(key, auth_safe, digest).digest()


def _decode_pfx(data: bytes, source: str) -> Any:
    if data.lstrip().startswith(b"-----BEGIN"):
        raise BadInputError(f"{source}: this is PEM text, not a PFX; use --pem for PEM files.")
    if not data:
        raise BadInputError(f"{source}: the file is empty.")
    try:
        pfx, rest = _der_decode(data, rfc7292.PFX())
    except PyAsn1Error as error:
        # pyasn1 messages can quote the whole schema; the first words say enough.
        detail = str(error).split("<", 1)[0].strip() or "unexpected structure"
        raise BadInputError(f"{source}: not a PKCS#12/PFX file (its DER structure does not parse: {detail[:80]}).") from error
    if rest:
        raise BadInputError(f"{source}: not a PKCS#12/PFX file ({len(rest)} bytes follow the PFX structure).")
    if pfx["authSafe"]["contentType"] != _DATA_OID:
        raise BadInputError(f"{source}: public-key protected PFX files are not supported; use a password PFX.")
    return pfx


def _auth_safe_octets(pfx: Any) -> bytes:
    return bytes(_decode_data_content(pfx["authSafe"]["content"], univ.OctetString()))


def _authenticated_safe(pfx: Any) -> Any:
    return _decode_data_content(pfx["authSafe"]["content"], rfc7292.AuthenticatedSafe())


def _decode_data_content(content: Any, spec: Any) -> Any:
    """Decode a ContentInfo `data` payload: an OCTET STRING whose octets are the DER of `spec`."""
    octets, _ = _der_decode(bytes(content), univ.OctetString())
    if isinstance(spec, univ.OctetString):
        return octets
    value, _ = _der_decode(bytes(octets), spec)
    return value


def _iterate(sequence: Any) -> list[Any]:
    return [sequence[index] for index in range(len(sequence))]


def _bmp_text(value: Any) -> str:
    text, _ = _der_decode(bytes(value), char.BMPString())
    return str(text)


def _der_decode(data: bytes, spec: Any) -> tuple[Any, bytes]:
    """DER-decode `data` against an ASN.1 specification; returns the value and any bytes after it."""
    decode: Any = _der_decoder.decode
    value, rest = decode(data, asn1Spec=spec)
    return value, bytes(rest)


def _der_encode(value: Any) -> bytes:
    encode: Any = _der_encoder.encode
    return bytes(encode(value))
