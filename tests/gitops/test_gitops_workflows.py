"""The GitHub workflows keep their security properties: pinned actions, least permissions, OIDC only."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
TOKEN_SCRIPT = REPO / ".github" / "scripts" / "azure-federated-token.sh"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    return workflow["on"] if "on" in workflow else workflow[True]


def all_steps(workflow: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "drift.yml"])
def test_every_action_is_pinned_to_a_commit_with_its_version_noted(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    uses_lines = [line.strip() for line in text.splitlines() if "uses:" in line]
    assert uses_lines
    for line in uses_lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PINNED.match(ref), f"{name}: {ref} is not pinned to a commit SHA"
        assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{name}: {line} lacks its version comment"


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "drift.yml"])
def test_permissions_are_granted_per_job_and_only_where_needed(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        permissions = job["permissions"]
        runs_token_script = any("azure-federated-token.sh" in step.get("run", "") for step in job["steps"])
        comments = any(step.get("with", {}).get("comment-on-pr") is True for step in job["steps"])
        expected = {"contents": "read"}
        if runs_token_script:
            expected["id-token"] = "write"
        if comments:
            expected["pull-requests"] = "write"
        assert permissions == expected, f"{name}:{job_name}"


def pulumi_step(workflow: dict[str, Any]) -> dict[str, Any]:
    steps = [step for _, step in all_steps(workflow) if step.get("uses", "").startswith("pulumi/actions@")]
    assert len(steps) == 1
    return steps[0]["with"]


def test_preview_comments_the_diff_and_runs_the_policy_pack() -> None:
    inputs = pulumi_step(load("preview.yml"))
    assert inputs["command"] == "preview"
    assert inputs["comment-on-pr"] is True
    assert inputs["comment-on-summary"] is True
    assert inputs["policyPacks"] == "policy"


def test_deploy_is_protected_and_serialised_per_stack() -> None:
    workflow = load("deploy.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    job = workflow["jobs"]["deploy"]
    assert job["environment"] == "${{ matrix.environment }}"
    assert job["concurrency"] == {
        "group": "pulumi-deploy-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }
    inputs = pulumi_step(workflow)
    assert inputs["command"] == "up"
    assert inputs["policyPacks"] == "policy"


def test_drift_is_a_refreshing_preview_that_fails_on_changes() -> None:
    workflow = load("drift.yml")
    assert {"schedule", "workflow_dispatch"} <= set(triggers(workflow))
    inputs = pulumi_step(workflow)
    assert inputs["command"] == "preview"
    assert inputs["refresh"] is True
    assert inputs["expect-no-changes"] is True


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("preview.yml", "plannerClientId"),
        ("deploy.yml", "deployerClientId"),
        ("drift.yml", "plannerClientId"),
    ],
)
def test_cloud_jobs_authenticate_by_oidc_with_the_right_identity(name: str, identity: str) -> None:
    workflow = load(name)
    text = (WORKFLOWS / name).read_text()
    assert "secrets." not in text, "no long-lived secret may be referenced"
    cloud_jobs = [job for job in workflow["jobs"].values() if "env" in job]
    assert len(cloud_jobs) == 1
    env = cloud_jobs[0]["env"]
    assert env["ARM_USE_OIDC"] == "true"
    assert env["ARM_CLIENT_ID"] == env["AZURE_CLIENT_ID"] == f"${{{{ matrix.{identity} }}}}"
    assert env["ARM_TENANT_ID"] == env["AZURE_TENANT_ID"]
    assert set(env) >= {"ARM_SUBSCRIPTION_ID", "AZURE_STORAGE_ACCOUNT"}


def manifest_schema() -> dict[str, Any]:
    return json.loads((REPO / ".github" / "pulumi-stacks.schema.json").read_text())


def row_schema() -> dict[str, Any]:
    return manifest_schema()["properties"]["stacks"]["items"]


def test_workflows_read_exactly_the_fields_a_manifest_row_requires() -> None:
    used: set[str] = set()
    for name in ("preview.yml", "deploy.yml", "drift.yml"):
        used |= set(re.findall(r"matrix\.(\w+)", (WORKFLOWS / name).read_text()))
    assert used == set(row_schema()["required"]) == set(row_schema()["properties"])


def row_problems(row: dict[str, Any]) -> list[str]:
    schema = row_schema()
    problems = [f"missing {key}" for key in schema["required"] if key not in row]
    problems += [f"unknown {key}" for key in row if key not in schema["properties"]]
    problems += [
        f"bad {key}: {value!r}"
        for key, value in row.items()
        if key in schema["properties"] and not re.match(schema["properties"][key]["pattern"], str(value))
    ]
    return problems


EXAMPLE_ROW = {
    "stack": "contoso",
    "environment": "exo-contoso",
    "tenantId": "99999999-8888-7777-6666-555555555555",
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "plannerClientId": "11111111-2222-3333-4444-555555555555",
    "deployerClientId": "66666666-7777-8888-9999-000000000000",
    "stateStorageAccount": "contosoexostate",
    "stateContainer": "pulumi-state",
}


def test_schema_accepts_a_bootstrap_row_and_names_what_is_wrong() -> None:
    assert row_problems(EXAMPLE_ROW) == []
    bad = {**EXAMPLE_ROW, "tenantId": "contoso.onmicrosoft.com", "secret": "x"}
    del bad["stateContainer"]
    assert sorted(row_problems(bad)) == [
        "bad tenantId: 'contoso.onmicrosoft.com'",
        "missing stateContainer",
        "unknown secret",
    ]


def test_committed_stack_manifest_rows_match_the_schema() -> None:
    manifest = json.loads((REPO / ".github" / "pulumi-stacks.json").read_text())
    assert manifest["$schema"] == "./pulumi-stacks.schema.json"
    assert isinstance(manifest["stacks"], list)
    assert [row_problems(row) for row in manifest["stacks"]] == [[] for _ in manifest["stacks"]]


def test_pulumi_cli_version_matches_the_sdk_pin() -> None:
    cli = (REPO / ".pulumi.version").read_text().strip()
    pins = (REPO / "policy" / "requirements.txt").read_text()
    assert f"pulumi=={cli}" in pins


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "drift.yml"])
def test_pulumi_jobs_override_the_projects_local_backend(name: str) -> None:
    """Pulumi.yaml sets `backend.url: file://~`; `pulumi login` cannot override a project's backend, PULUMI_BACKEND_URL can."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == "file://~"
    workflow = load(name)
    jobs = [
        job for job in workflow["jobs"].values() if any("pulumi/actions@" in str(step.get("uses", "")) for step in job.get("steps", []))
    ]
    assert jobs
    for job in jobs:
        assert job["env"]["PULUMI_BACKEND_URL"] == "azblob://${{ matrix.stateContainer }}"
        assert job["env"]["AZURE_STORAGE_ACCOUNT"] == "${{ matrix.stateStorageAccount }}"
