"""The keyless stack (host certificates and the Automation account's managed identity) with the real engine: its checkpoint, the
history and the backups the backend keeps, and the state decrypted (`stack export --show-secrets`) hold no private key at all."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from tests.engine.conftest import new_project
from tests.host_certificate_files import make_host_certificate
from tests.key_material_scan import key_forms, scan

pytestmark = pytest.mark.engine


def decrypted(value: Any) -> Any:
    """A `--show-secrets` export with each secret's plaintext in place (the scanner reads values, not JSON strings of them)."""
    if isinstance(value, dict):
        if "plaintext" in value and len(value) == 2:
            return decrypted(json.loads(value["plaintext"]))
        return {k: decrypted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decrypted(v) for v in value]
    return value


def test_no_key_material_anywhere_in_a_keyless_stack() -> None:
    for project in new_project():
        folder = project.project / "host-certificates"
        folder.mkdir()
        (folder / "host01.crt").write_bytes(make_host_certificate(dt.datetime.now(dt.UTC), host="HOST01").pem)
        path = project.project / "Pulumi.dev.yaml"
        document = yaml.safe_load(path.read_text())
        document["config"]["exo-automation:identities"] = [
            {"name": "tasks", "certificate": {"hostCertificates": ["host-certificates/host01.crt"]}}
        ]
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        project.pulumi("stack", "select", "dev", "--create")
        project.pulumi("up", "--yes")
        project.pulumi("preview", "--expect-no-changes")

        files = [p for p in (project.root / "state").rglob("*") if p.is_file()]
        assert any("history" in p.parts for p in files) and any(p.name == "dev.json" for p in files)
        findings = {str(p.relative_to(project.root)): sorted(key_forms(p.read_bytes())) for p in files}
        assert {where: forms for where, forms in findings.items() if forms} == {}

        state = decrypted(json.loads(project.pulumi("stack", "export", "--show-secrets", "--stack", "dev").output))
        resources = state["deployment"]["resources"]
        assert any(r["type"] == "azure-native:automation:AutomationAccount" for r in resources)
        assert not any(r["type"].startswith("tls:") for r in resources), "no key is generated in a keyless stack"
        assert any(isinstance(r.get("outputs", {}).get("value"), str) for r in resources), "certificate values were scanned"
        assert scan(state, "state") == []
