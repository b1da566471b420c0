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
