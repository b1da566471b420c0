"""Before any federated credential exists: ask GitHub whether it will enforce the gates the credentials rely on.

The bootstrap is run by an administrator, from the default branch. It trusts GitHub OIDC subjects of environments, so
those environments must be gates GitHub enforces (.github/scripts/environment_rules.py): on a private repository of a
GitHub Free, Pro or Team account they are not, and any writer's pull request could sign in. So the bootstrap reads,
through the REST API, the repository (visibility, immutable ids), its organisation's plan, its OIDC subject template and
every environment it will trust, and refuses (one error listing every unmet rule, each saying what to change) before a
resource is registered. GitHub answers are read with the token in GH_TOKEN or GITHUB_TOKEN (`gh auth token`), from
GITHUB_API_URL (default https://api.github.com). The branch the planner trusts (main) must also need a code owner's
review of its latest push (a ruleset or branch protection), since merged code runs as the planner without an approval.

Subjects: only the immutable form `repo:OWNER@OWNER_ID/REPO@REPO_ID:...` (github/docs content/actions/reference/security/oidc.md
@051718f, "Immutable subject claims") is trusted. The name form `repo:OWNER/REPO:...` names whoever holds the name: after a
rename or transfer, whoever registers the old name could present it. So the repository must use immutable subjects (GET
/repos/{repo}/actions/oidc/customization/sub, `use_immutable_subject: true`; repositories created or renamed after 2026-07-15
do, older ones "keep the previous format unless you opt in"), or the bootstrap refuses and prints the opt-in call
(`OPT_IN_BODY`). It does not opt in itself: the setting changes the subject of every OIDC consumer of the repository, not only
these credentials, so an administrator decides it. A customised subject template (`use_default: false`) changes every
subject, so it is refused rather than guessed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bootstrap_settings import BootstrapSettings
from environment_rules import DEPLOY, PREVIEW, branch_rule_problems, environment_problems, plan_problems
from github_api import GitHub, GitHubError

# The body that opts a repository in to immutable subject claims with GitHub's default template (REST "Set the customization
# template for an OIDC subject claim for a repository", PUT /repos/{owner}/{repo}/actions/oidc/customization/sub).
OPT_IN_BODY = '{"use_default": true, "use_immutable_subject": true}'


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

    @property
    def subject_prefixes(self) -> list[str]:
        """The `repo:...` prefix to trust: the immutable one only (GitHub confirmed the repository uses it)."""
        return [f"repo:{self.owner}@{self.owner_id}/{self.name}@{self.repository_id}"]


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


def check(github: GitHub, settings: BootstrapSettings, *, previews: bool = True) -> GitHubRepository:
    """The repository as GitHub knows it, or GitHubPreflightError with every unmet rule.

    `previews` False: the stack gets no preview-environment credential, so its preview environments are not checked."""
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
    oidc = _get(github, f"/repos/{full_name}/actions/oidc/customization/sub")
    if oidc is None:
        problems.append(
            f"cannot read {full_name}'s OIDC subject settings (GET /repos/{full_name}/actions/oidc/customization/sub), so "
            "whether its tokens carry the immutable subject is unknown: run the bootstrap with a repository administrator's token"
        )
    elif oidc.get("use_default") is False:
        problems.append(
            f"{full_name} uses a customised OIDC subject template {oidc.get('include_claim_keys')}: the bootstrap trusts the "
            "default subjects only; reset it (PUT .../actions/oidc/customization/sub with use_default: true)"
        )
    elif oidc.get("use_immutable_subject") is not True:
        problems.append(
            f"{full_name} does not use immutable OIDC subject claims, so its tokens name the repository by name, which a new "
            "owner of the name could present after a rename or transfer: opt in (Settings -> Actions -> OpenID Connect, or "
            f"`gh api --method PUT repos/{full_name}/actions/oidc/customization/sub --input - <<< '{OPT_IN_BODY}'`) and run "
            "the bootstrap again; other OIDC consumers of this repository then see the immutable subject too (docs/gitops.md)"
        )
    # Merged code runs as the planner (drift, plan) and is what deploys: main must need an owner's review of the latest push.
    branch = settings.plan_branch
    ruleset_rules = _get(github, f"/repos/{full_name}/rules/branches/{branch}")
    protection = _get(github, f"/repos/{full_name}/branches/{branch}/protection")
    rules = ruleset_rules if isinstance(ruleset_rules, list) else None
    ruleset_ids = {int(rule["ruleset_id"]) for rule in rules or [] if rule.get("type") == "pull_request" and "ruleset_id" in rule}
    rulesets = {ruleset_id: _get(github, f"/repos/{full_name}/rulesets/{ruleset_id}") for ruleset_id in sorted(ruleset_ids)}
    problems += branch_rule_problems(branch, rules, rulesets, protection)
    for kind, environments in ((DEPLOY, settings.deploy_environments), (PREVIEW, settings.preview_environments if previews else ())):
        for environment in environments:
            settings_json = _get(github, f"/repos/{full_name}/environments/{environment}")
            policies = None
            if settings_json and (settings_json.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
                answer = _get(github, f"/repos/{full_name}/environments/{environment}/deployment-branch-policies?per_page=100")
                policies = (answer or {}).get("branch_policies") or []
            problems += environment_problems(environment, settings_json, policies, kind, settings.plan_branch)
            # GitHub finds an environment whatever the case of the name asked for; the subject Entra compares exactly is
            # built from the configured name, so it must be GitHub's own spelling.
            actual_name = (settings_json or {}).get("name")
            if actual_name is not None and actual_name != environment:
                key = "deployEnvironments" if kind == DEPLOY else "previewEnvironments"
                problems.append(
                    f"exo-bootstrap:{key} names {environment!r}, but GitHub's environment is {actual_name!r}: Entra compares "
                    f"OIDC subjects exactly, so write it as GitHub does ({actual_name!r})"
                )
    found = GitHubRepository(owner=owner["login"], name=repository["name"], owner_id=actual[0], repository_id=actual[1])
    if problems:
        raise GitHubPreflightError(full_name, problems)
    return found
