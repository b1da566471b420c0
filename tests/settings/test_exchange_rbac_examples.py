"""The Exchange RBAC examples in docs/identities.md and docs/exchange-rbac.md are valid config, and every cmdlet a documented custom
role keeps exists in Exchange Online (checked against tests/data/exo-cmdlets.json, which the program itself never reads)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from settings.stack import parse_settings
from tests.harness import REPO

DOCUMENTS = ("docs/identities.md", "docs/exchange-rbac.md")


def _examples() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for document in DOCUMENTS:
        for block in re.findall(r"```yaml\n(.*?)```", (REPO / document).read_text(encoding="utf-8"), re.DOTALL):
            if "exchangeRbac:" in block:
                found.append((document, yaml.safe_load(block)["config"]))
    return found


EXAMPLES = _examples()


def test_both_documents_carry_the_worked_example() -> None:
    assert {document for document, _ in EXAMPLES} == set(DOCUMENTS)


@pytest.mark.parametrize(("document", "config"), EXAMPLES, ids=[d for d, _ in EXAMPLES])
def test_example_parses_and_keeps_only_existing_get_cmdlets(
    document: str, config: dict[str, Any], exchange_reference: dict[str, dict[str, Any]]
) -> None:
    raw = {key.split(":", 1)[1]: json.dumps(value) for key, value in config.items()}
    settings = parse_settings(raw, "dev", None, REPO)
    assert settings.rbac_reconciler is not None, document
    (reporter,) = [i for i in settings.identities if i.exchange_rbac is not None]
    assert reporter.role_names == (), "the worked example holds no Entra role"
    rbac = reporter.exchange_rbac
    assert rbac is not None and rbac.custom_role is not None and rbac.scope is not None and rbac.scope.filter
    for cmdlet in rbac.custom_role.cmdlets:
        entry = exchange_reference.get(cmdlet.lower())
        assert entry is not None and entry["exo"], f"{document}: {cmdlet} is not an Exchange Online cmdlet"
        assert cmdlet.startswith("Get-"), f"{document}: the reporting example must keep only Get-* cmdlets, not {cmdlet}"
