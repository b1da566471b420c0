"""Bad host certificates: one error naming the config key, before any resource or look-up, and never any key material in it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import unittest
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from settings.host_certificate import HostCertificateSettings, private_key_form
from settings.stack import parse_settings
from settings.values import ConfigError
from tests.harness import REPO, assert_refused_before_registration, evaluate
from tests.host_certificate_files import CertificateFolder, HostCertificate, MovableClock, make_host_certificate, rsa_key
from tests.mock_tenant import MockTenant

ID0 = "exo-automation:identities[0]"
HOST0 = f"{ID0}.certificate.hostCertificates"


def one(path: Any, **certificate: Any) -> dict[str, Any]:
    return {"identities": [{"name": "exo", "certificate": {"hostCertificates": [path], **certificate}}]}


def listing(*paths: Any) -> dict[str, Any]:
    return {"identities": [{"name": "exo", "certificate": {"hostCertificates": list(paths)}}]}


def key_bytes(key: rsa.RSAPrivateKey, encoding: serialization.Encoding, form: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(encoding, form, serialization.NoEncryption())


class Fixtures:
    """Files for each bad case, written under the project directory; `secrets` collects every private key text written."""

    def __init__(self, folder: CertificateFolder, now: dt.datetime) -> None:
        self.folder = folder
        self.now = now
        self.good = make_host_certificate(now)
        self.secrets: list[bytes] = []

    def write(self, name: str, data: bytes, secret: bool = False) -> str:
        if secret:
            self.secrets.append(data)
        return self.folder.write(name, data)

    def cases(self) -> list[tuple[str, dict[str, Any], str, str]]:
        """(label, config, key the error must name, phrase the reason must contain)."""
        good, now = self.good, self.now
        key = rsa_key()
        good_path = self.write("good.crt", good.pem)
        pfx = pkcs12.serialize_key_and_certificates(
            b"exo", key, good.certificate, None, serialization.BestAvailableEncryption(b"a long pfx password")
        )
        pfx_plain = pkcs12.serialize_key_and_certificates(b"exo", key, good.certificate, None, serialization.NoEncryption())
        pkcs8_pem = key_bytes(key, serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)
        pkcs1_pem = key_bytes(key, serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL)
        encrypted_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"passphrase")
        )
        openssh = key_bytes(key, serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH)
        pkcs8_der = key_bytes(key, serialization.Encoding.DER, serialization.PrivateFormat.PKCS8)
        pkcs1_der = key_bytes(key, serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL)
        small = make_host_certificate(now, key=rsa.generate_private_key(public_exponent=65537, key_size=1024))
        elliptic = make_host_certificate(now, key=ec.generate_private_key(ec.SECP256R1()))
        expired = make_host_certificate(now, starts_days=-400, days=365)
        authority = make_host_certificate(now, ca=True)
        second = make_host_certificate(now, host="HOST02")
        pasted = pkcs1_pem.decode()
        self.secrets.append(pkcs1_pem)
        return [
            ("key pasted as the path", one(pasted), f"{HOST0}[0]", "holds private key material (a PEM 'RSA PRIVATE KEY' block) instead of a path"),
            ("key pasted as the list", {"identities": [{"name": "exo", "certificate": {"hostCertificates": pasted}}]}, HOST0, "must be a list of certificate file paths, got a str"),
            ("key pasted as the certificate object", {"identities": [{"name": "exo", "certificate": pasted}]}, f"{ID0}.certificate", "holds private key material (not shown"),
            ("not a certificate", one(self.write("notes.txt", b"thumbprint 0123, see the wiki\n")), f"{HOST0}[0]", "is not a certificate"),
            ("empty file", one(self.write("empty.crt", b"")), f"{HOST0}[0]", "is not a certificate"),
            ("PEM garbage", one(self.write("bad.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), f"{HOST0}[0]", "not a readable X.509"),
            ("expired", one(self.write("expired.crt", expired.pem)), f"{HOST0}[0]", "expired on"),
            ("CA certificate", one(self.write("ca.crt", authority.pem)), f"{HOST0}[0]", "CA certificate (basicConstraints CA=true)"),
            ("1024-bit key", one(self.write("small.crt", small.pem)), f"{HOST0}[0]", "1024-bit RSA key; at least 2048"),
            ("EC key", one(self.write("ec.crt", elliptic.pem)), f"{HOST0}[0]", "need RSA"),
            ("PKCS#8 key PEM", one(self.write("key.pem", pkcs8_pem, secret=True)), f"{HOST0}[0]", "a PEM 'PRIVATE KEY' block"),
            ("certificate and key in one PEM", one(self.write("bundle.pem", good.pem + pkcs8_pem, secret=True)), f"{HOST0}[0]", "private key material"),
            ("PKCS#1 key PEM", one(self.write("rsa.pem", pkcs1_pem, secret=True)), f"{HOST0}[0]", "'RSA PRIVATE KEY'"),
            ("encrypted key PEM", one(self.write("enc.pem", encrypted_pem, secret=True)), f"{HOST0}[0]", "'ENCRYPTED PRIVATE KEY'"),
            ("OpenSSH key", one(self.write("id_rsa", openssh, secret=True)), f"{HOST0}[0]", "'OPENSSH PRIVATE KEY'"),
            ("PFX with password", one(self.write("exo.pfx", pfx, secret=True)), f"{HOST0}[0]", "PKCS#12 (PFX)"),
            ("PFX without password", one(self.write("plain.p12", pfx_plain, secret=True)), f"{HOST0}[0]", "PKCS#12 (PFX)"),
            ("base64 of a PFX", one(self.write("exo.pfx.b64", base64.encodebytes(pfx), secret=True)), f"{HOST0}[0]", "base64 of a PKCS#12"),
            ("PKCS#8 DER key", one(self.write("key.der", pkcs8_der, secret=True)), f"{HOST0}[0]", "a DER private key"),
            ("PKCS#1 DER key", one(self.write("key1.der", pkcs1_der, secret=True)), f"{HOST0}[0]", "a DER private key"),
            ("base64 of a key PEM", one(self.write("key.b64", base64.b64encode(pkcs8_pem), secret=True)), f"{HOST0}[0]", "base64 of a PEM 'PRIVATE KEY'"),
            ("two certificates in one file", one(self.write("two.crt", good.pem + second.pem)), f"{HOST0}[0]", "exactly one PEM CERTIFICATE block"),
            ("same certificate twice", listing(good_path, self.write("good.cer", good.der)), f"{HOST0}[1]", f"same certificate as {HOST0}[0]"),
            ("one certificate for two identities", {"identities": [{"name": "a", "certificate": {"hostCertificates": [good_path]}}, {"name": "b", "certificate": {"hostCertificates": [good_path]}}]}, "exo-automation:identities[1].certificate.hostCertificates[0]", "already the certificate of identity a"),
            ("missing file", one("certificates/none/host.crt"), f"{HOST0}[0]", "does not exist"),
            ("outside the project", one("../host.crt"), f"{HOST0}[0]", "outside the project directory"),
            ("absolute path", one("/etc/ssl/certs/host.crt"), f"{HOST0}[0]", "relative to the project directory"),
            ("backslashes", one("certificates\\host.crt"), f"{HOST0}[0]", "forward slashes"),
            ("entry not a string", one({"file": good_path}), f"{HOST0}[0]", "a path to a certificate file"),
            ("inline PEM instead of a path", one(good.pem.decode()), f"{HOST0}[0]", "relative to the project directory"),
            ("list empty", {"identities": [{"name": "exo", "certificate": {"hostCertificates": []}}]}, HOST0, "at least one certificate file"),
            ("not a list", {"identities": [{"name": "exo", "certificate": {"hostCertificates": good_path}}]}, HOST0, "a list of certificate file paths"),
            ("with rsaBits", one(good_path, rsaBits=4096), f"{ID0}.certificate.rsaBits", "applies to certificates the program generates"),
            ("with generation", one(good_path, generation=2), f"{ID0}.certificate.generation", "applies to certificates the program generates"),
            ("with keepPreviousGeneration", one(good_path, keepPreviousGeneration=True), f"{ID0}.certificate.keepPreviousGeneration", "applies to certificates the program generates"),
            ("with validityMonths", one(good_path, validityMonths=6), f"{ID0}.certificate.validityMonths", "applies to certificates the program generates"),
            ("warnBeforeDays on a generated certificate", {"identities": [{"name": "exo", "certificate": {"warnBeforeDays": 30}}]}, f"{ID0}.certificate.warnBeforeDays", "applies to hostCertificates only"),
            ("warnBeforeDays zero", one(good_path, warnBeforeDays=0), f"{ID0}.certificate.warnBeforeDays", "from 1 to 365"),
            ("key vault with no generated key", {**one(good_path), "keyVault": {"enabled": True, "name": "kv-exo-test", "resourceGroupName": "rg-exo", "readers": ["0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"]}}, "exo-automation:keyVault", "nothing for the vault to hold"),
        ]  # fmt: skip


class BadHostCertificatesAreRefusedBeforeAnyResource(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.clock = MovableClock()
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)
        self.fixtures = Fixtures(self.folder, self.clock.now)

    async def test_each_bad_host_certificate_names_its_key_and_registers_nothing(self) -> None:
        cases = self.fixtures.cases()
        self.assertGreaterEqual(len(cases), 30)
        for label, config, key, phrase in cases:
            with self.subTest(label):
                await assert_refused_before_registration(self, MockTenant(clock=self.clock), config, key, phrase)

    async def test_no_error_echoes_private_key_material(self) -> None:
        cases = self.fixtures.cases()
        self.assertGreaterEqual(len(self.fixtures.secrets), 10)
        for label, config, _key, _phrase in cases:
            with self.subTest(label):
                with self.assertRaises(ConfigError) as caught:
                    await evaluate(MockTenant(clock=self.clock), preview=True, config=config)
                message = str(caught.exception)
                self.assertNotIn("PRIVATE KEY-----", message)
                for secret in self.fixtures.secrets:
                    for chunk in _chunks(secret):
                        self.assertNotIn(chunk, message)

    def test_the_key_detector_sees_every_form_and_passes_certificates(self) -> None:
        self.fixtures.cases()
        for secret in self.fixtures.secrets:
            self.assertIsNotNone(private_key_form(secret))
        good: HostCertificate = self.fixtures.good
        for public in (good.pem, good.der, base64.b64encode(good.der), b"", b"hello"):
            self.assertIsNone(private_key_form(public))


def _chunks(secret: bytes) -> list[str]:
    """Distinctive 24-character pieces of the secret as text (base64 body) and as hex: what an echo would contain."""
    text = secret.decode("latin-1")
    body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
    return [body[i : i + 24] for i in range(0, max(0, len(body) - 24), 97)] + [secret.hex()[i : i + 24] for i in range(0, 400, 97)]


class GoodHostCertificates(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = MovableClock()
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)

    def parse(self, config: dict[str, Any], now: dt.datetime | None = None) -> HostCertificateSettings:
        raw = {key: _json(value) for key, value in config.items()}
        settings = parse_settings(raw, "dev", None, REPO, now=now or self.clock.now)
        certificate = settings.identities[0].certificate
        assert isinstance(certificate, HostCertificateSettings)
        return certificate

    def test_the_newest_certificate_is_current_whatever_the_order(self) -> None:
        old = make_host_certificate(self.clock.now, starts_days=-200)
        new = make_host_certificate(self.clock.now, starts_days=-1, key=rsa_key(fresh=True))
        paths = [self.folder.write("old.crt", old.pem), self.folder.write("new.cer", new.der)]
        for order in (paths, paths[::-1]):
            settings = self.parse(listing(*order))
            self.assertEqual(settings.current.thumbprint, new.thumbprint)
            self.assertEqual(settings.certificate_pems[0], new.pem.decode())
            self.assertEqual(len(settings.certificate_pems), 2)
            self.assertEqual(settings.warn_before_days, 30)

    def test_a_certificate_that_starts_later_is_accepted_with_a_warning_and_is_not_current_before_it_starts(self) -> None:
        later = make_host_certificate(self.clock.now, starts_days=2)
        alone = self.parse(one(self.folder.write("later.crt", later.pem)))
        self.assertEqual(alone.current.thumbprint, later.thumbprint, "the only one is current even before it starts")
        self.assertEqual(len(alone.warnings), 1)
        self.assertIn("starts", alone.warnings[0])
        running = make_host_certificate(self.clock.now, starts_days=-100, key=rsa_key(fresh=True))
        paths = (self.folder.write("running.crt", running.pem), self.folder.write("later2.crt", later.pem))
        both = self.parse(listing(*paths))
        self.assertEqual(both.current.thumbprint, running.thumbprint, "hosts are pointed at a certificate Entra accepts now")
        self.assertEqual(both.certificate_pems[0], running.pem.decode())
        self.assertEqual(self.parse(listing(*paths), now=self.clock.now + dt.timedelta(days=3)).current.thumbprint, later.thumbprint)

    def test_expiry_is_judged_on_the_injected_clock(self) -> None:
        certificate = make_host_certificate(self.clock.now, starts_days=0, days=10)
        config = one(self.folder.write("short.crt", certificate.pem))
        self.assertEqual(len(self.parse(config).warnings), 1)
        with self.assertRaises(ConfigError):
            self.parse(config, now=self.clock.now + dt.timedelta(days=11))


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
