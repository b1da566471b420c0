"""The contract between the program and certtool: what `pulumi up` exports is what `certtool export` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from certtool.pfx import CSP_NAME, read_pfx
from tests.harness import REPO, evaluate
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate, rsa_key
from tests.mock_tenant import MockTenant


class ProgramOutputsFeedCerttool(unittest.IsolatedAsyncioTestCase):
    async def test_export_from_the_programs_outputs_gives_a_csp_pfx_with_the_exported_thumbprint(self) -> None:
        config = {"identities": [{"name": "reports", "roles": ["Global Reader"]}, {"name": "provisioning"}]}
        # One clock: the tenant issues the certificate from the process clock, which is the clock the certtool child process reads
        # (under `--clock` the children travel with this process).
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        # `pulumi stack output --show-secrets --json`: every output by name, secrets in clear.
        outputs = {name: output.value for name, output in deployment.outputs.items()}
        with tempfile.TemporaryDirectory() as folder:
            outputs_file = Path(folder) / "outputs.json"
            outputs_file.write_text(json.dumps(outputs))
            pfx_file = Path(folder) / "reports.pfx"
            run = subprocess.run(
                [sys.executable, "-m", "certtool", "export", "--stack-outputs", str(outputs_file), "--identity", "reports",
                 "--out", str(pfx_file), "--password-env", "EXO_PFX_PASSWORD"],
                cwd=REPO, env={**os.environ, "EXO_PFX_PASSWORD": "correct horse battery staple"},
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            self.assertEqual(run.returncode, 0, run.stderr)
            contents = read_pfx(pfx_file.read_bytes(), "correct horse battery staple", str(pfx_file))
            verify = subprocess.run(
                [sys.executable, "-m", "certtool", "verify", "--pfx", str(pfx_file), "--stack-outputs", str(outputs_file),
                 "--identity", "reports", "--password-env", "EXO_PFX_PASSWORD"],
                cwd=REPO, env={**os.environ, "EXO_PFX_PASSWORD": "correct horse battery staple"},
                capture_output=True, text=True, check=False,
            )  # fmt: skip
        thumbprint = deployment.output("identities")["reports"]["thumbprint"]
        self.assertEqual(contents.csp_name, CSP_NAME)
        self.assertEqual(contents.certificate.fingerprint(hashes.SHA1()).hex().upper(), thumbprint)
        self.assertEqual(verify.returncode, 0, verify.stdout + verify.stderr)
        self.assertIn(thumbprint, verify.stdout)


class HostCertificateOutputsFeedCerttool(unittest.IsolatedAsyncioTestCase):
    """Host certificates: verify knows the current and the still-accepted certificate; export says why there is nothing to export."""

    async def test_verify_and_export_on_a_stack_mid_rotation(self) -> None:
        clock = MovableClock()
        folder = CertificateFolder()
        self.addCleanup(folder.cleanup)
        old = make_host_certificate(clock.now, starts_days=-300)
        new = make_host_certificate(clock.now, starts_days=-1, key=rsa_key(fresh=True))
        paths = [folder.write("old.crt", old.pem), folder.write("new.crt", new.pem)]
        config = {"identities": [{"name": "exo", "certificate": {"hostCertificates": paths}}]}
        deployment = await evaluate(MockTenant(clock=clock), preview=False, config=config)
        outputs = {name: output.value for name, output in deployment.outputs.items()}
        self.assertNotIn("privateKeys", outputs)
        outputs_file = folder.path / "outputs.json"
        outputs_file.write_text(json.dumps(outputs))

        def certtool(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "certtool", *args, "--stack-outputs", str(outputs_file), "--identity", "exo"],
                cwd=REPO, capture_output=True, text=True, check=False,
            )  # fmt: skip

        current = certtool("verify", "--pem", str(REPO / paths[1]), "--json")
        self.assertEqual(current.returncode, 0, current.stdout + current.stderr)
        report = json.loads(current.stdout)["stack"]
        self.assertEqual((report["certificateSource"], report["matchesCurrentCredential"], report["acceptedByApp"]), ("host", True, True))
        previous = certtool("verify", "--pem", str(REPO / paths[0]), "--json")
        self.assertEqual(previous.returncode, 3, "not the current certificate: switch the host")
        self.assertTrue(json.loads(previous.stdout)["stack"]["acceptedByApp"], "but the app still accepts it during the overlap")
        export = certtool("export", "--out", str(folder.path / "exo.pfx"), "--password-env", "UNUSED")
        self.assertEqual(export.returncode, 1)
        self.assertIn("uses host certificates", export.stderr)
        self.assertIn("New-ExoHostCertificate.ps1", export.stderr)
        self.assertFalse((folder.path / "exo.pfx").exists())
