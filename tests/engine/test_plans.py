"""`pulumi preview --save-plan` then `pulumi up --plan`, as the deploy job runs them: every plan honoured, no "resource violates
plan", and nothing left to do afterwards."""

from __future__ import annotations

import pytest
import yaml

from tests.engine.project import EngineProject

pytestmark = pytest.mark.engine


def planned_up(project: EngineProject, plan_name: str) -> list[tuple[str, str, str]]:
    steps = project.preview_steps("--save-plan", str(project.root / plan_name))
    up = project.pulumi("up", "--yes", "--plan", str(project.root / plan_name))
    assert "violates plan" not in up.output, up
    project.pulumi("preview", "--expect-no-changes")
    return steps


def edit_stack(project: EngineProject, edit: object) -> None:
    path = project.project / "Pulumi.dev.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])  # type: ignore[operator]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_new_runbook_on_a_new_schedule(dev: EngineProject) -> None:
    source = dev.project / "runbooks" / "Invoke-ForwardingAudit.ps1"
    (dev.project / "runbooks" / "Invoke-ForwardingAuditCopy.ps1").write_text(source.read_text())

    def add(config: dict) -> None:
        config["exo-automation:automation"]["runbooks"].append(
            {
                "name": "ForwardingAuditHourly",
                "file": "runbooks/Invoke-ForwardingAuditCopy.ps1",
                "parameters": {"Remediate": False, "OutputFormat": "JsonLines"},
                "schedule": {"frequency": "Hour", "interval": 4, "time": "00:10", "timeZone": "UTC"},
            }
        )

    edit_stack(dev, add)
    steps = planned_up(dev, "new-runbook.json")
    created = {kind for op, kind, _name in steps if op == "create"}
    assert {"azure-native:automation:Runbook", "azure-native:automation:Schedule", "azure-native:automation:JobSchedule"} <= created
    tenant = dev.tenant()
    assert [j["schedule"] for j in tenant.job_schedules_of("ForwardingAuditHourly")], "the new runbook runs on its schedule"


def test_an_edited_runbook_file(dev: EngineProject) -> None:
    runbook = dev.project / "runbooks" / "Get-MailboxPermissionReport.ps1"
    runbook.write_text(runbook.read_text() + "\n# Edited: the next publish carries this line.\n")
    before = dev.tenant().job_schedules_of("MailboxPermissionReport")
    steps = planned_up(dev, "edited-runbook.json")
    changed = {(op, kind) for op, kind, _name in steps}
    assert ("update", "azure-native:automation:Runbook") in changed, steps
    after = dev.tenant().job_schedules_of("MailboxPermissionReport")
    assert len(after) == 1 and after != [] and len(before) == 1, "the republished runbook has its job schedule again"


def test_a_new_schedule_for_an_existing_runbook(dev: EngineProject) -> None:
    def reschedule(config: dict) -> None:
        runbook = next(r for r in config["exo-automation:automation"]["runbooks"] if r["name"] == "ForwardingAudit")
        runbook["schedule"] = {"frequency": "Day", "time": "04:45", "timeZone": "Europe/Berlin"}

    edit_stack(dev, reschedule)
    steps = planned_up(dev, "new-schedule.json")
    assert ("create", "azure-native:automation:Schedule") in {(op, kind) for op, kind, _name in steps}, steps
    assert len(dev.tenant().job_schedules_of("ForwardingAudit")) == 1


def test_a_partition_count_change(dev: EngineProject) -> None:
    def partition(config: dict) -> None:
        runbook = next(r for r in config["exo-automation:automation"]["runbooks"] if r["name"] == "MailboxPermissionReport")
        runbook["partitions"] = 3

    edit_stack(dev, partition)
    planned_up(dev, "partitions.json")
    assert len(dev.tenant().job_schedules_of("MailboxPermissionReport")) == 3, "one job per partition and run"


def test_a_certificate_generation_bump_and_an_identity_added(dev: EngineProject) -> None:
    def rotate_and_add(config: dict) -> None:
        config["exo-automation:identities"][0]["certificate"]["generation"] = 2
        config["exo-automation:identities"].append({"name": "reports", "roles": ["Global Reader"]})

    edit_stack(dev, rotate_and_add)
    steps = planned_up(dev, "generation-and-identity.json")
    created = [name for op, kind, name in steps if op == "create" and kind == "tls:index/privateKey:PrivateKey"]
    assert sorted(created) == ["exo-certificate-g2-key", "reports-certificate-g1-key"], steps
    applications = dev.tenant().applications
    assert len(applications) == 2
