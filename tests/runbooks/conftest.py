"""Shared fixtures for the runbook tests: the shipped runbooks, parsed, and the Exchange cmdlet reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.powershell import PowerShellScript, load_exchange_reference, parse_file

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_DIR = REPO_ROOT / "runbooks"
# Shared reference data lives beside the repository, never inside it (see ../shared/reference/README.md).
EXCHANGE_REFERENCE = REPO_ROOT.parent / "shared" / "reference" / "exo-cmdlets.json"

RUNBOOK_FILES = sorted(RUNBOOK_DIR.glob("*.ps1"))


@pytest.fixture(params=RUNBOOK_FILES, ids=[p.name for p in RUNBOOK_FILES])
def runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return parse_file(path)


@pytest.fixture(scope="session")
def exchange_reference() -> dict[str, dict[str, Any]]:
    if not EXCHANGE_REFERENCE.is_file():
        pytest.skip(
            f"Exchange cmdlet reference not found at {EXCHANGE_REFERENCE}: "
            "it is shared data kept outside the repository (../shared/reference/exo-cmdlets.json)"
        )
    return load_exchange_reference(EXCHANGE_REFERENCE)
