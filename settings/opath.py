"""A parser for the OPATH recipient filters a management scope takes (New-ManagementScope -RecipientRestrictionFilter).

Exchange parses the filter only when the reconciler runs New-ManagementScope, hours after `pulumi up`; a typo there would fail that
job. Parsing it here refuses the config at preview instead. Grammar (office-docs-powershell exchange/docs-conceptual/
recipient-filters.md, "Additional OPATH syntax information"):

    filter     := or
    or         := and ( "-or" and )*
    and        := unary ( "-and" unary )*
    unary      := "-not" unary | "(" filter ")" | comparison
    comparison := Property operator value
    operator   := -eq | -ne | -like | -notlike | -gt | -lt | -ge | -le
    value      := 'single quoted' | "double quoted" | number | $null | $true | $false

Property names are checked against the documented filterable properties (facts.RECIPIENT_FILTER_PROPERTIES). Variables are refused:
the reconciler passes the filter verbatim, nothing would expand them. A quote inside a single-quoted value is doubled ('O''Brien').
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from exo import facts

_SYSTEM_VALUES = ("$null", "$true", "$false")


class OpathError(ValueError):
    """The filter does not parse; `position` is the 0-based character offset of the problem."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Comparison:
    property: str
    """As documented (canonical casing)."""
    operator: str
    value: str
    """Source text of the value, quotes included."""


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Logical:
    operator: str
    """-and or -or."""
    operands: tuple[Node, ...]


Node = Comparison | Not | Logical

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<operator>-[A-Za-z]+)
  | (?P<single>'(?:[^']|'')*')
  | (?P<double>"(?:[^"`]|`.|"")*")
  | (?P<system>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9]+(?:\.[0-9]+)?\b)
  | (?P<word>[A-Za-z][A-Za-z0-9]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            snippet = text[position : position + 10]
            if text[position] in "'\"":
                raise OpathError(f"unterminated quoted value {snippet!r}", position)
            raise OpathError(f"unexpected {snippet!r}", position)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), position))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, properties: Collection[str]) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0
        self.properties = {name.lower(): name for name in properties}

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise OpathError("the filter ends too early", len(self.text))
        self.index += 1
        return token

    def at_operator(self, *names: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "operator" and token.text.lower() in names

    def parse(self) -> Node:
        if not self.tokens:
            raise OpathError("the filter is empty", 0)
        node = self.logical("-or")
        token = self.peek()
        if token is not None:
            raise OpathError(f"unexpected {token.text!r} after a complete condition (missing -and/-or?)", token.position)
        return node

    def logical(self, operator: str) -> Node:
        operands = [self.logical("-and") if operator == "-or" else self.unary()]
        while self.at_operator(operator):
            self.take()
            operands.append(self.logical("-and") if operator == "-or" else self.unary())
        return operands[0] if len(operands) == 1 else Logical(operator, tuple(operands))

    def unary(self) -> Node:
        token = self.take()
        if token.kind == "operator" and token.text.lower() == "-not":
            return Not(self.unary())
        if token.kind == "lparen":
            node = self.logical("-or")
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise OpathError("missing ')'", closing.position if closing else len(self.text))
            self.take()
            return node
        if token.kind != "word":
            raise OpathError(f"expected a property name, found {token.text!r}", token.position)
        return self.comparison(token)

    def comparison(self, name: _Token) -> Comparison:
        canonical = self.properties.get(name.text.lower())
        if canonical is None:
            raise OpathError(
                f"{name.text!r} is not a filterable recipient property (recipientfilter-properties.md lists the ones Exchange Online "
                "accepts, for example Department, CustomAttribute1, RecipientTypeDetails)",
                name.position,
            )
        operator = self.take()
        if operator.kind != "operator" or operator.text.lower() not in facts.OPATH_COMPARISON_OPERATORS:
            raise OpathError(
                f"expected a comparison operator ({', '.join(facts.OPATH_COMPARISON_OPERATORS)}) after {name.text}, "
                f"found {operator.text!r}",
                operator.position,
            )
        value = self.take()
        if value.kind == "system" and value.text.lower() not in _SYSTEM_VALUES:
            raise OpathError(
                f"{value.text} is a variable; nothing expands it when the reconciler applies the filter: write the value itself",
                value.position,
            )
        if value.kind not in ("single", "double", "system", "number", "word"):
            raise OpathError(f"expected a value after {operator.text}, found {value.text!r}", value.position)
        if value.kind == "word":
            raise OpathError(f"quote the text value {value.text!r} ('{value.text}')", value.position)
        if "$" in value.text and value.kind == "double":
            raise OpathError("a double-quoted value with $ would be expanded by PowerShell; use single quotes", value.position)
        if value.kind == "system" and value.text.lower() == "$null" and operator.text.lower() not in ("-eq", "-ne"):
            raise OpathError(f"$null compares only with -eq or -ne, not {operator.text}", operator.position)
        if operator.text.lower() in ("-like", "-notlike") and value.kind not in ("single", "double"):
            raise OpathError(f"{operator.text} compares text: quote the value", value.position)
        return Comparison(canonical, operator.text.lower(), value.text)


def parse_filter(text: str, properties: Collection[str] = facts.RECIPIENT_FILTER_PROPERTIES) -> Node:
    """Parse an OPATH recipient filter, or raise OpathError saying where and why it does not parse."""
    return _Parser(text, properties).parse()


def properties_of(node: Node) -> set[str]:
    """The recipient properties a parsed filter reads."""
    if isinstance(node, Comparison):
        return {node.property}
    if isinstance(node, Not):
        return properties_of(node.operand)
    return set().union(*(properties_of(operand) for operand in node.operands))
