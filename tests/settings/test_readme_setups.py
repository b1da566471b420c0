"""The README's three common setups are config that the program accepts as written (host certificate paths aside: the test writes a
certificate made the way New-ExoHostCertificate.ps1 makes one in place of each listed file)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from exo import clock
from settings.stack import parse_settings
from tests.harness import REPO
from tests.host_certificate_files import CertificateFolder, make_host_certificate


def _setups() -> list[dict[str, Any]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [yaml.safe_load(block)["config"] for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


SETUPS = _setups()


def test_the_readme_shows_three_setups() -> None:
    assert len(SETUPS) == 3


@pytest.mark.parametrize("config", SETUPS, ids=["workstation", "automation", "keyless"])
def test_each_setup_parses(config: dict[str, Any]) -> None:
    folder = CertificateFolder()
    try:
        now = clock.now()
        for identity in config.get("exo-automation:identities", []):
            certificate = identity.get("certificate", {})
            if "hostCertificates" in certificate:
                certificate["hostCertificates"] = [
                    folder.write(f"host-{index}.crt", make_host_certificate(now, host=f"EXO0{index}").pem)
                    for index, _ in enumerate(certificate["hostCertificates"])
                ]
        raw = {key.split(":", 1)[1]: json.dumps(value) for key, value in config.items()}
        settings = parse_settings(raw, "readme", None, REPO, now)
    finally:
        folder.cleanup()
    assert settings.identities
    if "exo-automation:automation" in config:
        assert settings.automation is not None and settings.automation.runbooks
