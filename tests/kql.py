"""A small evaluator for the subset of KQL the program's alert rules, saved functions and workbook use (exo/monitoring.py).

Written for these tests from the Kusto documentation's semantics, not a port of Kusto: statements (`let` of scalars and tables, a
final tabular expression), sources (a table, a let, a saved function, datatable, range, union, toscalar), the operators where,
extend, project, summarize (count, countif, max, min, make_set, arg_max; `by` with names), join (inner, leftouter, leftanti),
order/sort by, distinct, take, and the scalar functions the queries call. Nulls propagate as in Kusto: a comparison with null is
null, and `where` drops rows whose condition is not true. Every datetime is UTC without a zone (as in Kusto); the clock is injected.

An unknown column, function or operator is an error, never a silent null: a query with a typo must fail here as it fails in Azure.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Table = list[Row]


class KqlError(Exception):
    pass


class Rows(list[Row]):
    """Rows that also know their columns when there are none (an empty summarize still has a schema a join reads)."""

    def __init__(self, rows: Table, columns: Sequence[str]) -> None:
        super().__init__(rows)
        self.columns = list(columns)


_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<datetime>datetime\(\s*(?P<dtvalue>[^)]*?)\s*\))
  | (?P<timespan>\d+(?:\.\d+)?(?:ms|d|h|m|s)\b)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|=~|!~|<=|>=|!in\b|[|()\[\],;=<>+\-*/%.:])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_SPAN_UNITS = {"d": dt.timedelta(days=1), "h": dt.timedelta(hours=1), "m": dt.timedelta(minutes=1), "s": dt.timedelta(seconds=1)}


@dataclass
class Token:
    kind: str
    text: str
    value: Any = None


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise KqlError(f"cannot read {text[position : position + 30]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind == "dtvalue":
            kind = "datetime"
        if kind == "space":
            continue
        raw = match.group(0)
        if kind == "datetime":
            tokens.append(Token("literal", raw, parse_datetime(match.group("dtvalue"))))
        elif kind == "timespan":
            number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)", raw).groups()  # type: ignore[union-attr]
            span = dt.timedelta(milliseconds=float(number)) if unit == "ms" else _SPAN_UNITS[unit] * float(number)
            tokens.append(Token("literal", raw, span))
        elif kind == "number":
            tokens.append(Token("literal", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "string":
            body = raw[1:-1]
            tokens.append(Token("literal", raw, json.loads('"' + body.replace('\\"', '"').replace('"', '\\"') + '"')))
        elif kind == "op":
            tokens.append(Token("op", raw))
        else:
            tokens.append(Token("name", raw))
    return tokens


def parse_datetime(text: str) -> dt.datetime | None:
    if text.strip().lower() in ("", "null"):
        return None
    moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def utc_naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


# -- scalar helpers ----------------------------------------------------------------------------------------------------------------


def _null(*values: Any) -> bool:
    return any(v is None for v in values)


def _compare(op: str, left: Any, right: Any) -> bool | None:
    if op in ("=~", "!~"):
        if _null(left, right):
            return None
        same = str(left).lower() == str(right).lower()
        return same if op == "=~" else not same
    if _null(left, right):
        return None
    if (isinstance(left, (int, float)) and isinstance(right, (int, float))) or type(left) is type(right):
        return {"==": left == right, "!=": left != right, "<": left < right, "<=": left <= right, ">": left > right,
                ">=": left >= right}[op]  # fmt: skip
    raise KqlError(f"cannot compare {left!r} {op} {right!r}")


def _arith(op: str, left: Any, right: Any) -> Any:
    if _null(left, right):
        return None
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
            return left / right
        if isinstance(left, int) and isinstance(right, int):
            return int(left / right)
        return left / right
    if op == "%":
        return int(math.fmod(left, right))
    raise KqlError(op)


def _bin(value: Any, size: Any) -> Any:
    if _null(value, size):
        return None
    if isinstance(value, dt.datetime):
        epoch = dt.datetime(1970, 1, 1)
        return epoch + ((value - epoch) // size) * size
    if isinstance(value, dt.timedelta):
        return (value // size) * size
    return math.floor(value / size) * size


def _to_local(value: Any, zone: str) -> Any:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def _to_utc(value: Any, zone: str) -> Any:
    if value is None:
        return None
    return value.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC).replace(tzinfo=None)


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return str(value)


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower())
    if isinstance(value, (int, float)):
        return value != 0
    return None


def _to_long(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, (dict, list)) else int(value)
    except (TypeError, ValueError):
        return None


def _to_datetime(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _start_of_week(value: Any) -> Any:
    if value is None:
        return None
    day = dt.datetime(value.year, value.month, value.day)
    return day - dt.timedelta(days=(day.weekday() + 1) % 7)  # Kusto's weeks start on Sunday


def _day_of_week(value: Any) -> Any:
    return None if value is None else dt.timedelta(days=(value.weekday() + 1) % 7)


# -- the parser and evaluator ---------------------------------------------------------------------------------------------------

AGGREGATES = ("count", "countif", "max", "min", "make_set", "arg_max", "dcount", "sum")


class Query:
    """One query text, evaluated against `tables` (name -> rows) and `functions` (alias -> query text) at `now`."""

    def __init__(self, tables: Mapping[str, Table], functions: Mapping[str, str], now: dt.datetime) -> None:
        self.tables = tables
        self.functions = functions
        self.now = utc_naive(now)

    # token stream ---------------------------------------------------------------------------------------------------------
    def _peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _is(self, text: str, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token is not None and token.kind in ("op", "name") and token.text == text

    def _take(self, text: str | None = None) -> Token:
        token = self._peek()
        if token is None or (text is not None and token.text != text):
            raise KqlError(f"expected {text!r}, found {token.text if token else 'the end'!r}")
        self.position += 1
        return token

    def _name(self) -> str:
        token = self._take()
        if token.kind != "name":
            raise KqlError(f"expected a name, found {token.text!r}")
        return token.text

    # statements -----------------------------------------------------------------------------------------------------------
    def run(self, text: str, scope: dict[str, Any] | None = None) -> Table:
        self.tokens, self.position = tokenize(text), 0
        self.scope: dict[str, Any] = dict(scope or {})
        result: Table | None = None
        while self._peek() is not None:
            if self._is("let"):
                self._take("let")
                name = self._name()
                self._take("=")
                self.scope[name] = self._tabular() if self._starts_tabular() else self._expr({})
            else:
                result = self._tabular()
            if self._is(";"):
                self._take(";")
        if result is None:
            raise KqlError("the query has no tabular expression")
        return result

    def _starts_tabular(self) -> bool:
        token = self._peek()
        if token is None:
            return False
        if token.text in ("datatable", "range", "union", "print"):
            return True
        if token.kind == "name" and not self._is("(", 1):
            return token.text in self.tables or token.text in self.functions or isinstance(self.scope.get(token.text), list)
        return token.text == "(" and self._starts_tabular_at(1)

    def _starts_tabular_at(self, offset: int) -> bool:
        saved = self.position
        self.position += offset
        try:
            return self._starts_tabular()
        finally:
            self.position = saved

    # tabular --------------------------------------------------------------------------------------------------------------
    def _tabular(self) -> Table:
        rows = self._source()
        while self._is("|"):
            self._take("|")
            rows = self._operator(rows)
        return rows

    def _source(self) -> Table:
        if self._is("("):
            self._take("(")
            rows = self._tabular()
            self._take(")")
            return rows
        name = self._name()
        if name == "datatable":
            return self._datatable()
        if name == "range":
            column = self._name()
            self._take("from")
            start = self._expr({})
            self._take("to")
            stop = self._expr({})
            self._take("step")
            step = self._expr({})
            rows, value = [], start
            while value <= stop:
                rows.append({column: value})
                value = value + step
            return rows
        if name == "union":
            rows = []
            rows += self._source()
            while self._is(","):
                self._take(",")
                rows += self._source()
            return rows
        if name == "print":
            return [{target: expression({}) for target, expression in self._assignment_specs()}]
        if isinstance(self.scope.get(name), list):
            stored = self.scope[name]
            return Rows([dict(row) for row in stored], getattr(stored, "columns", []))
        if name in self.functions:
            return Query(self.tables, self.functions, self.now).run(self.functions[name])
        if name in self.tables:
            return [dict(row) for row in self.tables[name]]
        raise KqlError(f"unknown table or function {name!r}")

    def _datatable(self) -> Table:
        self._take("(")
        columns: list[tuple[str, str]] = []
        while not self._is(")"):
            column = self._name()
            self._take(":")
            columns.append((column, self._name()))
            if self._is(","):
                self._take(",")
        self._take(")")
        self._take("[")
        values: list[Any] = []
        while not self._is("]"):
            values.append(self._expr({}))
            if self._is(","):
                self._take(",")
        self._take("]")
        if len(values) % len(columns):
            raise KqlError("datatable values do not fill whole rows")
        return [
            {name: values[start + index] for index, (name, _type) in enumerate(columns)} for start in range(0, len(values), len(columns))
        ]

    def _operator(self, rows: Table) -> Table:
        name = self._name()
        if name == "where":
            condition = self._capture_expr()
            return [row for row in rows if condition(row) is True]
        if name in ("extend", "project"):
            specs = self._assignment_specs()
            return [{**(row if name == "extend" else {}), **{target: expression(row) for target, expression in specs}} for row in rows]
        if name == "summarize":
            return self._summarize(rows)
        if name == "join":
            return self._join(rows)
        if name in ("order", "sort"):
            self._take("by")
            keys: list[tuple[Callable[[Row], Any], bool]] = []
            while True:
                key = self._capture_expr()
                descending = True
                if self._is("asc") or self._is("desc"):
                    descending = self._take().text == "desc"
                keys.append((key, descending))
                if not self._is(","):
                    break
                self._take(",")
            ordered = list(rows)
            for key, descending in reversed(keys):
                present = [r for r in ordered if key(r) is not None]
                missing = [r for r in ordered if key(r) is None]
                present.sort(key=key, reverse=descending)
                ordered = present + missing
            return ordered
        if name == "distinct":
            columns = self._names()
            seen: dict[tuple[Any, ...], Row] = {}
            for row in rows:
                seen.setdefault(tuple(_to_string(row[c]) for c in columns), {c: row[c] for c in columns})
            return list(seen.values())
        if name in ("take", "limit"):
            count = self._expr({})
            return rows[:count]
        raise KqlError(f"unknown operator {name!r}")

    def _names(self) -> list[str]:
        names = [self._name()]
        while self._is(","):
            self._take(",")
            names.append(self._name())
        return names

    def _assignment_specs(self) -> list[tuple[str, Callable[[Row], Any]]]:
        """`Name = expr, expr, ...` (extend, project, print): a bare column keeps its name."""
        specs: list[tuple[str, Callable[[Row], Any]]] = []
        while True:
            if self._is("=", 1):
                target = self._name()
                self._take("=")
                specs.append((target, self._capture_expr()))
            else:
                begin = self.position
                expression = self._capture_expr()
                span = self.tokens[begin : self.position]
                specs.append((span[0].text if len(span) == 1 and span[0].kind == "name" else f"Column{len(specs) + 1}", expression))
            if not self._is(","):
                return specs
            self._take(",")

    def _capture_expr(self) -> Callable[[Row], Any]:
        """Parse one expression once, and return a function that evaluates it for a row (re-reading its tokens)."""
        start = self.position
        self._expr({}, dry=True)

        def evaluate(row: Row) -> Any:
            saved = self.position
            self.position = start
            try:
                return self._expr(row)
            finally:
                self.position = saved

        return evaluate

    # summarize -----------------------------------------------------------------------------------------------------------
    def _summarize(self, rows: Table) -> Table:
        aggregates: list[tuple[str | None, str, int]] = []  # (given name, function, token position of its arguments)
        while not self._is("by") and self._peek() is not None and not self._is("|") and not self._is(";") and not self._is(")"):
            given = None
            if self._is("=", 1):
                given = self._name()
                self._take("=")
            function = self._name()
            if function not in AGGREGATES:
                raise KqlError(f"unknown aggregation {function!r}")
            self._take("(")
            aggregates.append((given, function, self.position))
            depth = 1
            while depth:
                token = self._take()
                depth += {"(": 1, ")": -1}.get(token.text, 0)
            if self._is(","):
                self._take(",")
        keys: list[tuple[str, Callable[[Row], Any]]] = []
        if self._is("by"):
            self._take("by")
            while True:
                if self._is("=", 1) and not self._is("==", 1):
                    name = self._name()
                    self._take("=")
                    keys.append((name, self._capture_expr()))
                else:
                    begin = self.position
                    expression = self._capture_expr()
                    span = self.tokens[begin : self.position]
                    keys.append((span[0].text if span[0].kind == "name" and len(span) == 1 else _auto_name(span), expression))
                if not self._is(","):
                    break
                self._take(",")
        end = self.position
        groups: dict[tuple[str, ...], tuple[Row, Table]] = {}
        for row in rows:
            values = {name: key(row) for name, key in keys}
            groups.setdefault(tuple(_to_string(v) for v in values.values()), (values, []))[1].append(row)
        if not keys and not groups:
            groups[()] = ({}, [])
        result = []
        for values, members in groups.values():
            out = dict(values)
            for given, function, position in aggregates:
                out.update(self._aggregate(given, function, position, members))
            result.append(out)
        columns = [name for name, _key in keys] + [given or f"{function}_" for given, function, _position in aggregates]
        self.position = end
        return Rows(result, columns)

    def _arguments_at(self, position: int) -> list[Callable[[Row], Any]]:
        self.position = position
        arguments = []
        while not self._is(")"):
            arguments.append(self._capture_expr())
            if self._is(","):
                self._take(",")
        return arguments

    def _aggregate(self, given: str | None, function: str, position: int, rows: Table) -> Row:
        arguments = self._arguments_at(position)
        if function == "count":
            return {given or "count_": len(rows)}
        if function == "countif":
            return {given or "countif_": sum(1 for r in rows if arguments[0](r) is True)}
        if function in ("max", "min", "sum", "dcount", "make_set"):
            values = [v for v in (arguments[0](r) for r in rows) if v is not None]
            name = given or f"{function}_"
            if function == "make_set":
                unique: list[Any] = []
                for value in values:
                    if value not in unique:
                        unique.append(value)
                return {name: unique}
            if function == "dcount":
                return {name: len({_to_string(v) for v in values})}
            if function == "sum":
                return {name: sum(values)}
            return {name: (max if function == "max" else min)(values) if values else None}
        if function == "arg_max":
            start = position
            self.position = start
            names = []
            while not self._is(")"):
                begin = self.position
                self._expr({}, dry=True)
                span = self.tokens[begin : self.position]
                names.append(span[0].text if len(span) == 1 else _auto_name(span))
                if self._is(","):
                    self._take(",")
            best = None
            for row in rows:
                value = arguments[0](row)
                if value is not None and (best is None or value > arguments[0](best)):
                    best = row
            return {name: (argument(best) if best is not None else None) for name, argument in zip(names, arguments, strict=True)}
        raise KqlError(function)

    # join -----------------------------------------------------------------------------------------------------------------
    def _join(self, left: Table) -> Table:
        kind = "innerunique"
        if self._is("kind"):
            self._take("kind")
            self._take("=")
            kind = self._name()
        right = self._source()
        self._take("on")
        columns = self._names()

        def key(row: Row) -> tuple[str, ...]:
            return tuple(_to_string(row[c]) for c in columns)

        for row in left + right:
            missing = [c for c in columns if c not in row]
            if missing:
                raise KqlError(f"join column {missing[0]!r} is missing")
        index: dict[tuple[str, ...], Table] = {}
        for row in right:
            index.setdefault(key(row), []).append(row)
        if kind == "leftanti":
            return [row for row in left if key(row) not in index]
        right_columns = list(dict.fromkeys([*getattr(right, "columns", []), *(c for row in right for c in row)]))
        result = []
        for row in left:
            matches = index.get(key(row), [])
            if not matches and kind == "leftouter":
                matches = [dict.fromkeys(right_columns)]
            for match in matches:
                out = dict(row)
                for column, value in match.items():
                    out[column if column not in row else f"{column}1"] = value
                result.append(out)
        if kind not in ("leftouter", "inner", "innerunique"):
            raise KqlError(f"join kind {kind!r} is not in this subset")
        return result

    # scalar expressions ----------------------------------------------------------------------------------------------------
    def _expr(self, row: Row, dry: bool = False) -> Any:
        return self._or(row, dry)

    def _or(self, row: Row, dry: bool) -> Any:
        value = self._and(row, dry)
        while self._is("or"):
            self._take("or")
            other = self._and(row, dry)
            value = None if dry else (True if value is True or other is True else (None if _null(value, other) else False))
        return value

    def _and(self, row: Row, dry: bool) -> Any:
        value = self._comparison(row, dry)
        while self._is("and"):
            self._take("and")
            other = self._comparison(row, dry)
            value = None if dry else (False if value is False or other is False else (None if _null(value, other) else True))
        return value

    def _comparison(self, row: Row, dry: bool) -> Any:
        left = self._additive(row, dry)
        token = self._peek()
        if token is None:
            return left
        if token.text in ("==", "!=", "=~", "!~", "<", "<=", ">", ">="):
            self._take()
            right = self._additive(row, dry)
            return None if dry else _compare(token.text, left, right)
        if token.text in ("in", "!in"):
            self._take()
            self._take("(")
            options = []
            while not self._is(")"):
                options.append(self._additive(row, dry))
                if self._is(","):
                    self._take(",")
            self._take(")")
            if dry or left is None:
                return None if dry else False
            found = any(_compare("==", left, option) for option in options if option is not None)
            return found if token.text == "in" else not found
        if token.text in ("startswith", "contains", "has"):
            self._take()
            right = self._additive(row, dry)
            if dry or _null(left, right):
                return None
            text, part = _to_string(left).lower(), _to_string(right).lower()
            return text.startswith(part) if token.text == "startswith" else part in text
        return left

    def _additive(self, row: Row, dry: bool) -> Any:
        value = self._multiplicative(row, dry)
        while self._is("+") or self._is("-"):
            op = self._take().text
            other = self._multiplicative(row, dry)
            value = None if dry else _arith(op, value, other)
        return value

    def _multiplicative(self, row: Row, dry: bool) -> Any:
        value = self._unary(row, dry)
        while self._is("*") or self._is("/") or self._is("%"):
            op = self._take().text
            other = self._unary(row, dry)
            value = None if dry else _arith(op, value, other)
        return value

    def _unary(self, row: Row, dry: bool) -> Any:
        if self._is("-"):
            self._take("-")
            value = self._postfix(row, dry)
            return None if dry or value is None else -value
        if self._is("not"):
            self._take("not")
            self._take("(")
            value = self._expr(row, dry)
            self._take(")")
            return None if dry or value is None else not value
        return self._postfix(row, dry)

    def _postfix(self, row: Row, dry: bool) -> Any:
        value = self._primary(row, dry)
        while self._is(".") or self._is("["):
            if self._take().text == ".":
                member = self._name()
                value = value.get(member) if isinstance(value, dict) else None
            else:
                index = self._expr(row, dry)
                self._take("]")
                value = None if dry else _index(value, index)
        return value

    def _primary(self, row: Row, dry: bool) -> Any:
        token = self._take()
        if token.kind == "literal":
            return token.value
        if token.text == "(":
            value = self._expr(row, dry)
            self._take(")")
            return value
        if token.kind != "name":
            raise KqlError(f"unexpected {token.text!r}")
        if token.text in ("true", "false") and not self._is("("):
            return token.text == "true"
        if self._is("("):
            return self._call(token.text, row, dry)
        if token.text in row:
            return row[token.text]
        if token.text in self.scope and not isinstance(self.scope[token.text], list):
            return self.scope[token.text]
        if dry:
            return None
        raise KqlError(f"unknown column or scalar {token.text!r}")

    def _call(self, name: str, row: Row, dry: bool) -> Any:
        self._take("(")
        if name == "toscalar":
            rows = self._tabular()
            self._take(")")
            if dry or not rows:
                return None
            return next(iter(rows[0].values()))
        arguments = []
        while not self._is(")"):
            arguments.append(self._expr(row, dry))
            if self._is(","):
                self._take(",")
        self._take(")")
        if dry:
            if name not in FUNCTIONS and name not in ("now", "ago"):
                raise KqlError(f"unknown function {name!r}")
            return None
        if name == "now":
            return self.now
        if name == "ago":
            return None if arguments[0] is None else self.now - arguments[0]
        if name not in FUNCTIONS:
            raise KqlError(f"unknown function {name!r}")
        return FUNCTIONS[name](*arguments)


def _index(value: Any, index: Any) -> Any:
    if isinstance(value, dict):
        return value.get(index)
    if isinstance(value, list) and isinstance(index, int) and -len(value) <= index < len(value):
        return value[index]
    return None


def _auto_name(span: Sequence[Token]) -> str:
    names = [t.text for t in span if t.kind == "name"]
    return f"{names[0]}_{names[-1]}" if len(names) > 1 else (names[0] if names else "Column1")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": _to_string,
    "tobool": _to_bool,
    "toint": _to_long,
    "tolong": _to_long,
    "todatetime": _to_datetime,
    "parse_json": _parse_json,
    "todynamic": _parse_json,
    "isnotempty": lambda v: v is not None and v != "",
    "isempty": lambda v: v is None or v == "",
    "isnotnull": lambda v: v is not None,
    "isnull": lambda v: v is None,
    "coalesce": lambda *values: next((v for v in values if v is not None), None),
    "strcat": lambda *values: "".join(_to_string(v) for v in values),
    "iff": lambda condition, yes, no: yes if condition is True else no,
    "bin": _bin,
    "startofday": lambda v: None if v is None else dt.datetime(v.year, v.month, v.day),
    "startofweek": _start_of_week,
    "dayofweek": _day_of_week,
    "dayofmonth": lambda v: None if v is None else v.day,
    "getyear": lambda v: None if v is None else v.year,
    "getmonth": lambda v: None if v is None else v.month,
    "datetime_utc_to_local": _to_local,
    "datetime_local_to_utc": _to_utc,
}


def run(query: str, tables: Mapping[str, Table], now: dt.datetime, functions: Mapping[str, str] | None = None) -> Table:
    """Rows the query returns."""
    return Query(tables, functions or {}, now).run(query)
