"""Microsoft's Exchange cmdlet reference as test data, trimmed to what this repository uses (tests/data/exo-cmdlets.json).

Source: MicrosoftDocs/office-docs-powershell, exchange/exchange-ps/ExchangePowerShell/*.md (the commit is in the file). The file
keeps every cmdlet's name and whether it exists in Exchange Online, and full parameter lists only for the cmdlets this repository
calls plus the Exchange areas it works in (AREA_NOUNS). Rebuild it from the full index (cmdlet -> {"exo", "applicable", "params"})
with `bash scripts/trim-exo-cmdlets FULL.json`; tests/test_repository_stands_alone.py fails when a script calls a cmdlet whose
parameters the file left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TRIMMED_PATH = REPO / "tests" / "data" / "exo-cmdlets.json"

SOURCE = {
    "repository": "MicrosoftDocs/office-docs-powershell",
    "path": "exchange/exchange-ps/ExchangePowerShell/*.md",
    "commit": "93336da2",
    "date": "2026-08-21",
}

# Nouns kept with all their parameters even when no script calls them yet (any verb; `*-EXO*` cmdlets are kept too): the
# ExchangeOnlineManagement session, Exchange RBAC, and the recipient, permission and mail-flow objects runbooks report on.
AREA_NOUNS = frozenset(
    {
        # session
        "ConnectionInformation",
        "ExchangeOnline",
        # RBAC
        "ManagementRole",
        "ManagementRoleAssignment",
        "ManagementRoleEntry",
        "ManagementScope",
        "RoleAssignmentPolicy",
        "RoleGroup",
        "RoleGroupMember",
        "ServicePrincipal",
        "ServicePrincipalAuthorization",
        # recipients and permissions
        "CASMailbox",
        "DistributionGroup",
        "DistributionGroupMember",
        "InboxRule",
        "MailContact",
        "MailUser",
        "Mailbox",
        "MailboxFolderPermission",
        "MailboxPermission",
        "Recipient",
        "RecipientPermission",
        "User",
        # mail flow and organization
        "AcceptedDomain",
        "DkimSigningConfig",
        "HostedConnectionFilterPolicy",
        "HostedContentFilterPolicy",
        "HostedContentFilterRule",
        "HostedOutboundSpamFilterPolicy",
        "HostedOutboundSpamFilterRule",
        "InboundConnector",
        "OrganizationConfig",
        "OutboundConnector",
        "RemoteDomain",
        "TransportConfig",
        "TransportRule",
    }
)

# Folders below the repository that hold none of its files: git, virtualenvs, installed packages, caches, test leftovers (.gitignore).
NOT_OURS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".pulumi-state", ".mypy_cache"}
)


def repository_files(pattern: str = "*", root: Path = REPO) -> list[Path]:
    """The repository's own files matching the glob pattern, in any folder but NOT_OURS (and host certificate test leftovers)."""
    found = []
    for path in sorted(root.rglob(pattern)):
        folders = path.relative_to(root).parts[:-1]
        if path.is_file() and not any(f in NOT_OURS or f.startswith(".test-host-certificates-") for f in folders):
            found.append(path)
    return found


def repository_scripts(root: Path = REPO) -> list[Path]:
    """Every .ps1 and .psm1 of the repository (the shared module holds the connection every runbook and host script makes)."""
    return sorted([*repository_files("*.ps1", root), *repository_files("*.psm1", root)])


def called_cmdlets(cmdlet_names: Iterable[str], scripts: Iterable[Path]) -> set[str]:
    """The reference's cmdlets (as it spells them) that the scripts call."""
    from tests.powershell import parse_file  # tree-sitter: not installed in the policy pack's venv

    spelled = {name.lower(): name for name in cmdlet_names}
    return {spelled[call.name.lower()] for path in scripts for call in parse_file(path).commands if call.name.lower() in spelled}


def in_areas(name: str) -> bool:
    noun = name.split("-", 1)[1]
    return noun in AREA_NOUNS or noun.startswith("EXO")  # the module's REST cmdlets: Get-EXOMailbox, ...


def kept_with_parameters(cmdlet_names: Iterable[str], scripts: Iterable[Path]) -> set[str]:
    """The cmdlets the trimmed file keeps in full: every one a script calls, and every one in AREA_NOUNS."""
    names = list(cmdlet_names)
    return {name for name in names if in_areas(name)} | called_cmdlets(names, scripts)


def trimmed_text(full: Mapping[str, Mapping[str, Any]], scripts: Iterable[Path], source: Mapping[str, str] = SOURCE) -> str:
    """The trimmed file's text from the full index: one cmdlet per line, sorted, so that a rebuild diffs line by line."""
    names = sorted(name for name in full if _is_cmdlet_name(name))
    kept = kept_with_parameters(names, scripts)
    lines = ["{", f'"source": {json.dumps(dict(source), separators=(",", ":"))},', '"cmdlets": {']
    entries = []
    for name in sorted(kept):
        entry = full[name]
        params: Mapping[str, bool] = entry["params"]
        compact = {
            "exo": bool(entry["exo"]),
            "applicable": entry["applicable"],
            "params": sorted(p for p, applies in params.items() if applies),
            "paramsNotInExchangeOnline": sorted(p for p, applies in params.items() if not applies),
        }
        entries.append(f"{json.dumps(name)}:{json.dumps(compact, separators=(',', ':'))}")
    lines.append(",\n".join(entries))
    lines.append("},")
    others = [name for name in names if name not in kept]
    for key, exo in (("otherExchangeOnlineCmdlets", True), ("otherCmdlets", False)):
        listed = [json.dumps(name) for name in others if bool(full[name]["exo"]) is exo]
        lines.append(f'"{key}": [')
        lines.append(",\n".join(listed))
        lines.append("]," if exo else "]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _is_cmdlet_name(name: str) -> bool:
    # The full index also holds an empty entry named after the docs folder ("exchange"): not a Verb-Noun cmdlet.
    verb, _, noun = name.partition("-")
    return bool(verb and noun)


def load_exchange_reference(path: Path = TRIMMED_PATH) -> dict[str, dict[str, Any]]:
    """cmdlet (lower case, for PowerShell's case-insensitive lookups) -> {"name", "exo", "applicable", "params"}.

    "params" maps each parameter to whether it applies to Exchange Online; it is None for a cmdlet the file lists by name only."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    reference: dict[str, dict[str, Any]] = {}
    for name, entry in raw["cmdlets"].items():
        params = {p: True for p in entry["params"]} | {p: False for p in entry["paramsNotInExchangeOnline"]}
        reference[name.lower()] = {"name": name, "exo": entry["exo"], "applicable": entry["applicable"], "params": params}
    for key, exo in (("otherExchangeOnlineCmdlets", True), ("otherCmdlets", False)):
        for name in raw[key]:
            reference[name.lower()] = {"name": name, "exo": exo, "applicable": None, "params": None}
    return reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/trim-exo-cmdlets",
        description="Rebuild tests/data/exo-cmdlets.json from the full Exchange cmdlet index (cmdlet -> exo, applicable, params).",
    )
    parser.add_argument("full", type=Path, help="the full index, built from Microsoft's docs at the commit given below")
    parser.add_argument("--output", type=Path, default=TRIMMED_PATH)
    parser.add_argument("--commit", default=SOURCE["commit"], help="office-docs-powershell commit the full index was built from")
    parser.add_argument("--date", default=SOURCE["date"], help="that commit's date")
    args = parser.parse_args(argv)
    full = json.loads(args.full.read_text(encoding="utf-8"))
    text = trimmed_text(full, repository_scripts(), {**SOURCE, "commit": args.commit, "date": args.date})
    args.output.write_text(text, encoding="utf-8")
    print(f"{args.output}: {len(text.encode())} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
