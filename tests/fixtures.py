"""The stack configs the tests run the program on, each named for what it sets up.

The tests own these: the example stack (Pulumi.dev.yaml) is for users and may change freely; one test (tests/program/
test_project_files.py, ExampleStack) checks that it deploys. Every value a test depends on is set here explicitly (roles, runtime,
module version, runbooks and their order), not left to a default. Each function returns a new copy: tests change what they get.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.mock_tenant import MockTenant

AUTOMATION = "exo-automation:automation"
IDENTITIES = "exo-automation:identities"

# The runbooks of automation_stack(), by position.
REPORT_INDEX, AUDIT_INDEX = 0, 1

_AUTOMATION: dict[str, Any] = {
    "enabled": True,
    "location": "westeurope",
    "runtime": "WindowsPowerShell-5.1",
    "exchangeModuleVersion": "3.10.1",
    # The least unprivileged set both runbooks' role headers accept.
    "roles": ["Exchange Recipient Administrator", "Global Reader"],
    "tags": {"environment": "dev"},
    "runbooks": [
        {
            "name": "MailboxPermissionReport",
            "file": "runbooks/Get-MailboxPermissionReport.ps1",
            "description": "Explicit Full Access, Send As and Send on Behalf permissions on mailboxes",
            "parameters": {"OutputFormat": "JsonLines"},
            "schedule": {"frequency": "Week", "weekDays": ["Monday"], "time": "06:00", "timeZone": "Europe/Berlin"},
        },
        {
            "name": "ForwardingAudit",
            "file": "runbooks/Invoke-ForwardingAudit.ps1",
            "description": "Mail forwarded outside the organisation (report only)",
            "parameters": {"Remediate": False, "OutputFormat": "JsonLines"},
            "schedule": {"frequency": "Day", "time": "05:30", "timeZone": "Europe/Berlin"},
        },
    ],
}

# One app identity with a generated certificate and Global Reader, and an Automation account running the two mailbox runbooks
# (the content Pulumi.dev.yaml had when the URN record was taken: tests/program/registered_urns.json records it as "dev").
_AUTOMATION_STACK: dict[str, Any] = {
    IDENTITIES: [
        {"name": "exo", "roles": ["Global Reader"], "certificate": {"validityMonths": 12, "renewBeforeDays": 30, "rsaBits": 2048}}
    ],
    "exo-automation:allowGlobalAdministrator": False,
    AUTOMATION: _AUTOMATION,
}


def automation_settings(**overrides: Any) -> dict[str, Any]:
    """The `automation` value of automation_stack(), with `overrides` set."""
    return {**copy.deepcopy(_AUTOMATION), **copy.deepcopy(overrides)}


def automation_stack(**automation_overrides: Any) -> dict[str, Any]:
    """An app identity and an Automation account with two scheduled runbooks; `automation_overrides` set in `automation`."""
    config = copy.deepcopy(_AUTOMATION_STACK)
    config[AUTOMATION].update(copy.deepcopy(automation_overrides))
    return config


def runtime_stack(runtime: str, **automation_overrides: Any) -> dict[str, Any]:
    """automation_stack() on `runtime`, with the module version the program picks for it."""
    config = automation_stack(runtime=runtime, **automation_overrides)
    del config[AUTOMATION]["exchangeModuleVersion"]
    return config


def hybrid_worker_stack(**automation_overrides: Any) -> dict[str, Any]:
    """Windows PowerShell 5.1 with a hybrid worker group; the forwarding audit runs there, signed in as identity `exo`."""
    config = automation_stack(runtime="WindowsPowerShell-5.1", hybridWorkerGroup="exo-hybrid", **automation_overrides)
    config[AUTOMATION]["runbooks"][AUDIT_INDEX].update(hybridWorker=True, hybridIdentity="exo")
    # On the worker the audit runs as the identity: it needs the roles the audit's header asks for.
    config[IDENTITIES][0]["roles"] = ["Exchange Recipient Administrator", "Global Reader"]
    return config


def exchange_rbac_stack() -> dict[str, Any]:
    """automation_stack() with a second identity scoped by Exchange RBAC instead of a directory role, and the reconciler."""
    config = automation_stack(roles=["Exchange Administrator"])  # the reconciler's role (facts.RBAC_RECONCILER_ROLES)
    config[IDENTITIES] = [
        {"name": "exo"},
        {
            "name": "sales-reports",
            "exchangeRbac": {"roles": ["View-Only Recipients"], "recipientScope": {"filter": "Department -eq 'Sales'"}},
        },
    ]
    return config


def monitoring_stack() -> dict[str, Any]:
    """Monitoring on, with the Exchange RBAC reconciler so that every alert rule exists."""
    config = exchange_rbac_stack()
    config[AUTOMATION]["monitoring"] = {"emails": ["exchange-admins@contoso.com"], "webhookUrl": "https://hooks.example/a"}
    return config


def keyless_stack(certificate_path: str) -> dict[str, Any]:
    """automation_stack() whose identity uses a host's certificate (no key anywhere in the program)."""
    config = automation_stack()
    config[IDENTITIES] = [{"name": "exo", "certificate": {"hostCertificates": [certificate_path]}}]
    return config


VAULT_READER_SP = "0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"
VAULT_READER_USER = "5b0c9a3e-7d41-4e2f-a1b8-3c5d7e9f1a2b"
VAULT_READER_GROUP = "c4d2e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f"
KEY_VAULT: dict[str, Any] = {
    "enabled": True,
    "name": "kv-exo-contoso",
    "resourceGroupName": "rg-exo-hosts",
    "createResourceGroup": True,
    "location": "westeurope",
    "readers": [
        VAULT_READER_SP,
        {"objectId": VAULT_READER_USER, "type": "User"},
        {"objectId": VAULT_READER_GROUP, "type": "group"},
    ],
}


def key_vault_stack() -> dict[str, Any]:
    """The default identity, its certificate in a Key Vault that a service principal, a user and a group read."""
    return {"exo-automation:keyVault": copy.deepcopy(KEY_VAULT)}


def tenant_with_vault_readers() -> MockTenant:
    """A tenant in which KEY_VAULT's readers exist."""
    tenant = MockTenant()
    tenant.add_principal(VAULT_READER_SP)
    tenant.add_user(VAULT_READER_USER)
    tenant.add_group(VAULT_READER_GROUP)
    return tenant
