"""Before any federated credential exists: ask GitHub whether it will enforce the gates the credentials rely on.

The bootstrap is run by an administrator, from the default branch. It trusts GitHub OIDC subjects of environments, so
those environments must be gates GitHub enforces (.github/scripts/environment_rules.py): on a private repository of a
GitHub Free, Pro or Team account they are not, and any writer's pull request could sign in. So the bootstrap reads,
through the REST API, the repository (visibility, immutable ids), its organisation's plan, its OIDC subject template and
every environment it will trust, and refuses (one error listing every unmet rule, each saying what to change) before a
resource is registered. GitHub answers are read with the token in GH_TOKEN or GITHUB_TOKEN (`gh auth token`), from
GITHUB_API_URL (default https://api.github.com). The branch the planner trusts (main) must also need a code owner's
review of its latest push (a ruleset or branch protection), since merged code runs as the planner without an approval.

Subjects: the immutable form `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` (github/docs content/actions/reference/security/oidc.md
@051718f, "Immutable subject claims") is always trusted and comes first; the name form `repo:OWNER/REPO:...` is trusted as
well only while the repository's OIDC settings do not say it uses immutable subjects (GET
/repos/{repo}/actions/oidc/customization/sub, `use_immutable_subject`), because repositories created before 2026-07-15
keep the name form until they opt in. A customised subject template (`use_default: false`) changes every subject, so it
is refused rather than guessed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bootstrap_settings import MAX_FEDERATED_CREDENTIALS, BootstrapSettings
from environment_rules import DEPLOY, PREVIEW, branch_rule_problems, environment_problems, plan_problems
from github_api import GitHub, GitHubError


class GitHubPreflightError(RuntimeError):
    """GitHub would not enforce what the federated credentials rely on; the message lists what to change."""

    def __init__(self, repository: str, problems: Sequence[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"refusing to create federated credentials for {repository}: GitHub would not enforce the gates they rely on\n{lines}\n"
            "Fix these in GitHub (Settings -> Environments, the repository's visibility or the organisation's plan) and run the "
            "bootstrap again (docs/security.md)."
        )
        self.problems = list(problems)


@dataclass(frozen=True)
class GitHubRepository:
    owner: str
    name: str
    owner_id: int
    repository_id: int
    immutable_subjects_only: bool
    """GitHub says this repository's tokens carry the immutable subject form only."""

    @property
    def subject_prefixes(self) -> list[str]:
        """`repo:...` prefixes to trust, the immutable one first."""
        immutable = f"repo:{self.owner}@{self.owner_id}/{self.name}@{self.repository_id}"
        return [immutable] if self.immutable_subjects_only else [immutable, f"repo:{self.owner}/{self.name}"]


def client_from_env(repository: str) -> GitHub:
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if not token:
        raise GitHubPreflightError(
            repository,
            [
                "no GitHub token: set GH_TOKEN (for example `export GH_TOKEN=$(gh auth token)`) to a token of a repository "
                "administrator (an organisation owner for private repositories) so the bootstrap can read the environments"
            ],
        )
    return GitHub(os.environ.get("GITHUB_API_URL", "https://api.github.com"), token, repository)


def _get(github: GitHub, path: str) -> Any | None:
    """An absolute API path; None on 404 (and 403: GitHub hides what the token may not read)."""
    try:
        return github.call("GET", path)
    except GitHubError as error:
        if error.status in (403, 404):
            return None
        raise


def check(github: GitHub, settings: BootstrapSettings) -> GitHubRepository:
    """The repository as GitHub knows it, or GitHubPreflightError with every unmet rule."""
    full_name = settings.github_repository
    repository = _get(github, f"/repos/{full_name}")
    if repository is None:
        raise GitHubPreflightError(full_name, [f"GitHub does not show {full_name} to this token (GET /repos/{full_name})"])
    problems: list[str] = []
    owner = repository["owner"]
    pinned = (settings.github_owner_id, settings.github_repository_id)
    actual = (int(owner["id"]), int(repository["id"]))
    if pinned != (None, None) and pinned != actual:
        problems.append(
            f"exo-bootstrap:githubRepository pins ids {pinned[0]}/{pinned[1]}, but {full_name} is now {actual[0]}/{actual[1]}: "
            "the name was renamed away or re-created by someone else; check which repository you mean"
        )
    organization = None
    if repository.get("visibility", "private") != "public" and owner.get("type") == "Organization":
        organization = _get(github, f"/orgs/{owner['login']}")
    problems += plan_problems(repository, organization)
    oidc = _get(github, f"/repos/{full_name}/actions/oidc/customization/sub") or {"use_default": True}
    if oidc.get("use_default") is False:
        problems.append(
            f"{full_name} uses a customised OIDC subject template {oidc.get('include_claim_keys')}: the bootstrap trusts the "
            "default subjects only; reset it (PUT .../actions/oidc/customization/sub with use_default: true)"
        )
    # Merged code runs as the planner (drift, plan) and is what deploys: main must need an owner's review of the latest push.
    branch = settings.plan_branch
    ruleset_rules = _get(github, f"/repos/{full_name}/rules/branches/{branch}")
    protection = _get(github, f"/repos/{full_name}/branches/{branch}/protection")
    problems += branch_rule_problems(branch, ruleset_rules if isinstance(ruleset_rules, list) else None, protection)
    for kind, environments in ((DEPLOY, settings.deploy_environments), (PREVIEW, settings.preview_environments)):
        for environment in environments:
            settings_json = _get(github, f"/repos/{full_name}/environments/{environment}")
            policies = None
            if settings_json and (settings_json.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
                answer = _get(github, f"/repos/{full_name}/environments/{environment}/deployment-branch-policies?per_page=100")
                policies = (answer or {}).get("branch_policies") or []
            problems += environment_problems(environment, settings_json, policies, kind, settings.plan_branch)
    found = GitHubRepository(
        owner=owner["login"],
        name=repository["name"],
        owner_id=actual[0],
        repository_id=actual[1],
        immutable_subjects_only=oidc.get("use_immutable_subject") is True,
    )
    forms = len(found.subject_prefixes)
    counts = (("deployEnvironments", len(settings.deploy_environments)), ("previewEnvironments", 1 + len(settings.preview_environments)))
    for key, count in counts:
        if forms * count > MAX_FEDERATED_CREDENTIALS:
            problems.append(
                f"{key}: {count} subjects in {forms} forms need {forms * count} federated credentials on one app, more than "
                f"Entra's {MAX_FEDERATED_CREDENTIALS}: opt the repository in to immutable subject claims (one form) or list fewer"
            )
    if problems:
        raise GitHubPreflightError(full_name, problems)
    return found
