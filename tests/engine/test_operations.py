"""Drift as the drift job sees it (`pulumi preview --refresh --expect-no-changes` and its exit code), repairs by `up`, the
checkpoint scanned for key material, and `pulumi destroy` leaving Microsoft's Exchange Online service principal alone."""

from __future__ import annotations

import pytest

from tests.engine import emulated_cloud
from tests.engine.project import EngineProject
from tests.key_material_scan import key_forms
from tests.mock_tenant import JOB_SCHEDULE

# pulumi_run.py's table (Pulumi's documented exit codes): what drift.yml reports as drift.
DRIFT_EXIT_CODE = 7
ACCOUNT = "azure-native:automation:AutomationAccount"


pytestmark = pytest.mark.engine


def test_a_job_schedule_deleted_in_the_portal_is_drift_and_up_recreates_it(dev: EngineProject) -> None:
    name = next(name for (kind, name) in dev.tenant().state if kind == JOB_SCHEDULE)
    with emulated_cloud.portal(dev.cloud) as tenant:
        tenant.delete_outside_pulumi(JOB_SCHEDULE, name)
    assert len(dev.tenant().job_schedules) == 1
    dev.pulumi("preview", "--refresh", "--expect-no-changes", expect=DRIFT_EXIT_CODE)
    dev.pulumi("up", "--yes", "--refresh")
    assert len(dev.tenant().job_schedules) == 2
    dev.pulumi("preview", "--refresh", "--expect-no-changes")


def test_a_tag_changed_in_the_portal_is_drift_and_up_puts_it_back(dev: EngineProject) -> None:
    with emulated_cloud.portal(dev.cloud) as tenant:
        stored = next(v for (kind, _name), v in tenant.state.items() if kind == ACCOUNT)
        for side in (stored.inputs, stored.outputs):
            side["tags"] = {**side.get("tags", {}), "environment": "changed-by-hand"}
    dev.pulumi("preview", "--refresh", "--expect-no-changes", expect=DRIFT_EXIT_CODE)
    dev.pulumi("up", "--yes", "--refresh")
    account = next(v for (kind, _name), v in dev.tenant().state.items() if kind == ACCOUNT)
    assert account.inputs["tags"]["environment"] == "dev"
    dev.pulumi("preview", "--refresh", "--expect-no-changes")


def test_no_key_material_in_plain_text_in_the_checkpoint_its_history_and_backups(dev: EngineProject) -> None:
    """The dev stack's generated key is in state only encrypted with the passphrase: no file the backend wrote holds it readable."""
    files = [p for p in (dev.root / "state").rglob("*") if p.is_file()]
    assert any(p.name == "dev.json" for p in files) and any("history" in p.parts for p in files)
    findings = {str(p.relative_to(dev.root)): sorted(key_forms(p.read_bytes())) for p in files}
    assert {where: forms for where, forms in findings.items() if forms} == {}


def test_destroy_removes_what_the_stack_made_and_never_the_exchange_service_principal(dev: EngineProject) -> None:
    exchange = dev.tenant().exchange_object_id
    dev.pulumi("destroy", "--yes")
    tenant = dev.tenant()
    assert sorted(tenant.state) == [], "the cloud holds nothing the stack made"
    assert tenant.service_principals.get(exchange) is not None, "Exchange Online's service principal is still there"
    deletions = vars(tenant).get("engine_deletions", [])
    assert deletions, "the engine deleted through the providers"
    # The grant on it (an app role assignment under /servicePrincipals/<exchange>/appRoleAssignedTo/...) goes; the principal stays.
    assert not [d for d in deletions if d[1].rstrip("/").endswith(exchange)], deletions
    assert dev.stack_export()["deployment"].get("resources") in (None, [])
