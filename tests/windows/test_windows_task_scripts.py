"""The Windows host scripts' unattended behaviour (issue 11), read with tree-sitter: parameters a task action can pass, a clean
exit code, a locked-down log folder, retried identity calls and a disabled secret told apart from a missing permission."""

from __future__ import annotations

import re

from tests.powershell import parse_file
from tests.runbooks.conftest import REPO_ROOT

WRAPPER = REPO_ROOT / "scripts" / "windows" / "Invoke-ExoScheduledTask.ps1"
FETCHER = REPO_ROOT / "scripts" / "windows" / "Get-ExoCertificateFromKeyVault.ps1"


def test_a_task_action_can_pass_the_task_script_parameters() -> None:
    # powershell.exe -File passes every argument as a literal string: a [hashtable] parameter cannot be bound from a task action.
    script = parse_file(WRAPPER)
    json_parameter = script.parameter("ScriptParametersJson")
    file_parameter = script.parameter("ScriptParametersFile")
    assert json_parameter is not None and json_parameter.type_name == "string"
    assert file_parameter is not None and file_parameter.type_name == "string"
    resolve = [c.name for c in script.commands if c.in_function == "Resolve-TaskParameters"]
    # A data file is read without running code; JSON is converted without -AsHashtable (absent on 5.1).
    assert "Import-PowerShellDataFile" in resolve and "ConvertFrom-Json" in resolve
    assert "& $ScriptPath @taskParameters | Out-Host" in WRAPPER.read_text()


def test_the_exit_code_is_explicit_and_nothing_else_reaches_it() -> None:
    text = WRAPPER.read_text()
    assert text.rstrip().endswith("exit $script:ExitCode")
    script = parse_file(WRAPPER)
    # The shared module's disconnect discards its output and turns a failure into a warning: nothing reaches the exit code.
    disconnects = script.calls("Disconnect-ExoSession")
    assert disconnects and all(c.in_finally and c.has_parameter("ConnectionId") for c in disconnects)
    assert "$null = Disconnect-ExchangeOnline -ConnectionId $ConnectionId" in (WRAPPER.parent / "ExoCommon.psm1").read_text()
    assert "Where-Object { $_ -is [int] }" in text, "only integers returned by Invoke-Task are taken as the exit code"
    assert "Select-Object -Last 1" not in text


def test_the_log_folder_is_locked_down_before_anything_is_written() -> None:
    text = WRAPPER.read_text()
    script = parse_file(WRAPPER)
    assert "$acl.SetAccessRuleProtection($true, $false)" in text, "inheritance off, inherited entries not copied"
    assert "'S-1-5-18'" in text and "'S-1-5-32-544'" in text, "SYSTEM and Administrators by well-known SID (any language)"
    assert "[Security.Principal.WindowsIdentity]::GetCurrent().User" in text, "the task account itself"
    assert [c.in_function for c in script.calls("Set-Acl")] == ["Protect-LogDirectory"]
    protect = text.index("Protect-LogDirectory -Path $LogDirectory")
    assert protect < text.index("Start-Transcript") and protect < text.index("$script:LogFile = Join-Path")
    # Failing to lock it down stops the run instead of logging mailbox data where others can read it.
    assert re.search(r"Protect-LogDirectory -Path \$LogDirectory\s*\}\s*catch \{[^}]*exit \$ExitSetupProblem", text)


def test_identity_token_calls_are_retried_with_backoff() -> None:
    text = FETCHER.read_text()
    script = parse_file(FETCHER)
    retried = script.calls("Invoke-HttpGetWithRetry")
    assert len(retried) == 3  # Arc second request, IMDS, Key Vault
    assert {c.value_of("RetryStatus") for c in retried} == {"$IdentityRetryStatus", "$KeyVaultRetryStatus"}
    # The Arc challenge request is expected to answer 401 and is not retried.
    assert sorted(str(c.in_function) for c in script.calls("Invoke-HttpGet")) == ["Get-ManagedIdentityToken", "Invoke-HttpGetWithRetry"]
    statuses = re.search(r"\$IdentityRetryStatus = @\(([^)]*)\)", text)
    assert statuses and {404, 410, 429, 500, 503} <= {int(s) for s in statuses[1].split(",")}
    assert "Start-Sleep" in {c.name for c in script.commands if c.in_function == "Invoke-HttpGetWithRetry"}


def test_a_disabled_secret_is_not_reported_as_a_missing_permission() -> None:
    text = FETCHER.read_text()
    disabled = text.index("'SecretDisabled'")
    permission = text.index("needs 'Key Vault Secrets User'")
    assert disabled < permission, "SecretDisabled must be recognised before the generic 403 message"
    assert "Get-KeyVaultErrorCode" in {c.name for c in parse_file(FETCHER).commands if c.in_function == "Get-KeyVaultSecret"}


def test_the_task_wrapper_uses_the_shared_module_for_the_certificate_look_up() -> None:
    # One copy of the look-up (user store, then machine store): ExoCommon.psm1, which the runbooks get on hybrid workers too.
    module = parse_file(REPO_ROOT / "scripts" / "windows" / "ExoCommon.psm1")
    script = parse_file(WRAPPER)
    assert module.problems == () and "Find-ExoCertificate" in module.functions
    assert not set(script.functions) & set(module.functions), "the wrapper redefines a module helper"
    assert script.calls("Find-ExoCertificate") and "Find-TaskCertificate" not in WRAPPER.read_text()
    assert "-ChildPath 'ExoCommon.psm1'" in WRAPPER.read_text()
    assert not module.calls("Export-ModuleMember"), "the module is also put into runbooks, which are scripts"
