"""Fail closed: the bootstrap asks GitHub (recorded answers, tests/gitops/github_answers.py) whether it enforces every gate a
federated credential will rely on, and refuses before any resource when it does not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bootstrap_settings import parse_settings
from github_api import GitHub
from github_preflight import GitHubPreflightError, check, client_from_env

from tests.gitops import github_answers as answers
from tests.gitops.fake_github import REPOSITORY, FakeGitHub, serve

CONFIG: dict[str, Any] = {
    "githubRepository": REPOSITORY,
    "deployEnvironments": [answers.DEPLOY_ENVIRONMENT],
    "location": "westeurope",
    "stateStorageAccount": "contosoexostate",
    "keyVault": "contoso-exo-pulumi",
}
IMMUTABLE = f"repo:{answers.OWNER}@{answers.OWNER_ID}/{answers.NAME}@{answers.REPOSITORY_ID}"


@pytest.fixture
def fake() -> Iterator[tuple[FakeGitHub, GitHub]]:
    github = FakeGitHub()
    with serve(github) as url:
        yield github, GitHub(url, "test-token", REPOSITORY)


def run_check(client: GitHub, **overrides: Any):
    return check(client, parse_settings({**CONFIG, **overrides}.get, "contoso"))


def refusal(client: GitHub, **overrides: Any) -> str:
    with pytest.raises(GitHubPreflightError) as error:
        run_check(client, **overrides)
    return str(error.value)


@pytest.mark.parametrize("plan", ["public", "enterprise"])
def test_a_public_or_enterprise_private_repository_passes_with_the_immutable_subject_only(fake, plan: str) -> None:
    github, client = fake
    answers.configure(github, plan)
    found = run_check(client)
    assert found.subject_prefixes == [IMMUTABLE]
    assert (("GET", f"/orgs/{answers.OWNER}") in github.calls) == (plan != "public")


@pytest.mark.parametrize("plan", ["team", "free"])
def test_a_private_repository_on_free_or_team_is_refused_with_what_to_change(fake, plan: str) -> None:
    github, client = fake
    answers.configure(github, plan)
    message = refusal(client)
    assert f"on plan {plan!r}" in message and "only for public repositories" in message
    assert "make the repository public, or move it to an organisation on GitHub Enterprise Cloud" in message


@pytest.mark.parametrize(("plan", "enforced"), [("enterprise", True), ("Enterprise", True), ("business", False), ("pro", False)])
def test_only_the_enterprise_plan_name_counts_as_enforcing_for_a_private_repository(fake, plan: str, enforced: bool) -> None:
    github, client = fake
    answers.configure(github, "enterprise")
    github.organizations[answers.OWNER] = answers.organization(plan)
    if enforced:
        assert run_check(client)
    else:
        assert f"on plan {plan!r}" in refusal(client)


def test_a_private_repository_of_a_personal_account_is_refused(fake) -> None:
    github, client = fake
    answers.configure(github, "enterprise")
    github.repository = answers.repository("private", owner_type="User")
    assert "personal account" in refusal(client)


def test_an_unreadable_plan_is_refused_not_assumed(fake) -> None:
    github, client = fake
    answers.configure(github, "enterprise")
    github.organizations[answers.OWNER] = answers.organization(None)
    assert "owners only" in refusal(client)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda g: g.environments.pop(answers.DEPLOY_ENVIRONMENT), "'exo-contoso' does not exist"),
        (
            lambda g: g.environments.__setitem__(answers.DEPLOY_ENVIRONMENT, answers.environment("x", prevent_self_review=False)),
            "'exo-contoso' lets the person who started a run approve it",
        ),
        (
            lambda g: g.environments.__setitem__(answers.PREVIEW_ENVIRONMENT, answers.environment("x", can_admins_bypass=True)),
            "'exo-contoso-preview' lets administrators bypass",
        ),
        (
            lambda g: g.environments[answers.DEPLOY_ENVIRONMENT].pop("can_admins_bypass"),
            "'exo-contoso' lets administrators bypass",
        ),
        (
            lambda g: g.branch_policies.__setitem__(answers.PREVIEW_ENVIRONMENT, []),
            "'exo-contoso-preview' allows []; expected exactly the branch rule 'refs/pull/*/merge'",
        ),
        (
            lambda g: g.environments[answers.PREVIEW_ENVIRONMENT].__setitem__("deployment_branch_policy", None),
            "'exo-contoso-preview' does not restrict deployments",
        ),
        (
            lambda g: g.branch_policies.__setitem__(answers.DEPLOY_ENVIRONMENT, answers.branch_policies("main", "release/*")),
            "expected exactly the branch rule 'main'",
        ),
        (
            lambda g: g.oidc_subject.update(use_default=False, include_claim_keys=["repo", "context"]),
            "customised OIDC subject template",
        ),
    ],
)
def test_an_environment_github_would_not_enforce_is_refused(fake, change, expected: str) -> None:
    github, client = fake
    answers.configure(github, "public")
    change(github)
    assert expected in refusal(client)


def test_main_must_need_a_code_owners_review_of_the_latest_push(fake) -> None:
    github, client = fake
    answers.configure(github, "public")
    github.branch_rules["main"] = []
    assert "does not require a code owner's review of the latest push" in refusal(client)
    github.branch_protection["main"] = answers.classic_protection()
    assert run_check(client), "classic branch protection with the same rules is accepted too"
    github.branch_protection["main"]["required_pull_request_reviews"]["require_last_push_approval"] = False
    assert "latest push" in refusal(client)
    rules = answers.main_ruleset_rules()
    rules[1]["parameters"]["require_code_owner_review"] = False
    github.branch_rules["main"] = rules
    assert "latest push" in refusal(client)


def test_a_review_rule_someone_may_bypass_is_refused(fake) -> None:
    github, client = fake
    answers.configure(github, "public")
    admins = {"actor_id": 5, "actor_type": "RepositoryRole", "bypass_mode": "always"}
    github.rulesets[42] = answers.main_ruleset([admins])
    assert "ruleset 42 on 'main' lets RepositoryRole 5 (always) bypass its review rule" in refusal(client)
    github.rulesets[42].pop("bypass_actors")
    assert "cannot read who may bypass ruleset 42" in refusal(client), "a list GitHub did not show is not an empty list"
    github.rulesets.pop(42)
    assert "cannot read who may bypass ruleset 42" in refusal(client)
    # Classic protection: administrators must be bound, and nobody may skip the pull request.
    github.branch_rules["main"] = []
    github.branch_protection["main"] = answers.classic_protection()
    assert run_check(client)
    github.branch_protection["main"]["enforce_admins"]["enabled"] = False
    assert "does not apply to administrators" in refusal(client)
    github.branch_protection["main"] = answers.classic_protection()
    github.branch_protection["main"]["required_pull_request_reviews"]["bypass_pull_request_allowances"]["teams"] = [{"slug": "ops"}]
    assert "bypass required pull requests" in refusal(client)


def test_a_repository_without_immutable_subjects_is_refused_with_the_opt_in_call(fake) -> None:
    """The name form `repo:OWNER/REPO:...` is never trusted: after a rename, whoever takes the old name could present it."""
    github, client = fake
    answers.configure(github, "public", immutable_subjects=False)
    message = refusal(client)
    assert "does not use immutable OIDC subject claims" in message
    assert (
        f"gh api --method PUT repos/{REPOSITORY}/actions/oidc/customization/sub --input - <<< "
        '\'{"use_default": true, "use_immutable_subject": true}\''
    ) in message
    assert ("PUT", f"/repos/{REPOSITORY}/actions/oidc/customization/sub") not in github.calls, "the bootstrap never opts in itself"
    github.oidc_subject.pop("use_immutable_subject")
    assert "does not use immutable OIDC subject claims" in refusal(client), "a missing field is not an opt-in"


def test_pinned_ids_are_accepted_and_checked_against_github(fake) -> None:
    github, client = fake
    answers.configure(github, "public")
    assert run_check(client, githubRepository=f"{answers.OWNER}@{answers.OWNER_ID}/{answers.NAME}@{answers.REPOSITORY_ID}")
    message = refusal(client, githubRepository=f"{answers.OWNER}@{answers.OWNER_ID}/{answers.NAME}@999")
    assert "renamed away or re-created" in message


def test_no_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(GitHubPreflightError, match="no GitHub token"):
        client_from_env(REPOSITORY)


def test_an_environment_name_in_another_case_than_githubs_is_refused(fake) -> None:
    """GitHub answered GET .../environments/Exo-Contoso with the environment it stores as `exo-contoso` (recorded: names match
    without case); the subject is built from the configured spelling, which Entra compares exactly."""
    github, client = fake
    answers.configure(github, "public")
    github.environments["Exo-Contoso"] = github.environments[answers.DEPLOY_ENVIRONMENT]
    github.branch_policies["Exo-Contoso"] = github.branch_policies[answers.DEPLOY_ENVIRONMENT]
    message = refusal(client, deployEnvironments=["Exo-Contoso"], previewEnvironments=[answers.PREVIEW_ENVIRONMENT])
    assert "exo-bootstrap:deployEnvironments names 'Exo-Contoso', but GitHub's environment is 'exo-contoso'" in message
