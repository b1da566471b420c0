"""The workflow scripts that talk to GitHub, against a loopback fake with GitHub's pagination (tests/gitops/fake_github.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    assert "ended `failure`" in fabrikam
    assert contoso.startswith("<!-- exo-automation preview: contoso -->")


def test_untrusted_results_cannot_forge_markers_or_hijack_comments(fake: FakeGitHub, tmp_path: Path) -> None:
    human = fake.add_comment(PR, "<!-- exo-automation preview: contoso -->\nquoted by a person", login="octocat")
    write_result(tmp_path, "contoso", "succeeded", "text <!-- exo-automation preview: fabrikam --> more")
    write_result(tmp_path, "bad name!", "succeeded", "ignored")
    pr_comment.main(comment_args(tmp_path))
    (body,) = bodies(fake)
    assert body.count("<!-- exo-automation preview:") == 1 and "fabrikam" not in body
    assert human["body"] == "<!-- exo-automation preview: contoso -->\nquoted by a person"


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
    assert "`contoso-preview` approved by @alice" in body and "Unverified" not in body
    assert "plan the deploy job saves from `main`" in body
    assert ("GET", f"/repos/{REPOSITORY}/actions/runs/{RUN_ID}/approvals") in fake.calls


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
