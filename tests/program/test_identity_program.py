"""The tenant after `pulumi up` of the whole program, read as a specification by following recorded inputs to recorded resources."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import unittest
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.harness import Deployment, evaluate, preview_logged
from tests.host_certificate_files import MovableClock
from tests.mock_tenant import MANAGE_AS_APP_ROLE_ID, MockTenant, Registration, is_secret

APPLICATION = "azuread:index/application:Application"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
APP_ROLE_ASSIGNMENT = "azuread:index/appRoleAssignment:AppRoleAssignment"
DIRECTORY_ROLE_ASSIGNMENT = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
APPLICATION_CERTIFICATE = "azuread:index/applicationCertificate:ApplicationCertificate"
PRIVATE_KEY = "tls:index/privateKey:PrivateKey"
SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"

EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
EXCHANGE_RECIPIENT_ADMINISTRATOR = "31392ffb-586c-42d1-9346-e59415a2cc4e"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"

TWO_IDENTITIES = {
    "identities": [
        {"name": "reports", "roles": ["Global Reader"], "securityCompliance": True},
        {
            "name": "provisioning",
            "roles": ["Exchange Recipient Administrator"],
            "certificate": {"rsaBits": 3072, "validityMonths": 6, "renewBeforeDays": 14},
        },
    ]
}


def independent_thumbprint(pem: str) -> str:
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).hexdigest().upper()


class TenantView:
    """Questions about the tenant that a deployment left behind."""

    def __init__(self, deployment: Deployment) -> None:
        self.d = deployment

    def principal_of_app(self, app: Registration) -> Registration:
        sps = [sp for sp in self.d.of_type(SERVICE_PRINCIPAL) if sp.plain_inputs["clientId"] == app.outputs["clientId"]]
        assert len(sps) == 1, f"expected one service principal for {app.name}"
        return sps[0]

    def app_roles_held_by(self, principal_object_id: str) -> list[tuple[str, str]]:
        """(resource object id, app role id) pairs the principal holds."""
        return [
            (a.plain_inputs["resourceObjectId"], a.plain_inputs["appRoleId"])
            for a in self.d.of_type(APP_ROLE_ASSIGNMENT)
            if a.plain_inputs["principalObjectId"] == principal_object_id
        ]

    def directory_roles_of(self, principal_object_id: str) -> set[str]:
        return {
            a.plain_inputs["roleId"]
            for a in self.d.of_type(DIRECTORY_ROLE_ASSIGNMENT)
            if a.plain_inputs["principalObjectId"] == principal_object_id
        }

    def credentials_of(self, app: Registration) -> list[Registration]:
        return [c for c in self.d.of_type(APPLICATION_CERTIFICATE) if c.plain_inputs["applicationId"] == app.id]

    def certificate_resource(self, pem: str) -> Registration:
        certs = [c for c in self.d.of_type(SELF_SIGNED_CERT) if c.outputs.get("certPem") == pem]
        assert len(certs) == 1
        return certs[0]

    def app(self, display_name: str) -> Registration:
        apps = [a for a in self.d.of_type(APPLICATION) if a.plain_inputs["displayName"] == display_name]
        assert len(apps) == 1, f"expected one app named {display_name}"
        return apps[0]


def manage_as_app_id(tenant: MockTenant) -> str:
    return next(r["id"] for r in tenant.exchange_app_roles if r["value"] == "Exchange.ManageAsApp")


class DefaultStackUp(unittest.IsolatedAsyncioTestCase):
    """Empty config: the seed's setup — one identity, Global Reader (issue 20; Exchange Administrator before), 12-month certificate."""

    async def asyncSetUp(self) -> None:
        self.tenant = MockTenant()
        self.deployment = await evaluate(self.tenant, preview=False)
        self.view = TenantView(self.deployment)
        self.app = self.view.app("exo-automation-dev-exo")
        self.sp = self.view.principal_of_app(self.app)

    def test_one_single_tenant_app_owned_by_the_deployer_declaring_only_manage_as_app(self) -> None:
        inputs = self.app.plain_inputs
        self.assertEqual(len(self.deployment.of_type(APPLICATION)), 1)
        self.assertEqual(inputs["signInAudience"], "AzureADMyOrg")
        self.assertEqual(inputs["owners"], [self.tenant.deployer_object_id])
        self.assertEqual(
            inputs["requiredResourceAccesses"],
            [
                {
                    "resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
                    "resourceAccesses": [{"id": MANAGE_AS_APP_ROLE_ID, "type": "Role"}],
                }
            ],
        )
        self.assertNotIn("password", inputs)
        self.assertEqual(self.deployment.of_type("azuread:index/applicationPassword:ApplicationPassword"), [])

    def test_the_apps_service_principal_holds_manage_as_app_on_this_tenants_exchange_sp(self) -> None:
        held = self.view.app_roles_held_by(self.sp.outputs["objectId"])
        self.assertEqual(held, [(self.tenant.exchange_object_id, manage_as_app_id(self.tenant))])

    def test_the_service_principal_holds_global_reader_and_nothing_else(self) -> None:
        self.assertEqual(self.view.directory_roles_of(self.sp.outputs["objectId"]), {GLOBAL_READER})
        for assignment in self.deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT):
            self.assertEqual(assignment.plain_inputs["directoryScopeId"], "/")

    def test_role_assignments_wait_for_the_app_role_assignment_which_retries_while_the_sp_replicates(self) -> None:
        grant = self.deployment.one(APP_ROLE_ASSIGNMENT, "exo-grant-manage-as-app")
        for assignment in self.deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT):
            self.assertIn(grant.urn, assignment.dependencies)

    def test_microsofts_exchange_service_principal_is_looked_up_never_managed(self) -> None:
        client_ids = [sp.plain_inputs["clientId"] for sp in self.deployment.of_type(SERVICE_PRINCIPAL)]
        self.assertNotIn("00000002-0000-0ff1-ce00-000000000000", client_ids)
        looked_up = [args for token, args in self.tenant.calls if token.endswith("getServicePrincipal")]
        self.assertEqual(looked_up, [{"clientId": "00000002-0000-0ff1-ce00-000000000000"}])

    def test_one_certificate_credential_matching_the_self_signed_certificate(self) -> None:
        (credential,) = self.view.credentials_of(self.app)
        inputs = credential.plain_inputs
        certificate = self.view.certificate_resource(inputs["value"])
        self.assertEqual(inputs["type"], "AsymmetricX509Cert")
        self.assertEqual(inputs["encoding"], "pem")
        self.assertEqual(inputs["endDate"], certificate.outputs["validityEndTime"])
        self.assertNotIn("keyId", inputs, "a fixed key id would block create-before-delete rotation")
        self.assertFalse(credential.delete_before_replace, "rotation must add the new credential before removing the old")

    def test_the_certificate_is_rsa_2048_client_auth_valid_12_months_renewed_30_days_early(self) -> None:
        (credential,) = self.view.credentials_of(self.app)
        certificate_resource = self.view.certificate_resource(credential.plain_inputs["value"])
        inputs = certificate_resource.plain_inputs
        self.assertEqual(inputs["validityPeriodHours"], 8760)
        self.assertEqual(inputs["earlyRenewalHours"], 720)
        self.assertEqual(sorted(inputs["allowedUses"]), ["client_auth", "digital_signature"])
        certificate = x509.load_pem_x509_certificate(certificate_resource.outputs["certPem"].encode())
        self.assertEqual(certificate.not_valid_after_utc - certificate.not_valid_before_utc, dt.timedelta(days=365))
        self.assertEqual(certificate.public_key().key_size, 2048)  # type: ignore[union-attr]
        eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertIn(ExtendedKeyUsageOID.CLIENT_AUTH, list(eku))
        (key,) = self.deployment.of_type(PRIVATE_KEY)
        self.assertEqual(key.plain_inputs, {"algorithm": "RSA", "rsaBits": 2048})

    def test_outputs_are_what_an_admin_pastes(self) -> None:
        exo = self.deployment.output("identities")["exo"]
        (credential,) = self.view.credentials_of(self.app)
        pem = credential.plain_inputs["value"]
        self.assertEqual(exo["clientId"], self.app.outputs["clientId"])
        self.assertEqual(exo["tenantId"], self.tenant.tenant_id)
        self.assertEqual(exo["organization"], self.tenant.initial_domain)
        self.assertEqual(self.deployment.output("organization"), self.tenant.initial_domain)
        self.assertEqual(exo["thumbprint"], independent_thumbprint(pem))
        self.assertRegex(exo["thumbprint"], r"^[0-9A-F]{40}$")
        self.assertEqual(exo["certificatePem"], pem)
        self.assertEqual(exo["certificateNotAfter"], self.view.certificate_resource(pem).outputs["validityEndTime"])
        self.assertEqual(exo["roles"], ["Global Reader"])
        self.assertEqual(exo["exchangeEnvironmentName"], "O365Default")
        self.assertEqual(
            exo["connectCommand"],
            f"Connect-ExchangeOnline -CertificateThumbprint '{exo['thumbprint']}' -AppId '{exo['clientId']}' "
            f"-Organization '{self.tenant.initial_domain}' -ShowBanner:$false",
        )
        # Global Reader is accepted by Security & Compliance PowerShell too, so its command is offered.
        self.assertTrue(exo["ippsConnectCommand"].startswith("Connect-IPPSSession "))

    def test_the_private_key_output_is_secret_and_belongs_to_the_certificate(self) -> None:
        keys = self.deployment.outputs["privateKeys"]
        self.assertTrue(keys.secret)
        key = serialization.load_pem_private_key(keys.value["exo"].encode(), password=None)
        certificate = x509.load_pem_x509_certificate(self.deployment.output("identities")["exo"]["certificatePem"].encode())
        self.assertEqual(
            key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
            certificate.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        )
        self.assertTrue(keys.value["exo"].startswith("-----BEGIN PRIVATE KEY-----"))


class SecretsStaySecret(unittest.IsolatedAsyncioTestCase):
    async def test_every_private_key_value_is_secret_in_inputs_and_outputs(self) -> None:
        for preview in (False, True):
            tenant = MockTenant()
            if preview:
                await evaluate(tenant, preview=False, config=TWO_IDENTITIES)
            deployment = await evaluate(tenant, preview=preview, config=TWO_IDENTITIES)
            key_inputs = 0
            for registration in deployment.custom():
                for name, value in registration.inputs.items():
                    if "PRIVATE KEY" in repr(registration.plain_inputs.get(name)) or name == "privateKeyPem":
                        key_inputs += 1
                        self.assertTrue(is_secret(value), f"{registration.name}.{name} carries a private key in clear")
            self.assertEqual(key_inputs, 2, "each identity's certificate is signed with its key")
            for key in self.deployment_keys(deployment):
                self.assertIn(key, deployment.outputs["privateKeys"].value)
            self.assertTrue(deployment.outputs["privateKeys"].secret)
            for name, output in deployment.outputs.items():
                if name != "privateKeys":
                    self.assertNotIn("PRIVATE KEY", repr(output.value), f"output {name} leaks a private key")

    @staticmethod
    def deployment_keys(deployment: Deployment) -> list[str]:
        return list(deployment.output("identities"))


class SeveralIdentities(unittest.IsolatedAsyncioTestCase):
    """One Global Reader for reports, one Exchange Recipient Administrator for provisioning."""

    async def asyncSetUp(self) -> None:
        self.tenant = MockTenant()
        self.deployment = await evaluate(self.tenant, preview=False, config=TWO_IDENTITIES)
        self.view = TenantView(self.deployment)

    def test_each_identity_has_its_own_app_principal_roles_and_certificate(self) -> None:
        expected = {"reports": {GLOBAL_READER}, "provisioning": {EXCHANGE_RECIPIENT_ADMINISTRATOR}}
        thumbprints = set()
        for name, roles in expected.items():
            app = self.view.app(f"exo-automation-dev-{name}")
            sp = self.view.principal_of_app(app)
            self.assertEqual(self.view.directory_roles_of(sp.outputs["objectId"]), roles)
            self.assertEqual(
                self.view.app_roles_held_by(sp.outputs["objectId"]), [(self.tenant.exchange_object_id, manage_as_app_id(self.tenant))]
            )
            (credential,) = self.view.credentials_of(app)
            thumbprints.add(independent_thumbprint(credential.plain_inputs["value"]))
            self.assertEqual(
                self.deployment.output("identities")[name]["thumbprint"], independent_thumbprint(credential.plain_inputs["value"])
            )
        self.assertEqual(len(thumbprints), 2)

    def test_security_compliance_command_only_where_the_roles_allow_it(self) -> None:
        identities = self.deployment.output("identities")
        self.assertTrue(identities["reports"]["ippsConnectCommand"].startswith("Connect-IPPSSession -CertificateThumbprint"))
        self.assertNotIn("-ConnectionUri", identities["reports"]["ippsConnectCommand"])
        self.assertNotIn("ippsConnectCommand", identities["provisioning"])

    def test_per_identity_certificate_settings(self) -> None:
        app = self.view.app("exo-automation-dev-provisioning")
        (credential,) = self.view.credentials_of(app)
        certificate = x509.load_pem_x509_certificate(credential.plain_inputs["value"].encode())
        self.assertEqual(certificate.public_key().key_size, 3072)  # type: ignore[union-attr]
        self.assertEqual(certificate.not_valid_after_utc - certificate.not_valid_before_utc, dt.timedelta(hours=6 * 730))
        resource = self.view.certificate_resource(credential.plain_inputs["value"])
        self.assertEqual(resource.plain_inputs["earlyRenewalHours"], 14 * 24)


class TenantLookups(unittest.IsolatedAsyncioTestCase):
    async def test_a_tenant_without_exchange_online_gets_a_clear_error_and_no_grant(self) -> None:
        tenant = MockTenant(exchange_present=False)
        with self.assertRaisesRegex(Exception, r"no service principal for Office 365 Exchange Online"):
            await evaluate(tenant, preview=False)
        self.assertEqual([r for r in tenant.registrations if r.type == APP_ROLE_ASSIGNMENT], [])

    async def test_a_tenant_without_the_manage_as_app_role_refuses_look_alikes(self) -> None:
        tenant = MockTenant(manage_as_app_role_present=False)
        with self.assertRaisesRegex(Exception, r"no app role dc50a0fb-09a3-484d-be87-e023b12c6440"):
            await evaluate(tenant, preview=False)
        self.assertEqual([r for r in tenant.registrations if r.type == APP_ROLE_ASSIGNMENT], [])

    async def test_organization_from_config_skips_the_domain_lookup(self) -> None:
        tenant = MockTenant()
        deployment = await evaluate(tenant, preview=False, config={"organization": "Contoso.onmicrosoft.com"})
        self.assertEqual(deployment.output("identities")["exo"]["organization"], "contoso.onmicrosoft.com")
        self.assertFalse(any(token.endswith("getDomains") for token, _ in tenant.calls))

    async def test_the_initial_domain_is_asked_for_not_the_default_vanity_domain(self) -> None:
        tenant = MockTenant()
        deployment = await evaluate(tenant, preview=False)
        self.assertIn(("azuread:index/getDomains:getDomains", {"onlyInitial": True}), tenant.calls)
        self.assertNotEqual(deployment.output("organization"), tenant.vanity_domain)

    async def test_sovereign_cloud_follows_the_azuread_environment(self) -> None:
        tenant = MockTenant(initial_domain_suffix=".onmicrosoft.us")
        config = {"azuread:environment": "usgovernmentl4", "identities": [{"name": "gov", "roles": ["Global Reader"]}]}
        deployment = await evaluate(tenant, preview=False, config=config)
        gov = deployment.output("identities")["gov"]
        self.assertEqual(gov["exchangeEnvironmentName"], "O365USGovGCCHigh")
        self.assertIn("-ExchangeEnvironmentName O365USGovGCCHigh", gov["connectCommand"])
        self.assertIn("-ConnectionUri 'https://ps.compliance.protection.office365.us/powershell-liveid/'", gov["ippsConnectCommand"])
        self.assertIn("-AzureADAuthorizationEndpointUri 'https://login.microsoftonline.us/organizations'", gov["ippsConnectCommand"])


class PlannedRotation(unittest.IsolatedAsyncioTestCase):
    """Add before remove across `up`s: bump the generation keeping the previous one, then drop it."""

    async def test_generation_bump_keeps_the_old_credential_until_it_is_released(self) -> None:
        tenant = MockTenant()
        first = await evaluate(tenant, preview=False)
        old_thumbprint = first.output("identities")["exo"]["thumbprint"]

        overlap = await evaluate(
            tenant,
            preview=False,
            config={"identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True}}]},
        )
        view = TenantView(overlap)
        app = view.app("exo-automation-dev-exo")
        self.assertEqual(app.id, first.one(APPLICATION, "exo-app").id, "the app itself is untouched")
        thumbprints = {independent_thumbprint(c.plain_inputs["value"]) for c in view.credentials_of(app)}
        exo = overlap.output("identities")["exo"]
        self.assertEqual(thumbprints, {old_thumbprint, exo["thumbprint"]})
        self.assertEqual(exo["previousThumbprint"], old_thumbprint)
        self.assertEqual(exo["certificateGeneration"], 2)
        old_credential = overlap.one(APPLICATION_CERTIFICATE, "exo-certificate-g1-credential")
        self.assertEqual(old_credential.id, first.one(APPLICATION_CERTIFICATE, "exo-certificate-g1-credential").id, "old one unchanged")

        released = await evaluate(tenant, preview=False, config={"identities": [{"name": "exo", "certificate": {"generation": 2}}]})
        (remaining,) = TenantView(released).credentials_of(TenantView(released).app("exo-automation-dev-exo"))
        self.assertEqual(independent_thumbprint(remaining.plain_inputs["value"]), exo["thumbprint"])
        self.assertNotIn("previousThumbprint", released.output("identities")["exo"])

    async def test_the_kept_generation_is_not_renewed_early_during_the_overlap(self) -> None:
        clock = MovableClock()
        tenant = MockTenant(clock=clock)
        first = await evaluate(tenant, preview=False)
        old_pem = first.one(SELF_SIGNED_CERT, "exo-certificate-g1-cert").outputs["certPem"]
        old_credential = first.one(APPLICATION_CERTIFICATE, "exo-certificate-g1-credential").id
        clock.advance(300)
        keep = {"identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True}}]}
        bumped = await evaluate(tenant, preview=False, config=keep)
        retired = bumped.one(SELF_SIGNED_CERT, "exo-certificate-g1-cert")
        self.assertEqual(retired.outputs["certPem"], old_pem, "the window is set to 0 in place, the certificate stays")
        self.assertEqual(retired.plain_inputs["earlyRenewalHours"], 0)
        clock.advance(40)  # day 340: inside generation 1's old 30-day window, the overlap still running
        later = await evaluate(tenant, preview=False, config=keep)
        self.assertEqual(later.one(SELF_SIGNED_CERT, "exo-certificate-g1-cert").outputs["certPem"], old_pem)
        self.assertEqual(later.one(APPLICATION_CERTIFICATE, "exo-certificate-g1-credential").id, old_credential)

    async def test_preview_warns_two_weeks_before_the_kept_generation_ends(self) -> None:
        clock = MovableClock()
        tenant = MockTenant(clock=clock)
        await evaluate(tenant, preview=False)
        keep = {"identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True}}]}
        clock.advance(300)
        bump_preview, _ = await preview_logged(tenant, keep)
        (retired,) = [r for r in bump_preview.of_type(SELF_SIGNED_CERT) if r.name == "exo-certificate-g1-cert"]
        self.assertEqual(retired.outputs["certPem"], tenant.state[(SELF_SIGNED_CERT, retired.name)].outputs["certPem"], "an update")
        await evaluate(tenant, preview=False, config=keep)

        def kept_warnings(records: list[logging.LogRecord]) -> list[str]:
            return [r.getMessage() for r in records if "kept previous certificate generation" in r.getMessage()]

        clock.advance(50)  # day 350: 15 days before generation 1 ends
        _, records = await preview_logged(tenant, keep)
        self.assertEqual(kept_warnings(records), [])
        clock.advance(2)  # 13 days before
        _, records = await preview_logged(tenant, keep)
        (warning,) = kept_warnings(records)
        self.assertIn("identity exo: the kept previous certificate generation ends ", warning)
        self.assertIn("remove certificate.keepPreviousGeneration", warning)
        released = {"identities": [{"name": "exo", "certificate": {"generation": 2}}]}
        _, records = await preview_logged(tenant, released)
        self.assertEqual(kept_warnings(records), [], "released: nothing to warn about")

    async def test_the_kept_generation_ignores_later_spec_changes(self) -> None:
        tenant = MockTenant()
        config: dict[str, Any] = {"identities": [{"name": "exo", "certificate": {"generation": 2, "keepPreviousGeneration": True}}]}
        deployment = await evaluate(tenant, preview=False, config=config)
        for type_token in (PRIVATE_KEY, SELF_SIGNED_CERT):
            retired = deployment.one(type_token, f"exo-certificate-g1-{'key' if type_token == PRIVATE_KEY else 'cert'}")
            current = deployment.one(type_token, f"exo-certificate-g2-{'key' if type_token == PRIVATE_KEY else 'cert'}")
            self.assertTrue(retired.ignore_changes)
            self.assertEqual(current.ignore_changes, [])
