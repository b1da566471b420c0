"""A generated certificate that goes to the Key Vault defaults to 89 days renewed 44 days early (ALZ denies vault secrets valid over
90 days); every other certificate keeps 12 months, a configured value always wins, and stacks that relied on the old default are told
while the notice runs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from exo import facts
from settings.stack import (
    DEFAULT_VALIDITY_MONTHS,
    HOURS_PER_MONTH,
    ConfigError,
    StackSettings,
    parse_settings,
)
from tests.harness import REPO
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


def lifetime(found: StackSettings, name: str) -> tuple[float, float]:
    """(validity, renewal window) of one identity's generated certificate, in days."""
    (identity,) = [i for i in found.identities if i.name == name]
    certificate = identity.generated_certificate
    assert certificate is not None
    assert isinstance(certificate.validity_period_hours, int)
    assert isinstance(certificate.early_renewal_hours, int)
    return certificate.validity_period_hours / 24, certificate.early_renewal_hours / 24


YEAR = (DEFAULT_VALIDITY_MONTHS * HOURS_PER_MONTH / 24, 30)


def test_with_the_vault_an_unset_validity_is_89_days_renewed_44_days_early_and_without_it_a_year() -> None:
    identities = [{"name": "reports"}, {"name": "tasks", "certificate": {"renewBeforeDays": 14}}, {"name": "nulls", "certificate": None}]
    with_vault = settings(identities, vault=True)
    # A day within ALZ's limit (the secret is written after the certificate, by a clock that may run ahead of Key Vault's), and
    # the widest window at most half of it allows.
    assert facts.ALZ_SECRET_MAXIMUM_VALIDITY_DAYS == 90
    assert lifetime(with_vault, "reports") == (89, 44)
    assert lifetime(with_vault, "tasks") == (89, 14)
    assert lifetime(with_vault, "nulls") == (89, 44)
    without = settings(identities, vault=False)
    assert lifetime(without, "reports") == YEAR == (365, 30)
    assert lifetime(without, "tasks") == (365, 14)
    # A vault that is switched off is no vault.
    off = parse_settings(
        {"identities": json.dumps(identities), "keyVault": json.dumps({"enabled": False})}, "prod", None, now=IN_THE_NOTICE
    )
    assert lifetime(off, "reports") == YEAR
    assert off.certificate_notices == ()
    # The default identity (no identities key) gets the vault's default too.
    default = parse_settings({"keyVault": json.dumps(VAULT)}, "prod", None, now=IN_THE_NOTICE)
    assert lifetime(default, "exo") == (89, 44)


def test_a_configured_validity_wins_with_or_without_the_vault_and_keeps_the_ordinary_renewal_default() -> None:
    for vault in (True, False):
        found = settings([{"name": "reports", "certificate": {"validityMonths": 12}}], vault=vault)
        assert lifetime(found, "reports") == YEAR
        found = settings([{"name": "reports", "certificate": {"validityMonths": 2}}], vault=vault)
        assert lifetime(found, "reports") == (2 * HOURS_PER_MONTH / 24, 30)


def test_a_renewal_window_too_long_for_the_vaulted_default_names_the_key_and_the_way_out() -> None:
    with pytest.raises(ConfigError) as caught:
        settings([{"name": "reports", "certificate": {"renewBeforeDays": 45}}], vault=True)
    assert caught.value.key == "exo-automation:identities[0].certificate.renewBeforeDays"
    assert "45 days is more than half of the 89-day validity" in caught.value.problem
    assert "the default for a certificate kept in keyVault" in caught.value.problem
    assert "use at most 44, or leave renewBeforeDays unset" in caught.value.problem
    # A configured validity gets the ordinary advice, without the vault's reason.
    with pytest.raises(ConfigError) as configured:
        settings([{"name": "reports", "certificate": {"validityMonths": 2, "renewBeforeDays": 31}}], vault=True)
    assert "more than half of the 60-day validity (2 months); use at most 30 or a longer validityMonths" in configured.value.problem
    assert "keyVault" not in configured.value.problem
    # The same window is fine without the vault (12 months).
    assert lifetime(settings([{"name": "reports", "certificate": {"renewBeforeDays": 45}}], vault=False), "reports") == (365, 45)


def test_the_landing_zone_warning_starts_at_the_first_whole_month_count_over_the_limit() -> None:
    def warned(months: int) -> tuple[str, ...]:
        raw = {
            "identities": json.dumps([{"name": "reports", "certificate": {"validityMonths": months}}]),
            "keyVault": json.dumps(VAULT),
            "landingZone": json.dumps({"archetype": "online"}),
        }
        return parse_settings(raw, "prod", None, now=NOTICE_OVER).landing_zone_warnings

    assert warned(2) == ()
    (warning,) = warned(3)  # 2,190 hours: 91.25 days
    assert "would be valid 91 days" in warning
    assert "remove its certificate.validityMonths (with keyVault the default is 89 days" in warning
    assert "exo-vault-secret-validity" in warning


def test_the_notice_names_each_identity_that_relied_on_the_old_default_and_only_while_it_runs() -> None:
    identities = [{"name": "reports"}, {"name": "pinned", "certificate": {"validityMonths": 2}}, {"name": "tasks", "certificate": {}}]
    (notice,) = settings(identities, vault=True).certificate_notices
    assert "identities reports (renewed 44 days early), tasks (renewed 44 days early) set no certificate.validityMonths" in notice
    assert "pinned" not in notice
    assert "now means 89 days (it meant 12 months)" in notice
    assert "needs an up at least every 44 days" in notice
    # A shorter window configured beside the default validity is the one the stack must keep up with.
    (short,) = settings([{"name": "fast", "certificate": {"renewBeforeDays": 10}}], vault=True).certificate_notices
    assert "identity fast (renewed 10 days early) sets no certificate.validityMonths" in short
    assert "needs an up at least every 10 days" in short
    assert "validityMonths: 12 (in a landing zone, ALZ then denies the secret until the exemption exo-vault-secret-validity" in notice
    ends = facts.DEFAULT_VAULTED_VALIDITY_CHANGED_ON + dt.timedelta(days=facts.DEFAULT_CHANGE_NOTICE_DAYS)
    assert f"stops by itself on {ends.isoformat()}" in notice
    # The upgrade notes give the same last day.
    for doc in ("operations.md", "landing-zone.md"):
        text = (REPO / "docs" / doc).read_text(encoding="utf-8")
        assert f"warns until {ends.isoformat()}" in text or f"identity until {ends.isoformat()}" in text, doc
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
        assert "identity reports (renewed 44 days early) sets no" in notice
        assert "keyless-tasks" not in notice
    finally:
        folder.cleanup()


def test_an_expiry_alert_longer_than_a_renewal_window_is_named_at_preview() -> None:
    from tests.fixtures import monitoring_stack
    from tests.harness import config_for

    def notices(warning_days: int | None, vault: bool) -> tuple[str, ...]:
        config = monitoring_stack()
        if warning_days is not None:
            config["exo-automation:automation"]["monitoring"]["certificateWarningDays"] = warning_days
        if vault:
            config["exo-automation:keyVault"] = VAULT
        raw = {k.split(":", 1)[1]: v for k, v in config_for(config).items()}
        return parse_settings(raw, "prod", None, now=NOTICE_OVER).certificate_notices

    assert notices(None, vault=False) == (), "the defaults agree: a 30-day alert and a 30-day window"
    assert notices(44, vault=True) == (), "the vault's 44-day window"
    (warning,) = notices(31, vault=False)
    assert warning.startswith("exo-automation:automation.monitoring.certificateWarningDays (31) is more than the renewBeforeDays")
    assert "identities exo (30), sales-reports (30)" in warning
    assert warning.endswith("set certificateWarningDays to at most 30")
    (warning,) = notices(45, vault=True)
    assert "exo (44), sales-reports (44)" in warning
