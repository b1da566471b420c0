"""Host certificates through the whole program: the tenant after `pulumi up` and `pulumi preview` when hosts make their own keys."""

from __future__ import annotations

import datetime as dt
import unittest
from typing import Any

from tests.harness import Deployment, evaluate, preview_logged
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate, rsa_key
from tests.mock_tenant import SECRET, MockTenant
from tests.program.test_identity_program import APPLICATION, APPLICATION_CERTIFICATE, PRIVATE_KEY, SELF_SIGNED_CERT, independent_thumbprint
from tests.program.test_program_modes import plain_inputs, unknown_paths
from tests.schema_check import check_registration


def rfc3339(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def host_identity(*paths: str, **certificate: Any) -> dict[str, Any]:
    # Roles set: a stack that leaves them unset also gets the default-role notice (issue 20), a warning of its own.
    return {"identities": [{"name": "exo", "roles": ["Global Reader"], "certificate": {"hostCertificates": list(paths), **certificate}}]}


class HostCertificateStack(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.clock = MovableClock()
        self.tenant = MockTenant(clock=self.clock)
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)
        self.first = make_host_certificate(self.clock.now, host="HOST01", starts_days=-30)
        self.first_path = self.folder.write("host01-1.crt", self.first.pem)

    async def up(self, config: dict[str, Any], preview: bool = False) -> Deployment:
        return await evaluate(self.tenant, preview=preview, config=config)

    def credentials(self, deployment: Deployment) -> dict[str, dict[str, Any]]:
        """Key credentials by the thumbprint of the certificate they hold."""
        return {independent_thumbprint(c.plain_inputs["value"]): c.plain_inputs for c in deployment.of_type(APPLICATION_CERTIFICATE)}

    async def test_the_app_accepts_exactly_the_host_certificate_with_its_own_dates(self) -> None:
        for preview in (True, False):
            with self.subTest(preview=preview):
                deployment = await self.up(host_identity(self.first_path), preview=preview)
                credentials = self.credentials(deployment)
                self.assertEqual(list(credentials), [self.first.thumbprint])
                inputs = credentials[self.first.thumbprint]
                self.assertEqual(inputs["type"], "AsymmetricX509Cert")
                self.assertEqual(inputs["encoding"], "pem")
                self.assertEqual(inputs["value"], self.first.pem.decode())
                # From the certificate, never the clock: the same on every run and machine.
                self.assertEqual(inputs["startDate"], rfc3339(self.first.certificate.not_valid_before_utc))
                self.assertEqual(inputs["endDate"], rfc3339(self.first.certificate.not_valid_after_utc))
                (credential,) = deployment.of_type(APPLICATION_CERTIFICATE)
                self.assertEqual(credential.name, f"exo-host-{self.first.thumbprint.lower()}-credential")
                if not preview:
                    (app,) = deployment.of_type(APPLICATION)
                    self.assertEqual(inputs["applicationId"], app.id)
                self.assertEqual(deployment.of_type(PRIVATE_KEY) + deployment.of_type(SELF_SIGNED_CERT), [])
                for registration in deployment.custom():
                    self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])

    async def test_outputs_give_the_thumbprint_and_connect_command_and_no_private_keys(self) -> None:
        deployment = await self.up(host_identity(self.first_path))
        identity = deployment.output("identities")["exo"]
        self.assertEqual(identity["thumbprint"], self.first.thumbprint)
        self.assertEqual(identity["certificatePem"], self.first.pem.decode())
        self.assertEqual(identity["certificateNotAfter"], rfc3339(self.first.certificate.not_valid_after_utc))
        self.assertEqual(identity["certificateSource"], "host")
        self.assertNotIn("certificateGeneration", identity)
        self.assertEqual(
            identity["credentials"],
            [{"thumbprint": self.first.thumbprint, "notAfter": rfc3339(self.first.certificate.not_valid_after_utc)}],
        )
        self.assertEqual(
            identity["connectCommand"],
            f"Connect-ExchangeOnline -CertificateThumbprint '{self.first.thumbprint}' -AppId '{identity['clientId']}' "
            f"-Organization '{self.tenant.initial_domain}' -ShowBanner:$false",
        )
        self.assertNotIn("privateKeys", deployment.outputs)

    async def test_der_and_pem_files_of_one_certificate_give_the_same_credential(self) -> None:
        der_path = self.folder.write("host01-1.cer", self.first.der)
        pem_inputs = self.credentials(await self.up(host_identity(self.first_path)))
        der_inputs = self.credentials(await self.up(host_identity(der_path)))
        self.assertEqual(pem_inputs, der_inputs)

    async def test_rotation_adds_the_next_certificate_then_removes_the_old_one(self) -> None:
        await self.up(host_identity(self.first_path))
        # Eleven months on, the host makes the next certificate (a new key) and a pull request adds the file.
        self.clock.advance(330)
        second = make_host_certificate(self.clock.now, host="HOST01", starts_days=0, key=rsa_key(fresh=True))
        second_path = self.folder.write("host01-2.crt", second.pem)
        both = await self.up(host_identity(self.first_path, second_path))
        credentials = self.credentials(both)
        self.assertEqual(set(credentials), {self.first.thumbprint, second.thumbprint}, "both are valid during the overlap")
        identity = both.output("identities")["exo"]
        self.assertEqual(identity["thumbprint"], second.thumbprint, "the outputs point at the newer certificate")
        self.assertEqual([c["thumbprint"] for c in identity["credentials"]], [second.thumbprint, self.first.thumbprint])
        self.assertIn(second.thumbprint, identity["connectCommand"])
        # The hosts have switched: the old file leaves config; the new credential is registered exactly as before.
        after = await self.up(host_identity(second_path))
        self.assertEqual(self.credentials(after), {second.thumbprint: credentials[second.thumbprint]})

    async def test_order_in_config_changes_nothing(self) -> None:
        second = make_host_certificate(self.clock.now, host="HOST02", starts_days=0, key=rsa_key(fresh=True))
        second_path = self.folder.write("host02-1.crt", second.pem)
        one = await self.up(host_identity(self.first_path, second_path))
        other = await self.up(host_identity(second_path, self.first_path))
        self.assertEqual(
            sorted((r.name, str(r.plain_inputs)) for r in one.of_type(APPLICATION_CERTIFICATE)),
            sorted((r.name, str(r.plain_inputs)) for r in other.of_type(APPLICATION_CERTIFICATE)),
        )
        self.assertEqual(one.output("identities")["exo"]["thumbprint"], other.output("identities")["exo"]["thumbprint"])

    async def test_a_month_later_nothing_changes_and_a_first_preview_knows_all_but_the_app_id(self) -> None:
        config = host_identity(self.first_path)
        preview = await self.up(config, preview=True)
        unknown = {f"{r.name}{path}" for r in preview.custom() for path in unknown_paths(r.inputs)}
        credential = f"exo-host-{self.first.thumbprint.lower()}-credential"
        self.assertEqual({u for u in unknown if u.startswith(credential)}, {f"{credential}.applicationId"})
        first = await self.up(config)
        self.clock.advance(31)
        second = await self.up(config)
        self.assertEqual(plain_inputs(first), plain_inputs(second))
        self.assertEqual({(r.type, r.name): r.id for r in first.custom()}, {(r.type, r.name): r.id for r in second.custom()})
        self.assertEqual({k: v.value for k, v in first.outputs.items()}, {k: v.value for k, v in second.outputs.items()})

    async def test_generated_and_host_identities_side_by_side(self) -> None:
        config = {
            "identities": [
                {"name": "reports", "roles": ["Global Reader"]},
                {"name": "tasks", "certificate": {"hostCertificates": [self.first_path]}},
            ]
        }
        deployment = await self.up(config)
        self.assertEqual(set(deployment.output("privateKeys")), {"reports"})
        self.assertTrue(deployment.outputs["privateKeys"].secret)
        sources = {name: value["certificateSource"] for name, value in deployment.output("identities").items()}
        self.assertEqual(sources, {"reports": "generated", "tasks": "host"})
        self.assertEqual(len(deployment.of_type(PRIVATE_KEY)), 1)
        self.assertEqual(len(deployment.of_type(APPLICATION_CERTIFICATE)), 2)


class ExpiryWarning(unittest.IsolatedAsyncioTestCase):
    """A warning in every preview from N days before the end; never a resource input (the same inputs with and without it)."""

    def setUp(self) -> None:
        self.clock = MovableClock()
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)
        self.certificate = make_host_certificate(self.clock.now, starts_days=0, days=365)
        self.path = self.folder.write("host01.crt", self.certificate.pem)

    async def preview(self, config: dict[str, Any]) -> tuple[list[str], Deployment]:
        """The warnings a preview printed and what it registered."""
        deployment, records = await preview_logged(MockTenant(clock=self.clock), config)
        return [record.getMessage() for record in records], deployment

    async def test_no_warning_far_from_the_end_then_one_inside_the_window(self) -> None:
        quiet, early = await self.preview(host_identity(self.path))
        self.assertEqual(quiet, [])
        self.clock.advance(340)  # 25 days left: inside the default 30-day window
        warnings, late = await self.preview(host_identity(self.path))
        self.assertEqual(len(warnings), 1)
        self.assertIn(self.certificate.thumbprint, warnings[0])
        self.assertIn("expires", warnings[0])
        self.assertIn("New-ExoHostCertificate.ps1", warnings[0])
        # The application id is unknown in a first preview; everything the credential is made of is the same.
        self.assertEqual(
            [{k: v for k, v in r.plain_inputs.items() if k != "applicationId"} for r in early.of_type(APPLICATION_CERTIFICATE)],
            [{k: v for k, v in r.plain_inputs.items() if k != "applicationId"} for r in late.of_type(APPLICATION_CERTIFICATE)],
        )

    async def test_the_window_is_configurable(self) -> None:
        self.clock.advance(300)  # 65 days left
        self.assertEqual((await self.preview(host_identity(self.path)))[0], [])
        warnings, _ = await self.preview(host_identity(self.path, warnBeforeDays=90))
        self.assertEqual(len(warnings), 1)

    async def test_a_listed_successor_turns_the_warning_into_a_reminder_to_finish_the_rotation(self) -> None:
        self.clock.advance(340)
        successor = make_host_certificate(self.clock.now, starts_days=0, key=rsa_key(fresh=True))
        successor_path = self.folder.write("host01-next.crt", successor.pem)
        warnings, _ = await self.preview(host_identity(self.path, successor_path))
        self.assertEqual(len(warnings), 1)
        self.assertIn(self.certificate.thumbprint, warnings[0])
        self.assertIn("switch the hosts", warnings[0])
        self.assertNotIn(successor.thumbprint, warnings[0])


class KeyVaultBesideHostCertificates(unittest.IsolatedAsyncioTestCase):
    async def test_the_vault_holds_only_the_generated_identitys_key(self) -> None:
        clock = MovableClock()
        folder = CertificateFolder()
        self.addCleanup(folder.cleanup)
        reader = "0d3f6a2e-5b1c-4c8e-9f7a-1b2c3d4e5f60"
        host = make_host_certificate(clock.now)
        config = {
            "identities": [
                {"name": "arc", "roles": ["Global Reader"]},
                {"name": "tasks", "certificate": {"hostCertificates": [folder.write("tasks.crt", host.pem)]}},
            ],
            "keyVault": {"enabled": True, "name": "kv-exo-mixed", "resourceGroupName": "rg-exo-hosts", "readers": [reader]},
        }
        tenant = MockTenant(clock=clock, existing_resource_groups={"rg-exo-hosts": "westeurope"})
        tenant.add_principal(reader)
        deployment = await evaluate(tenant, preview=False, config=config)
        names = [s.plain_inputs["secretName"] for s in deployment.of_type(SECRET)]
        self.assertEqual(len(names), 1)
        self.assertIn("arc", names[0])
        self.assertEqual(set(deployment.output("keyVault")["secretNames"]), {"arc"})
