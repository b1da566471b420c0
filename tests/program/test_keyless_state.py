"""A keyless stack: host certificates plus the Automation managed identity leave no private key anywhere Pulumi keeps anything.

"Anywhere" is every input of every registered resource, every output the providers returned, every component's registered outputs,
the stack's exports (as registered and as read back), and the tenant's stored state after `up`, in a first preview, an `up` and a
preview after it. The same scan over the generated-key mode finds the key in each of those places, so the scan is not vacuous.
"""

from __future__ import annotations

import base64
import binascii
import json
import unittest
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.fixtures import automation_settings
from tests.harness import REPO, Deployment, evaluate
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate, rsa_key
from tests.key_material_scan import Finding, key_forms, scan, secret_leaves
from tests.mock_tenant import MockTenant

AUTOMATION = automation_settings()


def every_finding(deployment: Deployment) -> list[Finding]:
    tenant = deployment.tenant
    findings: list[Finding] = []
    for registration in deployment.registrations:
        label = f"{registration.type} {registration.name}"
        findings += scan(registration.inputs, f"inputs of {label}")
        for key, value in registration.outputs.items():
            findings += scan(value, f"outputs of {label}.{key}", secret=key in registration.additional_secret_outputs)
    for urn, outputs in tenant.registered_outputs.items():
        findings += scan(outputs, f"registered outputs of {urn.split('::')[-1]}")
    for name, output in deployment.outputs.items():
        findings += scan(output.value, f"stack export {name}", secret=output.secret)
    for (type_token, name), stored in tenant.state.items():
        findings += scan(stored.inputs, f"stored inputs of {type_token} {name}")
        findings += scan(stored.outputs, f"stored outputs of {type_token} {name}")
    return findings


def every_secret(deployment: Deployment) -> list[tuple[str, Any]]:
    """Every value the state would hold encrypted: secret inputs, secret outputs, secret registered outputs and exports."""
    secrets: list[tuple[str, Any]] = []
    for registration in deployment.registrations:
        label = f"{registration.type} {registration.name}"
        secrets += secret_leaves(registration.inputs, f"inputs of {label}")
        secrets += [(f"outputs of {label}.{key}", registration.outputs[key]) for key in registration.additional_secret_outputs]
    for urn, outputs in deployment.tenant.registered_outputs.items():
        secrets += secret_leaves(outputs, f"registered outputs of {urn.split('::')[-1]}")
    secrets += [(f"stack export {name}", output.value) for name, output in deployment.outputs.items() if output.secret]
    return secrets


class KeylessStack(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.clock = MovableClock()
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)
        first = make_host_certificate(self.clock.now, host="HOST01", starts_days=-100)
        second = make_host_certificate(self.clock.now, host="HOST01", starts_days=-1, key=rsa_key(fresh=True))
        reports = make_host_certificate(self.clock.now, host="HOST02", key=rsa_key(fresh=True))
        self.config = {
            "identities": [
                # A rotation in progress: two certificates on one identity.
                {
                    "name": "tasks",
                    "certificate": {
                        "hostCertificates": [self.folder.write("h1-1.crt", first.pem), self.folder.write("h1-2.cer", second.der)]
                    },
                },
                {
                    "name": "reports",
                    "roles": ["Global Reader"],
                    "certificate": {"hostCertificates": [self.folder.write("h2.crt", reports.pem)]},
                },
            ],
            "automation": AUTOMATION,
        }

    async def test_no_private_key_anywhere_in_preview_up_and_the_next_preview(self) -> None:
        tenant = MockTenant(clock=self.clock)
        for step, preview in (("first preview", True), ("up", False), ("preview after up", True)):
            with self.subTest(step):
                deployment = await evaluate(tenant, preview=preview, config=self.config)
                # The scan covered a whole stack: both identities' credentials, the Automation account and its runbooks.
                types = {r.type for r in deployment.registrations}
                self.assertIn("azuread:index/applicationCertificate:ApplicationCertificate", types)
                self.assertIn("azure-native:automation:AutomationAccount", types)
                self.assertIn("azure-native:automation:Runbook", types)
                self.assertTrue(any(urn.endswith("::tasks") for urn in tenant.registered_outputs), "component outputs were recorded")
                self.assertIn("identities", deployment.outputs)
                self.assertEqual(every_finding(deployment), [])
                self.assertNotIn("privateKeys", deployment.outputs)
                self.assertFalse(any(r.type.startswith("tls:") for r in deployment.registrations))

    async def test_what_the_state_still_encrypts_is_public_or_a_runbook_link(self) -> None:
        """Secrets left in a keyless stack, each accounted for: the certificate values (the azuread SDK marks an
        ApplicationCertificate's `value` secret, though a public certificate is all it holds) and the runbook links: a read-only SAS
        for the runbook container, valid for its renewal period (README, "Runbook links"). That link is the one credential left in
        state; it reads files that are in this repository anyway. No code either (issue 18): no dynamic provider's `__provider`."""
        deployment = await evaluate(MockTenant(clock=self.clock), preview=False, config=self.config)
        kinds: dict[str, int] = {}
        for where, value in every_secret(deployment):
            with self.subTest(where):
                text = json.dumps(value)
                self.assertEqual(key_forms(text.encode()), set())
                if where.endswith("-credential.value"):
                    certificate = x509.load_pem_x509_certificate(str(value).encode())
                    self.assertIsInstance(certificate, x509.Certificate)
                    kind = "certificate"
                else:
                    self.assertRegex(text, r"https://[a-z0-9]+\.blob\.core\.windows\.net/[^?]+\.ps1\?[^\"]*sp=r[^\"]*&sig=")
                    kind = "runbook link"
                kinds[kind] = kinds.get(kind, 0) + 1
        self.assertEqual(set(kinds), {"certificate", "runbook link"})
        code = [r.name for r in deployment.registrations if r.type.startswith("pulumi-python:") or "__provider" in r.inputs]
        self.assertEqual(code, [], "a dynamic resource keeps its provider's pickled code in state")


class GeneratedKeysAreFound(unittest.IsolatedAsyncioTestCase):
    """The same scan on the generated mode: the key is in state in every place the keyless stack was checked."""

    async def test_the_scan_finds_the_generated_key_everywhere_it_is(self) -> None:
        tenant = MockTenant()
        deployment = await evaluate(tenant, preview=False, config={"automation": AUTOMATION})
        findings = every_finding(deployment)
        places = {finding.where.split(" of ")[0] if " of " in finding.where else finding.where.split(".")[0] for finding in findings}
        self.assertEqual(places, {"inputs", "outputs", "registered outputs", "stack export privateKeys", "stored inputs", "stored outputs"})
        where = {finding.where for finding in findings}
        self.assertIn("outputs of tls:index/privateKey:PrivateKey exo-certificate-g1-key.privateKeyPem", where)
        self.assertIn("outputs of tls:index/privateKey:PrivateKey exo-certificate-g1-key.privateKeyPemPkcs8", where)
        self.assertIn("inputs of tls:index/selfSignedCert:SelfSignedCert exo-certificate-g1-cert.privateKeyPem", where)
        self.assertIn("registered outputs of exo-certificate-g1.privateKeyPem", where)
        self.assertIn("stack export privateKeys.exo", where)
        # Where the program marked it secret, the scan sees that too; the export is one.
        self.assertTrue(all(f.secret for f in findings if f.where.startswith("stack export")))


class TheScannerItself(unittest.TestCase):
    """Every form of key material is found, however it is wrapped; public certificates and ordinary text are not flagged."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.rsa = rsa_key()
        cls.certificate = make_host_certificate(MovableClock().now)

    def forms(self) -> dict[str, bytes]:
        key, none = self.rsa, serialization.NoEncryption()
        pem, der = serialization.Encoding.PEM, serialization.Encoding.DER
        pkcs8, pkcs1 = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
        pkcs8_der = key.private_bytes(der, pkcs8, none)
        pfx = pkcs12.serialize_key_and_certificates(
            b"x", key, self.certificate.certificate, None, serialization.BestAvailableEncryption(b"pw")
        )
        pem_text = key.private_bytes(pem, pkcs8, none)
        body = b"".join(line for line in pem_text.splitlines() if not line.startswith(b"-----"))
        return {
            "PKCS#8 PEM": pem_text,
            "PKCS#1 PEM": key.private_bytes(pem, pkcs1, none),
            "encrypted PEM": key.private_bytes(pem, pkcs8, serialization.BestAvailableEncryption(b"pw")),
            "OpenSSH": key.private_bytes(pem, serialization.PrivateFormat.OpenSSH, none),
            "EC SEC1 PEM": ec.generate_private_key(ec.SECP256R1()).private_bytes(pem, pkcs1, none),
            "EC PKCS#8 DER": ec.generate_private_key(ec.SECP384R1()).private_bytes(der, pkcs8, none),
            "Ed25519 PKCS#8 DER": ed25519.Ed25519PrivateKey.generate().private_bytes(der, pkcs8, none),
            "PKCS#8 DER": pkcs8_der,
            "PKCS#1 DER": key.private_bytes(der, pkcs1, none),
            "encrypted PKCS#8 DER": key.private_bytes(der, pkcs8, serialization.BestAvailableEncryption(b"pw")),
            "PFX": pfx,
            "base64 PFX": base64.b64encode(pfx),
            "base64 PKCS#8 DER": base64.b64encode(pkcs8_der),
            "url-safe base64 DER": base64.urlsafe_b64encode(pkcs8_der),
            "base64 of the PEM": base64.b64encode(pem_text),
            "base64 of base64 DER": base64.b64encode(base64.b64encode(pkcs8_der)),
            "hex DER": binascii.hexlify(pkcs8_der),
            "PEM body without armour": body,
            "PEM in JSON (escaped newlines)": json.dumps({"k": pem_text.decode()}).encode(),
            "body in JSON (escaped newlines)": json.dumps({"k": pem_text.decode().split("-----")[2]}).encode(),
        }

    def test_every_form_is_found(self) -> None:
        for label, data in self.forms().items():
            with self.subTest(label):
                self.assertNotEqual(key_forms(data), set())

    def test_found_at_any_depth_and_secrets_are_told_apart(self) -> None:
        pem = self.forms()["PKCS#1 PEM"].decode()
        wrapped = {"a": [{"b": {"kind": "not a secret marker", "value": pem}}]}
        # One leaf may show several forms (the armour, and the DER inside its base64 body): compare the places.
        self.assertEqual({(f.where, f.secret) for f in scan(wrapped, "x")}, {("x.a[0].b.value", False)})
        from tests.mock_tenant import SECRET_SIG, SECRET_VALUE

        marked = {"a": {SECRET_SIG: SECRET_VALUE, "value": [pem]}}
        self.assertEqual({(f.where, f.secret) for f in scan(marked, "x")}, {("x.a[0]", True)})

    def test_public_material_and_plain_text_are_not_flagged(self) -> None:
        certificate = self.certificate
        public = self.rsa.public_key()
        clean = {
            "certificate PEM": certificate.pem,
            "certificate DER": certificate.der,
            "base64 certificate": base64.b64encode(certificate.der),
            "hex certificate": binascii.hexlify(certificate.der),
            "public key PEM": public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
            "public key PKCS#1 DER": public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1),
            "thumbprint": certificate.thumbprint.encode(),
            "runbook": (REPO / "runbooks" / "Get-MailboxPermissionReport.ps1").read_bytes(),
            "long hash list": ("".join(f"{i:064x}" for i in range(20))).encode(),
        }
        for label, data in clean.items():
            with self.subTest(label):
                self.assertEqual(key_forms(data), set())
