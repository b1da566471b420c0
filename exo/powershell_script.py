"""Reading PowerShell scripts without PowerShell: tree-sitter-powershell parses them, nothing runs.

The program uses it to refuse, at preview, a runbook that does not parse, runbook parameters in config that the runbook does not
declare, and a runbook whose declared Entra roles the Automation account's identity does not hold; the tests build on it to check
what scripts call (tests/powershell.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser


@dataclass(frozen=True)
class SyntaxProblem:
    """A node tree-sitter could not fit into the grammar (ERROR) or had to invent (MISSING)."""

    kind: str
    line: int
    column: int
    text: str

    def __str__(self) -> str:
        return f"{self.kind} at line {self.line}, column {self.column}: {self.text!r}"


@dataclass(frozen=True)
class ScriptParameter:
    """A parameter from the script's own `param()` block."""

    name: str
    type_name: str | None
    mandatory: bool
    default: str | None
    """Source text of the default value (`$false`, `'O365Default'`), or None when there is none."""
    attributes: tuple[str, ...]
    """Attribute names other than the type, e.g. ("Parameter", "ValidatePattern")."""

    @property
    def has_default(self) -> bool:
        return self.default is not None


@cache
def parser() -> Parser:
    return Parser(Language(tree_sitter_powershell.language()))


def text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", errors="replace")


def walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def syntax_problems(root: Node) -> list[SyntaxProblem]:
    if not root.has_error:
        return []  # tree-sitter keeps this flag for the whole tree: no walk needed for a clean script
    problems: list[SyntaxProblem] = []
    for node in walk(root):
        if node.is_error or node.type == "ERROR":
            kind = "ERROR"
        elif node.is_missing:
            kind = "MISSING"
        else:
            continue
        snippet = text(node).splitlines()[0][:60] if text(node) else node.type
        problems.append(SyntaxProblem(kind, node.start_point.row + 1, node.start_point.column + 1, snippet))
    return problems


def _attribute_name(attribute: Node) -> str | None:
    name = next((c for c in attribute.children if c.type == "attribute_name"), None)
    return text(name) if name is not None else None


def _is_mandatory(attribute: Node) -> bool:
    """[Parameter(Mandatory)], [Parameter(Mandatory = $true)]; not [Parameter(Mandatory = $false)]."""
    arguments = next((c for c in attribute.children if c.type == "attribute_arguments"), None)
    if arguments is None:
        return False
    for argument in arguments.children:
        if argument.type != "attribute_argument":
            continue
        key = next((c for c in argument.children if c.type == "simple_name"), None)
        if key is None or text(key).lower() != "mandatory":
            continue
        value = [c for c in argument.children if c.type not in ("simple_name", "=")]
        if not value:
            return True
        return text(value[0]).strip().lower() in ("$true", "1")
    return False


def script_parameters(root: Node) -> list[ScriptParameter]:
    """Parameters of the script's own param() block (not those of its functions)."""
    return parameters_of(next((c for c in root.children if c.type == "param_block"), None))


def function_parameters(function: Node) -> list[ScriptParameter]:
    """`function F { param(...) }` or `function F($a, $b) { }`."""
    declaration = next(
        (c for c in function.children if c.type == "function_parameter_declaration"),
        None,
    )
    if declaration is not None:
        return parameters_of(declaration)
    body = next((c for c in function.children if c.type == "script_block"), None)
    return parameters_of(next((c for c in body.children if c.type == "param_block"), None) if body else None)


def parameters_of(block: Node | None) -> list[ScriptParameter]:
    if block is None:
        return []
    parameter_list = next((c for c in block.children if c.type == "parameter_list"), None)
    if parameter_list is None:
        return []
    result: list[ScriptParameter] = []
    for parameter in parameter_list.children:
        if parameter.type != "script_parameter":
            continue
        variable = next(c for c in parameter.children if c.type == "variable")
        type_name: str | None = None
        mandatory = False
        attributes: list[str] = []
        attribute_list = next((c for c in parameter.children if c.type == "attribute_list"), None)
        for attribute in attribute_list.children if attribute_list is not None else []:
            type_literal = next((c for c in attribute.children if c.type == "type_literal"), None)
            if type_literal is not None:
                type_name = text(type_literal).strip("[]")
                continue
            name = _attribute_name(attribute)
            if name is None:
                continue
            attributes.append(name)
            if name.lower() == "parameter" and _is_mandatory(attribute):
                mandatory = True
        default = next(
            (c for c in parameter.children if c.type == "script_parameter_default"),
            None,
        )
        result.append(
            ScriptParameter(
                name=text(variable).lstrip("$"),
                type_name=type_name,
                mandatory=mandatory,
                default=text(default).lstrip("=").strip() if default is not None else None,
                attributes=tuple(attributes),
            )
        )
    return result


ROLES_HEADER_PREFIX = "# exo-automation:roles"
"""A runbook's least-privilege declaration, one comment line of JSON:
`# exo-automation:roles {"anyOf": [["Role A"], ["Role B", "Role C"]], "reason": "why"}` -- the identity must hold every role of at
least one alternative. A comment, so PowerShell ignores it and Automation runs the file unchanged."""
_ROLES_HEADER = re.compile(r"^#\s*exo-automation:roles\s+(?P<json>\{.*\})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class RoleDeclaration:
    """The Entra roles a runbook declares it needs: any one alternative, each a set of roles held together."""

    any_of: tuple[tuple[str, ...], ...]
    reason: str


def read_role_declaration(source: str) -> RoleDeclaration | None:
    """The runbook's roles line, or None when it has none. Raises ValueError when the line is there but malformed."""
    matches = list(_ROLES_HEADER.finditer(source))
    if not matches:
        if ROLES_HEADER_PREFIX.split()[1] in source:
            raise ValueError(f"has an exo-automation:roles line that is not '{ROLES_HEADER_PREFIX} {{...JSON...}}'")
        return None
    if len(matches) > 1:
        raise ValueError("has more than one exo-automation:roles line")
    try:
        data = json.loads(matches[0]["json"])
    except json.JSONDecodeError as error:
        raise ValueError(f"exo-automation:roles is not valid JSON: {error}") from None
    any_of = data.get("anyOf") if isinstance(data, dict) else None
    reason = data.get("reason") if isinstance(data, dict) else None
    if (
        not isinstance(any_of, list)
        or not any_of
        or not all(isinstance(group, list) and group and all(isinstance(role, str) for role in group) for group in any_of)
    ):
        raise ValueError('exo-automation:roles needs "anyOf": a non-empty list of non-empty lists of role names')
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError('exo-automation:roles needs a "reason" saying why these roles')
    return RoleDeclaration(tuple(tuple(group) for group in any_of), reason)


@dataclass(frozen=True)
class ParsedScript:
    """What the program needs to know of a runbook: whether it parses, its parameters, and its roles line (raw, checked later)."""

    problems: tuple[SyntaxProblem, ...]
    parameters: tuple[ScriptParameter, ...]
    text: str


@cache
def read_script(source: bytes) -> ParsedScript:
    """Parse a script (UTF-8, a byte order mark allowed); the same content is parsed once."""
    if source.startswith(b"\xef\xbb\xbf"):
        source = source[3:]
    root = parser().parse(source).root_node
    return ParsedScript(tuple(syntax_problems(root)), tuple(script_parameters(root)), source.decode("utf-8", errors="replace"))
