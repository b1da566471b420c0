# pyright: strict
"""PowerShell checks without PowerShell: parse with tree-sitter-powershell, list the commands a script calls.

Shared by the tests of the Windows scripts and of the runbooks:

    errors = syntax_errors(source)                 # ERROR / MISSING nodes, as "line:column: text"
    calls = command_calls(source)                  # every command with its -Parameter names
    reference = load_exo_reference()               # None when ../shared/reference/exo-cmdlets.json is absent
    problems = exchange_problems(calls, reference) # cmdlets/parameters that do not exist in Exchange Online
    parameters = script_parameters(source)         # the script's own param() block: name -> type

Known grammar gaps of tree-sitter-powershell 0.26, reported as syntax errors in valid PowerShell:
- a statement that starts with ForEach-Object, Do-... or Data-... (a keyword followed by '-'): pipe into it
  (`$items | ForEach-Object { }`) or use `foreach ($item in $items) { }`;
- a list of bare words as an argument (`-Function Get-A, Get-B`): quote them (`'Get-A', 'Get-B'`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser

REPO_ROOT = Path(__file__).resolve().parents[1]
EXO_REFERENCE_PATH = REPO_ROOT.parent / "shared" / "reference" / "exo-cmdlets.json"

# PowerShell's common parameters (about_CommonParameters); every cmdlet accepts them.
COMMON_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "Debug", "ErrorAction", "ErrorVariable", "InformationAction", "InformationVariable", "OutBuffer",
        "OutVariable", "PipelineVariable", "ProgressAction", "Verbose", "WarningAction", "WarningVariable",
    )
)  # fmt: skip

_LANGUAGE = Language(tree_sitter_powershell.language())


@dataclass(frozen=True)
class CommandCall:
    """One command invocation: its name as written, the -Parameter names used, and any @splatted variables."""

    name: str
    parameters: tuple[str, ...]
    splatted: tuple[str, ...]
    line: int


def parse(source: bytes) -> Node:
    """The root node of the script's syntax tree."""
    return Parser(_LANGUAGE).parse(source).root_node


def syntax_errors(source: bytes) -> list[str]:
    """Every ERROR or MISSING node as 'line:column: text'; empty when the script parses cleanly."""
    problems: list[str] = []
    for node in _walk(parse(source)):
        if node.is_error or node.is_missing:
            line, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            snippet = _text(node)[:60].replace("\n", " ")
            problems.append(f"{line + 1}:{column + 1}: {kind} near {snippet!r}")
    return problems


def command_calls(source: bytes) -> list[CommandCall]:
    """Every command invocation with a literal name (`Get-Mailbox -Identity x`), in source order.

    Calls through `&`/`.` count when the name is literal (`& certutil.exe -f`); a variable or quoted path as the
    target (`& $ScriptPath`) is skipped: it is not known statically.
    """
    calls: list[CommandCall] = []
    for node in _walk(parse(source)):
        if node.type != "command":
            continue
        name_node = next(
            (child for child in node.children if child.type == "command_name"), None
        )
        if name_node is None:
            # `& name` / `. name`: only a literal command name counts, not a variable or a quoted path.
            expression = next(
                (child for child in node.children if child.type == "command_name_expr"),
                None,
            )
            if expression is not None:
                name_node = next(
                    (
                        child
                        for child in expression.children
                        if child.type == "command_name"
                    ),
                    None,
                )
        if name_node is None:
            continue
        parameters: list[str] = []
        splatted: list[str] = []
        for element in node.children:
            if element.type != "command_elements":
                continue
            # Commands nested in script-block arguments are listed on their own, not as part of this one.
            for child in _walk(element, stop_at="command"):
                if child.type == "command_parameter":
                    parameters.append(_text(child).lstrip("-").rstrip(":"))
                elif child.type == "variable" and _text(child).startswith("@"):
                    splatted.append(_text(child))
        calls.append(
            CommandCall(
                _text(name_node),
                tuple(parameters),
                tuple(splatted),
                name_node.start_point[0] + 1,
            )
        )
    return calls


def script_parameters(source: bytes) -> dict[str, str | None]:
    """The script's top-level param() block: parameter name (without $) -> declared type name, or None."""
    root = parse(source)
    block = next(
        (child for child in root.children if child.type == "param_block"), None
    )
    result: dict[str, str | None] = {}
    if block is None:
        return result
    for node in _walk(block):
        if node.type != "script_parameter":
            continue
        variable = next(
            (child for child in node.children if child.type == "variable"), None
        )
        if variable is None:
            continue
        # The type constraint is the attribute written as a bare type literal: [string], [securestring], [string[]].
        type_literal = next(
            (
                item
                for item in _walk(node, stop_at="variable")
                if item.type == "type_literal"
            ),
            None,
        )
        type_spec = (
            None
            if type_literal is None
            else next((c for c in type_literal.children if c.type == "type_spec"), None)
        )
        result[_text(variable).lstrip("$")] = (
            None if type_spec is None else _text(type_spec)
        )
    return result


def load_exo_reference(path: Path = EXO_REFERENCE_PATH) -> dict[str, Any] | None:
    """The Exchange cmdlet reference, or None when it is not next to the repo (tests then skip)."""
    if not path.is_file():
        return None
    return cast(dict[str, Any], json.loads(path.read_text(encoding="utf-8")))


def exchange_problems(
    calls: Iterable[CommandCall], reference: Mapping[str, Any]
) -> list[str]:
    """Problems with calls to cmdlets the reference knows: not in Exchange Online, unknown or non-EXO parameters,
    or splatting (which hides the parameters from this check)."""
    by_name = {name.lower(): (name, entry) for name, entry in reference.items()}
    problems: list[str] = []
    for call in calls:
        found = by_name.get(call.name.lower())
        if found is None:
            continue
        _, entry = found
        where = f"line {call.line}: {call.name}"
        if not entry.get("exo"):
            problems.append(
                f"{where} is not available in Exchange Online ({entry.get('applicable')})"
            )
            continue
        parameters = {
            key.lower(): (key, available)
            for key, available in cast(Mapping[str, bool], entry["params"]).items()
        }
        for parameter in call.parameters:
            known = parameters.get(parameter.lower())
            if known is None:
                if parameter.lower() not in COMMON_PARAMETERS:
                    problems.append(f"{where} has no parameter -{parameter}")
            elif not known[1]:
                problems.append(
                    f"{where} -{known[0]} does not apply to Exchange Online"
                )
        if call.splatted:
            problems.append(
                f"{where} uses splatting ({', '.join(call.splatted)}); write the parameters out so they can be checked"
            )
    return problems


def exchange_cmdlets(
    calls: Iterable[CommandCall], reference: Mapping[str, Any]
) -> set[str]:
    """The names (as the reference spells them) of the Exchange cmdlets among the calls."""
    by_name = {name.lower(): name for name in reference}
    return {
        by_name[call.name.lower()] for call in calls if call.name.lower() in by_name
    }


def _walk(node: Node, stop_at: str | None = None) -> Iterator[Node]:
    """Depth-first over `node`; descendants of type `stop_at` (and their subtrees) are left out."""
    yield node
    for child in node.children:
        if stop_at is not None and child.type == stop_at:
            continue
        yield from _walk(child, stop_at)


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")
