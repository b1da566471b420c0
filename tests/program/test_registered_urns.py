"""Every registration's type, URN and parent, as recorded (registered_urns.json): the layout change of issue 13 kept every one.

A URN is a resource's identity in state: a changed component type token, child name or parent makes Pulumi delete the old resource
and create a new one (a new app registration, a new Automation account). A change here must be deliberate: update the file only
with aliases for the old URNs, or with the replacement planned. Issue 18 changed one so: the schedules' anchor, now
`RunbookSchedules$time:index/static:Static::schedule-created` (state only; no alias carries a resource to another provider, and the
old one is removed by exo/state_upgrade.py, docs/schedules-anchor.md).
"""

from __future__ import annotations

import json
import unittest
from pathlib import Path
from typing import Any

from tests.fixtures import automation_stack, exchange_rbac_stack
from tests.harness import evaluate
from tests.mock_tenant import MockTenant

RECORDED = json.loads((Path(__file__).resolve().parent / "registered_urns.json").read_text())
READER = "0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"


def configs() -> dict[str, dict[str, Any]]:
    return {
        "default": {},
        "dev": automation_stack(),  # recorded as "dev": the example stack's content when the record was taken
        "vault": {
            "identities": [
                {"name": "reports", "roles": ["Global Reader"]},
                {"name": "provisioning", "roles": ["Exchange Recipient Administrator"]},
            ],
            "keyVault": {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo-hosts", "readers": [READER]},
        },
        "rbac": exchange_rbac_stack(),
        "rotation": {
            "identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True, "rsaBits": 3072}}],
            "additionalOwners": [READER],
        },
    }


class RegisteredUrns(unittest.IsolatedAsyncioTestCase):
    async def test_type_urn_and_parent_of_every_registration_are_the_recorded_ones(self) -> None:
        for name, config in configs().items():
            with self.subTest(config=name):
                tenant = MockTenant(existing_resource_groups={"rg-exo-hosts": "westeurope"})
                tenant.add_principal(READER)
                deployment = await evaluate(tenant, preview=True, config=config)
                registered = sorted([r.type, r.urn, r.parent] for r in deployment.registrations)
                self.assertEqual(registered, RECORDED[name])
