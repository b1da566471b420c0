"""The README's commands on the dev stack with the real engine: stack select --create, preview, up --yes, and previews that find
nothing to do the same day and as time passes (3 days; 181 days, when the runbook links are renewed; 400 days, when the
certificate is reissued)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml

from tests.engine.conftest import new_project
from tests.engine.project import REPO, EngineProject, Result

pytestmark = pytest.mark.engine


def summary(result: Result) -> dict[str, int]:
    """The counts of the `Resources:` block of a preview or up."""
    block = result.output.rsplit("Resources:", 1)[-1]
    kinds = "to create|created|to update|updated|to replace|replaced|to delete|deleted|unchanged"
    return {kind: int(count) for count, kind in re.findall(rf"(\d+) ({kinds})", block)}


@pytest.fixture(scope="module")
def dev() -> Iterator[tuple[EngineProject, Result, Result]]:
    for project in new_project():
        project.pulumi("stack", "select", "dev", "--create")
        preview = project.pulumi("preview", "--diff")
        up = project.pulumi("up", "--yes", "--diff")
        yield project, preview, up


def test_the_virtualenv_the_suite_prepares_is_the_one_pulumi_yaml_names() -> None:
    """The suite skips `pulumi install` (it downloads plugins) and links its own environment, made from the same lock, where the
    runtime options point."""
    runtime = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["runtime"]
    assert runtime == {"name": "python", "options": {"toolchain": "pip", "virtualenv": ".venv"}}


def test_preview_plans_only_creates_and_up_makes_them(dev: tuple[EngineProject, Result, Result]) -> None:
    project, preview, up = dev
    planned, made = summary(preview), summary(up)
    assert set(planned) == {"to create"}, preview
    assert made == {"created": planned["to create"]}, up
    resources = project.stack_export()["deployment"]["resources"]
    # Every resource the preview planned is in the state, besides the stack itself and the default providers.
    custom = [r for r in resources if not r["type"].startswith("pulumi:")]
    assert len(custom) == planned["to create"] - 1
    tenant = project.tenant()
    assert {v["name"] for v in tenant.runbooks.values()} == {"MailboxPermissionReport", "ForwardingAudit"}
    assert len(tenant.job_schedules) == 2


def test_nothing_was_downloaded(dev: tuple[EngineProject, Result, Result]) -> None:
    """The CLI found every plugin in the project's plugins.providers or beside itself: its plugin cache stays empty."""
    project, _preview, _up = dev
    cache = project.root / "home" / ".pulumi" / "plugins"
    assert not cache.exists() or not any(cache.iterdir()), sorted(p.name for p in cache.iterdir())


def test_no_changes_the_same_day_and_as_time_passes(dev: tuple[EngineProject, Result, Result]) -> None:
    project, _preview, _up = dev
    project.pulumi("preview", "--expect-no-changes", "--diff")
    project.move_clock(3)
    project.pulumi("preview", "--expect-no-changes", "--diff")
    # 181 days: the runbook links are renewed (an update of each runbook in place, nothing replaced); then nothing is left to do.
    project.move_clock(178)
    renewal = project.preview_steps("--refresh")
    # Each runbook is updated in place with its new link, and its job schedule re-created (Azure drops it on republish).
    assert {(op, kind) for op, kind, _name in renewal} == {
        ("update", "azure-native:automation:Runbook"),
        ("replace", "azure-native:automation:JobSchedule"),
    }, renewal
    project.pulumi("up", "--yes", "--diff")
    project.pulumi("preview", "--expect-no-changes", "--diff")
    assert len(project.tenant().job_schedules) == 2, "every runbook still has its job schedule after the renewal"
    # 400 days: the certificate has expired; tls reissues it and the key credential is replaced.
    project.move_clock(219)
    reissue = project.preview_steps("--refresh")
    replaced = {kind for op, kind, _name in reissue if op == "replace"}
    assert {"tls:index/selfSignedCert:SelfSignedCert", "azuread:index/applicationCertificate:ApplicationCertificate"} <= replaced, reissue
    project.pulumi("up", "--yes", "--refresh", "--diff")
    project.pulumi("preview", "--expect-no-changes", "--diff")
