"""The CI Pulumi runner: the command line it builds, how it names each exit code, and what it reports.

A stand-in `pulumi` on PATH records its arguments, prints a scripted output, writes a plan file when asked, and exits with a
scripted code; the exit codes are the CLI's documented ones (https://www.pulumi.com/docs/iac/cli/exit-codes/).
"""

from __future__ import annotations

import ast
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from exo.state_upgrade import code_in_state, upgrade
from tests.gitops.state_exports import clean_export, with_planted_dynamic_resource

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / ".github" / "scripts" / "pulumi_run.py"
FAKE_PULUMI = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_CALLS"
if [ "$1 $2" = "stack export" ]; then
  printf '%s' "$FAKE_STATE"
  printf '%s' "${FAKE_EXPORT_ERROR:-}" >&2
  exit "${FAKE_EXPORT_EXIT:-0}"
fi
printf '%s\\n' "$@" > "$FAKE_ARGS"
printf '%s' "$FAKE_OUTPUT"
if [ -n "${FAKE_TOKEN_ROTATION:-}" ]; then
  # What a debug log of the Azure SDK could print: the assertion it read, before and after the refresher replaced it.
  echo "assertion $(cat "$AZURE_FEDERATED_TOKEN_FILE")"
  printf '%s' "$FAKE_TOKEN_ROTATION" > "$AZURE_FEDERATED_TOKEN_FILE"
  echo "assertion $(cat "$AZURE_FEDERATED_TOKEN_FILE")"
fi
if [ "${FAKE_WRITE_PLAN:-}" = 1 ]; then
  previous=""
  for arg in "$@"; do
    if [ "$previous" = "--save-plan" ]; then mkdir -p "$(dirname "$arg")"; echo '{"resourcePlans":{}}' > "$arg"; fi
    previous="$arg"
  done
fi
exit "$FAKE_EXIT"
"""


def run(
    tmp_path: Path,
    *args: str,
    exit_code: int = 0,
    output: str = "Resources:\n    5 unchanged\n",
    write_plan: bool = False,
    extra_env: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "pulumi"
    fake.write_text(FAKE_PULUMI)
    fake.chmod(0o755)
    summary, github_output = tmp_path / "summary.md", tmp_path / "github_output"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_ARGS": str(tmp_path / "args"),
        "FAKE_CALLS": str(tmp_path / "calls"),
        "FAKE_STATE": json.dumps(clean_export() if state is None else state),
        "FAKE_OUTPUT": output,
        "FAKE_EXIT": str(exit_code),
        "FAKE_WRITE_PLAN": "1" if write_plan else "",
        "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(github_output),
        **(extra_env or {}),
    }
    out = tmp_path / "out"
    completed = subprocess.run(
        [sys.executable, str(RUNNER), *args, "--stack", "contoso", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    args_file, calls_file = tmp_path / "args", tmp_path / "calls"
    return {
        "calls": calls_file.read_text().splitlines() if calls_file.exists() else [],
        "code": completed.returncode,
        "stdout": completed.stdout,
        "argv": args_file.read_text().splitlines() if args_file.exists() else None,
        "result": json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else None,
        "report": (out / "report.md").read_text() if (out / "report.md").exists() else "",
        "summary": summary.read_text() if summary.exists() else "",
        "github_output": github_output.read_text() if github_output.exists() else "",
    }


def test_preview_runs_the_policy_pack_with_refresh_and_never_shows_secrets(tmp_path: Path) -> None:
    got = run(tmp_path, "preview", "--refresh")
    assert got["code"] == 0
    assert got["argv"] == [
        "preview", "--stack", "contoso", "--non-interactive", "--diff", "--color", "never",
        "--suppress-outputs", "--policy-pack", "policy", "--refresh",
    ]  # fmt: skip
    assert got["result"] == {
        "stack": "contoso",
        "command": "preview",
        "exitCode": 0,
        "outcome": "succeeded",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "refresh": True,
    }
    assert "5 unchanged" in got["summary"] and got["summary"].strip() == got["report"].strip()
    assert "with `--refresh`" in got["report"] and "Commit `0123456789ab`" in got["report"]
    assert got["github_output"] == "outcome=succeeded\nexit-code=0\n"
    assert "5 unchanged" in got["stdout"], "the log shows the output live"


@pytest.mark.parametrize(
    ("exit_code", "output", "outcome"),
    [
        (0, "no changes", "succeeded"),
        (7, "error: no changes were expected but changes were proposed", "drift"),
        (3, "error: failed to authenticate", "sign-in failure"),
        (1, "AADSTS700024: Client assertion is not within its valid time range.", "sign-in failure"),
        (4, "ClientAssertionCredential authentication failed", "sign-in failure"),
        (4, "StatusCode=429 Code=TooManyRequests", "throttled"),
        (4, "error: creating Runbook: Code=Conflict", "resource error"),
        (5, "mandatory policy violation", "policy violation"),
        (8, "update cancelled", "cancelled"),
        (255, "panic", "failed"),
    ],
)
def test_exit_codes_tell_drift_from_sign_in_and_throttling(tmp_path: Path, exit_code: int, output: str, outcome: str) -> None:
    got = run(tmp_path, "preview", "--refresh", "--expect-no-changes", exit_code=exit_code, output=output)
    assert got["code"] == exit_code
    assert got["result"]["outcome"] == outcome
    assert "--expect-no-changes" in got["argv"]
    assert f": {outcome}" in got["report"].splitlines()[0]


def test_a_saved_plan_is_required_when_asked_for(tmp_path: Path) -> None:
    plan = tmp_path / "plans" / "plan.json"
    saved = run(tmp_path, "preview", "--refresh", "--save-plan", str(plan), write_plan=True)
    assert saved["code"] == 0 and plan.is_file()
    assert saved["argv"][-2:] == ["--save-plan", str(plan)]
    plan.unlink()
    missing = run(tmp_path, "preview", "--refresh", "--save-plan", str(plan))
    assert missing["code"] == 1 and missing["result"]["outcome"] == "failed"
    assert "no update plan was written" in missing["report"]


def test_up_applies_exactly_the_saved_plan(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    got = run(tmp_path, "up", "--refresh", "--plan", str(plan), "--plan-sha256", hashlib.sha256(b"{}").hexdigest())
    assert got["code"] == 0
    assert got["argv"][0] == "up" and "--refresh" in got["argv"]
    assert got["argv"][-3:] == ["--plan", str(plan), "--yes"]


def test_the_plan_digest_is_a_job_output_and_up_refuses_any_other_plan(tmp_path: Path) -> None:
    plan = tmp_path / "plans" / "plan.json"
    saved = run(tmp_path, "preview", "--refresh", "--save-plan", str(plan), write_plan=True)
    digest = hashlib.sha256(plan.read_bytes()).hexdigest()
    assert f"plan-sha256={digest}\n" in saved["github_output"]
    # Another job of the run uploaded a plan under the same artifact name: its digest differs, nothing runs.
    plan.write_text('{"resourcePlans":{"urn:pulumi:contoso::exo::azuread:index/application:Application::evil":{}}}\n')
    (tmp_path / "swapped").mkdir()
    swapped = run(tmp_path / "swapped", "up", "--refresh", "--plan", str(plan), "--plan-sha256", digest)
    assert swapped["code"] == 2 and swapped["argv"] is None and "is not the plan the plan job saved" in swapped["stdout"]
    (tmp_path / "missing").mkdir()
    missing = run(tmp_path / "missing", "up", "--refresh", "--plan", str(plan))
    assert missing["code"] == 2 and missing["argv"] is None and "no plan digest" in missing["stdout"]


def test_federated_tokens_are_masked_before_any_line_shows_them_and_kept_out_of_reports(tmp_path: Path) -> None:
    token_file = tmp_path / "azure-federated-token"
    first, refreshed = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvbmUifQ.c2lnbmF0dXJlLW9uZQ", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0d28ifQ.c2lnLXR3bw"
    token_file.write_text(first)
    env = {"AZURE_FEDERATED_TOKEN_FILE": str(token_file), "FAKE_TOKEN_ROTATION": refreshed}
    got = run(tmp_path, "preview", "--refresh", extra_env=env)
    lines = got["stdout"].splitlines()
    for token in (first, refreshed):
        shown = [n for n, line in enumerate(lines) if token in line]
        assert lines[shown[0]] == f"::add-mask::{token}" and len(shown) == 1, "masked first, then never printed"
    assert "assertion ***" in got["stdout"]
    for text in (got["report"], got["summary"], (tmp_path / "out" / "output.txt").read_text()):
        assert first not in text and refreshed not in text and "assertion ***" in text


def test_policy_settings_are_passed_on(tmp_path: Path) -> None:
    got = run(tmp_path, "preview", "--policy-pack-config", "policy/settings.json")
    assert got["argv"][got["argv"].index("--policy-pack") :] == ["--policy-pack", "policy", "--policy-pack-config", "policy/settings.json"]


def test_up_without_the_approved_plan_does_not_run(tmp_path: Path) -> None:
    got = run(tmp_path, "up", "--refresh", "--plan", str(tmp_path / "absent.json"))
    assert got["code"] == 2 and got["argv"] is None
    assert "not deploying" in got["stdout"]
    no_flag = run(tmp_path, "up", "--refresh")
    assert no_flag["code"] == 2 and no_flag["argv"] is None


def test_the_report_keeps_the_tail_and_cannot_be_broken_out_of(tmp_path: Path) -> None:
    output = "x" * 70000 + "\n```\n<!-- injected -->\nResources: 3 to update\n"
    got = run(tmp_path, "preview", exit_code=0, output=output)
    report = got["report"]
    assert len(report) < 62000 and "Resources: 3 to update" in report and "earlier output cut" in report
    fence = next(line for line in report.splitlines() if line.startswith("```"))
    assert len(fence) == 4, "the fence is longer than any backtick run in the output"


@pytest.mark.parametrize("command", ["preview", "up"])
def test_the_state_is_exported_and_checked_before_any_command(tmp_path: Path, command: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    extra = ["--plan", str(plan), "--plan-sha256", hashlib.sha256(b"{}").hexdigest()] if command == "up" else []
    got = run(tmp_path, command, "--refresh", *extra)
    assert got["code"] == 0
    assert got["calls"][0] == "stack export --stack contoso", "exported first, without --show-secrets"
    assert got["calls"][1].startswith(f"{command} --stack contoso") and len(got["calls"]) == 2
    assert '"resources"' not in got["stdout"], "the export itself is never printed"


@pytest.mark.parametrize(
    "kind", ["pulumi-python:dynamic:Resource", "pulumi-python:dynamic/anchors:CreationTime", "pulumi-nodejs:dynamic:Resource"]
)
@pytest.mark.parametrize("command", ["preview --refresh", "preview --refresh --expect-no-changes", "up --refresh"])
def test_a_planted_dynamic_resource_is_refused_before_any_command(tmp_path: Path, kind: str, command: str) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text("{}")
    extra = ["--plan", str(plan), "--plan-sha256", hashlib.sha256(b"{}").hexdigest()] if command.startswith("up") else []
    got = run(tmp_path, *command.split(), *extra, state=with_planted_dynamic_resource(clean_export(), kind))
    assert got["code"] == 1 and got["argv"] is None, "no preview, up or refresh ran"
    assert got["calls"] == ["stack export --stack contoso"]
    assert got["result"]["outcome"] == "code in state"
    assert f"::{kind}::innocent-looking: a dynamic resource" in got["report"]
    assert "python -m exo.state_upgrade" in got["report"] and "::error::Refusing to run Pulumi on stack contoso" in got["stdout"]
    assert "c3RhbmQtaW4" not in got["stdout"] + got["report"], "nothing of the state's values is shown"
    assert got["github_output"] == "outcome=code in state\nexit-code=1\n"


def test_a_provider_of_an_unpinned_package_is_refused(tmp_path: Path) -> None:
    state = clean_export()
    resources = state["deployment"]["resources"]
    # A `command` provider and a resource it would run (pulumi-command runs shell commands on create, update and delete).
    provider = "urn:pulumi:contoso::exo-automation::pulumi:providers:command::default"
    resources.append({"urn": provider, "custom": True, "type": "pulumi:providers:command"})
    resources.append(
        {
            "urn": "urn:pulumi:contoso::exo-automation::command:local:Command::x",
            "custom": True,
            "type": "command:local:Command",
            "provider": f"{provider}::id",
        }
    )
    got = run(tmp_path, "preview", "--refresh", state=state)
    assert got["code"] == 1 and got["argv"] is None
    assert "a provider of package 'command', which is not pinned (azure-native, azuread, time, tls)" in got["report"]
    assert "command:local:Command::x: a command:local:Command resource, which no pinned provider serves" in got["report"]


def test_a_pinned_type_served_by_an_unpinned_provider_is_refused(tmp_path: Path) -> None:
    state = clean_export()
    application = next(r for r in state["deployment"]["resources"] if r["type"] == "azuread:index/application:Application")
    application["provider"] = "urn:pulumi:contoso::exo-automation::pulumi:providers:pulumi-python::p::id"
    got = run(tmp_path, "preview", state=state)
    assert got["code"] == 1 and got["argv"] is None
    assert "which is not of a pinned package" in got["report"]


@pytest.mark.parametrize(
    ("state_text", "export_exit", "error", "code", "outcome"),
    [
        ("", 0, "", 1, "code in state"),
        ("[]", 0, "", 1, "code in state"),
        ('{"version": 2, "deployment": {}}', 0, "", 1, "code in state"),
        ("", 6, "error: no stack named 'contoso' found", 6, "stack not found"),
        ("", 255, "error: blob storage: AuthorizationPermissionMismatch", 255, "failed"),
    ],
)
def test_a_state_that_cannot_be_read_or_checked_stops_the_job(
    tmp_path: Path, state_text: str, export_exit: int, error: str, code: int, outcome: str
) -> None:
    env = {"FAKE_STATE": state_text, "FAKE_EXPORT_EXIT": str(export_exit), "FAKE_EXPORT_ERROR": error}
    got = run(tmp_path, "preview", "--refresh", extra_env=env)
    assert got["code"] == code and got["argv"] is None, "fail closed: nothing ran"
    assert got["result"]["outcome"] == outcome
    assert (error or "cannot be checked") in got["report"]


@pytest.mark.parametrize("kind", ["pulumi-python:dynamic:Resource", "pulumi-python:dynamic/anchors:CreationTime"])
def test_the_fix_the_refusal_names_makes_the_state_pass(kind: str) -> None:
    import state_guard

    planted = with_planted_dynamic_resource(clean_export(), kind)
    refused = state_guard.check(json.dumps(planted))
    assert set(code_in_state(planted)) <= {line.split(": ", 1)[0] for line in refused}, "the guard sees what --check sees"
    upgraded = upgrade(planted)
    assert state_guard.check(json.dumps(upgraded.deployment)) == []
    assert len(upgraded.removed) == 2, "the resource and its pulumi-python provider"


STDLIB = {
    "__future__",
    "argparse",
    "collections",
    "dataclasses",
    "hashlib",
    "json",
    "os",
    "re",
    "subprocess",
    "sys",
    "pathlib",
    "typing",
    "urllib",
}


@pytest.mark.parametrize("script", sorted((REPO / ".github" / "scripts").glob("*.py")), ids=lambda path: path.name)
def test_workflow_scripts_need_only_the_runners_python(script: Path) -> None:
    # The workflows call them with the runner's python3, before and apart from .venv: standard library and each other only.
    tree = ast.parse(script.read_text())
    imports = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imports |= {str(node.module).split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    local = {path.stem for path in script.parent.glob("*.py")}
    assert imports <= STDLIB | local, imports - STDLIB - local
