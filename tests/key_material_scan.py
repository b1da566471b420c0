"""A scanner for private key material in anything a deployment leaves in state: written for the tests, independent of the program's
own detector (exo/key_material.py), so the two do not share a blind spot.

It looks at every string, bytes and asset leaf, at any depth, and in each at:
- PEM armour of a private key (`-----BEGIN ... PRIVATE KEY-----`, any algorithm, encrypted too);
- DER signatures: PKCS#8 PrivateKeyInfo (RSA, EC, Ed25519), PKCS#1 RSAPrivateKey, SEC1 ECPrivateKey, encrypted PKCS#8 (PBES2 and
  the PKCS#12 PBE algorithms), and PKCS#12 (version 3 PFX, key bags);
- the same after decoding every base64 (standard and URL-safe) or hex run long enough to hold a key, twice nested (base64 of a PEM,
  base64 of base64);
and it tells which findings sat inside a Pulumi secret.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from tests.mock_tenant import is_secret

REPO = Path(__file__).resolve().parent.parent

_PEM_PRIVATE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_OID_RSA = bytes.fromhex("06092a864886f70d0101010500")
_OID_EC = bytes.fromhex("06072a8648ce3d0201")
_OID_ED25519 = bytes.fromhex("06032b6570")
_DER_SIGNATURES: dict[str, re.Pattern[bytes]] = {
    # PrivateKeyInfo ::= SEQUENCE { version 0|1, AlgorithmIdentifier SEQUENCE { OID ... }, privateKey OCTET STRING }  (RFC 5958)
    "PKCS#8 RSA key": re.compile(rb"\x02\x01[\x00\x01]\x30\x0d" + re.escape(_OID_RSA) + rb"\x04", re.DOTALL),
    "PKCS#8 EC key": re.compile(rb"\x02\x01[\x00\x01]\x30[\x10-\x20]" + re.escape(_OID_EC), re.DOTALL),
    "PKCS#8 Ed25519 key": re.compile(rb"\x02\x01[\x00\x01]\x30\x05" + re.escape(_OID_ED25519) + rb"\x04", re.DOTALL),
    # RSAPrivateKey ::= SEQUENCE { version 0, modulus INTEGER (long form length), ... }  (RFC 8017 A.1.2)
    "PKCS#1 RSA key": re.compile(rb"\x30\x82..\x02\x01\x00\x02\x82", re.DOTALL),
    # ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING (32..66 bytes) ... }  (RFC 5915)
    "SEC1 EC key": re.compile(rb"\x30[\x74-\x81].?\x02\x01\x01\x04[\x20-\x42]", re.DOTALL),
    # EncryptedPrivateKeyInfo with PBES2 (RFC 8018) or a PKCS#12 PBE algorithm (RFC 7292 appendix C).
    "encrypted PKCS#8 key": re.compile(
        re.escape(bytes.fromhex("06092a864886f70d01050d")) + b"|" + re.escape(bytes.fromhex("060a2a864886f70d010c01"))
    ),
    # PFX ::= SEQUENCE { version 3, authSafe ContentInfo (pkcs7-data | signedData) ... }  (RFC 7292 section 4)
    "PKCS#12 file": re.compile(rb"\x02\x01\x03\x30.{1,4}\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07[\x01\x02]", re.DOTALL),
    # keyBag / pkcs8ShroudedKeyBag OIDs (RFC 7292 section 4.2)
    "PKCS#12 key bag": re.compile(re.escape(bytes.fromhex("060b2a864886f70d010c0a01")) + rb"[\x01\x02]"),
}
# 2048-bit keys are over 1,100 bytes of DER; 200 base64 characters (150 bytes) or 300 hex digits is far below any private key.
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/=_\-\r\n\\]{200,}")
_HEX_RUN = re.compile(rb"[0-9A-Fa-f]{300,}")


@dataclass(frozen=True)
class Finding:
    where: str
    form: str
    secret: bool


def _decoded(run: bytes) -> Iterator[bytes]:
    """Every plausible decoding of a base64 run: standard and URL-safe alphabets, escaped newlines removed, at each alignment."""
    compact = re.sub(rb"\\n|\\r|\s", b"", run)
    for altchars in (None, b"-_"):
        for offset in range(4):
            body = compact[offset:]
            body = body[: len(body) - len(body) % 4]
            try:
                yield base64.b64decode(body, altchars=altchars, validate=True) if altchars else base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                continue


def key_forms(data: bytes, depth: int = 0) -> set[str]:
    """The kinds of private key material in `data`, directly or through base64/hex encodings (two levels deep)."""
    found: set[str] = set()
    if _PEM_PRIVATE.search(data):
        found.add("PEM private key")
    found.update(name for name, pattern in _DER_SIGNATURES.items() if pattern.search(data))
    if depth < 2:
        for run in _BASE64_RUN.findall(data):
            for decoded in _decoded(run):
                found.update(f"base64 of {form}" for form in key_forms(decoded, depth + 1))
        for run in _HEX_RUN.findall(data):
            try:
                decoded = binascii.unhexlify(run[: len(run) - len(run) % 2])
            except binascii.Error:
                continue
            found.update(f"hex of {form}" for form in key_forms(decoded, depth + 1))
    return found


def _leaf_bytes(value: Any) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8", errors="surrogateescape")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, pulumi.StringAsset):
        return str(value.text).encode()
    if isinstance(value, pulumi.FileAsset):
        return (REPO / str(value.path)).read_bytes()
    return None


def scan(value: Any, where: str, secret: bool = False) -> list[Finding]:
    """Every finding in a value as the engine holds it (secret markers kept), with the path that leads to it."""
    if is_secret(value):
        return scan(value["value"], where, secret=True)
    if isinstance(value, dict):
        return [finding for key, item in value.items() for finding in scan(item, f"{where}.{key}", secret)]
    if isinstance(value, list | tuple):
        return [finding for index, item in enumerate(value) for finding in scan(item, f"{where}[{index}]", secret)]
    data = _leaf_bytes(value)
    if data is None:
        return []
    return [Finding(where, form, secret) for form in sorted(key_forms(data))]


def secret_leaves(value: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every value inside a secret marker, with its path: what the state encrypts."""
    if is_secret(value):
        yield where, value["value"]
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_leaves(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secret_leaves(item, f"{where}[{index}]")
