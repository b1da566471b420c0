"""The policy pack over a stack of host certificates: every rule passes, the certificate rule judges each credential from its own
start and end (known even in a first preview), and a host certificate that lives too long is caught."""

from __future__ import annotations

import unittest

import pytest

pytest.importorskip("pulumi_azuread", reason="needs the program's SDKs (run in the main .venv)")

import exo_policies as ep

from tests.harness import evaluate
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate, rsa_key
from tests.mock_tenant import MockTenant
from tests.policy.test_policy_whole_program import records, run_pack


class PolicyPackOverHostCertificates(unittest.IsolatedAsyncioTestCase):
    def setUp(self) -> None:
        self.clock = MovableClock()
        self.folder = CertificateFolder()
        self.addCleanup(self.folder.cleanup)

    def config(self, *certificates: bytes) -> dict[str, object]:
        paths = [self.folder.write(f"host-{index}.crt", pem) for index, pem in enumerate(certificates)]
        return {"identities": [{"name": "exo", "certificate": {"hostCertificates": paths}}]}

    async def test_every_rule_passes_and_nothing_about_the_credentials_waits_for_the_update(self) -> None:
        # A rotation in progress: an old certificate 300 days into its year, and its successor.
        old = make_host_certificate(self.clock.now, starts_days=-300, days=365)
        new = make_host_certificate(self.clock.now, starts_days=-1, days=365, key=rsa_key(fresh=True))
        config = self.config(old.pem, new.pem)
        for preview in (True, False):
            with self.subTest(preview=preview):
                deployment = await evaluate(MockTenant(clock=self.clock), preview=preview, config=config)
                resources = records(deployment)
                credentials = [r for r in resources if r.type == ep.AZUREAD_APPLICATION_CERTIFICATE]
                self.assertEqual(len(credentials), 2)
                violations, deferred = run_pack(resources, self.clock.now)
                self.assertEqual(violations, [])
                self.assertFalse([d for d in deferred if ":certificate-validity-bounded:" in d], "dates come from the certificate")
                for credential in credentials:
                    self.assertEqual(ep.check_certificate_validity(credential.type, credential.inputs, self.context()), [])

    async def test_a_two_year_host_certificate_is_caught_by_the_validity_rule(self) -> None:
        long_lived = make_host_certificate(self.clock.now, starts_days=-1, days=730)
        deployment = await evaluate(MockTenant(clock=self.clock), preview=False, config=self.config(long_lived.pem))
        violations, _ = run_pack(records(deployment), self.clock.now)
        self.assertEqual(
            [(v.policy, v.resource_type) for v in violations], [("certificate-validity-bounded", ep.AZUREAD_APPLICATION_CERTIFICATE)]
        )
        self.assertIn("maxValidityDays", violations[0].message)

    def context(self) -> ep.RuleContext:
        return ep.RuleContext(catalog=ep.load_catalog(), settings=ep.PolicySettings(), now=self.clock.now)
