"""A fork runs every test: nothing in the repository reads files beside it, and the Exchange cmdlet data the tests check scripts
against is in the repository (tests/data/exo-cmdlets.json), covering every cmdlet a script calls and rebuildable by its generator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.exchange_reference import (
    REPO,
    TRIMMED_PATH,
    called_cmdlets,
    load_exchange_reference,
    main,
    repository_files,
    repository_scripts,
)

# Paths to the folder the repository was developed beside, in any spelling seen so far.
OUTSIDE = re.compile(r"\.\./shared|/work/shared|shared/reference|[\"']shared[\"']\s*/")
_BINARY = frozenset({".png", ".jpg", ".pfx", ".der", ".ico", ".gz", ".zip"})


def _repository_files() -> list[Path]:
    return [path for path in repository_files() if path.suffix not in _BINARY and path != Path(__file__).resolve()]


def test_nothing_points_at_files_beside_the_repository() -> None:
    hits = []
    for path in _repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert hits == [], "carry the data into the repository with its source named instead:\n" + "\n".join(hits)


def test_the_walk_sees_program_tests_and_scripts() -> None:
    seen = {str(path.relative_to(REPO)) for path in _repository_files()}
    assert {"__main__.py", "tests/conftest.py", "exo/facts.py", "runbooks/Sync-ExchangeRbac.ps1", "scripts/test", ".ci/run"} <= seen
    assert not any(name.startswith((".venv/", ".git/", "node_modules/")) for name in seen)


def test_every_exchange_cmdlet_a_script_calls_is_kept_with_its_parameters() -> None:
    reference = load_exchange_reference()
    names = [entry["name"] for entry in reference.values()]
    called = called_cmdlets(names, repository_scripts())
    assert {"Connect-ExchangeOnline", "Get-EXOMailbox", "New-ManagementRoleAssignment"} <= called
    missing = sorted(name for name in called if reference[name.lower()]["params"] is None)
    assert missing == [], f"rebuild {TRIMMED_PATH.relative_to(REPO)} with `bash scripts/trim-exo-cmdlets FULL.json`: {missing}"


def test_the_generator_rebuilds_the_file_from_a_full_index(tmp_path: Path) -> None:
    # A full index in the source's shape, holding what the trimmed file knows: the generator must select and write the same file.
    raw = json.loads(TRIMMED_PATH.read_text(encoding="utf-8"))
    full: dict[str, dict[str, Any]] = {"exchange": {"exo": False, "applicable": "", "params": {}}}
    for name, entry in raw["cmdlets"].items():
        params = {p: True for p in entry["params"]} | {p: False for p in entry["paramsNotInExchangeOnline"]}
        full[name] = {"exo": entry["exo"], "applicable": entry["applicable"], "params": params}
    for key, exo in (("otherExchangeOnlineCmdlets", True), ("otherCmdlets", False)):
        full |= {name: {"exo": exo, "applicable": "", "params": {"Identity": exo}} for name in raw[key]}
    (tmp_path / "full.json").write_text(json.dumps(full), encoding="utf-8")
    source = raw["source"]
    arguments = [str(tmp_path / "full.json"), "--output", str(tmp_path / "trimmed.json")]
    assert main([*arguments, "--commit", source["commit"], "--date", source["date"]]) == 0
    assert (tmp_path / "trimmed.json").read_text(encoding="utf-8") == TRIMMED_PATH.read_text(encoding="utf-8")


def test_the_data_names_its_source() -> None:
    source = json.loads(TRIMMED_PATH.read_text(encoding="utf-8"))["source"]
    assert source["repository"] == "MicrosoftDocs/office-docs-powershell"
    assert source["path"] == "exchange/exchange-ps/ExchangePowerShell/*.md"
    assert re.fullmatch(r"[0-9a-f]{7,40}", source["commit"])
