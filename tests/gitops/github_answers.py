"""GitHub REST answers for the repository plans the pipeline must handle, recorded in the shapes the REST reference gives
(GET /repos/{repo}, GET /orgs/{org}, GET .../environments/{name}, .../deployment-branch-policies,
.../actions/oidc/customization/sub), trimmed to the fields the scripts and the bootstrap read.

Plans: a public repository (any plan: GitHub enforces reviewers), a private repository of an organisation on GitHub
Enterprise Cloud (enforced), and a private repository on GitHub Team (not enforced: "required reviewers are only available
for public repositories", github/docs content/actions/reference/workflows-and-actions/deployments-and-environments.md).
"""

from __future__ import annotations

from typing import Any

from tests.gitops.fake_github import REPOSITORY, FakeGitHub

OWNER, NAME = REPOSITORY.split("/")
OWNER_ID, REPOSITORY_ID = 123456, 456789
DEPLOY_ENVIRONMENT, PREVIEW_ENVIRONMENT = "exo-contoso", "exo-contoso-preview"


def repository(visibility: str, owner_type: str = "Organization") -> dict[str, Any]:
    return {
        "id": REPOSITORY_ID,
        "node_id": "R_kgDOAAb9Iw",
        "name": NAME,
        "full_name": REPOSITORY,
        "private": visibility != "public",
        "visibility": visibility,
        "owner": {"login": OWNER, "id": OWNER_ID, "type": owner_type},
        "default_branch": "main",
    }


def organization(plan: str | None) -> dict[str, Any]:
    # `plan` is in the answer only for the organisation's owners.
    answer: dict[str, Any] = {"login": OWNER, "id": OWNER_ID, "type": "Organization"}
    if plan is not None:
        answer["plan"] = {"name": plan, "space": 976562499, "private_repos": 999999, "filled_seats": 12, "seats": 20}
    return answer


def environment(name: str, *, prevent_self_review: bool = True, can_admins_bypass: bool = False) -> dict[str, Any]:
    return {
        "id": 161088068,
        "node_id": "EN_kwDOAAb9I84JmfUE",
        "name": name,
        "url": f"https://api.github.com/repos/{REPOSITORY}/environments/{name}",
        "can_admins_bypass": can_admins_bypass,
        "protection_rules": [
            {
                "id": 3736,
                "node_id": "GA_kwDOAAb9I84AAA6Y",
                "type": "required_reviewers",
                "prevent_self_review": prevent_self_review,
                "reviewers": [{"type": "Team", "reviewer": {"id": 1, "slug": "exo-approvers", "name": "exo approvers"}}],
            },
            {"id": 3755, "node_id": "GA_kwDOAAb9I84AAA6r", "type": "branch_policy"},
        ],
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }


def branch_policies(*names: str) -> list[dict[str, Any]]:
    return [{"id": 361471 + n, "node_id": "RE_kwDOAAb9I84ABYP_", "name": name, "type": "branch"} for n, name in enumerate(names)]


def main_ruleset_rules() -> list[dict[str, Any]]:
    """GET /rules/branches/main with an active ruleset that requires an owner's review of the latest push."""
    return [
        {"type": "deletion", "ruleset_source_type": "Repository", "ruleset_source": REPOSITORY, "ruleset_id": 42},
        {
            "type": "pull_request",
            "ruleset_source_type": "Repository",
            "ruleset_source": REPOSITORY,
            "ruleset_id": 42,
            "parameters": {
                "required_approving_review_count": 1,
                "dismiss_stale_reviews_on_push": True,
                "require_code_owner_review": True,
                "require_last_push_approval": True,
                "required_review_thread_resolution": False,
                "allowed_merge_methods": ["merge", "squash", "rebase"],
            },
        },
    ]


def main_ruleset(bypass_actors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """GET /rulesets/42 as a repository administrator sees it (`bypass_actors` is only shown to those who may edit it)."""
    return {
        "id": 42,
        "name": "main",
        "target": "branch",
        "source_type": "Repository",
        "source": REPOSITORY,
        "enforcement": "active",
        "bypass_actors": bypass_actors or [],
        "current_user_can_bypass": "never",
        "conditions": {"ref_name": {"include": ["~DEFAULT_BRANCH"], "exclude": []}},
        "rules": main_ruleset_rules(),
    }


def classic_protection() -> dict[str, Any]:
    """GET /branches/main/protection (classic branch protection) with the same review rules."""
    return {
        "url": f"https://api.github.com/repos/{REPOSITORY}/branches/main/protection",
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
            "required_approving_review_count": 1,
            "require_last_push_approval": True,
            "bypass_pull_request_allowances": {"users": [], "teams": [], "apps": []},
        },
        "enforce_admins": {"url": f"https://api.github.com/repos/{REPOSITORY}/branches/main/protection/enforce_admins", "enabled": True},
    }


def configure(fake: FakeGitHub, plan: str, *, immutable_subjects: bool = True) -> None:
    """plan: `public` (a public repository), or the organisation plan of a private one (`enterprise`, `team`, `free`)."""
    fake.repository = repository("public" if plan == "public" else "private")
    fake.organizations[OWNER] = organization(None if plan == "public" else plan)
    fake.oidc_subject = {"use_default": True, "use_immutable_subject": immutable_subjects}
    fake.environments[DEPLOY_ENVIRONMENT] = environment(DEPLOY_ENVIRONMENT)
    fake.branch_policies[DEPLOY_ENVIRONMENT] = branch_policies("main")
    fake.environments[PREVIEW_ENVIRONMENT] = environment(PREVIEW_ENVIRONMENT)
    fake.branch_policies[PREVIEW_ENVIRONMENT] = branch_policies("refs/pull/*/merge")
    fake.branch_rules["main"] = main_ruleset_rules()
    fake.rulesets[42] = main_ruleset()
