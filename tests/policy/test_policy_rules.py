"""The policy rules against crafted good and bad resources (camelCase inputs, as CrossGuard passes them)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import exo_policies as ep
import pytest

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CATALOG = ep.load_catalog()

EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
# "User Administrator": a real built-in role that Exchange app-only does not accept.
USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"


def violations(
    resource_type: str,
    inputs: Mapping[str, Any],
    settings: ep.PolicySettings | None = None,
) -> list[ep.Violation]:
    return ep.evaluate(
        [ep.ResourceRecord(resource_type, "r", inputs)],
        settings=settings,
        now=NOW,
        catalog=CATALOG,
    )


def only(
    resource_type: str,
    inputs: Mapping[str, Any],
    settings: ep.PolicySettings | None = None,
) -> ep.Violation:
    found = violations(resource_type, inputs, settings)
    assert len(found) == 1, found
    return found[0]


GOOD_RESOURCES: list[ep.ResourceRecord] = [
    ep.ResourceRecord(ep.TLS_PRIVATE_KEY, "key", {"algorithm": "RSA", "rsaBits": 3072.0}),
    ep.ResourceRecord(ep.TLS_PRIVATE_KEY, "key-default-bits", {"algorithm": "RSA"}),
    ep.ResourceRecord(ep.TLS_PRIVATE_KEY, "ecdsa", {"algorithm": "ECDSA", "ecdsaCurve": "P256"}),
    ep.ResourceRecord(
        ep.TLS_SELF_SIGNED_CERT,
        "cert",
        {"validityPeriodHours": 8760.0, "privateKeyPem": "x"},
    ),
    ep.ResourceRecord(ep.AZUREAD_APPLICATION, "app", {"displayName": "exo", "owners": ["o"]}),
    ep.ResourceRecord(
        ep.AZUREAD_APPLICATION_CERTIFICATE,
        "app-cert",
        {
            "applicationId": "/applications/1",
            "endDate": "2027-05-31T12:00:00Z",
            "startDate": "2026-06-01T12:00:00Z",
        },
    ),
    ep.ResourceRecord(
        ep.AZUREAD_SERVICE_PRINCIPAL,
        "app-sp",
        {"clientId": "11111111-2222-3333-4444-555555555555"},
    ),
    ep.ResourceRecord(
        ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
        "role",
        {"roleId": EXCHANGE_ADMINISTRATOR, "principalObjectId": "p"},
    ),
    ep.ResourceRecord(
        ep.AUTOMATION_ACCOUNT,
        "automation",
        {
            "identity": {"type": "SystemAssigned"},
            "disableLocalAuth": True,
            "sku": {"name": "Basic"},
        },
    ),
    ep.ResourceRecord(
        ep.STORAGE_ACCOUNT,
        "runbooks",
        {
            "enableHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
        },
    ),
    ep.ResourceRecord(
        ep.AUTOMATION_SCHEDULE,
        "daily",
        {"startTime": "2026-06-02T06:00:00+00:00", "frequency": "Day"},
    ),
]


def test_good_resources_pass_every_rule() -> None:
    assert ep.evaluate(GOOD_RESOURCES, now=NOW, catalog=CATALOG) == []


def test_rule_names_are_unique_and_every_rule_has_a_resource_type() -> None:
    assert len(ep.RULES_BY_NAME) == len(ep.RULES)
    assert all(rule.resource_types for rule in ep.RULES)


# ---------------------------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    "resource_type",
    [ep.AZUREAD_APPLICATION_PASSWORD, ep.AZUREAD_SERVICE_PRINCIPAL_PASSWORD],
)
def test_password_resources_are_client_secrets(resource_type: str) -> None:
    found = only(resource_type, {"applicationId": "/applications/1", "displayName": "ci"})
    assert found.policy == "no-client-secrets"
    assert found.enforcement == "mandatory"
    assert "client secrets are not allowed" in found.message


def test_inline_application_password_is_a_client_secret() -> None:
    found = only(ep.AZUREAD_APPLICATION, {"displayName": "exo", "password": {"displayName": "p"}})
    assert found.policy == "no-client-secrets"
    assert "inline `password` block" in found.message


# ---------------------------------------------------------------------------------------------- first party


@pytest.mark.parametrize(
    ("client_id", "name"),
    [
        ("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"),
        ("00000003-0000-0000-C000-000000000000", "Microsoft Graph"),
        (
            "797f4846-ba00-4fd7-ba43-dac1f8f63013",
            "Windows Azure Service Management API",
        ),
    ],
)
def test_first_party_service_principal_is_refused(client_id: str, name: str) -> None:
    found = only(ep.AZUREAD_SERVICE_PRINCIPAL, {"clientId": client_id, "useExisting": True})
    assert found.policy == "no-first-party-service-principal"
    assert name in found.message
    assert "get_service_principal_output" in found.message


# ---------------------------------------------------------------------------------------------- roles


def test_global_administrator_is_denied_by_default() -> None:
    found = only(
        ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
        {"roleId": GLOBAL_ADMINISTRATOR, "principalObjectId": "p"},
    )
    assert found.policy == "exchange-app-only-directory-roles"
    assert found.message.startswith("Global Administrator")
    assert "allowGlobalAdministrator" in found.message


def test_global_administrator_passes_when_configured() -> None:
    settings = ep.settings_from_config({"allowGlobalAdministrator": True})
    assert (
        violations(
            ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
            {"roleId": GLOBAL_ADMINISTRATOR},
            settings,
        )
        == []
    )


def test_role_outside_the_exchange_set_is_refused() -> None:
    found = only(
        ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
        {"roleId": USER_ADMINISTRATOR, "principalObjectId": "p"},
    )
    assert "not one that Exchange app-only authentication supports" in found.message
    assert "Exchange Recipient Administrator" in found.message
    assert "Global Administrator" not in found.message


def test_scoped_role_assignment_is_refused() -> None:
    found = only(
        ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
        {
            "roleId": EXCHANGE_ADMINISTRATOR,
            "directoryScopeId": "/administrativeUnits/42",
        },
    )
    assert "cannot be scoped" in found.message


def test_every_catalog_role_except_global_administrator_is_accepted() -> None:
    for template_id in CATALOG.exchange_role_names_by_template_id:
        found = violations(ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT, {"roleId": template_id.upper()})
        assert (found != []) == (template_id == GLOBAL_ADMINISTRATOR)


# ---------------------------------------------------------------------------------------------- keys, certificates


@pytest.mark.parametrize("bits", [1024.0, 1024, 2047])
def test_small_rsa_key_is_refused(bits: float) -> None:
    found = only(ep.TLS_PRIVATE_KEY, {"algorithm": "RSA", "rsaBits": bits})
    assert found.policy == "rsa-key-minimum-size"
    assert "at least 2048" in found.message


@pytest.mark.parametrize("resource_type", [ep.TLS_SELF_SIGNED_CERT, ep.TLS_LOCALLY_SIGNED_CERT])
def test_certificate_validity_above_maximum_is_refused(resource_type: str) -> None:
    found = only(resource_type, {"validityPeriodHours": 2 * 8760.0})
    assert found.policy == "certificate-validity-bounded"
    assert "exceeds the maximum of 365 days" in found.message


def test_certificate_maximum_is_configurable() -> None:
    settings = ep.settings_from_config({"maxValidityDays": 730})
    assert violations(ep.TLS_SELF_SIGNED_CERT, {"validityPeriodHours": 2 * 8760.0}, settings) == []
    found = only(
        ep.TLS_SELF_SIGNED_CERT,
        {"validityPeriodHours": 24 * 31.0},
        ep.settings_from_config({"maxValidityDays": 30}),
    )
    assert "maximum of 30 days" in found.message


@pytest.mark.parametrize(
    "resource_type",
    [ep.AZUREAD_APPLICATION_CERTIFICATE, ep.AZUREAD_SERVICE_PRINCIPAL_CERTIFICATE],
)
def test_application_certificate_without_end_date_is_refused(
    resource_type: str,
) -> None:
    found = only(
        resource_type,
        {
            "applicationId": "/applications/1",
            "value": "pem",
            "type": "AsymmetricX509Cert",
        },
    )
    assert found.policy == "certificate-validity-bounded"
    assert "no valid `endDate`" in found.message


def test_application_certificate_lifetime_is_bounded() -> None:
    found = only(
        ep.AZUREAD_APPLICATION_CERTIFICATE,
        {"endDate": "2028-06-01T12:00:00Z", "startDate": "2026-06-01T12:00:00Z"},
    )
    assert "more than 365 days after its start" in found.message


def self_signed_certificate(not_before: datetime, not_after: datetime) -> Any:
    """A real certificate (cryptography is in the program's venv, not the pack's)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "exo")])
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize("encoding", ["pem", "base64", "hex", None])
@pytest.mark.parametrize("judged_at", [NOW, NOW + timedelta(days=400), datetime(2028, 2, 29, 23, 59, tzinfo=UTC)])
def test_credential_without_start_date_is_judged_from_the_certificates_not_before(encoding: str | None, judged_at: datetime) -> None:
    serialization = pytest.importorskip("cryptography.hazmat.primitives.serialization")
    encoding_der, encoding_pem = serialization.Encoding.DER, serialization.Encoding.PEM
    # Before 2050 X.509 writes UTCTime, after it GeneralizedTime: both forms are read.
    for not_before in (datetime(2026, 6, 1, 12, tzinfo=UTC), datetime(2051, 6, 1, 12, tzinfo=UTC)):
        within = self_signed_certificate(not_before, not_before + timedelta(days=365))
        beyond = self_signed_certificate(not_before, not_before + timedelta(days=366))
        for certificate, expected in ((within, 0), (beyond, 1)):
            der = certificate.public_bytes(encoding_der)
            value = {
                "pem": certificate.public_bytes(encoding_pem).decode(),
                "base64": base64.b64encode(der).decode(),
                "hex": der.hex(),
                None: certificate.public_bytes(encoding_pem).decode(),
            }[encoding]
            inputs = {"value": value, "endDate": certificate.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if encoding is not None:
                inputs["encoding"] = encoding
            found = ep.evaluate([ep.ResourceRecord(ep.AZUREAD_APPLICATION_CERTIFICATE, "r", inputs)], now=judged_at, catalog=CATALOG)
            assert len(found) == expected, (not_before, found)


def test_credential_without_start_date_or_readable_certificate_is_refused() -> None:
    found = only(ep.AZUREAD_APPLICATION_CERTIFICATE, {"endDate": "2027-01-01T00:00:00Z", "value": "not a certificate"})
    assert "no `startDate`" in found.message
    # A start date set on the credential is used as it is, whatever the value holds.
    assert violations(ep.AZUREAD_APPLICATION_CERTIFICATE, {"endDate": "2027-01-01T00:00:00Z", "startDate": "2026-06-01T00:00:00Z"}) == []


# ---------------------------------------------------------------------------------------------- automation, storage


def test_automation_account_without_identity_or_with_local_auth_is_refused() -> None:
    found = violations(ep.AUTOMATION_ACCOUNT, {"identity": {"type": "None"}, "disableLocalAuth": False})
    assert [v.policy for v in found] == ["automation-account-managed-identity"] * 2
    assert "no managed identity" in found[0].message
    assert "`disableLocalAuth` to true" in found[1].message
    assert len(violations(ep.AUTOMATION_ACCOUNT, {"sku": {"name": "Basic"}})) == 2


def test_user_assigned_identity_is_a_managed_identity() -> None:
    assert (
        violations(
            ep.AUTOMATION_ACCOUNT,
            {"identity": {"type": "UserAssigned"}, "disableLocalAuth": True},
        )
        == []
    )


def test_insecure_storage_account_reports_each_setting() -> None:
    found = violations(
        ep.STORAGE_ACCOUNT,
        {
            "enableHttpsTrafficOnly": False,
            "minimumTlsVersion": "TLS1_0",
            "allowBlobPublicAccess": True,
        },
    )
    messages = [v.message for v in found]
    assert {v.policy for v in found} == {"storage-account-secure-transport"}
    assert any("HTTPS-only" in m for m in messages)
    assert any("'TLS1_0'" in m for m in messages)
    assert any("public blob access" in m for m in messages)


def test_storage_defaults_are_not_trusted() -> None:
    # Left unset, Azure's defaults decide (TLS 1.0 on older API versions): the policy wants them explicit.
    assert len(violations(ep.STORAGE_ACCOUNT, {"kind": "StorageV2"})) == 3


# ---------------------------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("start", ["2026-05-31T06:00:00Z", "2026-06-01T12:03:00Z", "2020-01-01T00:00:00"])
def test_schedule_start_in_the_past_is_reported(start: str) -> None:
    found = only(ep.AUTOMATION_SCHEDULE, {"startTime": start})
    assert found.policy == "schedule-start-in-future"
    assert found.enforcement == "advisory"
    assert "is in the past" in found.message


def test_schedule_with_unparseable_start_is_reported() -> None:
    assert "not an RFC3339 date-time" in only(ep.AUTOMATION_SCHEDULE, {"startTime": "tomorrow"}).message


# ---------------------------------------------------------------------------------------------- catalog, config


def test_catalog_comes_from_the_facts_module() -> None:
    assert CATALOG.global_administrator_template_id == GLOBAL_ADMINISTRATOR
    assert CATALOG.exchange_role_names_by_template_id[EXCHANGE_ADMINISTRATOR] == "Exchange Administrator"
    assert "00000002-0000-0ff1-ce00-000000000000" in CATALOG.first_party_apps


def test_settings_from_config_keeps_defaults_for_missing_or_mistyped_keys() -> None:
    assert ep.settings_from_config({}) == ep.PolicySettings()
    assert ep.settings_from_config({"maxValidityDays": "long", "allowGlobalAdministrator": "yes"}) == ep.PolicySettings()
    assert ep.settings_from_config({"minimumLeadMinutes": 0}).schedule_minimum_lead_minutes == 0
