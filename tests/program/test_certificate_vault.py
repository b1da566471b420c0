"""The certificate vault after `pulumi up` and `pulumi preview` under the mock tenant, read as a specification of the subscription."""

from __future__ import annotations

import itertools
import unittest
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from components.certificate_vault import pem_bundle, role_assignment_name, subscription_of
from tests.harness import Deployment
from tests.mock_tenant import (
    RESOURCE_GROUP,
    ROLE_ASSIGNMENT,
    SECRET,
    VAULT,
    MockTenant,
    Registration,
    StoredResource,
    TenantError,
    is_secret,
    is_unknown,
)
from tests.program.vault_run import IDENTITIES, READERS, VAULT_CONFIG, VAULT_TYPES, deploy, tenant_with_readers
from tests.schema_check import check_registration

APPLICATION_CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"

SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"


def custom_inputs(deployment: Deployment) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): r.inputs for r in deployment.custom()}


def within_secret(value: Any, path: list[str]) -> bool:
    """Whether the value at `path` (keys into nested objects) is a secret or sits inside one."""
    if is_secret(value):
        return True
    if not path or not isinstance(value, dict) or path[0] not in value:
        return False
    return within_secret(value[path[0]], path[1:])


class VaultAfterUp(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.tenant = tenant_with_readers()
        self.deployment = await deploy(self.tenant)
        self.vault = self.deployment.one(VAULT, "certificate-vault-vault")
        self.secrets = {r.plain_inputs["secretName"]: r for r in self.deployment.of_type(SECRET)}

    def secret_of(self, identity: str) -> Registration:
        return self.secrets[f"{identity}-certificate-pem"]

    def test_every_recorded_input_matches_the_sdk_schema(self) -> None:
        for registration in self.deployment.custom():
            self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])

    def test_the_vault_uses_rbac_soft_delete_and_purge_protection_and_has_no_access_policies(self) -> None:
        inputs = self.vault.plain_inputs
        properties = inputs["properties"]
        self.assertEqual(inputs["vaultName"], "kv-exo-contoso")
        self.assertEqual(inputs["resourceGroupName"], "rg-exo-automation")
        self.assertIs(properties["enableRbacAuthorization"], True)
        self.assertIs(properties["enableSoftDelete"], True)
        self.assertEqual(properties["softDeleteRetentionInDays"], 90)
        self.assertIs(properties["enablePurgeProtection"], True)
        self.assertEqual(properties["accessPolicies"], [])
        self.assertEqual(properties["sku"], {"family": "A", "name": "standard"})
        self.assertEqual(properties["publicNetworkAccess"], "Enabled")
        self.assertEqual(properties["tenantId"], self.tenant.tenant_id, "the tenant the identities live in")
        for flag in ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"):
            self.assertIs(properties[flag], False, flag)
        # No region configured and no resource group declared: the vault goes where its existing resource group is.
        self.assertNotIn("location", inputs)
        self.assertEqual(self.deployment.of_type(RESOURCE_GROUP), [])

    def test_each_identity_has_one_secret_holding_its_certificate_then_its_key(self) -> None:
        self.assertEqual(sorted(self.secrets), sorted(f"{i}-certificate-pem" for i in IDENTITIES))
        for identity in IDENTITIES:
            certificate_pem = self.deployment.output("identities")[identity]["certificatePem"]
            key_pem = self.deployment.output("privateKeys")[identity]
            value = self.secret_of(identity).plain_inputs["properties"]["value"]
            self.assertEqual(value, certificate_pem.strip() + "\n" + key_pem.strip() + "\n")
            self.assertEqual(value, pem_bundle(certificate_pem, key_pem))
            self.assertEqual(self.secret_of(identity).plain_inputs["properties"]["contentType"], "application/x-pem-file")

    def test_the_secret_value_is_a_pulumi_secret_in_the_recorded_inputs(self) -> None:
        for identity in IDENTITIES:
            inputs = self.secret_of(identity).inputs
            self.assertTrue(within_secret(inputs, ["properties", "value"]), f"{identity}: the value reached the engine in plain text")
            # The SDK sends the whole `properties` object as one secret (the value is inside it), so state encrypts all of it.
            self.assertTrue(is_secret(inputs["properties"]))
            self.assertFalse(within_secret(inputs, ["secretName"]))

    def test_the_management_api_never_returns_the_value(self) -> None:
        for identity in IDENTITIES:
            self.assertNotIn("value", self.secret_of(identity).outputs["properties"])

    def test_the_pem_pair_in_the_vault_is_a_matching_certificate_and_pkcs8_key(self) -> None:
        for identity in IDENTITIES:
            value = self.secret_of(identity).plain_inputs["properties"]["value"].encode()
            certificate = x509.load_pem_x509_certificate(value)
            key = serialization.load_pem_private_key(value[value.index(b"-----BEGIN PRIVATE KEY-----") :], password=None)
            assert isinstance(key, rsa.RSAPrivateKey)
            self.assertEqual(key.public_key().public_numbers(), certificate.public_key().public_numbers())  # type: ignore[union-attr]
            self.assertEqual(value.count(b"-----BEGIN "), 2)
            self.assertLess(len(value), 25 * 1024)

    def test_the_secret_expires_with_its_certificate(self) -> None:
        for identity in IDENTITIES:
            certificate = x509.load_pem_x509_certificate(self.deployment.output("identities")[identity]["certificatePem"].encode())
            attributes = self.secret_of(identity).plain_inputs["properties"]["attributes"]
            self.assertEqual(attributes["enabled"], True)
            self.assertEqual(attributes["notBefore"], int(certificate.not_valid_before_utc.timestamp()))
            self.assertEqual(attributes["expires"], int(certificate.not_valid_after_utc.timestamp()))

    def test_only_the_configured_readers_hold_exactly_secrets_user_on_exactly_the_secrets(self) -> None:
        assignments = self.deployment.of_type(ROLE_ASSIGNMENT)
        granted = {(a.plain_inputs["principalId"], a.plain_inputs["scope"]) for a in assignments}
        secret_ids = {s.id for s in self.secrets.values()}
        self.assertEqual(granted, set(itertools.product(READERS, secret_ids)))
        self.assertEqual(len(assignments), len(READERS) * len(IDENTITIES))
        definition = f"/subscriptions/{self.tenant.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{SECRETS_USER}"
        for assignment in assignments:
            inputs = assignment.plain_inputs
            self.assertEqual(inputs["roleDefinitionId"], definition)
            self.assertEqual(inputs["principalType"], "ServicePrincipal")  # a plain object id is a service principal
            self.assertNotIn("condition", inputs)
        # Nobody gets anything on the vault itself: that scope would reach every identity's secret.
        self.assertNotIn(self.vault.id, {scope for _, scope in granted})

    def test_each_secret_waits_for_what_its_certificate_names_as_ready(self) -> None:
        for identity in IDENTITIES:
            # A host fetches the certificate only once Entra holds it as the app's key credential.
            credential = self.deployment.one(APPLICATION_CERTIFICATE, f"{identity}-certificate-g1-credential")
            self.assertIn(credential.urn, self.secret_of(identity).dependencies)

    def test_each_readers_assignment_on_a_secret_depends_on_that_secret(self) -> None:
        for assignment in self.deployment.of_type(ROLE_ASSIGNMENT):
            secret = self.deployment.by_id(assignment.plain_inputs["scope"])
            self.assertIn(secret.urn, assignment.dependencies)

    def test_role_assignment_names_are_distinct_name_based_guids(self) -> None:
        names = [a.plain_inputs["roleAssignmentName"] for a in self.deployment.of_type(ROLE_ASSIGNMENT)]
        self.assertEqual(len(set(names)), len(names))
        for name in names:
            self.assertEqual(uuid.UUID(name).version, 5)

    def test_the_stack_output_names_the_vault_uri_and_the_secrets_and_nothing_secret(self) -> None:
        output = self.deployment.outputs["keyVault"]
        self.assertFalse(output.secret)
        self.assertEqual(output.value["vaultUri"], "https://kv-exo-contoso.vault.azure.net/")
        self.assertEqual(output.value["secretNames"], {i: f"{i}-certificate-pem" for i in IDENTITIES})
        self.assertEqual(
            output.value["secretUris"], {i: f"https://kv-exo-contoso.vault.azure.net/secrets/{i}-certificate-pem" for i in IDENTITIES}
        )
        self.assertEqual(subscription_of(output.value["vaultId"]), self.tenant.subscription_id)

    async def test_a_second_up_against_the_same_tenant_registers_identical_inputs(self) -> None:
        again = await deploy(self.tenant)
        self.assertEqual(custom_inputs(again), custom_inputs(self.deployment))
        self.assertEqual(
            {a.name: a.id for a in again.of_type(ROLE_ASSIGNMENT)}, {a.name: a.id for a in self.deployment.of_type(ROLE_ASSIGNMENT)}
        )

    async def test_a_preview_after_the_up_shows_no_change_the_value_is_deterministic(self) -> None:
        preview = await deploy(self.tenant, preview=True)
        self.assertEqual(custom_inputs(preview), custom_inputs(self.deployment))
        for registration in preview.of_type(SECRET):
            self.assertTrue(within_secret(registration.inputs, ["properties", "value"]))

    async def test_role_assignment_names_do_not_depend_on_the_tenant_or_subscription(self) -> None:
        other = await deploy(tenant_with_readers())
        mine = {a.name: a.plain_inputs["roleAssignmentName"] for a in self.deployment.of_type(ROLE_ASSIGNMENT)}
        theirs = {a.name: a.plain_inputs["roleAssignmentName"] for a in other.of_type(ROLE_ASSIGNMENT)}
        self.assertEqual(mine, theirs)
        self.assertEqual(
            mine["certificate-vault-reports-reader-" + READERS[0]],
            role_assignment_name("kv-exo-contoso", "reports-certificate-pem", READERS[0]),
        )


class VaultPreviewOfANewStack(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.deployment = await deploy(tenant_with_readers(), preview=True)

    def test_every_recorded_input_matches_the_sdk_schema(self) -> None:
        for registration in self.deployment.custom():
            self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])

    def test_the_vault_settings_are_known_before_anything_exists(self) -> None:
        properties = self.deployment.one(VAULT, "certificate-vault-vault").plain_inputs["properties"]
        self.assertIs(properties["enableRbacAuthorization"], True)
        self.assertIs(properties["enablePurgeProtection"], True)
        self.assertIs(properties["enableSoftDelete"], True)

    def test_role_assignment_names_are_known_in_the_preview_so_nothing_is_replaced_later(self) -> None:
        assignments = self.deployment.of_type(ROLE_ASSIGNMENT)
        self.assertEqual(len(assignments), len(READERS) * len(IDENTITIES))
        for assignment in assignments:
            name = assignment.inputs["roleAssignmentName"]
            self.assertFalse(is_unknown(name))
            self.assertEqual(assignment.inputs["principalId"] in READERS, True)

    def test_the_secret_value_is_not_known_yet_and_never_shown(self) -> None:
        for registration in self.deployment.of_type(SECRET):
            properties = registration.inputs["properties"]
            self.assertTrue(is_unknown(properties) or within_secret(properties, ["value"]) or is_unknown(properties["value"]))
            self.assertFalse(isinstance(properties, dict) and isinstance(properties.get("value"), str))


class VaultOptions(unittest.IsolatedAsyncioTestCase):
    async def test_disabled_declares_nothing(self) -> None:
        deployment = await deploy(tenant_with_readers(), config={"keyVault": {"enabled": False}})
        self.assertEqual([r for r in deployment.custom() if r.type in VAULT_TYPES], [])
        self.assertNotIn("keyVault", deployment.outputs)

    async def test_absent_declares_nothing(self) -> None:
        deployment = await deploy(tenant_with_readers(), config={})
        self.assertEqual([r for r in deployment.custom() if r.type in VAULT_TYPES], [])
        self.assertNotIn("keyVault", deployment.outputs)

    async def test_a_new_resource_group_private_network_and_short_retention(self) -> None:
        config = {
            "keyVault": {
                **VAULT_CONFIG["keyVault"],
                "resourceGroupName": "rg-exo-new",
                "createResourceGroup": True,
                "location": "West Europe",
                "publicNetworkAccess": False,
                "softDeleteRetentionDays": 7,
                "tags": {"owner": "messaging"},
            }
        }
        deployment = await deploy(tenant_with_readers(groups={}), config=config)
        group = deployment.one(RESOURCE_GROUP, "certificate-vault-resource-group").plain_inputs
        self.assertEqual(group["location"], "westeurope")
        vault = deployment.one(VAULT, "certificate-vault-vault")
        self.assertEqual(vault.plain_inputs["location"], "westeurope")
        self.assertEqual(vault.plain_inputs["properties"]["publicNetworkAccess"], "Disabled")
        self.assertEqual(vault.plain_inputs["properties"]["softDeleteRetentionInDays"], 7)
        expected_tags = {"managed-by": "exo-automation", "pulumi-stack": "dev", "owner": "messaging"}
        self.assertEqual(vault.plain_inputs["tags"], expected_tags)
        for secret in deployment.of_type(SECRET):
            self.assertEqual(secret.plain_inputs["tags"], expected_tags)
        # The vault waits for the resource group it lives in.
        self.assertIn(deployment.one(RESOURCE_GROUP, "certificate-vault-resource-group").urn, vault.dependencies)

    async def test_a_reader_that_does_not_exist_is_refused_by_the_tenant(self) -> None:
        tenant = MockTenant(existing_resource_groups={"rg-exo-automation": "westeurope"})
        tenant.add_principal(READERS[0])  # the second reader was never created
        with self.assertRaisesRegex(Exception, "PrincipalNotFound"):
            await deploy(tenant)

    async def test_the_same_vault_name_in_another_resource_group_is_refused(self) -> None:
        tenant = tenant_with_readers(groups={"rg-exo-automation": "westeurope", "rg-other": "westeurope"})
        await deploy(tenant)
        other = {"keyVault": {**VAULT_CONFIG["keyVault"], "resourceGroupName": "rg-other"}}
        tenant.state = {key: stored for key, stored in tenant.state.items() if key[0] != VAULT}
        with self.assertRaisesRegex(Exception, "VaultAlreadyExists"):
            await deploy(tenant, config=other)

    def test_the_mock_tenant_refuses_turning_purge_protection_off(self) -> None:
        # The component never does this; the check keeps the mock honest about what Azure refuses.
        tenant = MockTenant(existing_resource_groups={"rg": "westeurope"})
        inputs = {"resourceGroupName": "rg", "vaultName": "kv-x", "properties": {"enablePurgeProtection": True}}
        resource_id, _ = tenant._vault(inputs)  # pyright: ignore[reportPrivateUsage]
        tenant.state[(VAULT, "v")] = StoredResource(resource_id, inputs, {})
        with self.assertRaisesRegex(TenantError, "purge protection cannot be disabled"):
            tenant._vault({**inputs, "properties": {"enablePurgeProtection": False}})  # pyright: ignore[reportPrivateUsage]
