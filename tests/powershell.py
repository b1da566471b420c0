"""Static reading of PowerShell scripts with tree-sitter-powershell.

Nothing here runs PowerShell: the scripts are parsed with the tree-sitter grammar from PyPI, and tests ask the parsed
script what it declares and calls. Used by the tests of the runbooks and of the Windows host scripts.

Known grammar gaps of tree-sitter-powershell 0.26, reported as syntax errors in valid PowerShell (write around them):
- a statement that starts with ForEach-Object, Do-... or Data-... (a keyword followed by '-'): pipe into it or use foreach;
- a list of bare words as an argument (`-Function Get-A, Get-B`): quote them;
- `$x = if (...) { } <newline> else { }`: keep `else` on the closing brace's line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tree_sitter import Node

from exo.powershell_script import (
    ScriptParameter,
    SyntaxProblem,
    function_parameters,
    parser,
    script_parameters,
    syntax_problems,
    text,
    walk,
)

# Parameters every cmdlet accepts (about_CommonParameters). The Exchange reference lists only cmdlet-specific ones,
# plus WhatIf/Confirm where the cmdlet supports ShouldProcess.
COMMON_PARAMETERS: frozenset[str] = frozenset(
    {
        "Debug",
        "ErrorAction",
        "ErrorVariable",
        "InformationAction",
        "InformationVariable",
        "OutBuffer",
        "OutVariable",
        "PipelineVariable",
        "ProgressAction",
        "Verbose",
        "WarningAction",
        "WarningVariable",
    }
)


@dataclass(frozen=True)
class CommandCall:
    """One command invocation: its name as written and the `-Parameter` names given to it (without the dash)."""

    name: str
    parameters: tuple[str, ...]
    line: int
    splatted: bool
    """True when a hashtable or array is splatted (`@args`): those parameter names are invisible here."""
    in_finally: bool
    """True when the call sits (at any depth) inside a `finally { }` block."""
    in_function: str | None
    """Name of the function whose body holds the call, or None at script level."""
    values: tuple[tuple[str, str | None], ...] = ()
    """Each `-Parameter` with the source text of the value that follows it (None for a switch or a parameter followed by another)."""
    streamed: bool = False
    """The call's output flows on through a pipeline (`Get-X | ForEach-Object {...}`) and is not held whole: not assigned, not
    wrapped in @() / () / $(), and not in a script block handed to a function that collects (see COLLECTING_FUNCTIONS)."""
    enclosing_commands: tuple[str, ...] = ()
    """Names of the commands whose script-block arguments hold this call, innermost first (`Invoke-X -Read { Get-Y }`: Get-Y is
    enclosed by Invoke-X; `Get-A | ForEach-Object { Get-B }`: Get-B by ForEach-Object)."""
    captured: bool = False
    """What the call writes does not reach the output stream of its function (or of the script): it is assigned, wrapped in @() /
    () / $(), piped into another command, or sits in a script block whose command does one of those (or collects)."""

    def has_parameter(self, name: str) -> bool:
        """Parameter names are case-insensitive in PowerShell."""
        return name.lower() in (p.lower() for p in self.parameters)

    def value_of(self, name: str) -> str | None:
        """Source text of the value given to `-name` (quotes stripped), or None."""
        found = next((v for p, v in self.values if p.lower() == name.lower()), None)
        return found.strip("'\"") if found is not None else None


@dataclass(frozen=True)
class Assignment:
    """`$Variable = value` (also `+=` and friends) to a plain variable, not to a member or index."""

    variable: str
    operator: str
    value: str
    line: int
    in_function: str | None


@dataclass(frozen=True)
class PowerShellScript:
    """What a parsed script declares and calls."""

    path: Path | None
    problems: tuple[SyntaxProblem, ...]
    commands: tuple[CommandCall, ...]
    parameters: tuple[ScriptParameter, ...]
    functions: tuple[str, ...]
    function_parameters: dict[str, tuple[ScriptParameter, ...]]
    """Declared parameters of each function the script defines, by function name."""
    assignments: tuple[Assignment, ...]

    def calls(self, name: str) -> list[CommandCall]:
        """Every invocation of `name` (case-insensitive)."""
        return [c for c in self.commands if c.name.lower() == name.lower()]

    def parameter(self, name: str) -> ScriptParameter | None:
        return next((p for p in self.parameters if p.name.lower() == name.lower()), None)


# Functions of the runbooks' shared block that run a script block and return its whole output as an array.
COLLECTING_FUNCTIONS = frozenset({"invoke-exchangecall"})
_COLLECTING_NODES = frozenset({"assignment_expression", "array_expression", "parenthesized_expression", "sub_expression"})


def _is_streamed(node: Node) -> bool:
    chain = node.parent
    if chain is None or chain.type != "pipeline_chain":
        return False
    commands = [c for c in chain.children if c.type == "command"]
    if len(commands) < 2 or commands[-1] == node:
        return False
    parent = chain.parent
    while parent is not None:
        if parent.type in _COLLECTING_NODES:
            return False
        if parent.type == "script_block":
            owner = parent.parent
            while owner is not None and owner.type != "command":
                owner = owner.parent
            name = owner.child_by_field_name("command_name") if owner is not None else None
            return not (name is not None and text(name).lower() in COLLECTING_FUNCTIONS)
        parent = parent.parent
    return True


def _is_captured(node: Node) -> bool:
    chain = node.parent
    if chain is not None and chain.type == "pipeline_chain":
        commands = [c for c in chain.children if c.type == "command"]
        if commands and commands[-1] != node:
            return True
    parent = chain.parent if chain is not None else None
    while parent is not None:
        if parent.type in _COLLECTING_NODES:
            return True
        if parent.type == "function_statement":
            return False
        if parent.type == "script_block" and parent.parent is not None and parent.parent.type != "function_statement":
            owner = parent.parent
            while owner is not None and owner.type != "command":
                owner = owner.parent
            if owner is None:
                return False
            name = owner.child_by_field_name("command_name")
            if name is not None and text(name).lower() in COLLECTING_FUNCTIONS:
                return True
            return _is_captured(owner)
        parent = parent.parent
    return False


def _enclosing(node: Node) -> tuple[bool, str | None]:
    """Whether `node` is inside a finally block, and the name of the nearest enclosing function."""
    in_finally = False
    function: str | None = None
    parent = node.parent
    while parent is not None:
        if parent.type == "finally_clause":
            in_finally = True
        if parent.type == "function_statement" and function is None:
            name = next((c for c in parent.children if c.type == "function_name"), None)
            function = text(name) if name is not None else "?"
        parent = parent.parent
    return in_finally, function


def _enclosing_commands(node: Node) -> tuple[str, ...]:
    names: list[str] = []
    parent = node.parent
    while parent is not None and parent.type != "function_statement":
        if parent.type == "script_block":
            owner = parent.parent
            while owner is not None and owner.type not in ("command", "function_statement"):
                owner = owner.parent
            if owner is None or owner.type == "function_statement":
                break
            name = owner.child_by_field_name("command_name")
            if name is not None:
                names.append(text(name))
            parent = owner
        parent = parent.parent
    return tuple(names)


def _command_call(node: Node) -> CommandCall | None:
    name_node = node.child_by_field_name("command_name")
    if name_node is None or text(name_node).startswith("$"):
        # `& $scriptBlock` / `. .\file.ps1`: no static name to check.
        return None
    parameters: list[str] = []
    values: list[tuple[str, str | None]] = []
    splatted = False
    elements = node.child_by_field_name("command_elements")
    if elements is not None:
        for element in elements.children:
            if element.type == "command_parameter":
                # "-Name" or "-Name:" when the value is glued on with a colon.
                parameters.append(text(element).lstrip("-").rstrip(":"))
                values.append((parameters[-1], None))
                continue
            if element.type == "command_argument_sep":
                continue
            if values and values[-1][1] is None:
                values[-1] = (values[-1][0], text(element))
            if element.type == "array_literal_expression" and text(element).startswith("@"):
                splatted = splatted or any(n.type == "variable" and text(n).startswith("@") for n in walk(element))
    in_finally, function = _enclosing(node)
    return CommandCall(
        name=text(name_node),
        parameters=tuple(parameters),
        line=node.start_point.row + 1,
        splatted=splatted,
        in_finally=in_finally,
        in_function=function,
        values=tuple(values),
        streamed=_is_streamed(node),
        enclosing_commands=_enclosing_commands(node),
        captured=_is_captured(node),
    )


def _assignment(node: Node) -> Assignment | None:
    target = next((c for c in node.children if c.type == "left_assignment_expression"), None)
    operator = next((c for c in node.children if c.type == "assignement_operator"), None)  # sic, grammar spelling
    value = node.child_by_field_name("value")
    if target is None or operator is None or value is None:
        return None
    # Only a bare variable on the left: `$a.b = 1` or `$a[0] = 1` are not assignments *to* $a.
    leaves = [n for n in walk(target) if n.named_child_count == 0 or n.type == "variable"]
    variables = [n for n in leaves if n.type == "variable"]
    if len(variables) != 1 or any(n.type in ("member_access", "element_access") for n in walk(target)):
        return None
    return Assignment(
        variable=text(variables[0]).lstrip("$"),
        operator=text(operator),
        value=text(value),
        line=node.start_point.row + 1,
        in_function=_enclosing(node)[1],
    )


def parse_source(source: str | bytes, path: Path | None = None) -> PowerShellScript:
    """Parse PowerShell source text."""
    data = source.encode("utf-8") if isinstance(source, str) else source
    root = parser().parse(data).root_node
    commands = [call for node in walk(root) if node.type == "command" if (call := _command_call(node)) is not None]
    functions = [
        text(name) for node in walk(root) if node.type == "function_statement" for name in node.children if name.type == "function_name"
    ]
    assignments = [a for node in walk(root) if node.type == "assignment_expression" if (a := _assignment(node))]
    parameters_by_function = {
        text(name): tuple(function_parameters(node))
        for node in walk(root)
        if node.type == "function_statement"
        for name in node.children
        if name.type == "function_name"
    }
    return PowerShellScript(
        path=path,
        problems=tuple(syntax_problems(root)),
        commands=tuple(commands),
        parameters=tuple(script_parameters(root)),
        functions=tuple(functions),
        function_parameters=parameters_by_function,
        assignments=tuple(assignments),
    )


def parse_file(path: Path) -> PowerShellScript:
    """Parse a .ps1 file (UTF-8, with or without a byte order mark)."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return parse_source(data, path)


# --- Exchange cmdlet reference ------------------------------------------------------------------------------------

ExchangeReference = Mapping[str, Mapping[str, Any]]
"""tests/exchange_reference.py's load_exchange_reference: cmdlet -> {"name", "exo", "applicable", "params" (None: listed by name only)}."""


def exchange_usage_problems(
    script: PowerShellScript,
    reference: ExchangeReference,
    other_commands: Iterable[str] | None = (),
) -> list[str]:
    """Every command the script runs must be an Exchange Online cmdlet from the reference, a function the script
    defines, or one of `other_commands` (PowerShell's own cmdlets); every parameter given to an Exchange cmdlet must
    exist for Exchange Online (or be a common parameter), and Exchange cmdlets must not be splatted (the parameter
    names would be invisible to this check). `other_commands=None` checks only the commands the reference knows
    (scripts that mostly call Windows cmdlets). Returns readable problems; empty means clean."""
    check_unknown = other_commands is not None
    known_elsewhere = {name.lower() for name in other_commands or ()} | {name.lower() for name in script.functions}
    common = {name.lower() for name in COMMON_PARAMETERS}
    problems: list[str] = []
    for call in script.commands:
        where = f"line {call.line}: {call.name}"
        entry = reference.get(call.name.lower())
        if entry is None:
            if check_unknown and call.name.lower() not in known_elsewhere:
                problems.append(
                    f"{where}: not an Exchange cmdlet in the reference, not defined in the script, and not a known PowerShell cmdlet"
                )
            continue
        if not entry.get("exo"):
            applies = f" (applies to: {entry['applicable']})" if entry["applicable"] else ""
            problems.append(f"{where}: not available in Exchange Online{applies}")
            continue
        if call.splatted:
            problems.append(f"{where}: splatted arguments hide parameter names; pass Exchange parameters explicitly")
        if entry["params"] is None:
            problems.append(f"{where}: the trimmed reference lists no parameters for it: rebuild it (scripts/trim-exo-cmdlets)")
            continue
        parameters: Mapping[str, bool] = {name.lower(): ok for name, ok in entry["params"].items()}
        for parameter in call.parameters:
            key = parameter.lower()
            if key in common:
                continue
            if key not in parameters:
                problems.append(f"{where}: unknown parameter -{parameter}")
            elif not parameters[key]:
                problems.append(f"{where}: parameter -{parameter} does not apply to Exchange Online")
    return problems


def exchange_cmdlets(script: PowerShellScript, reference: ExchangeReference) -> set[str]:
    """The Exchange cmdlets the script calls, spelled as the reference spells them."""
    return {str(reference[call.name.lower()]["name"]) for call in script.commands if call.name.lower() in reference}


def local_function_call_problems(script: PowerShellScript) -> list[str]:
    """Calls to functions the script defines must use parameters those functions declare (plus common parameters)."""
    declared = {name.lower(): {p.name.lower() for p in parameters} for name, parameters in script.function_parameters.items()}
    common = {name.lower() for name in COMMON_PARAMETERS}
    problems: list[str] = []
    for call in script.commands:
        names = declared.get(call.name.lower())
        if names is None:
            continue
        for parameter in call.parameters:
            if parameter.lower() not in names | common:
                problems.append(f"line {call.line}: {call.name}: no parameter -{parameter}")
    return problems


def imported_modules(path: Path) -> list[Path]:
    """The repository's module files a script imports from its own folder (`Import-Module (Join-Path $PSScriptRoot ... 'X.psm1')`)."""
    return [path.parent / name for name in re.findall(r"-ChildPath '([\w.-]+\.psm1)'", path.read_text(encoding="utf-8"))]


def parse_with_imported_modules(path: Path) -> PowerShellScript:
    """The script and the modules it imports, parsed as one text: what is defined and called when it runs (line numbers are
    the concatenation's; use parse_file for positions in the script)."""
    texts = [path.read_text(encoding="utf-8"), *(module.read_text(encoding="utf-8") for module in imported_modules(path))]
    return parse_source("\n".join(texts), path)
