"""New-ExoHostCertificate.ps1, read from its syntax tree: a CSP key that cannot leave the host, checked before anyone is granted it,
and a public-only export the program accepts. (Parsed with tree-sitter-powershell, not run: no Windows here.)"""

from __future__ import annotations

import base64
import re

from certtool.pfx import CSP_NAME
from settings.host_certificate import parse_host_certificate
from settings.stack import _NAME_PATTERN, RSA_KEY_SIZES  # pyright: ignore[reportPrivateUsage]
from tests.harness import REPO
from tests.host_certificate_files import CertificateFolder, MovableClock, make_host_certificate
from tests.powershell import parse_file

SCRIPT = REPO / "scripts" / "windows" / "New-ExoHostCertificate.ps1"
POLICY_DEFAULT_MAX_DAYS = 365  # policy/exo_policies.py PolicySettings.max_certificate_validity_days


def text() -> str:
    return SCRIPT.read_text()


def test_it_parses_and_defines_nothing_the_module_already_has() -> None:
    script = parse_file(SCRIPT)
    assert [str(problem) for problem in script.problems] == []
    assert not re.search(r"^\s*function ", text(), re.MULTILINE), "helpers live in ExoCertificate.psm1"
    assert "Join-Path -Path $PSScriptRoot -ChildPath 'ExoCertificate.psm1'" in text()


def test_the_key_is_made_in_the_csp_certtool_names_not_exportable_in_the_machine_store() -> None:
    (create,) = parse_file(SCRIPT).calls("New-SelfSignedCertificate")
    assert {"Type", "Provider", "KeyAlgorithm", "KeyLength", "KeySpec", "KeyExportPolicy", "CertStoreLocation", "ErrorAction"} <= set(
        create.parameters
    )
    body = text()
    assert f"$CspName = '{CSP_NAME}'" in body
    assert "$StoreLocation = 'Cert:\\LocalMachine\\My'" in body
    for fragment in (
        "-Type Custom",
        "-Provider $CspName",
        "-KeyAlgorithm RSA",
        "-KeySpec KeyExchange",
        "-KeyExportPolicy NonExportable",
        "-CertStoreLocation $StoreLocation",
        "-HashAlgorithm SHA256",
        "-ErrorAction Stop",
    ):
        assert fragment in body, fragment
    # Client authentication only, and no basicConstraints: an end-entity certificate (the program refuses CA=true).
    assert '"2.5.29.37={text}$ClientAuthentication"' in body and "$ClientAuthentication = '1.3.6.1.5.5.7.3.2'" in body
    assert "2.5.29.19" not in body


def test_nothing_private_ever_leaves_the_host() -> None:
    body = text()
    names = {call.name for call in parse_file(SCRIPT).commands}
    assert not names & {"Export-PfxCertificate", "certutil.exe", "certutil", "Export-Certificate"}
    assert "Exportable" not in body.replace("NonExportable", "").replace(".Exportable", "")
    assert "PRIVATE KEY" not in body and ".pfx" not in body.lower()
    # The one file written is the PEM built from RawData (the certificate's DER).
    assert body.count("WriteAllText(") == 1 and "[Convert]::ToBase64String($installed.RawData)" in body


def test_checks_come_before_the_grant_and_a_failed_check_removes_the_key() -> None:
    calls = [call.name for call in parse_file(SCRIPT).commands]
    assert calls.index("Resolve-ExoAccountSid") < calls.index("New-SelfSignedCertificate")
    assert calls.index("New-SelfSignedCertificate") < calls.index("Get-ExoKeyProvider") < calls.index("Test-ExoKeySigning")
    assert calls.index("Test-ExoKeySigning") < calls.index("Grant-ExoKeyReadAccess")
    body = text()
    for check in ("$key.IsCng", "$key.ProviderType -ne $ProvRsaAes", "$key.Exportable -ne $false", "-not $key.MachineKeySet"):
        assert check in body, check
    assert re.search(r"catch \{\s+Remove-ExoStoreCertificate -Store \$StoreLocation -Thumbprint \$thumbprint\s+throw", body)


def test_parameters_agree_with_the_program_and_the_policy() -> None:
    body = text()
    key_sizes = re.search(r"\[ValidateSet\(([\d, ]+)\)\]\s+\[int\] \$KeyLength = (\d+)", body)
    assert key_sizes is not None
    assert tuple(int(size) for size in key_sizes.group(1).split(",")) == RSA_KEY_SIZES
    assert int(key_sizes.group(2)) == 2048
    validity = re.search(r"\[ValidateRange\((\d+), (\d+)\)\]\s+\[int\] \$ValidityDays = (\d+)", body)
    assert validity is not None
    assert int(validity.group(3)) <= POLICY_DEFAULT_MAX_DAYS, "the default passes the policy pack's default maximum"
    identity = re.search(r"\[ValidatePattern\('(.+)'\)\]\s+\[string\] \$Identity", body)
    assert identity is not None and identity.group(1) == _NAME_PATTERN.pattern


def test_the_exported_file_is_what_the_program_reads() -> None:
    """Replays the script's export in Python (base64 of the DER, 64-character lines, LF, PEM armour, ASCII) on a real
    certificate: the program accepts the file, and it is byte for byte the PEM `cryptography` (OpenSSL) writes."""
    clock = MovableClock()
    certificate = make_host_certificate(clock.now)
    encoded = base64.b64encode(certificate.der).decode()
    lines = ["-----BEGIN CERTIFICATE-----", *(encoded[i : i + 64] for i in range(0, len(encoded), 64)), "-----END CERTIFICATE-----"]
    exported = ("\n".join(lines) + "\n").encode("ascii")
    assert exported == certificate.pem
    folder = CertificateFolder()
    try:
        path = folder.write("exo-host01-20260101.crt", exported)
        parsed = parse_host_certificate("exo-automation:identities[0].certificate.hostCertificates[0]", path, REPO, clock.now)
    finally:
        folder.cleanup()
    assert parsed.thumbprint == certificate.thumbprint
    assert parsed.certificate_pem == exported.decode()
    file_name = re.search(r"\$fileName = '(.+?)' -f \$Identity, \$computer", text())
    assert file_name is not None and file_name.group(1).endswith(".crt"), ".crt: *.pem is git-ignored, and rightly so"
