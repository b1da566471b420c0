"""Fixtures for the runbook tests: the shipped runbooks, parsed. The Exchange cmdlet reference comes from tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.powershell import PowerShellScript, parse_file

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_DIR = REPO_ROOT / "runbooks"

RUNBOOK_FILES = sorted(RUNBOOK_DIR.glob("*.ps1"))


@pytest.fixture(params=RUNBOOK_FILES, ids=[p.name for p in RUNBOOK_FILES])
def runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return parse_file(path)
