"""Refuse to run unless the job's GitHub environment really gates it.

GitHub creates an environment that a job names but that does not exist, silently and with no rules, so a typo in
.github/pulumi-stacks.json would deploy unreviewed. Before anything signs in with the environment's identity, this checks
through the REST API (GET /repos/{repo}/environments/{name} and .../deployment-branch-policies; the job needs
`actions: read`) that the environment
- requires reviewers (at least one),
- with --prevent-self-review: does not let the person who triggered the run approve it (previews of pull requests),
- with --branch main: deploys from that one branch only (custom branch policy, exactly one rule, type branch).

Usage: environment_gate.py --environment NAME [--branch main] [--prevent-self-review]
Exits 1 with one line per unmet rule.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from github_api import GitHub, GitHubError


def problems(github: GitHub, environment: str, branch: str | None, prevent_self_review: bool) -> list[str]:
    try:
        settings: dict[str, Any] = github.call("GET", f"environments/{environment}")
    except GitHubError as error:
        if error.status == 404:
            return [f"environment {environment!r} does not exist: create it with required reviewers (docs/gitops.md)"]
        raise
    found: list[str] = []
    rules = settings.get("protection_rules") or []
    reviewers = [rule for rule in rules if rule.get("type") == "required_reviewers"]
    if not reviewers or not any(rule.get("reviewers") for rule in reviewers):
        found.append(f"environment {environment!r} has no required reviewers")
    elif prevent_self_review and not all(rule.get("prevent_self_review") for rule in reviewers):
        found.append(f"environment {environment!r} lets the person who started the run approve it (turn on 'Prevent self-review')")
    if branch is not None:
        policy = settings.get("deployment_branch_policy") or {}
        if not policy.get("custom_branch_policies") or policy.get("protected_branches"):
            found.append(f"environment {environment!r} does not restrict deployments to selected branches (only {branch!r})")
        else:
            # The endpoint wraps its list: {"total_count": n, "branch_policies": [...]}.
            branch_policies = list(github.paginate(f"environments/{environment}/deployment-branch-policies", key="branch_policies"))
            allowed = [(p.get("name"), p.get("type", "branch")) for p in branch_policies]
            if allowed != [(branch, "branch")]:
                found.append(f"environment {environment!r} allows {allowed}; expected only branch {branch!r}")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Check that a GitHub environment gates the job that names it.")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--branch")
    parser.add_argument("--prevent-self-review", action="store_true")
    args = parser.parse_args(argv)
    found = problems(GitHub.from_env(), args.environment, args.branch, args.prevent_self_review)
    for problem in found:
        print(f"::error::{problem}")
    if not found:
        print(f"environment {args.environment!r} requires reviewers" + (f" and deploys only from {args.branch!r}" if args.branch else ""))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
