"""Every relative link and anchor in README.md and docs/*.md resolves: the file exists in the repository and, where the link names an
anchor, a heading of the target renders to it under GitHub's slug rules (lowercase; punctuation other than '-' and '_' dropped;
spaces become '-'; a repeated heading gets -1, -2, ...). Code blocks and inline code are not links."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.harness import REPO

DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"(?<!!)\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    return _FENCE.sub("", text)


def github_slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading renders as its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _, heading in _HEADING.findall(_prose(path.read_text(encoding="utf-8"))):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return frozenset(found)


def links(path: Path) -> list[str]:
    text = _INLINE_CODE.sub("", _prose(path.read_text(encoding="utf-8")))
    return [target for target in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]


def test_the_slug_rules() -> None:
    assert github_slug("Identity modes and what is in state") == "identity-modes-and-what-is-in-state"
    assert github_slug("Recovering from a failed `up`") == "recovering-from-a-failed-up"
    assert github_slug("State with `pulumi-python:dynamic:Resource` anchors") == "state-with-pulumi-pythondynamicresource-anchors"
    assert github_slug("Worked example: a read-only reporting identity, scoped") == "worked-example-a-read-only-reporting-identity-scoped"
    assert github_slug("keyVault") == "keyvault"


def test_the_documents_have_links_to_check() -> None:
    assert sum(len(links(document)) for document in DOCUMENTS) > 50


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    broken = []
    for target in links(document):
        path_part, _, anchor = target.partition("#")
        resolved = (document.parent / path_part).resolve() if path_part else document
        if not resolved.is_relative_to(REPO) or not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(REPO)}")
    assert not broken, f"{document.relative_to(REPO)}: " + "; ".join(broken)


def test_the_manual_index_reaches_every_document() -> None:
    """docs/README.md is the manual's table: every document in docs/ is linked from it."""
    linked = {(REPO / "docs" / target.partition("#")[0]).resolve() for target in links(REPO / "docs" / "README.md")}
    missing = [p.name for p in (REPO / "docs").glob("*.md") if p.name != "README.md" and p.resolve() not in linked]
    assert not missing, f"docs/README.md does not link {missing}"
    readme_links = {(REPO / target.partition("#")[0]).resolve() for target in links(REPO / "README.md")}
    assert (REPO / "docs" / "README.md").resolve() in readme_links


def test_the_readme_stays_short_and_ends_with_the_ci_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    last_command = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip() and not line.startswith("#")][-1]
    assert f"```bash\n{last_command}\n```" in readme, "README's test command is the one .ci/run runs last"
