"""The whole program with `keyVault` on: each identity's certificate and key land in the vault, readable by the configured hosts only."""

from __future__ import annotations

import unittest
from typing import Any

from tests.harness import evaluate
from tests.mock_tenant import ROLE_ASSIGNMENT, SECRET, VAULT, MockTenant, comparable, is_secret
from tests.schema_check import check_registration

READERS = ["0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"]
CONFIG: dict[str, Any] = {
    "identities": [
        {"name": "reports", "roles": ["Global Reader"]},
        {"name": "provisioning", "roles": ["Exchange Recipient Administrator"]},
    ],
    "keyVault": {"enabled": True, "name": "kv-exo-contoso", "resourceGroupName": "rg-exo-hosts", "readers": READERS},
}


def tenant() -> MockTenant:
    mock = MockTenant(existing_resource_groups={"rg-exo-hosts": "westeurope"})
    for reader in READERS:
        mock.add_principal(reader)
    return mock


class KeyVaultInTheProgram(unittest.IsolatedAsyncioTestCase):
    async def test_each_identitys_certificate_and_key_are_one_secret_after_entra_holds_the_credential(self) -> None:
        deployment = await evaluate(tenant(), preview=False, config=CONFIG)
        identities = deployment.output("identities")
        keys = deployment.output("privateKeys")
        secrets = {s.plain_inputs["secretName"]: s for s in deployment.of_type(SECRET)}
        self.assertEqual(len(secrets), 2)
        for name in ("reports", "provisioning"):
            (secret,) = [s for s in secrets.values() if name in s.plain_inputs["secretName"]]
            value = secret.plain_inputs["properties"]["value"]
            self.assertTrue(value.startswith(identities[name]["certificatePem"].strip()))
            self.assertIn(keys[name].strip(), value)
            self.assertTrue(is_secret(secret.inputs["properties"]), "the key travels as a secret")
            credential = deployment.one("azuread:index/applicationCertificate:ApplicationCertificate", f"{name}-certificate-g1-credential")
            self.assertIn(credential.urn, secret.dependencies, "hosts fetch only a certificate Entra already accepts")
        vault = deployment.of_type(VAULT)[0].plain_inputs["properties"]
        self.assertEqual((vault["enableRbacAuthorization"], vault["enablePurgeProtection"]), (True, True))
        assignments = deployment.of_type(ROLE_ASSIGNMENT)
        self.assertEqual({a.plain_inputs["principalId"] for a in assignments}, set(READERS))
        self.assertEqual(len(assignments), 2, "one read grant per secret, nothing on the vault itself")
        self.assertIn("keyVault", deployment.outputs)
        self.assertFalse(deployment.outputs["keyVault"].secret)

    async def test_valid_in_both_modes_and_idempotent(self) -> None:
        mock = tenant()
        first = await evaluate(mock, preview=False, config=CONFIG)
        for preview in (True, False):
            again = await evaluate(mock, preview=preview, config=CONFIG)
            for registration in again.custom():
                self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])
            self.assertEqual(
                {(r.type, r.name): comparable(r.inputs) for r in first.registrations},
                {(r.type, r.name): comparable(r.inputs) for r in again.registrations},
            )
