"""A generated certificate a year on, as the tls provider renews it: untouched before its early-renewal window, reissued with the
same key inside it, and the key credential replaced with the new end date (the disagreement the engine suite found: the mock used to
keep the old certificate forever)."""

from __future__ import annotations

import unittest

from tests.harness import evaluate
from tests.host_certificate_files import MovableClock
from tests.mock_tenant import MockTenant

CERT = "tls:index/selfSignedCert:SelfSignedCert"
CREDENTIAL = "azuread:index/applicationCertificate:ApplicationCertificate"
KEY = "tls:index/privateKey:PrivateKey"


class GeneratedCertificateRenewal(unittest.IsolatedAsyncioTestCase):
    async def test_reissued_inside_the_window_with_the_same_key_and_a_new_credential(self) -> None:
        clock = MovableClock()
        tenant = MockTenant(clock=clock)
        first = await evaluate(tenant, preview=False)
        (cert,) = first.of_type(CERT)
        (credential,) = first.of_type(CREDENTIAL)
        (key,) = first.of_type(KEY)

        clock.advance(334)  # a day before the default 30-day window of a 12-month certificate
        before = await evaluate(tenant, preview=False)
        self.assertEqual(before.one(CERT, cert.name).outputs["certPem"], cert.outputs["certPem"])

        clock.advance(2)
        preview = await evaluate(tenant, preview=True)
        self.assertNotEqual(preview.one(CERT, cert.name).outputs.get("certPem"), cert.outputs["certPem"], "planned for reissue")
        renewed = await evaluate(tenant, preview=False)
        new_cert, new_credential = renewed.one(CERT, cert.name), renewed.one(CREDENTIAL, credential.name)
        self.assertNotEqual(new_cert.outputs["certPem"], cert.outputs["certPem"])
        self.assertGreater(new_cert.outputs["validityEndTime"], cert.outputs["validityEndTime"])
        self.assertEqual(renewed.one(KEY, key.name).outputs["privateKeyPem"], key.outputs["privateKeyPem"], "same key")
        self.assertNotEqual(new_credential.outputs["keyId"], credential.outputs["keyId"])
        self.assertEqual(new_credential.plain_inputs["endDate"], new_cert.outputs["validityEndTime"])
