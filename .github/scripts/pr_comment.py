"""Post each stack's preview result on its pull request: one comment per stack, edited in place, never left stale.

Runs in preview-comment.yml (on `workflow_run`, from the default branch's code, with `pull-requests: write` and no Azure
identity); the preview jobs that ran the pull request's code hold no write token. The result files come from those jobs'
artifacts and are treated as untrusted text: the stack name must match the manifest's pattern, the pull request number
comes from the workflow_run event, never from an artifact, and the text is capped.

For each `result.json` + `report.md` under `<results>` (one folder per artifact): the stack's comment (found by its marker among the bot's
comments, every page of them) is replaced with this run's report, or created. Every other stack comment of the bot on that
pull request is replaced with a notice that this run produced no result for it, so a success from an earlier commit never
stands next to a newer failure.

Every report is output of the pull request's own code (the PR controls preview.yml and the program), so each comment says where
it came from: whether this run holds an approval of the stack's preview environment (GitHub's review history of the run, read
here with the default branch's manifest), and that what gets deployed is the plan the deploy job saves from `main`. A result with no
such approval is posted under an "unverified" banner, and a stack that is not in the default branch's manifest is not posted.
The report itself is posted inside a code fence (`verbatim`), so its text cannot pose as this script's banners or mention anyone.

A new Preview run (`workflow_run` requested) first withdraws every stack's comment (--requested), so an "approved by" for an
earlier commit never stands while a new commit waits for its approval. An approval given only by people who wrote commits of
the pull request is posted as "Self-approved" (prevent self-review binds the run's initiator, not the author).

Usage: pr_comment.py --pr N --head-sha SHA --run-id ID --run-url URL --conclusion C --results DIR [--manifest FILE]
       [--bot-login github-actions[bot]] [--requested]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from github_api import GitHub

MARKER = "<!-- exo-automation preview: {stack} -->"
_MARKER = re.compile(r"<!-- exo-automation preview: ([A-Za-z0-9._-]+) -->")
STACK_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")  # .github/pulumi-stacks.schema.json "stack"
BODY_LIMIT = 62000
DEPLOYED_FROM_MAIN = (
    "_Output of this pull request's own code. What is deployed is the plan the deploy job saves from `main` after the merge and "
    "shows before its own approval._"
)


def preview_environments(manifest: Path) -> dict[str, str]:
    """stack -> its preview environment, from the default branch's manifest (the pull request cannot change that copy).

    A stack without one (it keeps private keys in state, so it gets no PR preview) is left out: nothing is posted for it."""
    rows = json.loads(manifest.read_text())["stacks"]
    return {str(row["stack"]): str(row["previewEnvironment"]) for row in rows if row.get("previewEnvironment")}


def approvers(github: GitHub, run_id: int) -> dict[str, list[str]]:
    """environment -> who approved this run's deployment to it (GET /actions/runs/{run_id}/approvals, the review history)."""
    found: dict[str, list[str]] = {}
    for review in github.call("GET", f"actions/runs/{run_id}/approvals") or []:
        if review.get("state") != "approved":
            continue
        for environment in review.get("environments") or []:
            found.setdefault(str(environment.get("name")), []).append(str((review.get("user") or {}).get("login")))
    return found


def change_authors(github: GitHub, pr: int, author: str) -> set[str]:
    """The pull request's author and every commit author/committer on it (GET /pulls/{n}/commits)."""
    found = {author}
    for commit in github.paginate(f"pulls/{pr}/commits"):
        for role in ("author", "committer"):
            login = (commit.get(role) or {}).get("login")
            if login and login != "web-flow":
                found.add(login)
    return found


def provenance(
    stack: str, environments: dict[str, str], approved: dict[str, list[str]], head_sha: str, authors: set[str] | None = None
) -> str:
    environment = environments[stack]
    if approved.get(environment):
        logins = set(approved[environment])
        who = ", ".join(f"@{login}" for login in sorted(logins))
        if authors is not None and logins <= authors:
            # Prevent self-review binds whoever started the run (a colleague's push, "Update branch"), not the author.
            return (
                f"> [!CAUTION]\n> **Self-approved:** `{environment}` was approved for commit `{head_sha[:12]}` only by {who}, who "
                f"wrote commits of this pull request. GitHub's prevent self-review stops the run's initiator, not the author: a "
                f"maintainer should review who approved and what ran. {DEPLOYED_FROM_MAIN}"
            )
        return f"Preview environment `{environment}` approved by {who} for commit `{head_sha[:12]}` (this run). {DEPLOYED_FROM_MAIN}"
    return (
        f"> [!WARNING]\n> **Unverified:** this run holds no approval of `{environment}`, so this text did not come from the gated "
        f"preview job; treat it as the pull request's own claim. {DEPLOYED_FROM_MAIN}"
    )


def read_results(directory: Path) -> dict[str, str]:
    """stack -> report markdown, from the downloaded artifacts; anything malformed is skipped with a warning."""
    reports: dict[str, str] = {}
    for result_file in sorted(directory.rglob("result.json")):  # one folder per artifact, or the folder itself
        try:
            result: dict[str, Any] = json.loads(result_file.read_text())
            stack = str(result["stack"])
            text = (result_file.parent / "report.md").read_text()
        except (OSError, ValueError, KeyError) as error:
            print(f"::warning::skipping {result_file.parent.name}: {error}")
            continue
        if not STACK_NAME.match(stack):
            print(f"::warning::skipping {result_file.parent.name}: {stack!r} is not a stack name")
            continue
        # The report is text from a job that ran the pull request's code: it may not forge another stack's marker.
        reports[stack] = verbatim(stack, _MARKER.sub("", text)[:BODY_LIMIT])
    return reports


def verbatim(stack: str, text: str) -> str:
    """The report as literal text: markdown written by the pull request's code must not render as the bot's own words.

    Raw, it could forge an "approved by" line or a banner, hide text in HTML, or mention people. Inside a code fence longer than
    any backtick run in it nothing renders and no line can close the fence early; `@` before a name gets a word joiner (U+2060)
    so no mention is made even if the text ends up outside a fence elsewhere.
    """
    text = re.sub(r"@(?=[A-Za-z0-9_-])", "@\u2060", text)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"Report of the preview job for `{stack}` (its text, shown verbatim):\n\n{fence}text\n{text}\n{fence}"


def update_comments(github: GitHub, pr: int, run_url: str, conclusion: str, reports: dict[str, str], bot_login: str) -> dict[str, str]:
    """Create or replace the comments; returns stack -> what was done ("created", "updated", "withdrawn")."""
    existing: dict[str, int] = {}
    for comment in github.paginate(f"issues/{pr}/comments"):
        if (comment.get("user") or {}).get("login") != bot_login:
            continue
        match = _MARKER.search(comment.get("body") or "")
        if match:
            existing.setdefault(match.group(1), comment["id"])
    done: dict[str, str] = {}
    for stack, text in sorted(reports.items()):
        body = f"{MARKER.format(stack=stack)}\n{text}\n\n[Workflow run]({run_url})\n"
        if stack in existing:
            github.call("PATCH", f"issues/comments/{existing[stack]}", {"body": body})
            done[stack] = "updated"
        else:
            github.call("POST", f"issues/{pr}/comments", {"body": body})
            done[stack] = "created"
    for stack, comment_id in sorted(existing.items()):
        if stack in reports:
            continue
        body = (
            f"{MARKER.format(stack=stack)}\n### No preview of `{stack}` for the latest commit\n\n"
            f"The [preview run]({run_url}) is `{conclusion}` without a result for this stack (it is waiting for the preview "
            "environment's approval, the approval was not given, offline tests failed, or the job was cancelled). An earlier "
            "result, and who approved it, no longer applies.\n"
        )
        github.call("PATCH", f"issues/comments/{comment_id}", {"body": body})
        done[stack] = "withdrawn"
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Post preview results on a pull request.")
    parser.add_argument("--pr", required=True, type=int)
    parser.add_argument("--head-sha", required=True, help="the commit the Preview run tested (workflow_run.head_sha)")
    parser.add_argument("--run-id", required=True, type=int, help="the Preview run (workflow_run.id)")
    parser.add_argument("--run-url", required=True)
    parser.add_argument("--conclusion", required=True)
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--manifest", type=Path, default=Path(".github/pulumi-stacks.json"))
    parser.add_argument("--bot-login", default="github-actions[bot]")
    parser.add_argument(
        "--requested", action="store_true", help="a new Preview run started: withdraw every earlier result until it completes"
    )
    args = parser.parse_args(argv)
    github = GitHub.from_env()
    pull = github.call("GET", f"pulls/{args.pr}")
    current = pull["head"]["sha"]
    if current != args.head_sha:
        # A newer push started a newer Preview run (this one was cancelled or overtaken); that run posts its own results.
        print(f"pull request #{args.pr} is now at {current[:12]}, this run tested {args.head_sha[:12]}: nothing posted")
        return 0
    if args.requested:
        # A new commit awaits its own approval: an "approved by" for the previous commit must not stand beside it.
        done = update_comments(github, args.pr, args.run_url, "in progress", {}, args.bot_login)
        for stack, action in sorted(done.items()):
            print(f"{stack}: comment {action}")
        return 0
    reports = read_results(args.results) if args.results.is_dir() else {}
    environments = preview_environments(args.manifest)
    for stack in sorted(set(reports) - set(environments)):
        print(f"::warning::skipping {stack}: not a stack of the default branch's {args.manifest}")
        del reports[stack]
    approved = approvers(github, args.run_id) if reports else {}
    authors = change_authors(github, args.pr, str((pull.get("user") or {}).get("login"))) if approved else None
    reports = {stack: f"{provenance(stack, environments, approved, current, authors)}\n\n{text}" for stack, text in reports.items()}
    done = update_comments(github, args.pr, args.run_url, args.conclusion, reports, args.bot_login)
    for stack, action in sorted(done.items()):
        print(f"{stack}: comment {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
