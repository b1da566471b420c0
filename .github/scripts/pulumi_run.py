"""Run one Pulumi command for one stack in CI and report it: exit code, outcome, diff, job summary, result files.

Why not pulumi/actions for the command: after every command the action reads `pulumi stack output --show-secrets` into step
outputs (pulumi/actions v7.0.0 src/main.ts, `stack.outputs()`), and it hides the CLI's exit code, which tells drift apart
from a sign-in or throttling failure. The action still installs the CLI (install-only mode: no `command` input).

Usage:
  pulumi_run.py preview --stack S --out DIR [--refresh] [--expect-no-changes] [--save-plan FILE] [--policy-pack-config FILE]
  pulumi_run.py up      --stack S --out DIR  --plan FILE --plan-sha256 HEX [--refresh] [--policy-pack-config FILE]

Writes DIR/output.txt (the CLI's output), DIR/result.json ({stack, command, exitCode, outcome, commit, refresh}) and
DIR/report.md (the markdown the job summary, the PR comment and the drift issue show), then exits with the CLI's exit code.
Never passes --show-secrets: secret values appear as [secret] in the output and stay encrypted in a saved plan.

No code in state: before the command, the stack's state is exported (`pulumi stack export`, which loads no plugin and decrypts
nothing) and checked by state_guard.py; a dynamic resource or a provider of an unpinned package stops the job (outcome
"code in state", exit 1) before any provider runs. An export that fails stops it too, with the CLI's exit code.

Plan integrity: a preview with --save-plan writes the plan's SHA-256 to $GITHUB_OUTPUT (`plan-sha256`), which the plan
job publishes as a job output; the deploy job passes it back as --plan-sha256 and `up` refuses a plan file with another
digest. The artifact is found by name, which any job of the run can upload; the digest ties it to the job that made it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import state_guard

# Pulumi CLI exit codes (https://www.pulumi.com/docs/iac/cli/exit-codes/, mapping introduced in v3.226.1; .pulumi.version
# pins a later CLI).
OUTCOMES = {
    0: "succeeded",
    1: "failed",
    2: "configuration error",
    3: "sign-in failure",
    4: "resource error",
    5: "policy violation",
    6: "stack not found",
    7: "drift",
    8: "cancelled",
}
# Entra sign-in errors (AADSTS...) can surface from a provider as a resource error; ARM and Graph throttle with HTTP 429.
_SIGN_IN = re.compile(r"AADSTS\d+|DefaultAzureCredential|WorkloadIdentityCredential|ClientAssertionCredential")
_THROTTLED = re.compile(r"\b429\b|TooManyRequests|Too Many Requests|throttl", re.IGNORECASE)
# GitHub refuses comments over 65536 characters; keep the tail, where Pulumi prints the resource summary.
REPORT_LIMIT = 60000


def outcome_of(exit_code: int, output: str) -> str:
    if exit_code in (0, 7, 5, 8, 2, 6):
        return OUTCOMES[exit_code]
    if exit_code == 3 or _SIGN_IN.search(output):
        return "sign-in failure"
    if _THROTTLED.search(output):
        return "throttled"
    return OUTCOMES.get(exit_code, "failed")


def command_line(args: argparse.Namespace) -> list[str]:
    line = ["pulumi", args.command, "--stack", args.stack, "--non-interactive", "--diff", "--color", "never"]
    line += ["--suppress-outputs", "--policy-pack", "policy"]
    if args.policy_pack_config:
        line += ["--policy-pack-config", args.policy_pack_config]
    if args.refresh:
        line.append("--refresh")
    if args.command == "preview":
        if args.expect_no_changes:
            line.append("--expect-no-changes")
        if args.save_plan:
            line += ["--save-plan", args.save_plan]
    else:
        # The approved preview's plan: the update may do what it planned and nothing else, or it fails.
        line += ["--plan", args.plan, "--yes"]
    return line


def report(args: argparse.Namespace, exit_code: int, outcome: str, output: str) -> str:
    commit = os.environ.get("GITHUB_SHA", "")[:12]
    shown = output if len(output) <= REPORT_LIMIT else "…(earlier output cut)…\n" + output[-REPORT_LIMIT:]
    # A fence longer than any backtick run in the output, so the output cannot close it.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", shown)), default=0))
    refresh = "with `--refresh` (reads the tenant first, as the deploy does)" if args.refresh else "without refresh"
    return (
        f"### `pulumi {args.command}` on `{args.stack}`: {outcome}\n\n"
        f"Commit `{commit}`, {refresh}, policy pack `policy`, exit code {exit_code}.\n\n"
        f"<details{' open' if exit_code else ''}><summary>Output</summary>\n\n{fence}\n{shown}\n{fence}\n\n</details>\n"
    )


class TokenMask:
    """Keeps the job's federated tokens (AZURE_FEDERATED_TOKEN_FILE) out of the log and out of every report.

    The token file is replaced every 2 minutes by a detached refresher that cannot register masks with the runner; each
    token is in the file before any reader can have it, so re-reading the file before each line and printing
    `::add-mask::` for a new value masks it before the line that could show it. The result files, the job summary, the PR
    comment and the drift issue are not masked by the runner: they get the tokens replaced here.
    """

    def __init__(self, token_file: str | None) -> None:
        self.token_file = Path(token_file) if token_file else None
        self.tokens: list[str] = []

    def update(self) -> None:
        if self.token_file is None:
            return
        try:
            token = self.token_file.read_text().strip()
        except OSError:
            return
        if token and token not in self.tokens:
            self.tokens.append(token)
            sys.stdout.write(f"::add-mask::{token}\n")

    def redact(self, text: str) -> str:
        for token in self.tokens:
            text = text.replace(token, "***")
        return text


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("command", choices=["preview", "up"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--refresh", action="store_true")
    parser.add_argument("--expect-no-changes", action="store_true")
    parser.add_argument("--save-plan")
    parser.add_argument("--plan")
    parser.add_argument("--plan-sha256", help="the digest the plan job recorded (its job output plan-sha256)")
    parser.add_argument("--policy-pack-config", help="JSON settings for the policy pack (docs/policy.md)")
    args = parser.parse_args(argv)
    if args.command == "up" and not args.plan:
        parser.error("up needs --plan: deploys apply the plan of the preview the approver saw")
    if args.command == "up" and not Path(args.plan).is_file():
        print(f"::error::no update plan at {args.plan}: the preview that the approver saw did not save one; not deploying")
        return 2
    if args.command == "up":
        if not _SHA256.match(args.plan_sha256 or ""):
            print("::error::no plan digest from the plan job (--plan-sha256): cannot tell its plan from another file; not deploying")
            return 2
        if sha256_of(Path(args.plan)) != args.plan_sha256:
            print(
                f"::error::{args.plan} is not the plan the plan job saved (SHA-256 {sha256_of(Path(args.plan))[:16]}…, "
                f"recorded {args.plan_sha256[:16]}…); not deploying"
            )
            return 2
    args.out.mkdir(parents=True, exist_ok=True)
    mask = TokenMask(os.environ.get("AZURE_FEDERATED_TOKEN_FILE"))
    mask.update()
    refused = guard_state(args.stack, mask)
    if refused is not None:
        exit_code, outcome, output = refused
        print(f"::error::{output.splitlines()[0]}")
        print(output, flush=True)
        return finish(args, exit_code, outcome, output)
    line = command_line(args)
    print("+ " + " ".join(line), flush=True)
    chunks: list[str] = []
    with subprocess.Popen(line, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as process:  # noqa: S603
        assert process.stdout is not None
        for chunk in process.stdout:
            mask.update()
            sys.stdout.write(mask.redact(chunk))
            chunks.append(chunk)
        exit_code = process.wait()
    mask.update()
    output = mask.redact("".join(chunks))
    outcome = outcome_of(exit_code, output)
    if args.command == "preview" and args.save_plan and exit_code == 0 and not Path(args.save_plan).is_file():
        outcome, exit_code = "failed", 1
        output += "\nno update plan was written; an update could not be held to this preview\n"
    return finish(args, exit_code, outcome, output)


def guard_state(stack: str, mask: TokenMask) -> tuple[int, str, str] | None:
    """Before any command that runs providers: (exit code, outcome, report text) when the stack's state may not be used.

    `pulumi stack export` loads no plugin and decrypts nothing without --show-secrets (state_guard.py says where that is in
    Pulumi's source); its output is read here and never printed. An export that fails keeps the CLI's exit code (a stack
    that does not exist is still "stack not found")."""
    line = ["pulumi", "stack", "export", "--stack", stack]
    print("+ " + " ".join(line) + "  (checked for code in state, not shown)", flush=True)
    completed = subprocess.run(line, capture_output=True, text=True, check=False)  # noqa: S603
    mask.update()
    if completed.returncode != 0:
        output = mask.redact(f"`pulumi stack export` failed, so the state was not checked and nothing ran:\n{completed.stderr}")
        return completed.returncode, outcome_of(completed.returncode, output), output
    found = state_guard.check(completed.stdout)
    if found:
        return 1, "code in state", mask.redact(state_guard.message(stack, found))
    return None


def finish(args: argparse.Namespace, exit_code: int, outcome: str, output: str) -> int:
    """Writes the result files, the job summary and the step outputs; returns the exit code."""
    (args.out / "output.txt").write_text(output)
    result = {
        "stack": args.stack,
        "command": args.command,
        "exitCode": exit_code,
        "outcome": outcome,
        "commit": os.environ.get("GITHUB_SHA", ""),
        "refresh": args.refresh,
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    markdown = report(args, exit_code, outcome, output)
    (args.out / "report.md").write_text(markdown)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as handle:
            handle.write(f"outcome={outcome}\nexit-code={exit_code}\n")
            if args.command == "preview" and args.save_plan and exit_code == 0:
                handle.write(f"plan-sha256={sha256_of(Path(args.save_plan))}\n")
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
