"""The workflow scripts that talk to GitHub, against a loopback fake with GitHub's pagination (tests/gitops/fake_github.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import deploy_gate
import deploy_running
import drift_issues
import environment_gate
import pr_comment
import pytest
from github_api import GitHub

from tests.gitops import github_answers as answers
from tests.gitops.fake_github import BOT, REPOSITORY, FakeGitHub, serve

PR = 7
HEAD = "a" * 40
RUN_URL = "https://github.com/contoso-msp/exo-automation/actions/runs/42"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    github = FakeGitHub()
    github.heads[PR] = HEAD
    with serve(github) as url:
        monkeypatch.setenv("GITHUB_API_URL", url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
        monkeypatch.setenv("GH_TOKEN", "test-token")
        yield github


def write_result(directory: Path, stack: str, outcome: str, report: str) -> None:
    folder = directory / f"preview-{stack}"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"stack": stack, "outcome": outcome, "exitCode": 0 if outcome == "succeeded" else 1}))
    (folder / "report.md").write_text(report)


RUN_ID = 42
# The default branch's manifest: the stacks a comment may be posted for, and the environment each preview waits in.
MANIFEST_STACKS = {"contoso": "contoso-preview", "fabrikam": "fabrikam-preview"}


def comment_args(results: Path, conclusion: str = "success", head: str = HEAD) -> list[str]:
    manifest = results.parent / f"{results.name}-manifest.json"
    rows = [{"stack": stack, "previewEnvironment": environment} for stack, environment in MANIFEST_STACKS.items()]
    manifest.write_text(json.dumps({"stacks": rows}))
    return [
        "--pr", str(PR), "--head-sha", head, "--run-id", str(RUN_ID), "--run-url", RUN_URL, "--conclusion", conclusion,
        "--results", str(results), "--manifest", str(manifest),
    ]  # fmt: skip


def approve(fake: FakeGitHub, environment: str, login: str = "reviewer") -> None:
    review = {"state": "approved", "environments": [{"name": environment}], "user": {"login": login}}
    fake.run_approvals.setdefault(RUN_ID, []).append(review)


def bodies(fake: FakeGitHub, login: str = BOT) -> list[str]:
    return [c["body"] for c in fake.comments.get(PR, []) if c["user"]["login"] == login]


def test_the_comment_on_page_two_is_edited_not_duplicated(fake: FakeGitHub, tmp_path: Path) -> None:
    for n in range(150):
        fake.add_comment(PR, f"review remark {n}", login="octocat")
    old = fake.add_comment(PR, "<!-- exo-automation preview: contoso -->\nold success")
    write_result(tmp_path, "contoso", "succeeded", "new diff")
    assert pr_comment.main(comment_args(tmp_path)) == 0
    assert bodies(fake) == [old["body"]]
    assert "new diff" in old["body"] and "old success" not in old["body"]
    assert ("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments") in fake.calls


def test_a_failed_preview_replaces_the_earlier_success(fake: FakeGitHub, tmp_path: Path) -> None:
    write_result(tmp_path / "first", "contoso", "succeeded", "all good")
    pr_comment.main(comment_args(tmp_path / "first"))
    write_result(tmp_path / "second", "contoso", "sign-in failure", "AADSTS700024")
    pr_comment.main(comment_args(tmp_path / "second", conclusion="failure"))
    (body,) = bodies(fake)
    assert "AADSTS700024" in body and "all good" not in body


def test_a_stack_without_a_result_has_its_old_comment_withdrawn(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.add_comment(PR, "<!-- exo-automation preview: fabrikam -->\nsucceeded on an older commit")
    write_result(tmp_path, "contoso", "succeeded", "diff")
    pr_comment.main(comment_args(tmp_path, conclusion="failure"))
    fabrikam, contoso = bodies(fake)
    assert "No preview of `fabrikam` for the latest commit" in fabrikam and "older commit" not in fabrikam
    assert "is `failure`" in fabrikam
    assert contoso.startswith("<!-- exo-automation preview: contoso -->")


def test_untrusted_results_cannot_forge_markers_or_hijack_comments(fake: FakeGitHub, tmp_path: Path) -> None:
    human = fake.add_comment(PR, "<!-- exo-automation preview: contoso -->\nquoted by a person", login="octocat")
    write_result(tmp_path, "contoso", "succeeded", "text <!-- exo-automation preview: fabrikam --> more")
    write_result(tmp_path, "bad name!", "succeeded", "ignored")
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert body.count("<!-- exo-automation preview:") == 1 and "fabrikam" not in body
    assert human["body"] == "<!-- exo-automation preview: contoso -->\nquoted by a person"


def test_a_hostile_report_is_posted_as_literal_text(fake: FakeGitHub, tmp_path: Path) -> None:
    """The report is the pull request's own output: it cannot forge an approval line or banner, close the fence, or mention."""
    hostile = (
        "````\n"
        "Preview environment `contoso-preview` approved by @security-team for commit `deadbeef` (this run).\n"
        "> [!NOTE]\n> Verified by @octo-org/admins, merge freely\n"
        "``````\n<img src=x onerror=alert(1)>\n"
    )
    write_result(tmp_path, "contoso", "succeeded", hostile)
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    fence = "`" * 7  # longer than the report's longest backtick run (6)
    opening = body.index(f"{fence}text\n")
    closing = body.index(f"\n{fence}", opening + 1)
    inside, outside = body[opening:closing], body[:opening] + body[closing:]
    assert "approved by" in inside and "approved by" not in outside
    assert "[!NOTE]" not in outside and "<img" not in outside
    assert "**Unverified:**" in outside, "the script's own banner stays outside the fence"
    assert "@security-team" not in body and "@octo-org/admins" not in body
    assert "@\u2060security-team" in inside


def test_a_single_artifact_extracted_without_its_folder_is_read(fake: FakeGitHub, tmp_path: Path) -> None:
    write_result(tmp_path, "contoso", "succeeded", "diff")
    for child in (tmp_path / "preview-contoso").iterdir():
        child.rename(tmp_path / child.name)
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert body.startswith("<!-- exo-automation preview: contoso -->")


def test_results_of_an_overtaken_commit_are_not_posted(fake: FakeGitHub, tmp_path: Path) -> None:
    write_result(tmp_path, "contoso", "succeeded", "diff of an old commit")
    assert pr_comment.main(comment_args(tmp_path, head="b" * 40)) == 0
    assert bodies(fake) == []


def test_a_result_from_an_approved_preview_names_its_approver(fake: FakeGitHub, tmp_path: Path) -> None:
    approve(fake, "contoso-preview", login="alice")
    write_result(tmp_path, "contoso", "succeeded", "diff")
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert f"`contoso-preview` approved by @alice for commit `{HEAD[:12]}`" in body and "Unverified" not in body
    assert "plan the deploy job saves from `main`" in body
    assert ("GET", f"/repos/{REPOSITORY}/actions/runs/{RUN_ID}/approvals") in fake.calls


def test_a_new_commit_withdraws_the_earlier_approved_by_comment_until_its_own_run_completes(fake: FakeGitHub, tmp_path: Path) -> None:
    approve(fake, "contoso-preview", login="alice")
    write_result(tmp_path, "contoso", "succeeded", "diff of the first commit")
    pr_comment.main(comment_args(tmp_path))
    fake.heads[PR] = "e" * 40  # a new push: its Preview run starts and waits for the environment's approval
    assert pr_comment.main([*comment_args(tmp_path / "none", conclusion="requested", head="e" * 40), "--requested"]) == 0
    (body,) = bodies(fake)
    assert "approved by" not in body and "diff of the first commit" not in body
    assert "waiting for the preview environment's approval" in body


def test_an_approval_only_by_the_changes_authors_is_flagged(fake: FakeGitHub, tmp_path: Path) -> None:
    # Mallory wrote the pull request; Bob pushed "Update branch", so prevent self-review stopped Bob, not Mallory.
    fake.pull_authors[PR] = "mallory"
    fake.pull_commits[PR] = [{"author": {"login": "mallory"}, "committer": {"login": "web-flow"}}, {"author": {"login": "bob"}}]
    approve(fake, "contoso-preview", login="mallory")
    write_result(tmp_path, "contoso", "succeeded", "diff")
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert "**Self-approved:**" in body and "only by @mallory" in body


def test_a_result_without_an_approval_is_posted_as_unverified(fake: FakeGitHub, tmp_path: Path) -> None:
    # A pull request can add its own job (no environment, no approval) that uploads a `preview-contoso` artifact saying "no changes".
    approve(fake, "fabrikam-preview")  # another stack's approval does not vouch for this one
    write_result(tmp_path, "contoso", "succeeded", "no changes, trust me")
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert "**Unverified:** this run holds no approval of `contoso-preview`" in body


def test_a_stack_missing_from_the_default_branch_manifest_is_not_posted(fake: FakeGitHub, tmp_path: Path) -> None:
    write_result(tmp_path, "northwind", "succeeded", "a stack the pull request added")
    pr_comment.main(comment_args(tmp_path))
    assert bodies(fake) == []


def drift_result(directory: Path, stack: str, outcome: str, report: str = "diff") -> Path:
    folder = directory / f"drift-{stack}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps({"stack": stack, "outcome": outcome}))
    (folder / "report.md").write_text(report)
    return directory


def run_drift(tmp_path: Path, name: str, **outcomes: str) -> None:
    directory = tmp_path / name
    for stack, outcome in outcomes.items():
        drift_result(directory, stack, outcome, report=f"{stack} {outcome} in {name}")
    assert drift_issues.main(["--results", str(directory), "--run-url", RUN_URL]) == 0


def test_one_issue_per_drifted_stack_updated_then_closed_when_clean(fake: FakeGitHub, tmp_path: Path) -> None:
    for n in range(120):  # the open drift issue sits on the second page
        fake.issues.append({"number": len(fake.issues) + 1, "state": "open", "title": f"other {n}", "body": "", "labels": "drift"})
    run_drift(tmp_path, "day1", contoso="drift", fabrikam="succeeded")
    (opened,) = [i for i in fake.issues if i["title"] == "Drift: stack contoso"]
    assert fake.labels == {"drift"}
    assert opened["labels"] == ["drift"] and "contoso drift in day1" in opened["body"]
    assert not any(i["title"] == "Drift: stack fabrikam" for i in fake.issues)
    fake.issues[opened["number"] - 1]["labels"] = "drift"  # as the fake's label filter stores it
    run_drift(tmp_path, "day2", contoso="drift")
    assert [i["title"] for i in fake.issues].count("Drift: stack contoso") == 1
    assert "contoso drift in day2" in opened["body"]
    run_drift(tmp_path, "day3", contoso="succeeded")
    assert opened["state"] == "closed"


@pytest.mark.parametrize("outcome", ["sign-in failure", "throttled", "failed", "resource error"])
def test_a_failure_is_not_drift_and_leaves_the_issue_alone(fake: FakeGitHub, tmp_path: Path, outcome: str) -> None:
    run_drift(tmp_path, "day1", contoso="drift")
    fake.issues[0]["labels"] = "drift"
    before = dict(fake.issues[0])
    run_drift(tmp_path, "day2", contoso=outcome)
    assert fake.issues == [before]
    run_drift(tmp_path, "day3", fabrikam=outcome)
    assert len(fake.issues) == 1


def gate(fake: FakeGitHub, kind: str) -> list[str]:
    return environment_gate.problems(GitHub.from_env(), "exo-contoso", kind)


@pytest.mark.parametrize(("kind", "rule"), [("deploy", "main"), ("preview", "refs/pull/*/merge")])
def test_gate_passes_an_environment_github_enforces(fake: FakeGitHub, kind: str, rule: str) -> None:
    fake.environments["exo-contoso"] = answers.environment("exo-contoso")
    fake.branch_policies["exo-contoso"] = answers.branch_policies(rule)
    assert gate(fake, kind) == []
    assert environment_gate.main(["--environment", "exo-contoso", "--kind", kind]) == 0


PROTECTED_BRANCHES_ONLY = {"protected_branches": True, "custom_branch_policies": False}


def without_reviewers() -> dict[str, Any]:
    environment = answers.environment("exo-contoso")
    environment["protection_rules"][0]["reviewers"] = []
    return environment


@pytest.mark.parametrize(
    ("kind", "environment", "policies", "expected"),
    [
        ("deploy", None, [], "does not exist"),
        # What GitHub creates for a name it does not know: no rules at all (and admins may bypass by default).
        ("deploy", {"protection_rules": [], "deployment_branch_policy": None}, [], "has no required reviewers"),
        ("deploy", without_reviewers(), ["main"], "no required reviewers"),
        # Deploys need prevent self-review and no admin bypass too, not only previews.
        ("deploy", answers.environment("exo-contoso", prevent_self_review=False), ["main"], "Prevent self-review"),
        ("deploy", answers.environment("exo-contoso", can_admins_bypass=True), ["main"], "bypass"),
        ("preview", answers.environment("exo-contoso", can_admins_bypass=True), ["refs/pull/*/merge"], "bypass"),
        ("deploy", {**answers.environment("exo-contoso"), "deployment_branch_policy": None}, [], "does not restrict deployments"),
        (
            "deploy",
            {**answers.environment("exo-contoso"), "deployment_branch_policy": PROTECTED_BRANCHES_ONLY},
            [],
            "does not restrict deployments",
        ),
        ("deploy", answers.environment("exo-contoso"), ["main", "release/*"], "expected exactly the branch rule 'main'"),
        # A preview environment takes pull_request runs only (GITHUB_REF refs/pull/N/merge), not pushes to any branch.
        ("preview", answers.environment("exo-contoso"), [], "expected exactly the branch rule 'refs/pull/*/merge'"),
        ("preview", {**answers.environment("exo-contoso"), "deployment_branch_policy": None}, [], "does not restrict deployments"),
        ("preview", answers.environment("exo-contoso"), ["main"], "expected exactly"),
    ],
)
def test_gate_refuses_an_environment_that_does_not_gate(
    fake: FakeGitHub, kind: str, environment: dict[str, Any] | None, policies: list[str], expected: str
) -> None:
    if environment is not None:
        fake.environments["exo-contoso"] = environment
    fake.branch_policies["exo-contoso"] = answers.branch_policies(*policies)
    found = gate(fake, kind)
    assert found and any(expected in problem for problem in found), found
    assert environment_gate.main(["--environment", "exo-contoso", "--kind", kind]) == 1


HEAD_OF_MAIN, OLDER = "c" * 40, "d" * 40


def deploy_gate_args(sha: str, *approval: str) -> list[str]:
    return ["--branch", "main", "--sha", sha, *approval]


def test_deploy_refuses_a_rerun_of_an_older_commit(fake: FakeGitHub) -> None:
    fake.branches["main"] = HEAD_OF_MAIN
    assert deploy_gate.main(deploy_gate_args(HEAD_OF_MAIN)) == 0
    assert deploy_gate.head_problems(GitHub.from_env(), "main", OLDER) == [
        f"this run deploys {OLDER[:12]}, but main is now at {HEAD_OF_MAIN[:12]}: an older run re-run would roll the tenant back. "
        "Run the Deploy workflow on main instead (Actions -> Deploy -> Run workflow), which plans the current head."
    ]
    assert deploy_gate.main(deploy_gate_args(OLDER)) == 1


def approved_deploy(fake: FakeGitHub, approver: str) -> None:
    fake.branches["main"] = HEAD_OF_MAIN
    fake.commits[HEAD_OF_MAIN] = {"sha": HEAD_OF_MAIN, "author": {"login": "mallory"}, "committer": {"login": "web-flow"}}
    fake.commit_pulls[HEAD_OF_MAIN] = [{"number": 9, "user": {"login": "mallory"}}]
    fake.run_approvals[RUN_ID] = [
        {"state": "approved", "environments": [{"name": "exo-contoso"}], "user": {"login": approver}},
        {"state": "rejected", "environments": [{"name": "exo-contoso"}], "user": {"login": "bob"}},
    ]


def test_deploy_refuses_an_approval_given_only_by_the_changes_author(fake: FakeGitHub) -> None:
    # Alice merged Mallory's pull request, so prevent self-review stops Alice, not Mallory.
    approved_deploy(fake, approver="mallory")
    approval = ("--run-id", str(RUN_ID), "--environment", "exo-contoso")
    assert deploy_gate.main(deploy_gate_args(HEAD_OF_MAIN, *approval)) == 1
    (problem,) = deploy_gate.approval_problems(GitHub.from_env(), RUN_ID, "exo-contoso", HEAD_OF_MAIN)
    assert "approved only by mallory, who wrote this change" in problem
    approved_deploy(fake, approver="carol")
    assert deploy_gate.main(deploy_gate_args(HEAD_OF_MAIN, *approval)) == 0
    fake.run_approvals[RUN_ID] = []
    assert deploy_gate.main(deploy_gate_args(HEAD_OF_MAIN, *approval)) == 1


def test_racing_drift_reports_leave_one_issue_per_stack(fake: FakeGitHub, tmp_path: Path) -> None:
    for n in (1, 2):  # two report jobs of overlapping drift runs each opened one
        body = f"<!-- exo-automation drift: contoso -->\nfrom run {n}"
        fake.issues.append({"number": n, "state": "open", "title": "Drift: stack contoso", "body": body, "labels": "drift"})
    run_drift(tmp_path, "day2", contoso="drift")
    assert [(i["number"], i["state"]) for i in fake.issues] == [(1, "open"), (2, "closed")]
    assert "contoso drift in day2" in fake.issues[0]["body"]
    assert "running the Deploy workflow on main" in fake.issues[0]["body"] and "re-running" not in fake.issues[0]["body"]


def running_deploy(fake: FakeGitHub, job_name: str, status: str = "in_progress") -> None:
    fake.workflow_runs.append({"id": 77, "workflow": "deploy.yml", "status": "in_progress", "html_url": "https://example.test/runs/77"})
    fake.run_jobs[77] = [{"name": "contoso / Plan", "status": "completed"}, {"name": job_name, "status": status}]


def test_a_drift_check_beside_a_running_deploy_of_its_stack_says_so_and_files_nothing(
    fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    results = tmp_path / "results"
    drift_result(results, "contoso", "drift")
    running_deploy(fake, "fabrikam / Deploy")  # another stack's deploy does not matter
    assert deploy_running.main(["--stack", "contoso", "--out", str(results / "drift-contoso")]) == 0
    assert json.loads((results / "drift-contoso" / "result.json").read_text())["outcome"] == "drift"
    running_deploy(fake, "contoso / Deploy")
    assert deploy_running.main(["--stack", "contoso", "--out", str(results / "drift-contoso")]) == 0
    assert (tmp_path / "github_output").read_text() == "running=false\nrunning=true\n"
    assert json.loads((results / "drift-contoso" / "result.json").read_text())["outcome"] == "deploy in progress"
    assert drift_issues.main(["--results", str(results), "--run-url", RUN_URL]) == 0
    assert fake.issues == [], "no issue opened for a preview that overlapped an update"
