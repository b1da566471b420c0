"""deploy-stack.yml end to end, as a runner would run it: every `run:` step of the Plan and Deploy jobs, in order, with the
job's and the step's environment, against the fake GitHub API (recorded answers per plan), a loopback OIDC token issuer,
a loopback download of a stand-in Pulumi CLI pinned by its SHA-256, and `$GITHUB_OUTPUT`/`$GITHUB_ENV`/`$GITHUB_PATH`
carried between steps. The `uses:` steps are stood in for: checkout and setup-python by the workspace itself, the
artifact actions by a copy between the two jobs' workspaces.

A public repository and a private one on GitHub Enterprise Cloud deploy; a private repository on GitHub Team (where
GitHub does not enforce the environment's reviewers, so its API shows none) stops at the environment gate before the
deploy job asks for any token, besides the bootstrap refusing it outright (tests/bootstrap/test_github_preflight.py).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gitops import github_answers as answers
from tests.gitops.fake_github import REPOSITORY, FakeGitHub, QuietHandler, serve, serve_loopback
from tests.gitops.state_exports import clean_export, with_planted_dynamic_resource
from tests.gitops.test_federated_token_refresh import TokenIssuer

REPO = Path(__file__).resolve().parents[2]
HEAD = "f" * 40
RUN_ID = 4242
INPUTS = {
    "stack": "contoso",
    "environment": answers.DEPLOY_ENVIRONMENT,
    "tenantId": "99999999-8888-7777-6666-555555555555",
    "subscriptionId": "00000000-1111-2222-3333-444444444444",
    "plannerClientId": "11111111-2222-3333-4444-555555555555",
    "deployerClientId": "66666666-7777-8888-9999-000000000000",
    "stateStorageAccount": "contosoexostate",
    "stateContainer": "pulumi-state",
}
FAKE_PULUMI = """#!/usr/bin/env bash
echo "$*" >> "$FAKE_PULUMI_LOG"
case "$1" in
  version) echo "v$FAKE_PULUMI_VERSION" ;;
  plugin) ;;
  stack) [ "$2" = export ] && cat "$FAKE_STATE_FILE" ;;
  preview)
    previous=""
    for arg in "$@"; do
      if [ "$previous" = "--save-plan" ]; then mkdir -p "$(dirname "$arg")"; echo '{"resourcePlans":{}}' > "$arg"; fi
      previous="$arg"
    done
    echo "signed in with $(cat "$AZURE_FEDERATED_TOKEN_FILE")"
    echo "Resources: 1 to create" ;;
  up) echo "signed in with $(cat "$AZURE_FEDERATED_TOKEN_FILE")"; echo "Resources: 1 created" ;;
esac
"""


def cli_archive(version: str) -> bytes:
    """A tarball laid out as Pulumi's (pulumi/pulumi), holding the stand-in CLI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = FAKE_PULUMI.replace("$FAKE_PULUMI_VERSION", version).encode()
        info = tarfile.TarInfo("pulumi/pulumi")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class World:
    github: FakeGitHub
    issuer: TokenIssuer
    token_url: str
    api_url: str
    cli_url: str
    cli_sha256: str
    tmp: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        """What the stand-in CLI's `pulumi stack export` prints: the stack's state in the backend."""
        return self.tmp / "state.json"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    pins = json.loads((REPO / ".github" / "pulumi-downloads.json").read_text())
    archive = cli_archive(pins["cli"]["version"])
    issuer = TokenIssuer()

    class Downloads(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server names it
            if self.path.startswith("/token"):
                query = self.path.split("audience=", 1)[1]
                status, body = issuer.issue(self.headers.get("Authorization", ""), query)
                data = json.dumps(body).encode()
            else:
                status, data = 200, archive
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    github = FakeGitHub()
    with serve(github) as api_url, serve_loopback(Downloads) as downloads:
        yield World(
            github,
            issuer,
            f"{downloads}/token?api-version=2.0",
            api_url,
            f"{downloads}/pulumi-v{pins['cli']['version']}-linux-x64.tar.gz",
            hashlib.sha256(archive).hexdigest(),
            tmp_path,
        )


def workspace(world: World, job: str) -> Path:
    """A fresh checkout for one job run: the repository's .github with the download pins pointing at the loopback CLI."""
    root = world.tmp / f"{job}-{len(list(world.tmp.glob(f'{job}-*')))}"
    shutil.copytree(REPO / ".github", root / ".github")
    pins = json.loads((root / ".github" / "pulumi-downloads.json").read_text())
    pins["cli"].update(url=world.cli_url, sha256=world.cli_sha256)
    for plugin in pins["plugins"]:
        plugin["sha256"] = hashlib.sha256(plugin["name"].encode()).hexdigest()  # the stand-in CLI accepts any digest
    (root / ".github" / "pulumi-downloads.json").write_text(json.dumps(pins))
    return root


def expand(value: Any, context: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([^}]+?)\s*\}\}", lambda m: context[m.group(1)], str(value))


def run_job(world: World, job_name: str) -> tuple[str | None, str]:
    """Runs the job's steps until one fails: (name of the failed step or None, the job's log)."""
    job = yaml.safe_load((REPO / ".github" / "workflows" / "deploy-stack.yml").read_text())["jobs"][job_name]
    root = workspace(world, job_name)
    runner_temp = root / "_temp"
    runner_temp.mkdir()
    context = {f"inputs.{k}": v for k, v in INPUTS.items()} | {"github.token": "test-token"}
    context |= {f"needs.plan.outputs.{k}": v for k, v in world.outputs.get("plan", {}).items()}
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(root),
        "GITHUB_API_URL": world.api_url,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SHA": HEAD,
        "GITHUB_RUN_ID": str(RUN_ID),
        "RUNNER_TEMP": str(runner_temp),
        "ACTIONS_ID_TOKEN_REQUEST_URL": world.token_url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        "AZURE_FEDERATED_TOKEN_REFRESH_COUNT": "0",
        "FAKE_PULUMI_LOG": str(world.tmp / "pulumi.log"),
        "FAKE_STATE_FILE": str(world.state_file),
        **{key: expand(value, context) for key, value in (job.get("env") or {}).items()},
    }
    log: list[str] = []
    step_outputs: dict[str, dict[str, str]] = {}
    outcomes: dict[str, str] = {}
    for step in job["steps"]:
        if "if" in step and not condition(step["if"], outcomes):
            continue
        uses = step.get("uses", "")
        if uses.startswith(("actions/checkout@", "actions/setup-python@")):
            continue
        if uses.startswith("actions/upload-artifact@"):
            world.artifacts[expand(step["with"]["name"], context)] = root / expand(step["with"]["path"], context)
            continue
        if uses.startswith("actions/download-artifact@"):
            artifact = world.artifacts.get(expand(step["with"]["name"], context))
            outcomes[step.get("id", "")] = "success" if artifact else "failure"
            if artifact is None:
                # As the action does for a name the run does not hold (expired, never uploaded): the step fails.
                log.append(f"## {step['name']}\nUnable to download artifact(s): Artifact not found")
                if step.get("continue-on-error") is True:
                    continue
                return step["name"], "\n".join(log)
            target = root / expand(step["with"]["path"], context)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(artifact, target)
            continue
        if "pip install" in step["run"]:
            continue  # the locks' own tests cover this step; the stand-in CLI needs no Python packages
        files = {name: runner_temp / f"{name}-{len(log)}" for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH")}
        for path in files.values():
            path.touch()
        step_env = {**env, **{key: expand(value, context) for key, value in (step.get("env") or {}).items()}}
        step_env |= {name: str(path) for name, path in files.items()}
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=root,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        log.append(f"## {step['name']}\n{completed.stdout}{completed.stderr}")
        outputs = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines() if "=" in line)
        if "id" in step:
            step_outputs[step["id"]] = outputs
        env.update(dict(line.split("=", 1) for line in files["GITHUB_ENV"].read_text().splitlines() if "=" in line))
        for directory in files["GITHUB_PATH"].read_text().splitlines():
            env["PATH"] = f"{directory}{os.pathsep}{env['PATH']}"
        if completed.returncode != 0:
            return step["name"], "\n".join(log)
    context |= {f"steps.{sid}.outputs.{k}": v for sid, values in step_outputs.items() for k, v in values.items()}
    world.outputs[job_name] = {key: expand(value, context) for key, value in (job.get("outputs") or {}).items()}
    return None, "\n".join(log)


def condition(expression: str, outcomes: dict[str, str]) -> bool:
    """The step conditions deploy-stack.yml uses: `steps.<id>.outcome == / != '<outcome>'` (anything else is an error here)."""
    match = re.fullmatch(r"steps\.([\w-]+)\.outcome (==|!=) '(\w+)'", expression.strip())
    assert match, f"the runner stand-in does not evaluate {expression!r}"
    equal = outcomes.get(match.group(1)) == match.group(3)
    return equal if match.group(2) == "==" else not equal


def prepare(world: World, plan: str, approver: str = "carol") -> None:
    answers.configure(world.github, plan)
    world.state_file.write_text(json.dumps(clean_export()))
    world.github.branches["main"] = HEAD
    world.github.commits[HEAD] = {"sha": HEAD, "author": {"login": "mallory"}, "committer": {"login": "web-flow"}}
    world.github.commit_pulls[HEAD] = [{"number": 9, "user": {"login": "mallory"}}]
    world.github.run_approvals[RUN_ID] = [
        {"state": "approved", "environments": [{"name": answers.DEPLOY_ENVIRONMENT}], "user": {"login": approver}}
    ]


@pytest.mark.parametrize("plan", ["public", "enterprise"])
def test_a_public_and_an_enterprise_private_repository_deploy_the_approved_plan(world: World, plan: str) -> None:
    prepare(world, plan)
    failed, plan_log = run_job(world, "plan")
    assert failed is None, plan_log
    digest = world.outputs["plan"]["plan-sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    failed, deploy_log = run_job(world, "deploy")
    assert failed is None, deploy_log
    calls = (world.tmp / "pulumi.log").read_text().splitlines()
    assert [c.split()[0] for c in calls if c.split()[0] in ("preview", "up")] == ["preview", "up"]
    commands = [c for c in calls if c.split()[0] in ("preview", "up", "stack")]
    assert [" ".join(c.split()[:2]) for c in commands] == ["stack export", "preview --stack", "stack export", "up --stack"]
    assert calls[-1].endswith("--plan plans/contoso/plan.json --yes") and "--refresh" in calls[-1]
    plugin_count = len(json.loads((REPO / ".github" / "pulumi-downloads.json").read_text())["plugins"])
    assert sum(c.startswith("plugin install resource") and "--exact --checksum" in c for c in calls) == 2 * plugin_count
    # Each job masked its token before anything printed it; the stand-in CLI's "signed in with <token>" shows ***.
    for job_log in (plan_log, deploy_log):
        for issued in world.issuer.issued:
            shown = [line for line in job_log.splitlines() if issued["value"] in line]
            assert all(line.startswith("::add-mask::") for line in shown), shown
        assert "signed in with ***" in job_log


def test_a_private_team_repository_stops_before_the_deployer_gets_a_token(world: World) -> None:
    prepare(world, "team")
    # What GitHub shows for an environment of a private repository on Team: the reviewers rule cannot be set.
    environment = answers.environment(answers.DEPLOY_ENVIRONMENT, can_admins_bypass=True)
    environment["protection_rules"] = [rule for rule in environment["protection_rules"] if rule["type"] != "required_reviewers"]
    world.github.environments[answers.DEPLOY_ENVIRONMENT] = environment
    assert run_job(world, "plan")[0] is None  # (in a real tenant the bootstrap refused, so this sign-in fails too)
    tokens_before = len(world.issuer.requests)
    failed, log = run_job(world, "deploy")
    assert failed is not None and failed.startswith("The environment requires another person's approval")
    assert "has no required reviewers" in log and "bypass" in log
    assert len(world.issuer.requests) == tokens_before, "the deployer's token was never requested"


def test_a_rerun_of_an_older_deploy_and_a_swapped_plan_are_refused(world: World) -> None:
    prepare(world, "public")
    assert run_job(world, "plan")[0] is None
    world.artifacts["plan-contoso"].write_text('{"resourcePlans":{"another":{}}}\n')  # another job uploaded this name
    failed, log = run_job(world, "deploy")
    assert failed is not None and failed.startswith("pulumi up") and "is not the plan the plan job saved" in log
    world.github.branches["main"] = "a" * 40  # main moved on: this run is now an old one
    failed, log = run_job(world, "deploy")
    assert failed is not None and failed.startswith("Still main's head") and "an older run re-run" in log


def test_a_deploy_approved_after_its_plan_expired_stops_before_signing_in(world: World) -> None:
    prepare(world, "public")
    assert run_job(world, "plan")[0] is None
    del world.artifacts["plan-contoso"]  # the retention passed while the deploy waited for approval
    tokens_before = len(world.issuer.requests)
    failed, log = run_job(world, "deploy")
    assert failed == "The plan has not expired"
    assert "::error::plan expired: run Deploy on main again" in log
    assert len(world.issuer.requests) == tokens_before, "the deployer's token was never requested"


def test_a_dynamic_resource_planted_in_the_state_stops_the_plan_and_the_deploy_before_any_provider_runs(world: World) -> None:
    prepare(world, "public")
    world.state_file.write_text(json.dumps(with_planted_dynamic_resource(clean_export())))
    failed, log = run_job(world, "plan")
    assert failed is not None and failed.startswith("pulumi preview")
    assert "Refusing to run Pulumi on stack contoso" in log and "pulumi-python:dynamic:Resource::innocent-looking" in log
    assert "python -m exo.state_upgrade" in log
    calls = (world.tmp / "pulumi.log").read_text().splitlines()
    assert not [c for c in calls if c.split()[0] in ("preview", "up", "refresh")], calls
    # Planted after the plan job saw a clean state: the deploy job refuses it before `up`.
    world.state_file.write_text(json.dumps(clean_export()))
    assert run_job(world, "plan")[0] is None
    world.state_file.write_text(json.dumps(with_planted_dynamic_resource(clean_export())))
    failed, log = run_job(world, "deploy")
    assert failed is not None and failed.startswith("pulumi up") and "Refusing to run Pulumi" in log
    calls = (world.tmp / "pulumi.log").read_text().splitlines()
    assert [c.split()[0] for c in calls if c.split()[0] in ("preview", "up", "refresh")] == ["preview"]
