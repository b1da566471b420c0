"""Host certificates for tests: made the way New-ExoHostCertificate.ps1 makes them, dated from the test's one clock, written to files."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.harness import REPO

_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def rsa_key(bits: int = 2048, fresh: bool = False) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: tests share one per size unless they need distinct keys."""
    if fresh or bits not in _KEYS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        if fresh:
            return key
        _KEYS[bits] = key
    return _KEYS[bits]


@dataclass(frozen=True)
class HostCertificate:
    certificate: x509.Certificate
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def thumbprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA1()).hex().upper()

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_host_certificate(
    now: dt.datetime,
    *,
    host: str = "HOST01",
    starts_days: float = -1,
    days: float = 365,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    ca: bool | None = None,
) -> HostCertificate:
    """Self-signed client-auth certificate valid from now+starts_days for `days` days; `ca` adds basicConstraints."""
    key = key or rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"exo-automation {host}")])
    start = (now + dt.timedelta(days=starts_days)).replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return HostCertificate(builder.sign(key, hashes.SHA256()), key)


class CertificateFolder:
    """A folder under the project directory (config paths are relative to it), removed by `cleanup()`."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(dir=REPO, prefix=".test-host-certificates-")
        self.path = Path(self._directory.name)

    def write(self, name: str, data: bytes) -> str:
        """Write a file; returns its path relative to the project directory, as config takes it."""
        (self.path / name).write_bytes(data)
        return (self.path / name).relative_to(REPO).as_posix()

    def cleanup(self) -> None:
        self._directory.cleanup()


class MovableClock:
    """The test's one clock: starts at the real time (tests pass on any date) and moves only when told."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, days: float) -> None:
        self.now += dt.timedelta(days=days)
