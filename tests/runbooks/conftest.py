"""Fixtures for the runbook tests: the shipped runbooks, parsed. The Exchange cmdlet reference comes from tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.powershell import PowerShellScript, parse_file

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK_DIR = REPO_ROOT / "runbooks"

RUNBOOK_FILES = sorted(RUNBOOK_DIR.glob("*.ps1"))
# The runbooks that walk every mailbox: they stream, partition, count unread mailboxes and share one helper block. The Exchange RBAC
# reconciler reads only the few objects its stack owns, so those tenant-scale rules are not its rules (tests/runbooks/
# test_sync_exchange_rbac.py holds its own).
MAILBOX_RUNBOOK_FILES = [RUNBOOK_DIR / "Get-MailboxPermissionReport.ps1", RUNBOOK_DIR / "Invoke-ForwardingAudit.ps1"]


@pytest.fixture(params=RUNBOOK_FILES, ids=[p.name for p in RUNBOOK_FILES])
def runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return parse_file(path)


@pytest.fixture(params=MAILBOX_RUNBOOK_FILES, ids=[p.name for p in MAILBOX_RUNBOOK_FILES])
def mailbox_runbook(request: pytest.FixtureRequest) -> PowerShellScript:
    path: Path = request.param
    return parse_file(path)
