"""Does a deploy of this stack run right now? Drift runs ask before and after their preview.

Drift has its own concurrency group, not the deploy's: a deploy waiting days for approval holds its group, and a drift
run queued behind it would wait that long, then be replaced by the next day's run without a word (GitHub keeps one
pending job per group; github/docs data/reusables/actions/actions-group-concurrency.md). A preview takes no lock and
changes nothing, so drift may run beside a deploy; but a preview of a stack in the middle of an update reads a half-applied
tenant. So the drift job asks the REST API (GET /actions/workflows/deploy.yml/runs?status=in_progress and each run's jobs)
whether the stack's Deploy job is running, before its preview (then it skips it) and after (then its result does not
count): either way the outcome is "deploy in progress", which neither opens nor closes a drift issue (drift_issues.py).

Usage: deploy_running.py --stack S --out DIR [--workflow deploy.yml]
Writes `running=true|false` to $GITHUB_OUTPUT; when running, writes or rewrites DIR/result.json and DIR/report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from github_api import GitHub

OUTCOME = "deploy in progress"


def running_deploys(github: GitHub, stack: str, workflow: str) -> list[str]:
    """URLs of runs whose Deploy job of this stack is in progress (job name `<stack> / Deploy`, see deploy.yml)."""
    found: list[str] = []
    for run in github.paginate(f"actions/workflows/{workflow}/runs?status=in_progress", key="workflow_runs"):
        for job in github.paginate(f"actions/runs/{run['id']}/jobs", key="jobs"):
            if job.get("name") == f"{stack} / Deploy" and job.get("status") == "in_progress":
                found.append(str(run.get("html_url", run["id"])))
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Mark a drift result that overlapped a deploy of its stack.")
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--workflow", default="deploy.yml")
    args = parser.parse_args(argv)
    runs = running_deploys(GitHub.from_env(), args.stack, args.workflow)
    if runs:
        args.out.mkdir(parents=True, exist_ok=True)
        result_file = args.out / "result.json"
        result = json.loads(result_file.read_text()) if result_file.is_file() else {"stack": args.stack, "exitCode": None}
        result["outcome"] = OUTCOME
        result_file.write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "report.md").write_text(
            f"### Drift check of `{args.stack}`: {OUTCOME}\n\nA deploy of this stack was running ({', '.join(runs)}): a preview "
            "beside it reads a half-applied tenant, so this run says nothing about drift. The next drift run checks again.\n"
        )
        print(f"::notice::{args.stack}: {OUTCOME} ({', '.join(runs)}); this drift result does not count")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as handle:
            handle.write(f"running={'true' if runs else 'false'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
