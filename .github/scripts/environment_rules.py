"""When a GitHub environment is a gate GitHub enforces, and when the repository's plan lets it enforce one.

Shared by the bootstrap (an administrator, from the default branch, before any federated credential exists) and by
environment_gate.py (main's workflows, before a job signs in). Only the bootstrap's check is a control: a pull request
can drop the gate step from its own workflow, but it cannot add a federated credential the bootstrap refused to create.

Facts, from github/docs (paths at the commits read):
- content/actions/reference/workflows-and-actions/deployments-and-environments.md @0460e40: "If you are on a GitHub Free,
  GitHub Pro, or GitHub Team plan, required reviewers are only available for public repositories"; the same holds for
  letting administrators bypass the rules ("only available for public repositories" on those plans); prevent self-review
  stops "users who initiate a deployment" from approving it; deployment branch rules are "matched against the
  GITHUB_REF of the workflow run", and a rule `refs/pull/*/merge` is what lets `pull_request` runs deploy.
- REST "Get an environment": `protection_rules[]` (`type: required_reviewers` with `prevent_self_review`, `reviewers`),
  `can_admins_bypass`, `deployment_branch_policy` {`protected_branches`, `custom_branch_policies`}; "List deployment
  branch policies": {`branch_policies`: [{`name`, `type`}]}.
Assumption (not in those pages): GET /orgs/{org} reports the plan as `plan.name`, and only to the organisation's owners. The
REST reference types `plan.name` as a string without listing values; `enterprise` for an organisation on GitHub Enterprise
Cloud (and `free` for a free one) is what GitHub answered in microsoft/PowerShellForGitHub issue #373 (2022-10-28). It is
compared without case; anything else (`team`, `free`, a legacy or unknown name) counts as a plan that does not enforce
reviewers, so an unrecognised Enterprise name is refused, never accepted by guess.
"""

from __future__ import annotations

from typing import Any

# The one deployment branch rule of each kind of environment.
DEPLOY = "deploy"
PREVIEW = "preview"
PREVIEW_BRANCH_RULE = "refs/pull/*/merge"
ENFORCING_PRIVATE_PLANS = frozenset({"enterprise"})


def allowed_branches(kind: str, branch: str) -> list[tuple[str, str]]:
    """The exact (name, type) list of deployment branch policies an environment of this kind must have."""
    return [(branch, "branch")] if kind == DEPLOY else [(PREVIEW_BRANCH_RULE, "branch")]


def environment_problems(
    name: str, settings: dict[str, Any] | None, branch_policies: list[dict[str, Any]] | None, kind: str, branch: str = "main"
) -> list[str]:
    """Every reason the environment does not gate a job: reviewers, self-review, admin bypass, branch rule.

    `settings` is GET /repos/{repo}/environments/{name} (None: 404), `branch_policies` its deployment-branch-policies list
    (None: not read because the environment has no custom policy).
    """
    if settings is None:
        return [f"environment {name!r} does not exist: create it with required reviewers before the bootstrap (docs/gitops.md)"]
    found: list[str] = []
    reviewers = [rule for rule in settings.get("protection_rules") or [] if rule.get("type") == "required_reviewers"]
    if not reviewers or not any(rule.get("reviewers") for rule in reviewers):
        found.append(f"environment {name!r} has no required reviewers")
    elif not all(rule.get("prevent_self_review") is True for rule in reviewers):
        found.append(f"environment {name!r} lets the person who started a run approve it: turn on 'Prevent self-review'")
    # Missing counts as allowed: GitHub's default is that administrators may bypass.
    if settings.get("can_admins_bypass") is not False:
        found.append(f"environment {name!r} lets administrators bypass its rules: turn off 'Allow administrators to bypass'")
    policy = settings.get("deployment_branch_policy") or {}
    expected = allowed_branches(kind, branch)
    wanted = " and ".join(f"{rule_name!r}" for rule_name, _ in expected)
    if not policy.get("custom_branch_policies") or policy.get("protected_branches"):
        found.append(f"environment {name!r} does not restrict deployments to selected branches (only {wanted})")
    else:
        allowed = [(p.get("name"), p.get("type", "branch")) for p in branch_policies or []]
        if allowed != expected:
            found.append(f"environment {name!r} allows {allowed}; expected exactly the branch rule {wanted}")
    return found


def plan_problems(repository: dict[str, Any], organization: dict[str, Any] | None) -> list[str]:
    """Why GitHub would not enforce an environment's reviewers on this repository, if it would not.

    `repository` is GET /repos/{repo}; `organization` GET /orgs/{owner} (None for a personal account).
    """
    visibility = repository.get("visibility") or ("private" if repository.get("private", True) else "public")
    if visibility == "public":
        return []
    full_name = repository.get("full_name", "the repository")
    owner = repository.get("owner") or {}
    change = "make the repository public, or move it to an organisation on GitHub Enterprise Cloud"
    if owner.get("type") != "Organization":
        return [
            f"{full_name} is a {visibility} repository of a personal account (GitHub Free or Pro), where GitHub does not enforce "
            f"environment reviewers: {change}"
        ]
    plan = ((organization or {}).get("plan") or {}).get("name")
    if plan is None:
        return [
            f"cannot read the plan of organisation {owner.get('login')!r} (GitHub shows it to organisation owners only), so "
            f"whether GitHub enforces reviewers on the {visibility} repository {full_name} is unknown: run the bootstrap with "
            "an owner's token"
        ]
    if str(plan).casefold() not in ENFORCING_PRIVATE_PLANS:
        return [
            f"{full_name} is {visibility} in organisation {owner.get('login')!r} on plan {plan!r}: GitHub enforces required "
            f"reviewers, prevent self-review and admin-bypass settings only for public repositories on Free, Pro and Team: {change}"
        ]
    return []


def _review_rule(parameters: dict[str, Any]) -> bool:
    return (
        parameters.get("require_code_owner_review") is True
        and parameters.get("require_last_push_approval") is True
        and int(parameters.get("required_approving_review_count") or 0) >= 1
    )


def branch_rule_problems(
    branch: str,
    ruleset_rules: list[dict[str, Any]] | None,
    rulesets: dict[int, dict[str, Any] | None],
    protection: dict[str, Any] | None,
) -> list[str]:
    """Whether merging to `branch` needs an owner's review that the author's own last push cannot satisfy, and nobody may skip.

    `ruleset_rules` is GET /repos/{repo}/rules/branches/{branch} (rules of active rulesets, each with its `ruleset_id`);
    `rulesets` maps those ids to GET /repos/{repo}/rulesets/{id} (None: unreadable); `protection` is GET
    /repos/{repo}/branches/{branch}/protection (classic protection; None when absent or unreadable).
    Either source may hold the rule: a `pull_request` ruleset rule, or `required_pull_request_reviews`, with code owner review
    and approval of the most recent push by someone other than its pusher. Without them a writer merges unreviewed code
    that drift and the plan job then run as the planner. A rule someone may bypass is no gate: the ruleset must list no
    `bypass_actors` (GitHub returns the list only to tokens that may administer the ruleset, so a missing list is refused,
    not assumed empty); classic protection must apply to administrators (`enforce_admins.enabled`) and allow nobody to
    bypass the pull request (`bypass_pull_request_allowances`).
    """
    found: list[str] = []
    for rule in ruleset_rules or []:
        if rule.get("type") != "pull_request" or not _review_rule(rule.get("parameters") or {}):
            continue
        ruleset_id = rule.get("ruleset_id")
        ruleset = rulesets.get(int(ruleset_id)) if ruleset_id is not None else None
        bypass = (ruleset or {}).get("bypass_actors")
        if bypass == []:
            return []
        if bypass is None:
            found.append(
                f"cannot read who may bypass ruleset {ruleset_id} on {branch!r} (GET /repos/{{repo}}/rulesets/{ruleset_id} shows "
                "`bypass_actors` only to those who may edit the ruleset): run the bootstrap with a repository administrator's "
                "token (an organisation owner's for an organisation ruleset)"
            )
        else:
            actors = ", ".join(f"{a.get('actor_type')} {a.get('actor_id')} ({a.get('bypass_mode')})" for a in bypass)
            found.append(
                f"ruleset {ruleset_id} on {branch!r} lets {actors} bypass its review rule: remove every bypass actor (Settings -> "
                "Rules -> Rulesets -> Bypass list)"
            )
    reviews = (protection or {}).get("required_pull_request_reviews") or {}
    if _review_rule({**reviews, "require_code_owner_review": reviews.get("require_code_owner_reviews")}):
        allowances = reviews.get("bypass_pull_request_allowances") or {}
        if (protection or {}).get("enforce_admins", {}).get("enabled") is not True:
            found.append(
                f"the branch protection of {branch!r} does not apply to administrators: turn on 'Do not allow bypassing the "
                "above settings' (enforce_admins)"
            )
        elif any(allowances.get(kind) for kind in ("users", "teams", "apps")):
            found.append(
                f"the branch protection of {branch!r} lets some users, teams or apps bypass required pull requests: empty "
                "'Allow specified actors to bypass required pull requests'"
            )
        else:
            return []
    return found or [
        f"merging to {branch!r} does not require a code owner's review of the latest push: add a branch ruleset (or branch "
        "protection) for it that requires a pull request, at least one approval, review from Code Owners, and approval of the "
        "most recent reviewable push, with no bypass"
    ]
