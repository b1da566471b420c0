"""Before a deploy signs in: deploy only main's current head, approved by someone other than the change's author.

1. Head of main. Re-running an older Deploy run keeps that run's GITHUB_SHA (and its plan), so "re-run" would roll the
   tenant back to an old commit. GET /repos/{repo}/branches/{branch} must name exactly the commit this run deploys.
2. Not self-approved. The environment's prevent self-review binds the person who started the run (github/docs
   content/actions/reference/workflows-and-actions/deployments-and-environments.md: "users who initiate a deployment cannot
   approve the deployment job"), who for a push to main is whoever merged, not the author. So with --run-id and
   --environment, this run's approvals of the environment (GET /actions/runs/{id}/approvals) must include someone who is
   neither the head commit's author nor the author of a pull request that brought it (GET /commits/{sha}, .../pulls).

This runs in main's workflow file, which only a reviewed merge changes (CODEOWNERS, branch rules): the deployer's
federated credential trusts the deploy environment, whose branch rule admits runs of main only.

Usage: deploy_gate.py --branch main --sha SHA [--run-id ID --environment NAME]
"""

from __future__ import annotations

import argparse
import sys

from github_api import GitHub, GitHubError


def head_problems(github: GitHub, branch: str, sha: str) -> list[str]:
    try:
        head = github.call("GET", f"branches/{branch}")["commit"]["sha"]
    except GitHubError as error:
        return [f"cannot read the head of {branch!r}: {error}"]
    if head != sha:
        return [
            f"this run deploys {sha[:12]}, but {branch} is now at {head[:12]}: an older run re-run would roll the tenant back. "
            f"Run the Deploy workflow on {branch} instead (Actions -> Deploy -> Run workflow), which plans the current head."
        ]
    return []


def authors(github: GitHub, sha: str) -> set[str]:
    found: set[str] = set()
    commit = github.call("GET", f"commits/{sha}")
    for role in ("author", "committer"):
        login = (commit.get(role) or {}).get("login")
        if login and login != "web-flow":  # GitHub's committer for merges made in the web UI
            found.add(login)
    for pull in github.paginate(f"commits/{sha}/pulls"):
        login = (pull.get("user") or {}).get("login")
        if login:
            found.add(login)
    return found


def approval_problems(github: GitHub, run_id: int, environment: str, sha: str) -> list[str]:
    approvers = {
        str((review.get("user") or {}).get("login"))
        for review in github.call("GET", f"actions/runs/{run_id}/approvals") or []
        if review.get("state") == "approved" and any(e.get("name") == environment for e in review.get("environments") or [])
    }
    if not approvers:
        return [f"run {run_id} holds no approval of {environment!r}; a deploy starts only after a reviewer approved it"]
    change_authors = authors(github, sha)
    if approvers <= change_authors:
        names = ", ".join(sorted(approvers))
        return [
            f"{environment!r} was approved only by {names}, who wrote this change: another reviewer must approve. Reject this "
            "run and run the Deploy workflow again"
        ]
    return []


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Deploy only main's head, approved by someone other than its author.")
    parser.add_argument("--branch", required=True)
    parser.add_argument("--sha", required=True)
    parser.add_argument("--run-id", type=int)
    parser.add_argument("--environment")
    args = parser.parse_args(argv)
    github = GitHub.from_env()
    found = head_problems(github, args.branch, args.sha)
    if not found and args.run_id is not None and args.environment:
        found = approval_problems(github, args.run_id, args.environment, args.sha)
    for problem in found:
        print(f"::error::{problem}")
    if not found:
        print(
            f"{args.sha[:12]} is the head of {args.branch}"
            + (f"; {args.environment!r} approved by another person" if args.environment else "")
        )
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
