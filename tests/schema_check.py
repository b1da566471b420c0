"""Check recorded resource inputs against the SDK's own `@input_type` Args classes.

The SDKs accept almost anything at run time: a typo key inside a dict literal, a string where a list belongs, a required input that
resolves to None, a value outside an enum. The engine would reject these only against Azure. This module finds them offline.
"""

from __future__ import annotations

import enum
import importlib
import inspect
import re
import typing
from collections.abc import Awaitable, Mapping, Sequence
from functools import cache
from typing import Any

import pulumi
from pulumi import _types as pulumi_types

from tests.mock_tenant import is_secret, is_unknown

PACKAGES = {"azuread": "pulumi_azuread", "tls": "pulumi_tls", "azure-native": "pulumi_azure_native", "time": "pulumiverse_time"}

# Bridged providers (azuread, tls) carry their enumerations only in documentation; these phrases introduce them in the SDK docstrings.
_DOMAIN_SENTENCE = re.compile(
    r"(Accepted values:|Must be one of|Possible values are|Possible values:|Valid values are)([^.]*(?:\.[a-z][^.]*)*)"
)
_BACKTICKED = re.compile(r"`([^`]+)`")


def args_class(type_token: str) -> type:
    """`azuread:index/applicationCertificate:ApplicationCertificate` -> pulumi_azuread.ApplicationCertificateArgs."""
    package, module, type_name = type_token.split(":")
    if package not in PACKAGES:
        raise KeyError(f"no SDK known for {type_token}")
    root = PACKAGES[package]
    module_name = root if module.startswith("index") else f"{root}.{module.split('/')[0]}"
    module_object = importlib.import_module(module_name)
    # A resource whose Args name an input type already holds gets `<Name>InitArgs` (azure-native monitor:ActionGroup).
    init_args = getattr(module_object, f"{type_name}InitArgs", None)
    return init_args if init_args is not None else getattr(module_object, f"{type_name}Args")


@cache
def _properties(cls: type) -> tuple[dict[str, str], dict[str, Any], set[str], dict[str, set[str]]]:
    """pulumi name -> python name, python name -> type hint, required python names, python name -> documented value domain."""
    names = {pulumi_name: python_name for python_name, pulumi_name in pulumi_types.input_type_py_to_pulumi_names(cls).items()}
    init = cls.__init__  # type: ignore[misc]
    module_globals = vars(inspect.getmodule(cls))
    # typing caches evaluated forward refs across modules ('SkuName' in storage and in keyvault is one ForwardRef object); a
    # separate locals dict makes it evaluate in this module every time.
    hints = typing.get_type_hints(init, globalns=module_globals, localns={**vars(typing), **vars(pulumi), **module_globals})
    signature = inspect.signature(init)
    required = {
        name
        for name, parameter in signature.parameters.items()
        if name != "__self__" and parameter.kind == parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty
    }
    domains: dict[str, set[str]] = {}
    doc = init.__doc__ or ""
    for python_name in names.values():
        match = re.search(rf":param [^\n]*? {re.escape(python_name)}: ([^\n]*)", doc)
        if not match:
            continue
        for sentence in _DOMAIN_SENTENCE.finditer(match.group(1)):
            values = set(_BACKTICKED.findall(sentence.group(2)))
            if values:
                domains[python_name] = values
    return names, hints, required, domains


def _strip_input(hint: Any) -> tuple[Any, bool]:
    """Input[T] / Optional[T] -> (T, optional)."""
    optional = False
    while True:
        origin = typing.get_origin(hint)
        if origin is typing.Union:
            members = [m for m in typing.get_args(hint) if m is not type(None)]
            optional = optional or len(members) < len(typing.get_args(hint))
            plain = [
                m
                for m in members
                if typing.get_origin(m) not in (Awaitable, pulumi.Output) and m is not pulumi.Output and m is not Awaitable
            ]
            if len(plain) == 1:
                hint = plain[0]
                continue
            return typing.Union[tuple(plain)], optional  # type: ignore[return-value]  # noqa: UP007
        return hint, optional


def _check_value(value: Any, hint: Any, path: str, domain: set[str] | None, problems: list[str]) -> None:
    if is_unknown(value):
        return  # preview: not known yet, which is legitimate
    if is_secret(value):
        _check_value(value["value"], hint, path, domain, problems)
        return
    hint, optional = _strip_input(hint)
    if value is None:
        if not optional:
            problems.append(f"{path}: None for a value that is not optional")
        return
    origin = typing.get_origin(hint)
    if hint is Any or hint is object:
        return
    if origin is typing.Union:
        members = typing.get_args(hint)
        enums = [m for m in members if inspect.isclass(m) and issubclass(m, enum.Enum)]
        if isinstance(value, str) and enums:
            allowed = {str(e.value) for m in enums for e in m}
            if value not in allowed:
                problems.append(f"{path}: {value!r} is not one of {sorted(allowed)}")
            return
        attempts: list[list[str]] = []
        for member in members:
            found: list[str] = []
            _check_value(value, member, path, domain, found)
            if not found:
                return
            attempts.append(found)
        problems.append(f"{path}: {value!r} matches none of {hint}: {attempts[0]}")
        return
    if origin in (list, Sequence, typing.Sequence) or hint in (list, Sequence):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__} {value!r}")
            return
        (item_hint,) = typing.get_args(hint) or (Any,)
        for index, item in enumerate(value):
            _check_value(item, item_hint, f"{path}[{index}]", domain, problems)
        return
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        _, value_hint = typing.get_args(hint) or (str, Any)
        for key, item in value.items():
            _check_value(item, value_hint, f"{path}.{key}", None, problems)
        return
    if inspect.isclass(hint) and pulumi_types.is_input_type(hint):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object of {hint.__name__}, got {type(value).__name__} {value!r}")
            return
        problems.extend(check_object(hint, value, path))
        return
    if inspect.isclass(hint) and issubclass(hint, pulumi.Asset | pulumi.Archive):
        if not isinstance(value, hint):
            problems.append(f"{path}: expected a {hint.__name__}, got {type(value).__name__}")
        return
    if inspect.isclass(hint) and issubclass(hint, enum.Enum):
        allowed = {str(e.value) for e in hint}
        if value not in allowed:
            problems.append(f"{path}: {value!r} is not one of {sorted(allowed)}")
        return
    if hint is bool:
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {value!r}")
        return
    if hint is int:
        # Numbers cross the wire as floats; a whole float is an int.
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) != int(value):
            problems.append(f"{path}: expected a whole number, got {value!r}")
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: expected a number, got {value!r}")
        return
    if hint is str:
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
        elif domain is not None and value not in domain:
            problems.append(f"{path}: {value!r} is not one of the documented values {sorted(domain)}")
        return
    problems.append(f"{path}: no rule for type {hint!r} (extend tests/schema_check.py)")


def check_object(cls: type, values: Mapping[str, Any], path: str) -> list[str]:
    """Problems of one object (resource inputs or a nested input type) against its Args class."""
    names, hints, required, domains = _properties(cls)
    problems: list[str] = []
    for key, value in values.items():
        if key.startswith("__"):
            continue  # engine-internal fields such as __defaults
        if key not in names:
            problems.append(f"{path}.{key}: no such input on {cls.__name__} (known: {', '.join(sorted(names))})")
            continue
        python_name = names[key]
        _check_value(value, hints[python_name], f"{path}.{key}", domains.get(python_name), problems)
    present = {names[k] for k in values if k in names}
    for python_name in sorted(required - present):
        problems.append(f"{path}: required input {python_name} is missing or resolved to None")
    return problems


def check_registration(type_token: str, name: str, inputs: Mapping[str, Any]) -> list[str]:
    return check_object(args_class(type_token), inputs, f"{type_token} {name}")
