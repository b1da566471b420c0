"""Report a module or package whose import into Automation failed, from the state stored in the stack (one GET in a preview only while
that state is not final). Why `pulumi up` cannot wait for the import: docs/automation.md, *The module*.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi_azure_native import automation

# Spec enum ModuleProvisioningState (Microsoft.Automation module.json / package.json): every other value is a step of the import.
FINAL_STATES = frozenset({"Succeeded", "Failed", "Cancelled"})
FAILED_STATES = frozenset({"Failed", "Cancelled"})


def failure_message(kind: str, name: str, account: str, state: str | None, error: Any, urn: str) -> str | None:
    """The error to report for an import in `state` with `error` (None when the import has not failed)."""
    code = getattr(error, "code", None) if not isinstance(error, dict) else error.get("code")
    message = getattr(error, "message", None) if not isinstance(error, dict) else error.get("message")
    if state not in FAILED_STATES and not message:
        return None
    detail = ": ".join(part for part in (code, message) if part) or "no error detail from Azure"
    return (
        f"the import of {kind} {name} into Automation account {account} failed ({state or 'error'}: {detail}); every job that "
        f"needs it fails. Pin an exchangeModuleVersion that runs on the runtime, or import it again with "
        f"`pulumi up --replace '{urn}'`"
    )


def report_failed_import(
    module: automation.Package | automation.Module | automation.PowerShell72Module,
    *,
    kind: str,
    module_name: str,
    account_name: pulumi.Output[str],
    resource_group_name: pulumi.Input[str],
    runtime_environment_name: pulumi.Input[str] | None = None,
) -> pulumi.Output[str]:
    """Log an error if the module's import failed; the Output is the import state the check saw ("" if not created yet)."""
    invoke = pulumi.InvokeOutputOptions(parent=module)

    def live(resource_id: str, stored_state: str | None, stored_error: Any) -> Any:
        if not resource_id or stored_state in FINAL_STATES or not pulumi.runtime.is_dry_run():
            return {"provisioning_state": stored_state, "error": stored_error}
        if isinstance(module, automation.Package):
            found: pulumi.Output[Any] = automation.get_package_output(
                automation_account_name=account_name,
                resource_group_name=resource_group_name,
                runtime_environment_name=runtime_environment_name,
                package_name=module_name,
                opts=invoke,
            )
        elif isinstance(module, automation.PowerShell72Module):
            found = automation.get_power_shell72_module_output(
                automation_account_name=account_name, resource_group_name=resource_group_name, module_name=module_name, opts=invoke
            )
        else:
            found = automation.get_module_output(
                automation_account_name=account_name, resource_group_name=resource_group_name, module_name=module_name, opts=invoke
            )
        return found.apply(lambda result: {"provisioning_state": result.provisioning_state, "error": result.error})

    def check(values: list[Any]) -> str:
        seen, account, urn = values
        state = seen.get("provisioning_state")
        message = failure_message(kind, module_name, account, state, seen.get("error"), urn)
        if message is not None:
            pulumi.log.error(message, resource=module)
        return state or ""

    seen = pulumi.Output.all(module.id, module.provisioning_state, module.error).apply(lambda v: live(v[0], v[1], v[2]))
    return pulumi.Output.all(seen, account_name, module.urn).apply(check)
