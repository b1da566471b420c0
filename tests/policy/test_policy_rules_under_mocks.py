"""The rules over resources declared with the real provider SDKs and captured by Pulumi mocks.

This proves the type tokens and camelCase input names the rules read are the ones the SDKs send (a rule keyed
on a wrong name would pass bad resources silently). The lead's whole-program test uses the same
`RecordingMocks` + `evaluate` path over `__main__.py`'s resources.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

pulumi = pytest.importorskip("pulumi", reason="needs the program's SDKs (run in the main .venv)")
tls = pytest.importorskip("pulumi_tls", reason="needs the program's SDKs (run in the main .venv)")
azuread = pytest.importorskip("pulumi_azuread", reason="needs the program's SDKs (run in the main .venv)")
azure_native = pytest.importorskip("pulumi_azure_native", reason="needs the program's SDKs (run in the main .venv)")

import exo_policies as ep
from recording_mocks import RecordingMocks

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EXCHANGE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"


def computed_outputs(typ: str, _name: str, _inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    if typ == ep.TLS_SELF_SIGNED_CERT:
        return {
            "certPem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "validityStartTime": "2026-06-01T12:00:00Z",
            "validityEndTime": "2027-06-01T12:00:00Z",
        }
    if typ == ep.AZUREAD_APPLICATION:
        return {"clientId": "11111111-2222-3333-4444-555555555555"}
    return {}


CALLS = {
    "azuread:index/getServicePrincipal:getServicePrincipal": {
        "objectId": "exchange-sp-object-id",
        "clientId": EXCHANGE_APP_ID,
        "appRoleIds": {"Exchange.ManageAsApp": "dc50a0fb-09a3-484d-be87-e023b12c6440"},
    }
}


def run_program(declare: Callable[[], list[Any]]) -> list[ep.ResourceRecord]:
    # Pulumi's mocks run on the thread's current event loop; an IsolatedAsyncioTestCase that ran before leaves none set.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        mocks = RecordingMocks(computed_outputs=computed_outputs, call_results=CALLS)
        pulumi.runtime.set_mocks(mocks, preview=False)

        @pulumi.runtime.test
        def program() -> Any:
            return pulumi.Output.all(*[resource.urn for resource in declare()])

        program()
        return mocks.records
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def compliant_program() -> list[Any]:
    key = tls.PrivateKey("exo-key", algorithm="RSA", rsa_bits=2048)
    cert = tls.SelfSignedCert(
        "exo-cert",
        private_key_pem=key.private_key_pem,
        validity_period_hours=8760,
        allowed_uses=["digital_signature", "key_encipherment"],
        subject=tls.SelfSignedCertSubjectArgs(common_name="exo"),
    )
    app = azuread.Application("exo-app", display_name="exo", owners=["deployer-object-id"])
    app_cert = azuread.ApplicationCertificate(
        "exo-app-cert",
        application_id=app.id,
        type="AsymmetricX509Cert",
        value=cert.cert_pem,
        start_date=cert.validity_start_time,
        end_date=cert.validity_end_time,
    )
    sp = azuread.ServicePrincipal("exo-sp", client_id=app.client_id, owners=["deployer-object-id"])
    exchange = azuread.get_service_principal_output(client_id=EXCHANGE_APP_ID)
    grant = azuread.AppRoleAssignment(
        "exo-manage-as-app",
        app_role_id=exchange.app_role_ids["Exchange.ManageAsApp"],
        principal_object_id=sp.object_id,
        resource_object_id=exchange.object_id,
    )
    role = azuread.DirectoryRoleAssignment(
        "exo-exchange-admin",
        role_id=EXCHANGE_ADMINISTRATOR,
        principal_object_id=sp.object_id,
    )
    account = azure_native.automation.AutomationAccount(
        "exo-automation",
        resource_group_name="rg",
        sku=azure_native.automation.SkuArgs(name=azure_native.automation.SkuNameEnum.BASIC),
        identity=azure_native.automation.IdentityArgs(type=azure_native.automation.ResourceIdentityType.SYSTEM_ASSIGNED),
        disable_local_auth=True,
    )
    storage = azure_native.storage.StorageAccount(
        "exorunbooks",
        resource_group_name="rg",
        kind=azure_native.storage.Kind.STORAGE_V2,
        sku=azure_native.storage.SkuArgs(name=azure_native.storage.SkuName.STANDARD_LRS),
        enable_https_traffic_only=True,
        minimum_tls_version=azure_native.storage.MinimumTlsVersion.TLS1_2,
        allow_blob_public_access=False,
    )
    schedule = azure_native.automation.Schedule(
        "exo-daily",
        resource_group_name="rg",
        automation_account_name=account.name,
        name="exo-daily",
        frequency=azure_native.automation.ScheduleFrequency.DAY,
        interval=1,
        start_time="2026-06-02T06:00:00+00:00",
    )
    return [key, cert, app, app_cert, sp, grant, role, account, storage, schedule]


def test_compliant_program_passes_every_rule() -> None:
    records = run_program(compliant_program)
    assert {r.type for r in records} >= {
        ep.TLS_PRIVATE_KEY,
        ep.TLS_SELF_SIGNED_CERT,
        ep.AZUREAD_APPLICATION_CERTIFICATE,
        ep.AZUREAD_SERVICE_PRINCIPAL,
        ep.AZUREAD_DIRECTORY_ROLE_ASSIGNMENT,
        ep.AUTOMATION_ACCOUNT,
        ep.STORAGE_ACCOUNT,
        ep.AUTOMATION_SCHEDULE,
    }
    assert ep.evaluate(records, now=NOW) == []


def bad_password() -> list[Any]:
    app = azuread.Application("ci-app", display_name="ci")
    return [azuread.ApplicationPassword("ci-secret", application_id=app.id)]


def bad_first_party_sp() -> list[Any]:
    return [azuread.ServicePrincipal("exchange", client_id=EXCHANGE_APP_ID, use_existing=True)]


def bad_global_admin() -> list[Any]:
    return [
        azuread.DirectoryRoleAssignment(
            "ga",
            role_id="62e90394-69f5-4237-9190-012177145e10",
            principal_object_id="p",
        )
    ]


def bad_small_key() -> list[Any]:
    return [tls.PrivateKey("weak", algorithm="RSA", rsa_bits=1024)]


def bad_long_cert() -> list[Any]:
    key = tls.PrivateKey("k", algorithm="RSA")
    return [
        key,
        tls.SelfSignedCert(
            "long",
            private_key_pem=key.private_key_pem,
            validity_period_hours=5 * 8760,
            allowed_uses=["digital_signature"],
        ),
    ]


def bad_app_cert_without_end() -> list[Any]:
    return [
        azuread.ApplicationCertificate(
            "no-end",
            application_id="/applications/1",
            type="AsymmetricX509Cert",
            value="pem",
        )
    ]


def bad_automation() -> list[Any]:
    return [
        azure_native.automation.AutomationAccount(
            "open",
            resource_group_name="rg",
            sku=azure_native.automation.SkuArgs(name="Basic"),
            disable_local_auth=False,
        )
    ]


def bad_storage() -> list[Any]:
    return [
        azure_native.storage.StorageAccount(
            "open",
            resource_group_name="rg",
            kind="StorageV2",
            sku=azure_native.storage.SkuArgs(name="Standard_LRS"),
            enable_https_traffic_only=False,
            minimum_tls_version=azure_native.storage.MinimumTlsVersion.TLS1_1,
            allow_blob_public_access=True,
        )
    ]


def bad_schedule() -> list[Any]:
    return [
        azure_native.automation.Schedule(
            "past",
            name="past",
            resource_group_name="rg",
            automation_account_name="aa",
            frequency="Day",
            start_time="2025-01-01T06:00:00Z",
        )
    ]


@pytest.mark.parametrize(
    ("declare", "policy", "expected_messages"),
    [
        (bad_password, "no-client-secrets", 1),
        (bad_first_party_sp, "no-first-party-service-principal", 1),
        (bad_global_admin, "exchange-app-only-directory-roles", 1),
        (bad_small_key, "rsa-key-minimum-size", 1),
        (bad_long_cert, "certificate-validity-bounded", 1),
        (bad_app_cert_without_end, "certificate-validity-bounded", 1),
        (bad_automation, "automation-account-managed-identity", 2),
        (bad_storage, "storage-account-secure-transport", 3),
        (bad_schedule, "schedule-start-in-future", 1),
    ],
)
def test_each_rule_fires_on_sdk_declared_resources(declare: Callable[[], list[Any]], policy: str, expected_messages: int) -> None:
    found = ep.evaluate(run_program(declare), now=NOW)
    assert [v.policy for v in found] == [policy] * expected_messages
