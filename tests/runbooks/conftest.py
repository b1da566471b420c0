"""Fixtures for the runbook tests: the shipped runbooks as Automation receives them (each file with the shared module after its
param() block, exo/runbook_assembly.py), parsed. The Exchange cmdlet reference comes from tests/conftest.py."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from exo.runbook_assembly import MODULE_PATH, assemble
from tests.powershell import PowerShellScript, parse_source

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_DIR = REPO_ROOT / "runbooks"
MODULE_FILE = REPO_ROOT / MODULE_PATH

RUNBOOK_FILES = sorted(RUNBOOK_DIR.glob("*.ps1"))
# The runbooks that walk every mailbox: they stream, partition, count unread mailboxes and use the module's tenant-scale helpers.
# The Exchange RBAC reconciler reads only the few objects its stack owns, so those tenant-scale rules are not its rules
# (tests/runbooks/test_sync_exchange_rbac.py holds its own).
MAILBOX_RUNBOOK_FILES = [RUNBOOK_DIR / "Get-MailboxPermissionReport.ps1", RUNBOOK_DIR / "Invoke-ForwardingAudit.ps1"]


@cache
def published_text(path: Path) -> str:
    """The text the program publishes for the runbook at `path`."""
    return assemble(path.read_bytes(), MODULE_FILE.read_bytes()).text


def published(path: Path) -> PowerShellScript:
    """The published runbook, parsed; `path` stays the runbook's own file (for messages)."""
    return parse_source(published_text(path), path)


@pytest.fixture(params=RUNBOOK_FILES, ids=[p.name for p in RUNBOOK_FILES])
def runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return published(path)


@pytest.fixture(params=MAILBOX_RUNBOOK_FILES, ids=[p.name for p in MAILBOX_RUNBOOK_FILES])
def mailbox_runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return published(path)
