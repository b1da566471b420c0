"""Keep one open issue per drifted stack: open or update it on drift, close it when the stack is clean again.

Runs in drift.yml's report job (`issues: write`, no Azure identity) over the drift jobs' result artifacts. Only the
outcomes "drift" (exit code 7 of `pulumi preview --expect-no-changes`) and "succeeded" (exit code 0: clean) touch issues;
a sign-in failure, throttling, a preview that overlapped a deploy ("deploy in progress", deploy_running.py) or any other
error says nothing about drift, so it neither opens nor closes an issue (the drift job itself shows why).

Usage: drift_issues.py --results DIR --run-url URL
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from github_api import GitHub, GitHubError

LABEL = "drift"
MARKER = "<!-- exo-automation drift: {stack} -->"
_MARKER = re.compile(r"<!-- exo-automation drift: ([A-Za-z0-9._-]+) -->")
STACK_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
BODY_LIMIT = 62000


def read_results(directory: Path) -> dict[str, tuple[str, str]]:
    """stack -> (outcome, report markdown)."""
    results: dict[str, tuple[str, str]] = {}
    for result_file in sorted(directory.rglob("result.json")):  # one folder per artifact, or the folder itself
        result: dict[str, Any] = json.loads(result_file.read_text())
        stack = str(result["stack"])
        if not STACK_NAME.match(stack):
            raise SystemExit(f"{result_file}: {stack!r} is not a stack name")
        results[stack] = (str(result["outcome"]), (result_file.parent / "report.md").read_text()[:BODY_LIMIT])
    return results


def ensure_label(github: GitHub) -> None:
    """The label is how the next run finds the issue again, so it must exist before an issue is opened with it."""
    try:
        github.call("GET", f"labels/{LABEL}")
    except GitHubError as error:
        if error.status != 404:
            raise
        github.call("POST", "labels", {"name": LABEL, "color": "d93f0b", "description": "The tenant differs from the code on main"})


def reconcile(github: GitHub, results: dict[str, tuple[str, str]], run_url: str) -> dict[str, str]:
    """Returns stack -> what was done: opened, updated, closed, unchanged (clean, no issue) or skipped (<outcome>)."""
    if any(outcome == "drift" for outcome, _ in results.values()):
        ensure_label(github)
    open_issues: dict[str, int] = {}
    duplicates: list[tuple[int, int]] = []
    for issue in github.paginate(f"issues?state=open&labels={LABEL}"):
        if "pull_request" in issue:
            continue
        match = _MARKER.search(issue.get("body") or "")
        if match:
            kept = open_issues.setdefault(match.group(1), issue["number"])
            if kept != issue["number"]:
                duplicates.append((issue["number"], kept))
    # Drift runs have no concurrency group (drift.yml), so two report jobs can race and open one issue each; keep the first.
    for number, kept in duplicates:
        github.call("POST", f"issues/{number}/comments", {"body": f"Duplicate of #{kept}, which tracks this stack's drift; closing."})
        github.call("PATCH", f"issues/{number}", {"state": "closed", "state_reason": "not_planned"})
    done: dict[str, str] = {}
    for stack, (outcome, text) in sorted(results.items()):
        number = open_issues.get(stack)
        if outcome == "drift":
            body = (
                f"{MARKER.format(stack=stack)}\nThe tenant of stack `{stack}` differs from the code on main "
                f"([drift run]({run_url})). Remediate by running the Deploy workflow on main (Actions -> Deploy -> Run workflow; a "
                "re-run of an old Deploy run refuses, it would deploy an old commit), or adopt the change in a pull request "
                "(docs/gitops.md#drift-detection). This issue closes itself when a drift run finds the stack clean.\n\n"
                f"{text}"
            )
            if number is None:
                github.call("POST", "issues", {"title": f"Drift: stack {stack}", "body": body, "labels": [LABEL]})
                done[stack] = "opened"
            else:
                github.call("PATCH", f"issues/{number}", {"body": body})
                done[stack] = "updated"
        elif outcome == "succeeded":
            if number is None:
                done[stack] = "unchanged"
            else:
                github.call("POST", f"issues/{number}/comments", {"body": f"Clean again in [drift run]({run_url}); closing."})
                github.call("PATCH", f"issues/{number}", {"state": "closed", "state_reason": "completed"})
                done[stack] = "closed"
        else:
            done[stack] = f"skipped ({outcome})"
    return done


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Open, update or close one drift issue per stack.")
    parser.add_argument("--results", required=True, type=Path)
    parser.add_argument("--run-url", required=True)
    args = parser.parse_args(argv)
    results = read_results(args.results) if args.results.is_dir() else {}
    done = reconcile(GitHub.from_env(), results, args.run_url)
    for stack, action in sorted(done.items()):
        print(f"{stack}: {action}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
