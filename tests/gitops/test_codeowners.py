"""CODEOWNERS covers every file a credentialed job runs, reads as code or installs from, computed rather than listed.

A credentialed job (one that signs in to Azure: preview, plan, deploy, drift) checks out the repository and runs: the
workflow files and their scripts (.github/), the install files (requirements*.lock, .pulumi.version, pulumi-downloads.json),
the policy pack (policy/), and the Pulumi program named by Pulumi.yaml with everything it imports from this repository
(__main__.py, components/, settings/, exo/) and the files it reads (runbooks/ run as Exchange Administrator; Pulumi.*.yaml).
The bootstrap is run by an administrator with tenant-wide rights (bootstrap/ and what it imports). Ownership follows
GitHub's CODEOWNERS rules (gitignore-style patterns; the last matching line wins; a line without owners unsets them).
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
OWNERS = "@contoso-msp/exo-automation-admins"


def rules() -> list[tuple[str, list[str]]]:
    found = []
    for line in (REPO / ".github" / "CODEOWNERS").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pattern, *owners = line.split()
            found.append((pattern, owners))
    return found


def matches(pattern: str, path: str) -> bool:
    """The gitignore subset CODEOWNERS here uses: `*`, `/dir/`, `/file`, `/prefix*`, and unanchored `dir/` or `name`."""
    assert "**" not in pattern and "!" not in pattern and "[" not in pattern, pattern
    if pattern == "*":
        return True
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    parts = path.split("/")
    # An anchored pattern is tried from the root only; an unanchored one from every folder down.
    starts = [0] if anchored else range(len(parts))
    for start in starts:
        tail = "/".join(parts[start:])
        if pattern.endswith("/"):
            if tail.startswith(body + "/"):
                return True
        elif fnmatch.fnmatchcase(tail, body) or tail.startswith(body + "/"):
            return True
    return False


def owners_of(path: str) -> list[str]:
    owners: list[str] = []
    for pattern, line_owners in rules():
        if matches(pattern, path):
            owners = line_owners
    return owners


def tracked() -> list[str]:
    listing = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if line]


def local_imports(entry: Path, roots: list[Path]) -> set[Path]:
    """Every file of this repository a Python entry point imports, transitively (modules found under `roots`)."""
    seen: set[Path] = set()
    queue = [entry]
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                for root in roots:
                    base = root.joinpath(*name.split("."))
                    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                        if candidate.is_file():
                            queue.append(candidate)
    return seen


def credentialed_files() -> set[str]:
    files = set(tracked())
    found = {f for f in files if f.startswith((".github/", "policy/", "runbooks/", "bootstrap/", ".ci/"))}
    found |= {f for f in files if re.fullmatch(r"Pulumi(\.[\w-]+)?\.yaml|requirements[\w-]*\.(txt|lock)|\.pulumi\.version", f)}
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    program = REPO / project.get("main", ".") / "__main__.py"
    for entry, roots in (
        (program, [REPO]),
        (REPO / "bootstrap" / "__main__.py", [REPO / "bootstrap", REPO / ".github" / "scripts", REPO]),
        (REPO / "policy" / "__main__.py", [REPO / "policy", REPO]),
        *((script, [script.parent]) for script in (REPO / ".github" / "scripts").glob("*.py")),
    ):
        found |= {str(path.relative_to(REPO)) for path in local_imports(entry, roots)}
    # What a workflow step names: scripts it runs, files it installs from, workflows it calls.
    for workflow in (REPO / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            texts = [job.get("uses", "")] + [str(step.get("run", "")) + str(step.get("with", "")) for step in job.get("steps", [])]
            found |= {token.removeprefix("./") for text in texts for token in re.findall(r"[\w./-]+", text)} & files
    # The offline test job's own script, which decides what the deploy waits for.
    found |= {f for f in files if f.startswith("tests/gitops/") or f == "scripts/setup" or f == "scripts/setup-policy"}
    return found


def test_every_file_a_credentialed_job_runs_is_owned() -> None:
    credentialed = credentialed_files()
    # The computation reaches what the issue names (a test of the test: a broken import walk would pass vacuously).
    for expected in ("__main__.py", "components/", "settings/", "exo/", "runbooks/", "Pulumi.yaml", "tests/gitops/", ".github/"):
        assert any(f == expected or f.startswith(expected) for f in credentialed), expected
    assert len([f for f in credentialed if f.startswith("components/")]) > 5, "the program's components are found through its imports"
    unowned = sorted(f for f in credentialed if OWNERS not in owners_of(f))
    assert unowned == [], f"credentialed paths without an owner: {unowned}"


def test_only_files_no_credentialed_job_runs_are_unowned() -> None:
    unowned = {f for f in tracked() if not owners_of(f)}
    assert all(f.startswith(("docs/", "benchmarks/", "tests/")) or f == "README.md" for f in unowned), unowned
    assert not unowned & credentialed_files()


def test_the_matcher_follows_codeowners_rules() -> None:
    assert matches("*", "a/b.py") and matches("/docs/", "docs/x.md") and not matches("/docs/", "x/docs/y.md")
    assert matches("/requirements*.lock", "requirements-dev.lock") and not matches("/requirements*.lock", "policy/requirements.lock")
    assert owners_of("tests/gitops/test_codeowners.py") == [OWNERS] and owners_of("tests/program/x.py") == []
    assert owners_of("policy/requirements.lock") == [OWNERS], "a new or nested file is owned by default"
