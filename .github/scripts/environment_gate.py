"""Refuse to run unless the job's GitHub environment really gates it (the rules in environment_rules.py).

GitHub creates an environment that a job names but that does not exist, silently and with no rules, so a typo in
.github/pulumi-stacks.json would deploy unreviewed. Before anything signs in with the environment's identity, this reads
the environment through the REST API (GET /repos/{repo}/environments/{name} and .../deployment-branch-policies; the job
needs `actions: read`) and requires: reviewers, prevent self-review, no administrator bypass, and exactly one deployment
branch rule (`main` for deploys, `refs/pull/*/merge` for previews).

This is a second line only: the bootstrap checked the same rules (and the plan) before it created the federated
credential that trusts the environment. A pull request can remove this step from its own workflow; it cannot add a credential.

Usage: environment_gate.py --environment NAME --kind deploy|preview [--branch main]
Exits 1 with one line per unmet rule.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from environment_rules import DEPLOY, PREVIEW, environment_problems
from github_api import GitHub, GitHubError


def read_environment(github: GitHub, environment: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None]:
    """(settings or None when it does not exist, its branch policies or None when it has no custom policy)."""
    try:
        settings: dict[str, Any] = github.call("GET", f"environments/{environment}")
    except GitHubError as error:
        if error.status == 404:
            return None, None
        raise
    if not (settings.get("deployment_branch_policy") or {}).get("custom_branch_policies"):
        return settings, None
    # The endpoint wraps its list: {"total_count": n, "branch_policies": [...]}.
    return settings, list(github.paginate(f"environments/{environment}/deployment-branch-policies", key="branch_policies"))


def problems(github: GitHub, environment: str, kind: str, branch: str = "main") -> list[str]:
    settings, policies = read_environment(github, environment)
    return environment_problems(environment, settings, policies, kind, branch)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Check that a GitHub environment gates the job that names it.")
    parser.add_argument("--environment", required=True)
    parser.add_argument("--kind", required=True, choices=[DEPLOY, PREVIEW])
    parser.add_argument("--branch", default="main", help="the one branch a deploy environment allows")
    args = parser.parse_args(argv)
    found = problems(GitHub.from_env(), args.environment, args.kind, args.branch)
    for problem in found:
        print(f"::error::{problem}")
    if not found:
        print(f"environment {args.environment!r} gates {args.kind} jobs: reviewers, no self-review, no admin bypass, one branch rule")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
