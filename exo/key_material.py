"""Private key material in any common form: PEM blocks, PKCS#12, DER keys, and base64 of those. Recognised so it is refused and
never repeated in an error message. Pure: no Pulumi, no config.
"""

from __future__ import annotations

import base64
import binascii
import re

# PEM armour: the label decides what a block is. Any label with PRIVATE KEY in it (PRIVATE KEY, RSA/EC/DSA/OPENSSH PRIVATE KEY,
# ENCRYPTED PRIVATE KEY) is key material; PKCS12 is what some tools write around a PFX.
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_BASE64_TEXT = re.compile(rb"^[A-Za-z0-9+/=\s]+$")

# PKCS#12 (RFC 7292): PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo (OID pkcs7-data or pkcs7-signedData), ... }.
_PFX_VERSION = b"\x02\x01\x03\x30"
_PKCS7_DATA_OID = bytes.fromhex("06092a864886f70d010701")
_PKCS7_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def is_pkcs12(data: bytes) -> bool:
    """A DER PFX: SEQUENCE, version 3, then a PKCS#7 data or signedData ContentInfo (RFC 7292 section 4)."""
    head = data[:32]
    return data[:1] == b"\x30" and _PFX_VERSION in head and (_PKCS7_DATA_OID in data[:48] or _PKCS7_SIGNED_DATA_OID in data[:48])


def is_der_private_key(data: bytes) -> bool:
    """A DER private key in any form `cryptography` reads: PKCS#8 (plain or encrypted), PKCS#1 RSA, SEC1 EC."""
    # Imported here: ~15 ms to import, and only binary config values get this far.
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_der_private_key(data, password=None)
    except TypeError:
        return True  # "Password was not given but private key is encrypted": an encrypted PKCS#8 key
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def private_key_form(data: bytes) -> str | None:
    """What kind of private key material `data` holds (PEM block label, PKCS#12, DER key, or base64 of those), else None."""
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1)
        if b"PRIVATE KEY" in label or label == b"PKCS12":
            return f"a PEM '{label.decode()}' block"
    if is_pkcs12(data):
        return "a PKCS#12 (PFX) file"
    if is_der_private_key(data):
        return "a DER private key"
    stripped = data.strip()
    if stripped and _BASE64_TEXT.fullmatch(stripped) and b"-----" not in stripped:
        try:
            decoded = base64.b64decode(b"".join(stripped.split()), validate=True)
        except (ValueError, binascii.Error):
            return None
        inner = private_key_form(decoded) if decoded != data else None
        return f"base64 of {inner}" if inner else None
    return None
