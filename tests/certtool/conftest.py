"""Real keys and certificates for the certtool tests, and a stack-outputs builder shaped like the contract."""

from __future__ import annotations

import datetime
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from certtool.cli import Environment
from certtool.material import thumbprint
from certtool.stack import StackOutputs, parse_stack_outputs

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.certificate)


def make_certificate(
    key: rsa.RSAPrivateKey,
    *,
    common_name: str = "exo-automation",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """A self-signed certificate like the stack's (pulumi-tls SelfSignedCert)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
        .not_valid_after(not_after or NOW + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def rsa_keys() -> list[rsa.RSAPrivateKey]:
    """Two real 2048-bit RSA keys, generated once per test session."""
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


@pytest.fixture(scope="session")
def pair(rsa_keys: list[rsa.RSAPrivateKey]) -> KeyPair:
    """A valid key and certificate, 365 days left at NOW."""
    return KeyPair(rsa_keys[0], make_certificate(rsa_keys[0]))


@pytest.fixture(scope="session")
def other_pair(rsa_keys: list[rsa.RSAPrivateKey]) -> KeyPair:
    """A second, unrelated key pair (the 'new' certificate of a rotation)."""
    return KeyPair(rsa_keys[1], make_certificate(rsa_keys[1], common_name="exo-automation"))


def stack_outputs(*identities: tuple[str, KeyPair], **overrides: Any) -> dict[str, Any]:
    """JSON of `pulumi stack output --show-secrets --json` per the stack-output contract."""
    outputs: dict[str, Any] = {
        "identities": {
            name: {
                "clientId": "11111111-2222-3333-4444-555555555555",
                "tenantId": "99999999-8888-7777-6666-555555555555",
                "organization": "contoso.onmicrosoft.com",
                "exchangeEnvironmentName": "O365Default",
                "applicationObjectId": "aaaaaaaa-0000-0000-0000-000000000001",
                "servicePrincipalObjectId": "aaaaaaaa-0000-0000-0000-000000000002",
                "roles": ["Exchange Recipient Administrator"],
                "thumbprint": keypair.thumbprint,
                "certificatePem": keypair.certificate_pem,
                "certificateNotAfter": keypair.certificate.not_valid_after_utc.isoformat(),
                "connectCommand": "Connect-ExchangeOnline -CertificateThumbprint ...",
            }
            for name, keypair in identities
        },
        "privateKeys": {name: keypair.key_pem for name, keypair in identities},
    }
    outputs.update(overrides)
    return outputs


@dataclass
class FakeWorld:
    """An Environment for `certtool.cli.main` with captured output, scripted prompts and a fixed clock."""

    environ: dict[str, str] = field(default_factory=dict)
    stdin: bytes = b""
    prompts: list[str] = field(default_factory=list)
    terminal: bool = True
    now: datetime.datetime = NOW
    stdout: io.StringIO = field(default_factory=io.StringIO)
    stderr: io.StringIO = field(default_factory=io.StringIO)
    asked: list[str] = field(default_factory=list)
    pulumi_calls: list[tuple[str | None, str | None]] = field(default_factory=list)
    pulumi_outputs: dict[str, Any] | None = None

    def environment(self) -> Environment:
        def prompt(text: str) -> str:
            self.asked.append(text)
            return self.prompts.pop(0)

        def run_pulumi(stack: str | None, cwd: str | None) -> StackOutputs:
            self.pulumi_calls.append((stack, cwd))
            if self.pulumi_outputs is None:
                raise AssertionError("the test did not expect the Pulumi CLI to run")
            return parse_stack_outputs(json.dumps(self.pulumi_outputs), "pulumi stack output")

        return Environment(
            environ=self.environ,
            stdin=io.BytesIO(self.stdin),
            stdout=self.stdout,
            stderr=self.stderr,
            prompt=prompt,
            terminal_available=lambda: self.terminal,
            now=lambda: self.now,
            run_pulumi=run_pulumi,
        )


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def write_json(tmp_path: Path) -> Callable[[str, Any], Path]:
    def write(name: str, value: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(value))
        return path

    return write
