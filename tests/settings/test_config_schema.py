"""settings/schema.py describes exactly the keys the parsers accept, the docs generated from it are current, and every copy of a
default in the repository (README, docs, the example stack) agrees with the code's default."""

from __future__ import annotations

import ast
import importlib
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from exo import facts
from settings import config_docs
from settings.automation import parse_automation
from settings.schema import parser_fields, settings
from settings.stack import parse_settings
from tests.harness import REPO

PATHS = [row.path for row in settings()]


def _children(parent: str) -> set[str]:
    """The schema's direct fields of an object path ('' for the top level)."""
    prefix = f"{parent}." if parent and not parent.endswith("[]") else parent + "." if parent else ""
    found = set()
    for path in PATHS:
        if path.startswith(prefix) and path != parent:
            rest = path[len(prefix) :]
            if rest and re.fullmatch(r"\w+(\[\])?", rest):
                found.add(rest.removesuffix("[]"))
    return found


def test_every_path_is_described_once_with_type_default_and_rule() -> None:
    assert not [path for path, count in Counter(PATHS).items() if count > 1]
    for row in settings():
        assert row.type and row.default and row.rule, row.path


@pytest.mark.parametrize(("parent", "fields"), sorted(parser_fields().items()), ids=lambda v: v if isinstance(v, str) else "")
def test_the_schema_lists_exactly_the_fields_the_parser_accepts(parent: str, fields: tuple[str, ...]) -> None:
    assert _children(parent) == set(fields), f"settings/schema.py and the parser of {parent or 'the top level'} disagree"


def test_every_object_in_the_schema_is_checked_against_a_parser() -> None:
    """A described object whose fields no parser list covers would let the schema drift unseen (the way back of the test above)."""
    checked = set(parser_fields())
    for path in PATHS:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        owner = parent if parent in checked else parent + "[]" if parent + "[]" in checked else None
        list_item = path.endswith("[]") or f"{path}[]" in checked
        assert owner is not None or list_item, f"{path}: its parent {parent!r} is not one of the parser lists in parser_fields()"


def test_every_unknown_key_check_in_the_parsers_is_covered() -> None:
    """Each `reject_unknown_keys(key, mapping, FIELDS)` in settings/ names a list that parser_fields() maps to a schema path."""
    covered = {tuple(fields) for fields in parser_fields().values()}
    for module in sorted((REPO / "settings").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = importlib.import_module(f"settings.{module.stem}")
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "reject_unknown_keys":
                (_, _, fields) = call.args
                assert isinstance(fields, ast.Name), f"{module.name}: pass the accepted fields as a named tuple"
                assert tuple(getattr(imported, fields.id)) in covered, f"{module.name}: {fields.id} is not in settings/schema.py"


def test_generated_reference_and_pulumi_yaml_are_current() -> None:
    assert (REPO / "docs" / "configuration.md").read_text(encoding="utf-8") == config_docs.reference(), (
        "docs/configuration.md is out of date: run python -m settings.config_docs"
    )
    assert (REPO / "Pulumi.yaml").read_text(encoding="utf-8") == config_docs.project_file(), (
        "Pulumi.yaml's config section is out of date: run python -m settings.config_docs"
    )


def test_pulumi_yaml_descriptions_name_every_field() -> None:
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    for path in PATHS:
        top, _, rest = path.partition(".")
        if top.endswith("[]"):
            top, rest = top.removesuffix("[]"), rest
        if rest:
            assert f"{rest} (" in declared[top]["description"], path


# --- Defaults: the code's value, and every copy of it ---------------------------------------------------------------------------


def test_the_parsers_defaults_are_the_documented_ones() -> None:
    described = {row.path: row.default for row in settings()}
    automation = parse_automation(
        "exo-automation:automation", {"location": "westeurope"}, stack="dev", project_dir=REPO, allow_global_administrator=False
    )
    assert automation is not None
    assert described["automation.runtime"] == automation.runtime.name == facts.DEFAULT_AUTOMATION_RUNTIME
    assert f"{automation.exchange_module_version} ({automation.runtime.name})" in described["automation.exchangeModuleVersion"]
    assert described["automation.roles"] == f"[{', '.join(automation.role_names)}]"
    (identity,) = parse_settings({}, "dev", None).identities
    assert described["identities[].roles"].startswith(f"[{', '.join(identity.role_names)}]")
    for runtime in facts.AUTOMATION_RUNTIMES.values():
        chosen = parse_automation(
            "exo-automation:automation",
            {"location": "westeurope", "runtime": runtime.name},
            stack="dev",
            project_dir=REPO,
            allow_global_administrator=False,
        )
        assert chosen is not None and chosen.exchange_module_version == runtime.default_module_version
        assert f"{runtime.default_module_version} ({runtime.name})" in described["automation.exchangeModuleVersion"]


def _runtime(text: str) -> facts.AutomationRuntime | None:
    """'5.1', '7.4', 'WindowsPowerShell-5.1', 'PowerShell-7.4' -> the runtime."""
    return next((r for r in facts.AUTOMATION_RUNTIMES.values() if r.name == text or r.name.endswith(f"-{text}")), None)


HAND_WRITTEN = sorted({REPO / "README.md", *(REPO / "docs").glob("*.md")} - {REPO / "docs" / "configuration.md"})


def test_the_example_stack_pins_the_default_runtime_and_its_module() -> None:
    automation = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]["exo-automation:automation"]
    runtime = facts.AUTOMATION_RUNTIMES[automation.get("runtime", facts.DEFAULT_AUTOMATION_RUNTIME)]
    assert runtime.name == facts.DEFAULT_AUTOMATION_RUNTIME, "Pulumi.dev.yaml shows the default runtime"
    assert automation.get("exchangeModuleVersion", runtime.default_module_version) == runtime.default_module_version


@pytest.mark.parametrize("document", HAND_WRITTEN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_documents_state_the_codes_defaults(document: Path) -> None:
    """'the 7.4 default 3.9.2', 'default runtime is X', a runtime table row with its module default, a YAML block pinning a module
    beside its runtime: each copy must be the value exo/facts.py holds."""
    text = document.read_text(encoding="utf-8")
    for runtime_text, version in re.findall(r"the (\d\.\d) default (?:module )?(\d+\.\d+\.\d+)", text):
        runtime = _runtime(runtime_text)
        assert runtime is not None and runtime.default_module_version == version, f"'the {runtime_text} default {version}'"
    for name in re.findall(r"default runtime is `?([\w.-]+)`?", text):
        assert name == facts.DEFAULT_AUTOMATION_RUNTIME, f"'default runtime is {name}'"
    for row in re.findall(r"^\| `((?:Windows)?PowerShell-\d\.\d)`( \(default\))? \|(.*)$", text, re.MULTILINE):
        runtime = facts.AUTOMATION_RUNTIMES[row[0]]
        assert bool(row[1]) == (runtime.name == facts.DEFAULT_AUTOMATION_RUNTIME), f"{row[0]}: '(default)' marks the default only"
        versions = re.findall(r"\| (\d+\.\d+\.\d+) \|", row[2])
        assert versions in ([], [runtime.default_module_version]), f"{row[0]}'s default module is {runtime.default_module_version}"
    for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL):
        for runtime_text, version in re.findall(r"runtime: ([\w.-]+).*?\n\s*exchangeModuleVersion: (\d+\.\d+\.\d+)", block):
            runtime = _runtime(runtime_text)
            assert runtime is not None and version == runtime.default_module_version, f"{runtime_text} with {version} in a YAML block"


def test_pulumi_yaml_types_are_the_schemas() -> None:
    pulumi_type = {"list of objects": "array", "list of strings": "array", "string": "string", "boolean": "boolean", "object": "object"}
    described = {row.path: row.type for row in settings()}
    assert set(config_docs.DECLARED) == {path for path in described if "." not in path and "[" not in path}
    for name, (declaration, _) in config_docs.DECLARED.items():
        assert declaration["type"] == pulumi_type[described[name]], name
