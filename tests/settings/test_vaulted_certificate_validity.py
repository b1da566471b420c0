"""A generated certificate that goes to the Key Vault defaults to 2 months (ALZ denies vault secrets valid over 90 days); every other
certificate keeps 12, a configured value always wins, and stacks that relied on the old default are told while the notice runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from exo import facts
from settings.stack import (
    DEFAULT_VALIDITY_MONTHS,
    DEFAULT_VAULTED_VALIDITY_MONTHS,
    HOURS_PER_MONTH,
    ConfigError,
    StackSettings,
    parse_settings,
)
from tests.host_certificate_files import CertificateFolder, make_host_certificate

VAULT = {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo", "readers": ["0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"]}
# One clock for every test here: a day inside the notice period, and the first day after it.
IN_THE_NOTICE = dt.datetime.combine(facts.DEFAULT_VAULTED_VALIDITY_CHANGED_ON, dt.time(9), dt.UTC)
NOTICE_OVER = IN_THE_NOTICE + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS)


def settings(identities: list[dict[str, Any]], vault: bool, now: dt.datetime = IN_THE_NOTICE, project: Path | None = None) -> StackSettings:
    raw: dict[str, str | None] = {"identities": json.dumps(identities)}
    if vault:
        raw["keyVault"] = json.dumps(VAULT)
    return parse_settings(raw, "prod", None, project, now=now)


def months(found: StackSettings, name: str) -> float:
    (identity,) = [i for i in found.identities if i.name == name]
    certificate = identity.generated_certificate
    assert certificate is not None
    assert isinstance(certificate.validity_period_hours, int)
    return certificate.validity_period_hours / HOURS_PER_MONTH


def test_the_vaulted_default_is_the_longest_whole_number_of_months_within_the_alz_limit() -> None:
    assert DEFAULT_VAULTED_VALIDITY_MONTHS == 2
    assert DEFAULT_VAULTED_VALIDITY_MONTHS * HOURS_PER_MONTH <= facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS * 24
    assert (DEFAULT_VAULTED_VALIDITY_MONTHS + 1) * HOURS_PER_MONTH > facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS * 24


def test_with_the_vault_an_unset_validity_is_two_months_and_without_it_twelve() -> None:
    identities = [{"name": "reports"}, {"name": "tasks", "certificate": {"renewBeforeDays": 14}}]
    with_vault = settings(identities, vault=True)
    assert (months(with_vault, "reports"), months(with_vault, "tasks")) == (2, 2)
    without = settings(identities, vault=False)
    assert (months(without, "reports"), months(without, "tasks")) == (DEFAULT_VALIDITY_MONTHS, DEFAULT_VALIDITY_MONTHS)
    # The renewal window keeps its default and fits: 30 days is half of the 60 whole days of 1,460 hours.
    (reports, _) = with_vault.identities
    assert reports.generated_certificate is not None
    assert reports.generated_certificate.early_renewal_hours == 30 * 24


def test_a_configured_validity_wins_with_or_without_the_vault() -> None:
    for vault in (True, False):
        found = settings([{"name": "reports", "certificate": {"validityMonths": 12}}], vault=vault)
        assert months(found, "reports") == 12


def test_a_renewal_window_too_long_for_the_vaulted_default_names_the_key_and_the_reason() -> None:
    with pytest.raises(ConfigError) as caught:
        settings([{"name": "reports", "certificate": {"renewBeforeDays": 45}}], vault=True)
    assert caught.value.key == "exo-automation:identities[0].certificate.renewBeforeDays"
    assert "2-month" in caught.value.problem
    assert "the default for a certificate kept in keyVault" in caught.value.problem
    # The same window is fine without the vault (12 months).
    assert months(settings([{"name": "reports", "certificate": {"renewBeforeDays": 45}}], vault=False), "reports") == 12


def test_the_notice_names_each_identity_that_relied_on_the_old_default_and_only_while_it_runs() -> None:
    identities = [{"name": "reports"}, {"name": "pinned", "certificate": {"validityMonths": 2}}, {"name": "tasks", "certificate": {}}]
    (notice,) = settings(identities, vault=True).certificate_notices
    assert "identities reports, tasks set no certificate.validityMonths" in notice
    assert "pinned" not in notice
    assert "now means 2 months (it meant 12)" in notice
    assert "validityMonths: 12" in notice
    assert notice in settings(identities, vault=True).warnings
    last_day = NOTICE_OVER - dt.timedelta(days=1)
    assert settings(identities, vault=True, now=last_day).certificate_notices == (notice,)
    assert settings(identities, vault=True, now=NOTICE_OVER).certificate_notices == ()
    assert settings(identities, vault=False).certificate_notices == ()
    every_one_set = [{"name": "reports", "certificate": {"validityMonths": 12}}]
    assert settings(every_one_set, vault=True).certificate_notices == ()


def test_host_certificates_are_not_vaulted_and_get_no_notice() -> None:
    folder = CertificateFolder()
    try:
        path = folder.write("h.crt", make_host_certificate(IN_THE_NOTICE, host="HOST01").pem)
        identities = [{"name": "keyless-tasks", "certificate": {"hostCertificates": [path]}}, {"name": "reports"}]
        (notice,) = settings(identities, vault=True).certificate_notices
        assert "identity reports sets no" in notice
        assert "keyless-tasks" not in notice
    finally:
        folder.cleanup()
