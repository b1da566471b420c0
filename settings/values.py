"""Reading raw config values: one `ConfigError` naming the full key for anything wrong. Shared by the settings modules."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pulumi

from exo import facts
from exo.key_material import private_key_form

PROJECT = "exo-automation"
T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A config value is wrong. The message names the key; Pulumi prints it without a stack trace."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"config {key}: {problem}")


def key_of(name: str) -> str:
    return f"{PROJECT}:{name}"


def parse_json(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(key, f"is not valid JSON/YAML structured config ({error.msg} at position {error.pos})") from None


def parse_bool(key: str, raw: str | None, default: bool) -> bool:
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise ConfigError(key, f"must be true or false, got {raw!r}")


def expect(key: str, value: Any, kind: type[T], description: str) -> T:
    # bool is an int in Python; a number is never accepted where a flag is meant, nor the other way round.
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    shown = json.dumps(value)
    if private_key_form(shown.encode("utf-8", errors="replace")) is not None:
        # A key pasted into the wrong place: error messages reach CI logs and PR comments, so it is never repeated.
        shown = "a value that holds private key material (not shown; remove it and treat that key as disclosed)"
    raise ConfigError(key, f"must be {description}, got {shown}")


def reject_unknown_keys(key: str, value: Mapping[str, Any], known: Sequence[str]) -> None:
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(key, f"unknown setting(s) {', '.join(unknown)}; known settings: {', '.join(known)}")


def bounded_int(key: str, value: Any, low: int, high: int) -> int:
    number = expect(key, value, int, f"a whole number from {low} to {high}")
    if not low <= number <= high:
        raise ConfigError(key, f"must be from {low} to {high}, got {number}")
    return number


def optional(mapping: Mapping[str, Any], name: str, default: T, parse: Callable[[Any], T]) -> T:
    return parse(mapping[name]) if name in mapping and mapping[name] is not None else default


def reject_duplicates(list_key: str, field: str, values: Sequence[str]) -> None:
    """Names in a list must be unique (case-insensitively, as Azure and Entra compare them); the error names the second one."""
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value.lower() in seen:
            raise ConfigError(f"{list_key}[{index}].{field}", f"{value!r} is already used by {list_key}[{seen[value.lower()]}]")
        seen[value.lower()] = index


def parse_roles(key: str, value: Any, allow_global_administrator: bool) -> tuple[facts.ExchangeRole, ...]:
    names = expect(key, value, list, "a list of role names")
    if not names:
        raise ConfigError(key, f"must name at least one role; valid roles: {', '.join(facts.ROLES)}")
    roles: list[facts.ExchangeRole] = []
    for index, item in enumerate(names):
        item_key = f"{key}[{index}]"
        name = expect(item_key, item, str, "a role display name")
        # Match case-insensitively: people type "exchange administrator".
        role = next((r for r in facts.ROLES.values() if r.display_name.lower() == name.strip().lower()), None)
        if role is None:
            raise ConfigError(
                item_key, f"{name!r} is not a role Exchange supports for app-only access; valid roles: {', '.join(facts.ROLES)}"
            )
        if role.display_name == facts.GLOBAL_ADMINISTRATOR and not allow_global_administrator:
            raise ConfigError(
                item_key,
                f"Global Administrator is refused for least privilege; set {key_of('allowGlobalAdministrator')} to true "
                "to allow it, or pick a narrower role such as Exchange Administrator",
            )
        if role in roles:
            raise ConfigError(item_key, f"{role.display_name} is listed twice")
        roles.append(role)
    return tuple(roles)


# Resource group names where only Microsoft.Resources (and Key Vault) use them: the rules in facts.AZURE_INPUT_RULES, which allow
# parentheses. Groups the Automation account lives in are checked against the Automation operations too (no parentheses there).
RESOURCE_GROUP_USES = (("azure-native:resources:ResourceGroup", "resourceGroupName"), ("azure-native:keyvault:Vault", "resourceGroupName"))
# Region names as ARM spells them: westeurope, eastus2, usgovvirginia. "West Europe" is normalised to that form.
_LOCATION = re.compile(r"^[a-z][a-z0-9]{2,39}$")
# ARM tags: names up to 512 characters (128 on Key Vault secrets, the stricter one applies), values up to 256, names without <>%&\?/.
_TAG_NAME_MAX = 128
_TAG_VALUE_MAX = 256
_TAG_NAME_FORBIDDEN = set("<>%&\\?/")


def parse_azure_name(key: str, value: Any, uses: Sequence[tuple[str, str]], what: str, rule: str) -> str:
    """A name the user sets for an Azure resource (`what`): every rule of every place it goes (facts.AZURE_INPUT_RULES) must
    accept it; `rule` says them in words, and the first broken rule is quoted with its source."""
    name = expect(key, value, str, f"a {what}")
    for type_token, input_name in uses:
        problems = facts.input_problems(type_token, input_name, name)
        if problems:
            raise ConfigError(key, f"{name!r} is not a valid {what}: {rule}; it {problems[0]}")
    return name


def parse_resource_group_name(key: str, value: Any, uses: Sequence[tuple[str, str]] = RESOURCE_GROUP_USES) -> str:
    return parse_azure_name(
        key,
        value,
        uses,
        "resource group name",
        "1 to 90 letters, digits, '_', '-', '.' (and '(' ')' outside Automation), not ending in '.'",
    )


def parse_location(key: str, value: Any) -> str:
    text = expect(key, value, str, "an Azure region such as westeurope")
    location = "".join(text.split()).lower()
    if not _LOCATION.fullmatch(location):
        raise ConfigError(key, f"{text!r} is not an Azure region name (for example westeurope, eastus2)")
    return location


def with_program_tags(configured: Mapping[str, str], program: Mapping[str, str]) -> dict[str, str]:
    """The one tag policy: configured tags, and the program's own on top. The program's tags win, so that a config cannot disown
    what the program manages (a clean-up keyed on `managed-by` must find everything it made)."""
    return {**configured, **program}


def parse_tags(key: str, value: Any, added: Sequence[str], limit: int) -> dict[str, str]:
    """Tags from config; `added` are the tags the program sets itself, `limit` the most the resource takes."""
    mapping = expect(key, value, dict, "an object of tag names to string values")
    extra = [name for name in added if name not in mapping]
    if len(mapping) + len(extra) > limit:
        raise ConfigError(key, f"has {len(mapping)} tags; at most {limit} fit and the program adds {', '.join(extra)}")
    tags: dict[str, str] = {}
    for name, raw in mapping.items():
        item_key = f"{key}.{name}"
        if not name or len(name) > _TAG_NAME_MAX or _TAG_NAME_FORBIDDEN & set(name):
            raise ConfigError(item_key, f"tag names are 1 to {_TAG_NAME_MAX} characters without < > % & \\ ? /")
        text = expect(item_key, raw, str, "a string (quote numbers and booleans)")
        if len(text) > _TAG_VALUE_MAX:
            raise ConfigError(item_key, f"tag values are at most {_TAG_VALUE_MAX} characters, got {len(text)}")
        tags[name] = text
    return tags
