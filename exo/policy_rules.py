"""An evaluator of Azure Policy rule conditions, enough for the Azure Landing Zones rules this program is held to.

It reads a rule's `if` (and a DeployIfNotExists rule's `existenceCondition`) the way Azure Policy reads a request: `field` conditions
on aliases of the resource in the request, `value` conditions on template expressions, `count` over array aliases and over
literal arrays, and `allOf`/`anyOf`/`not`. A property the request does not carry is *absent*: `exists: false` holds for it,
`notEquals`/`notIn` hold, and every other comparison fails (azure-docs articles/governance/policy/concepts/
definition-structure-policy-rule.md).
String comparisons ignore case, as Azure Policy's do. Expressions support the functions the carried rules use; any other
function is an error, so a new rule with an unsupported expression fails its test instead of passing silently.

Stdlib only: the conformance tests and the policy pack load it without Pulumi.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class Absent:
    """A property the request does not carry."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT = Absent()


class UnsupportedExpressionError(ValueError):
    """A condition or expression this evaluator does not implement."""


@dataclass
class Request:
    """One resource as Azure Policy sees it in a PUT: its ARM type, its body, and what the request context says."""

    type: str
    """ARM resource type, e.g. Microsoft.Storage/storageAccounts (data-plane types as Azure Policy names them)."""
    body: dict[str, Any]
    """name, id, location, tags, identity, sku, kind at the top; everything else under `properties` (data-plane types flat)."""
    api_version: str
    now: dt.datetime
    tenant_id: str = "00000000-0000-0000-0000-000000000000"
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Alias -> body path, where an alias is not the resource type followed by its property path under `properties`."""

    def path_of(self, alias: str) -> str:
        if alias in self.aliases:
            return self.aliases[alias]
        if alias.lower() in ("name", "id", "type", "location", "kind") or alias.lower().startswith(("tags", "identity.", "sku.")):
            return alias
        prefix = self.type + "/"
        if not alias.lower().startswith(prefix.lower()):
            raise UnsupportedExpressionError(f"alias {alias} does not belong to {self.type}")
        rest = alias[len(prefix) :]
        top = rest.split(".")[0].split("[")[0]
        if top in ("identity", "sku", "tags", "location", "kind", "name") and "properties." not in rest:
            return rest
        return rest if self.type.startswith("Microsoft.KeyVault.Data/") else f"properties.{rest}"


def _walk(value: Any, parts: Sequence[str]) -> list[Any] | Any:
    """The value at a dotted path; a `[*]` part fans out into a list of element values (absent elements dropped)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    many = head.endswith("[*]")
    key = head[:-3] if many else head
    if not isinstance(value, dict):
        return [] if many else ABSENT
    found = next((v for k, v in value.items() if k.lower() == key.lower()), ABSENT)
    if many:
        if not isinstance(found, list):
            return []
        out: list[Any] = []
        for element in found:
            inner = _walk(element, rest)
            if isinstance(inner, list) and any(p.endswith("[*]") for p in rest):
                out.extend(inner)
            elif inner is not ABSENT:
                out.append(inner)
        return out
    if found is ABSENT:
        return ABSENT
    return _walk(found, rest)


def _split_path(path: str) -> list[str]:
    """networkAcls.ipRules[*].value -> networkAcls, ipRules[*], value."""
    return [part for part in path.split(".") if part]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T", value):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _order(a: Any, b: Any) -> tuple[Any, Any]:
    """Comparable forms of two values: datetimes, numbers, else case-folded text."""
    ta, tb = _as_time(a), _as_time(b)
    if ta is not None and tb is not None:
        return ta, tb
    if isinstance(a, int | float) and not isinstance(a, bool) and isinstance(b, int | float) and not isinstance(b, bool):
        return a, b
    return _text(a).lower(), _text(b).lower()


def _truthy(value: Any) -> bool:
    return _text(value).lower() == "true"


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, x: v is not ABSENT and _text(v).lower() == _text(x).lower(),
    "notEquals": lambda v, x: v is ABSENT or _text(v).lower() != _text(x).lower(),
    "in": lambda v, x: v is not ABSENT and _text(v).lower() in {_text(i).lower() for i in x},
    "notIn": lambda v, x: v is ABSENT or _text(v).lower() not in {_text(i).lower() for i in x},
    "exists": lambda v, x: (v is not ABSENT) == _truthy(x),
    "like": lambda v, x: v is not ABSENT and fnmatch.fnmatchcase(_text(v).lower(), _text(x).lower()),
    "notLike": lambda v, x: v is ABSENT or not fnmatch.fnmatchcase(_text(v).lower(), _text(x).lower()),
    "contains": lambda v, x: v is not ABSENT and _text(x).lower() in _text(v).lower(),
    "notContains": lambda v, x: v is ABSENT or _text(x).lower() not in _text(v).lower(),
    "less": lambda v, x: v is not ABSENT and _order(v, x)[0] < _order(v, x)[1],
    "lessOrEquals": lambda v, x: v is not ABSENT and _order(v, x)[0] <= _order(v, x)[1],
    "greater": lambda v, x: v is not ABSENT and _order(v, x)[0] > _order(v, x)[1],
    "greaterOrEquals": lambda v, x: v is not ABSENT and _order(v, x)[0] >= _order(v, x)[1],
}


class Evaluator:
    """Evaluates conditions and expressions against one request; `current` holds the elements of the counts being walked."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.current: dict[str, Any] = {}

    # -- fields -----------------------------------------------------------------------------------------------------------------
    def field(self, alias: str) -> Any:
        if alias.lower() == "type":
            return self.request.type
        for name, value in self.current.items():
            if alias.lower().startswith(name.lower()):
                # Inside a count over `name`: the element's own value, or a path below it.
                rest = alias[len(name) :].lstrip(".")
                return value if not rest else _walk(value, _split_path(rest))
        return _walk(self.request.body, _split_path(self.request.path_of(alias)))

    # -- conditions -------------------------------------------------------------------------------------------------------------
    def holds(self, condition: Mapping[str, Any]) -> bool:
        if "allOf" in condition:
            return all(self.holds(c) for c in condition["allOf"])
        if "anyOf" in condition:
            return any(self.holds(c) for c in condition["anyOf"])
        if "not" in condition:
            return not self.holds(condition["not"])
        operator = next((k for k in condition if k in OPERATORS), None)
        if operator is None:
            raise UnsupportedExpressionError(f"no operator in {condition}")
        expected = self.expression(condition[operator])
        if "count" in condition:
            return OPERATORS[operator](self.count(condition["count"]), expected)
        if "value" in condition:
            return OPERATORS[operator](self.expression(condition["value"]), expected)
        if "field" in condition:
            alias = condition["field"]
            value = self.field(alias)
            if "[*]" in alias and not any(alias.lower().startswith(n.lower()) for n in self.current):
                # An array alias outside a count: true when every element meets the condition (none: the array is absent).
                elements = value if isinstance(value, list) else []
                return all(OPERATORS[operator](e, expected) for e in elements) if elements else OPERATORS[operator](ABSENT, expected)
            return OPERATORS[operator](value, expected)
        raise UnsupportedExpressionError(f"no field, value or count in {condition}")

    def count(self, spec: Mapping[str, Any]) -> int:
        if "field" in spec:
            alias = spec["field"]
            elements = self.field(alias)
            elements = elements if isinstance(elements, list) else []
            name = alias
        else:
            elements = self.expression(spec["value"])
            name = spec["name"]
        where = spec.get("where")
        if where is None:
            return len(elements)
        total = 0
        for element in elements:
            self.current[name] = element
            try:
                total += self.holds(where)
            finally:
                del self.current[name]
        return total

    # -- template expressions ---------------------------------------------------------------------------------------------------
    def expression(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("[") and not value.startswith("[["):
            parser = _Parser(value[1:-1], self)
            result = parser.parse()
            return result
        return value


def _member(value: Any, member: str) -> Any:
    return value.get(member, ABSENT) if isinstance(value, dict) else ABSENT


def _index(value: Any, position: Any) -> Any:
    return value[position] if isinstance(value, list) and -len(value) <= position < len(value) else ABSENT


_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),.\[\]]))")


class _Parser:
    """Recursive descent over an ARM template expression: literals, function calls, `.property` and `[index]`."""

    def __init__(self, text: str, evaluator: Evaluator) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                if text[position:].strip() == "":
                    break
                raise UnsupportedExpressionError(f"cannot read expression {text!r} at {position}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0
        self.evaluator = evaluator

    def parse(self) -> Any:
        node = self.term()
        if self.index != len(self.tokens):
            raise UnsupportedExpressionError(f"trailing tokens in expression: {self.tokens[self.index :]}")
        return node()

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise UnsupportedExpressionError(f"expected {expected!r}, found {token[1]!r}")
        self.index += 1
        return token

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def term(self) -> Callable[[], Any]:
        """The expression at the cursor as a thunk: `if` evaluates only the branch it takes, as ARM's does."""
        kind, text = self.take()
        node: Callable[[], Any]
        if kind == "string":
            literal: Any = text[1:-1].replace("''", "'")
            node = lambda: literal  # noqa: E731
        elif kind == "number":
            number = int(text)
            node = lambda: number  # noqa: E731
        elif kind == "name":
            if text in ("true", "false") and self.peek() != "(":
                flag = text == "true"
                node = lambda: flag  # noqa: E731
            else:
                self.take("(")
                arguments: list[Callable[[], Any]] = []
                while self.peek() != ")":
                    arguments.append(self.term())
                    if self.peek() == ",":
                        self.take(",")
                self.take(")")
                name = text
                if name.lower() == "if":
                    node = lambda: arguments[1]() if arguments[0]() else arguments[2]()  # noqa: E731
                else:
                    node = lambda: self.call(name, [a() for a in arguments])  # noqa: E731
        else:
            raise UnsupportedExpressionError(f"unexpected {text!r}")
        while self.peek() in (".", "["):
            inner = node
            if self.take()[1] == ".":
                member = self.take()[1]
                node = lambda inner=inner, member=member: _member(inner(), member)  # noqa: E731
            else:
                position = self.term()
                self.take("]")
                node = lambda inner=inner, position=position: _index(inner(), position())  # noqa: E731
        return node

    def call(self, name: str, arguments: list[Any]) -> Any:
        request = self.evaluator.request
        match name.lower():
            case "field":
                return self.evaluator.field(arguments[0])
            case "current":
                key = arguments[0]
                for current, value in self.evaluator.current.items():
                    if key.lower().startswith(current.lower()):
                        rest = key[len(current) :].lstrip(".")
                        return value if not rest else _walk(value, _split_path(rest))
                raise UnsupportedExpressionError(f"current({key!r}) outside a count over it")
            case "requestcontext":
                return {"apiVersion": request.api_version}
            case "subscription":
                return {"tenantId": request.tenant_id}
            case "utcnow":
                return request.now.strftime("%Y-%m-%dT%H:%M:%SZ")
            case "adddays":
                moment = _as_time(arguments[0])
                if moment is None:
                    raise UnsupportedExpressionError(f"addDays of {arguments[0]!r}")
                return (moment + dt.timedelta(days=int(arguments[1]))).strftime("%Y-%m-%dT%H:%M:%SZ")
            case "true":
                return True
            case "false":
                return False
            case "and":
                return all(arguments)
            case "or":
                return any(arguments)
            case "not":
                return not arguments[0]
            case "empty":
                return arguments[0] is ABSENT or arguments[0] in ("", None) or arguments[0] == [] or arguments[0] == {}
            case "coalesce":
                return next((a for a in arguments if a is not ABSENT and a is not None), ABSENT)
            case "string":
                return "" if arguments[0] is ABSENT else _text(arguments[0])
            case "length":
                return 0 if arguments[0] is ABSENT else len(arguments[0])
            case "split":
                return [] if arguments[0] is ABSENT else str(arguments[0]).split(arguments[1])
            case "greaterorequals":
                a, b = _order(arguments[0], arguments[1])
                return a >= b
            case "iprangecontains":
                outer, inner = ipaddress.ip_network(arguments[0], strict=False), ipaddress.ip_network(arguments[1], strict=False)
                return outer.version == inner.version and inner.network_address in outer and inner.broadcast_address in outer
            case _:
                raise UnsupportedExpressionError(f"function {name}() is not implemented")
