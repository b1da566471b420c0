"""The GitHub workflows, checked as data: who can reach which identity and token, what each job runs, and in what order.

Threat model (docs/gitops.md#threat-model): a same-repo pull request controls its own code and its own workflow files. The
Azure side (bootstrap federated subjects) must hold even when a pull request rewrites preview.yml; these tests pin down
the workflows on main, which is what merged code, drift, deploys and the comment poster run.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
SCRIPTS = REPO / ".github" / "scripts"
NAMES = sorted(path.name for path in WORKFLOWS.glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")

# Inputs each action declares in its action.yml at the pinned commit (read from the actions' repositories:
# actions/upload-artifact bbbca2d = v7.0.0, actions/download-artifact 3e5f45b = v8.0.1,
# actions/checkout 3d3c42e = v7.0.1, actions/setup-python 5fda3b9 = v7.0.0, astral-sh/setup-uv 20cfd1b = v10.0.1; only the
# inputs these workflows use are listed).
ACTION_INPUTS = {
    "actions/upload-artifact": {"name", "path", "if-no-files-found", "retention-days"},
    "actions/download-artifact": {"name", "path", "pattern"},
    "actions/checkout": {"persist-credentials"},
    "actions/setup-python": {"python-version"},
    "astral-sh/setup-uv": {"version", "enable-cache"},
}

# (workflow, job) -> exactly the GITHUB_TOKEN permissions it gets.
PERMISSIONS = {
    ("preview.yml", "test"): {"contents": "read"},
    ("preview.yml", "stacks"): {"contents": "read"},
    # Runs the pull request's code: an Azure token only after the preview environment's approval, and nothing that writes.
    ("preview.yml", "preview"): {"actions": "read", "contents": "read", "id-token": "write"},
    # Runs main's code (workflow_run): the only job that writes to pull requests; no Azure.
    ("preview-comment.yml", "comment"): {"actions": "read", "contents": "read", "pull-requests": "write"},
    ("deploy.yml", "test"): {"contents": "read"},
    ("deploy.yml", "stacks"): {"contents": "read"},
    # Calls deploy-stack.yml per stack: the most its two jobs may get (a called job gets no more than its caller).
    ("deploy.yml", "stack"): {"actions": "read", "contents": "read", "id-token": "write"},
    ("deploy-stack.yml", "plan"): {"contents": "read", "id-token": "write"},
    ("deploy-stack.yml", "deploy"): {"actions": "read", "contents": "read", "id-token": "write"},
    ("drift.yml", "stacks"): {"contents": "read"},
    ("drift.yml", "drift"): {"actions": "read", "contents": "read", "id-token": "write"},
    ("drift.yml", "report"): {"contents": "read", "issues": "write"},
}
# (workflow, job) -> the manifest field naming the Azure identity the job signs in as.
IDENTITIES = {
    ("preview.yml", "preview"): "plannerClientId",
    ("deploy-stack.yml", "plan"): "plannerClientId",
    ("deploy-stack.yml", "deploy"): "deployerClientId",
    ("drift.yml", "drift"): "plannerClientId",
}
# Jobs that call a reusable workflow (no steps of their own; their permissions pass through to the called jobs).
CALLERS = {("deploy.yml", "stack"): "./.github/workflows/deploy-stack.yml"}


def row_field(name: str, field: str) -> str:
    """How a job names a manifest field: the matrix row itself, or the input deploy.yml passes it to deploy-stack.yml."""
    return f"${{{{ inputs.{field} }}}}" if name == "deploy-stack.yml" else f"${{{{ matrix.{field} }}}}"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict[Any, Any]) -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    return workflow["on"] if "on" in workflow else workflow[True]


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name in NAMES:
        for job_name, job in load(name)["jobs"].items():
            yield name, job_name, job


def step_index(job: dict[str, Any], needle: str) -> int:
    """Index of the one step whose `run` or `uses` contains needle."""
    found = [i for i, step in enumerate(job.get("steps", [])) if needle in step.get("run", "") + step.get("uses", "")]
    assert len(found) == 1, f"{needle}: {found}"
    return found[0]


def run_of(job: dict[str, Any], needle: str) -> str:
    return job["steps"][step_index(job, needle)]["run"]


def test_the_workflow_set_is_the_reviewed_one() -> None:
    assert NAMES == ["deploy-stack.yml", "deploy.yml", "drift.yml", "preview-comment.yml", "preview.yml"]
    for (name, job_name), target in CALLERS.items():
        assert load(name)["jobs"][job_name]["uses"] == target
    assert set(triggers(load("deploy-stack.yml"))) == {"workflow_call"}, "only deploy.yml runs it, with main's rows"
    assert {(n, j) for n, j, _ in jobs()} == set(PERMISSIONS)


@pytest.mark.parametrize("name", NAMES)
def test_every_action_is_pinned_to_a_commit_with_its_version_noted_and_known_inputs(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    # A local reusable workflow (`uses: ./...`) is this repository's own reviewed file, not an action to pin.
    uses_lines = [line.strip() for line in text.splitlines() if "uses:" in line and "uses: ./" not in line]
    assert uses_lines or name == "deploy.yml"
    for line in uses_lines:
        ref = line.split("uses:", 1)[1].split("#", 1)[0].strip()
        assert PINNED.match(ref), f"{name}: {ref} is not pinned to a commit SHA"
        assert re.search(r"# v\d+\.\d+\.\d+$", line), f"{name}: {line} lacks its version comment"
    for _, job_name, job in ((n, j, b) for n, j, b in jobs() if n == name):
        for step in job.get("steps", []):
            if "uses" in step:
                action = step["uses"].split("@", 1)[0]
                assert set(step.get("with", {})) <= ACTION_INPUTS[action], f"{name}:{job_name}: {action} {step.get('with')}"


@pytest.mark.parametrize(("name", "job_name"), sorted(PERMISSIONS))
def test_permissions_are_granted_per_job_and_only_where_needed(name: str, job_name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    assert workflow["jobs"][job_name]["permissions"] == PERMISSIONS[(name, job_name)]


@pytest.mark.parametrize(("name", "job_name", "job"), list(jobs()), ids=[f"{n}:{j}" for n, j, _ in jobs()])
def test_every_job_has_a_timeout(name: str, job_name: str, job: dict[str, Any]) -> None:
    if (name, job_name) in CALLERS:
        return  # a job that calls a reusable workflow takes no timeout-minutes; each called job has its own
    assert isinstance(job.get("timeout-minutes"), int) and 0 < job["timeout-minutes"] <= 120


def test_no_job_that_runs_pull_request_code_can_write_to_github() -> None:
    assert set(triggers(load("preview.yml"))) == {"pull_request"}
    for job_name, job in load("preview.yml")["jobs"].items():
        assert all(level == "read" or scope == "id-token" for scope, level in job["permissions"].items()), job_name
    for name in NAMES:
        assert "pull_request_target" not in triggers(load(name)), f"{name}: pull_request_target runs with write tokens"


def test_pull_request_previews_sign_in_only_after_an_approval() -> None:
    job = load("preview.yml")["jobs"]["preview"]
    assert job["environment"] == "${{ matrix.previewEnvironment }}"
    gate = step_index(job, "environment_gate.py")
    assert "--kind preview" in job["steps"][gate]["run"]
    assert gate < step_index(job, "azure-federated-token.sh") < step_index(job, "pulumi_run.py")
    assert "pull-requests" not in job["permissions"]


def test_the_comment_poster_runs_main_code_and_never_the_pull_requests() -> None:
    workflow = load("preview-comment.yml")
    assert triggers(workflow) == {"workflow_run": {"workflows": ["Preview"], "types": ["requested", "completed"]}}
    assert load("preview.yml")["name"] == "Preview"
    job = workflow["jobs"]["comment"]
    checkout = job["steps"][step_index(job, "actions/checkout@")]
    assert "ref" not in checkout.get("with", {}), "workflow_run checks out the default branch unless told otherwise"
    assert "env" not in job and "id-token" not in job["permissions"]
    text = (WORKFLOWS / "preview-comment.yml").read_text()
    posting = [step for step in job["steps"] if "pr_comment.py" in step.get("run", "")]
    assert [step["if"] for step in posting] == ["github.event.action == 'requested'", "github.event.action == 'completed'"]
    # A new commit's run withdraws the earlier results (and who approved them) before it waits for its own approval.
    assert "--requested" in posting[0]["run"] and "--requested" not in posting[1]["run"]
    for step in posting:
        assert "head_branch" not in text and "pulumi" not in step["run"]
        # The pull request number comes from the event, and the poster checks the head is still the tested commit.
        assert "workflow_run.pull_requests[0].number" in text and "--head-sha" in step["run"]


def test_preview_results_reach_the_comment_poster() -> None:
    preview = load("preview.yml")["jobs"]["preview"]
    upload = preview["steps"][step_index(preview, "actions/upload-artifact@")]
    assert upload["if"] == "always()", "a failed preview must replace an earlier success"
    assert upload["with"]["name"] == "preview-${{ matrix.stack }}"
    assert "--pattern 'preview-*'" in run_of(load("preview-comment.yml")["jobs"]["comment"], "gh run download")


def test_the_pr_preview_refreshes_as_the_deploy_does() -> None:
    preview = run_of(load("preview.yml")["jobs"]["preview"], "pulumi_run.py")
    plan = run_of(load("deploy-stack.yml")["jobs"]["plan"], "pulumi_run.py")
    deploy = run_of(load("deploy-stack.yml")["jobs"]["deploy"], "pulumi_run.py")
    assert all("--refresh" in command for command in (preview, plan, deploy))


def test_deploy_applies_the_plan_the_approver_saw() -> None:
    workflow = load("deploy-stack.yml")
    assert triggers(load("deploy.yml"))["push"]["branches"] == ["main"]
    plan, deploy = workflow["jobs"]["plan"], workflow["jobs"]["deploy"]
    assert "environment" not in plan, "the plan (and its summary) exists before anyone is asked to approve"
    assert "preview" in run_of(plan, "pulumi_run.py") and '--save-plan "plans/${STACK}/plan.json"' in run_of(plan, "pulumi_run.py")
    upload = plan["steps"][step_index(plan, "actions/upload-artifact@")]["with"]
    assert upload == {
        "name": "plan-${{ inputs.stack }}",
        "path": "plans/${{ inputs.stack }}/plan.json",
        "if-no-files-found": "error",
        "retention-days": PLAN_RETENTION_DAYS,
    }
    assert deploy["environment"] == "${{ inputs.environment }}"
    download = deploy["steps"][step_index(deploy, "actions/download-artifact@")]["with"]
    assert download == {"name": "plan-${{ inputs.stack }}", "path": "plans/${{ inputs.stack }}"}
    up = run_of(deploy, "pulumi_run.py")
    assert up.startswith("python3 .github/scripts/pulumi_run.py up ") and '--plan "plans/${STACK}/plan.json"' in up
    # The gates run before anything signs in, and the update after the plan is in place.
    gate = step_index(deploy, "environment_gate.py")
    assert "--kind deploy" in deploy["steps"][gate]["run"]
    assert gate < step_index(deploy, "azure-federated-token.sh") < step_index(deploy, "pulumi_run.py")
    assert step_index(deploy, "actions/download-artifact@") < step_index(deploy, "pulumi_run.py")
    caller = load("deploy.yml")["jobs"]["stack"]
    assert caller["needs"] == ["test", "stacks"] and "always()" not in caller["if"], "tests failed: nothing is offered"


# The approval window docs/gitops.md promises: the plan outlives it, and a deploy approved later fails with its own message.
PLAN_RETENTION_DAYS = 7


def test_a_deploy_approved_after_the_plan_expired_fails_with_what_to_do() -> None:
    deploy = load("deploy-stack.yml")["jobs"]["deploy"]
    download_at = step_index(deploy, "actions/download-artifact@")
    download = deploy["steps"][download_at]
    assert download["continue-on-error"] is True and download["id"] == "plan-artifact"
    expired = deploy["steps"][download_at + 1]
    assert expired["if"] == "steps.plan-artifact.outcome != 'success'"
    assert "::error::plan expired: run Deploy on main again" in expired["run"]
    assert expired["run"].rstrip().endswith("exit 1")
    assert download_at + 1 < step_index(deploy, "azure-federated-token.sh"), "fails before signing in"
    docs = (REPO / "docs" / "gitops.md").read_text()
    assert f"kept {PLAN_RETENTION_DAYS} days" in docs and "plan expired: run Deploy on main again" in docs


def test_the_plan_digest_is_a_job_output_checked_before_up() -> None:
    plan, deploy = (load("deploy-stack.yml")["jobs"][job] for job in ("plan", "deploy"))
    step = plan["steps"][step_index(plan, "pulumi_run.py")]
    assert step["id"] == "plan" and "--save-plan" in step["run"]
    assert plan["outputs"] == {"plan-sha256": "${{ steps.plan.outputs.plan-sha256 }}"}
    assert deploy["env"]["PLAN_SHA256"] == "${{ needs.plan.outputs.plan-sha256 }}"
    assert '--plan-sha256 "$PLAN_SHA256"' in run_of(deploy, "pulumi_run.py")


def test_a_stack_whose_plan_failed_is_not_offered_for_deploy() -> None:
    # One reusable-workflow call per stack: the Deploy job needs only its own stack's Plan, with the default success(), so a
    # failed or skipped Plan leaves no job waiting for approval (before: every stack's deploy waited behind `!cancelled()`).
    deploy = load("deploy-stack.yml")["jobs"]["deploy"]
    assert deploy["needs"] == ["plan"] and "if" not in deploy


def test_only_mains_current_head_is_planned_and_deployed() -> None:
    plan, deploy = (load("deploy-stack.yml")["jobs"][job] for job in ("plan", "deploy"))
    for job in (plan, deploy):
        assert '--branch main --sha "$GITHUB_SHA"' in run_of(job, "deploy_gate.py")
        assert step_index(job, "deploy_gate.py") < step_index(job, "azure-federated-token.sh")
    assert '--run-id "$GITHUB_RUN_ID" --environment "$DEPLOY_ENVIRONMENT"' in run_of(deploy, "deploy_gate.py")
    assert step_index(deploy, "deploy_gate.py") < step_index(deploy, "actions/download-artifact@")


def test_drift_is_neither_starved_by_a_waiting_deploy_nor_silently_replaced() -> None:
    deploy = load("deploy-stack.yml")["jobs"]["deploy"]
    assert deploy["concurrency"] == {"group": "pulumi-deploy-${{ inputs.stack }}", "cancel-in-progress": False}
    drift_workflow = load("drift.yml")
    assert "concurrency" not in drift_workflow
    for job_name, job in drift_workflow["jobs"].items():
        assert "concurrency" not in job, f"drift.yml:{job_name} would queue behind or replace another run"
    drift = drift_workflow["jobs"]["drift"]
    checks = [i for i, step in enumerate(drift["steps"]) if "deploy_running.py" in step.get("run", "")]
    preview = step_index(drift, "pulumi_run.py")
    assert len(checks) == 2 and checks[0] < step_index(drift, "azure-federated-token.sh") and checks[1] > preview
    assert drift["steps"][checks[1]]["if"] == "always() && steps.busy.outputs.running != 'true'"
    assert drift["steps"][preview]["if"] == "steps.busy.outputs.running != 'true'"


@pytest.mark.parametrize(("name", "job_name"), sorted(IDENTITIES))
def test_cloud_jobs_authenticate_by_oidc_with_the_right_identity(name: str, job_name: str) -> None:
    job = load(name)["jobs"][job_name]
    env = job["env"]
    identity = IDENTITIES[(name, job_name)]
    assert env["ARM_USE_OIDC"] == "true"
    assert env["ARM_CLIENT_ID"] == env["AZURE_CLIENT_ID"] == row_field(name, identity)
    assert env["ARM_TENANT_ID"] == env["AZURE_TENANT_ID"]
    assert env["PULUMI_BACKEND_URL"] == "azblob://" + row_field(name, "stateContainer")
    assert env["AZURE_STORAGE_ACCOUNT"] == row_field(name, "stateStorageAccount")
    assert job["permissions"]["id-token"] == "write"
    assert step_index(job, "azure-federated-token.sh") < step_index(job, "pulumi_run.py")


def test_only_cloud_jobs_get_an_oidc_token() -> None:
    for name, job_name, job in jobs():
        assert ("id-token" in job["permissions"]) == ((name, job_name) in {**IDENTITIES, **CALLERS}), f"{name}:{job_name}"


@pytest.mark.parametrize("name", NAMES)
def test_no_secret_is_referenced_or_shown(name: str) -> None:
    text = (WORKFLOWS / name).read_text()
    assert "secrets." not in text, "no long-lived secret may be referenced"
    assert "--show-secrets" not in text


def test_the_cli_runs_without_show_secrets_and_is_installed_from_pinned_digests() -> None:
    runner = (SCRIPTS / "pulumi_run.py").read_text()
    assert '"--show-secrets"' not in runner and '"--suppress-outputs"' in runner
    for name, job_name, job in jobs():
        assert not any(step.get("uses", "").startswith("pulumi/actions@") for step in job.get("steps", [])), f"{name}:{job_name}"
    for name, job_name in IDENTITIES:
        job = load(name)["jobs"][job_name]
        install = job["steps"][step_index(job, "install-pulumi.sh")]
        assert install["run"] == "bash .github/scripts/install-pulumi.sh", f"{name}:{job_name}"
        assert step_index(job, "install-pulumi.sh") < step_index(job, "pulumi_run.py")


def test_cloud_jobs_install_exactly_the_locks_without_a_cache() -> None:
    for name, job_name in IDENTITIES:
        job = load(name)["jobs"][job_name]
        install = run_of(job, "requirements.lock")
        lines = [line.strip() for line in install.splitlines() if "pip install" in line]
        assert lines == [
            ".venv/bin/python -m pip install --quiet --no-cache-dir --no-deps --require-hashes -r requirements.lock",
            "policy/venv/bin/python -m pip install --quiet --no-cache-dir --no-deps --require-hashes -r policy/requirements.lock",
        ], f"{name}:{job_name}"
        assert not any("setup-uv" in step.get("uses", "") for step in job["steps"])
        assert not any("cache" in step.get("with", {}) for step in job["steps"])
    for name, job_name, job in jobs():
        for step in job.get("steps", []):
            if "setup-uv" in step.get("uses", ""):
                assert step["with"] == {"version": "0.13.9", "enable-cache": False}, f"{name}:{job_name}"


def test_offline_tests_run_the_ci_script_before_any_tenant_job() -> None:
    for name in ("preview.yml", "deploy.yml"):
        workflow = load(name)
        assert run_of(workflow["jobs"]["test"], ".ci/run") == "bash .ci/run"
        first_cloud_job = "preview" if name == "preview.yml" else "stack"
        assert "test" in workflow["jobs"][first_cloud_job]["needs"]


def manifest_schema() -> dict[str, Any]:
    return json.loads((REPO / ".github" / "pulumi-stacks.schema.json").read_text())


def row_schema() -> dict[str, Any]:
    return manifest_schema()["properties"]["stacks"]["items"]


def test_workflows_read_exactly_the_fields_a_manifest_row_requires() -> None:
    used: set[str] = set()
    for name in NAMES:
        used |= set(re.findall(r"matrix\.(\w+)", (WORKFLOWS / name).read_text()))
    # deploy-stack.yml reads a row through the inputs deploy.yml fills from it, one input per field it needs.
    caller = load("deploy.yml")["jobs"]["stack"]["with"]
    inputs = set(triggers(load("deploy-stack.yml"))["workflow_call"]["inputs"])
    assert inputs == set(caller) <= used
    assert all(caller[field] == f"${{{{ matrix.{field} }}}}" for field in inputs)
    # previewEnvironment alone is optional: absent for a stack with keys in state, which preview.yml then leaves out.
    assert used == set(row_schema()["properties"]) == set(row_schema()["required"]) | {"previewEnvironment"}


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
    "previewEnvironment": "exo-contoso-preview",
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
    for row in manifest["stacks"]:
        assert row.get("previewEnvironment") != row["environment"]


def test_stacks_with_keys_in_state_are_left_out_of_previews_with_a_note(tmp_path: Path) -> None:
    """The preview workflow's stack list, run as the runner runs it: a row without previewEnvironment (the bootstrap leaves it out
    for a stack with generated keys, and made no preview credential for it) gets a note, not a job."""
    step = load("preview.yml")["jobs"]["stacks"]["steps"][-1]
    keyed = {k: v for k, v in EXAMPLE_ROW.items() if k != "previewEnvironment"} | {"stack": "fabrikam"}
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "pulumi-stacks.json").write_text(json.dumps({"stacks": [EXAMPLE_ROW, keyed]}))
    output, summary = tmp_path / "output", tmp_path / "summary"
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert [row["stack"] for row in json.loads(outputs["matrix"])] == ["contoso"] and outputs["count"] == "1"
    assert "::notice::No preview of fabrikam: it keeps generated private keys in state" in result.stdout
    assert "No preview of fabrikam" in summary.read_text()
    assert row_problems(keyed) == [], "the schema accepts a row without previewEnvironment"


def test_pulumi_cli_version_matches_the_sdk_pin() -> None:
    cli = (REPO / ".pulumi.version").read_text().strip()
    pins = (REPO / "policy" / "requirements.txt").read_text()
    assert f"pulumi=={cli}" in pins


def test_pulumi_jobs_override_the_projects_local_backend() -> None:
    """Pulumi.yaml sets `backend.url: file://~`; `pulumi login` cannot override a project's backend, PULUMI_BACKEND_URL can."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["backend"]["url"] == "file://~"
