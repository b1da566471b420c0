"""An Azure Automation account whose system-assigned managed identity runs Exchange Online PowerShell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import automation, resources

from components.exchange_grant import ExchangeGrant, ExchangeGrantArgs
from components.module_import import report_failed_import
from components.tenant import ExchangeServicePrincipal
from exo import azure_names, facts


def gallery_link(name: str, version: str) -> automation.ContentLinkArgs:
    """A pinned PowerShell Gallery package (names fixed in code, never config: look-alikes exist there)."""
    return automation.ContentLinkArgs(uri=facts.POWERSHELL_GALLERY_PACKAGE_URI.format(name=name, version=version))


def exchange_module_link(version: str) -> automation.ContentLinkArgs:
    """The pinned ExchangeOnlineManagement package in the PowerShell Gallery."""
    return gallery_link(facts.EXCHANGE_MODULE_NAME, version)


def _principal_of(identity: automation.outputs.IdentityResponse | None) -> str:
    if identity is None or not identity.principal_id:
        raise pulumi.RunError("the Automation account came back without a system-assigned identity; nothing can be granted")
    return identity.principal_id


@dataclass
class ExchangeAutomationAccountArgs:
    resource_group_name: str
    """Resource group of the account."""
    location: str
    """Azure region."""
    account_name: str
    """Name of the Automation account."""
    runtime: facts.AutomationRuntime
    """Where runbooks run: Windows PowerShell 5.1 or 7.2 (modules), or a PowerShell 7.4/7.6 runtime environment."""
    exchange_module_version: str
    """ExchangeOnlineManagement version, one that runs on the runtime."""
    exchange: ExchangeServicePrincipal
    """This tenant's Office 365 Exchange Online service principal and its verified Exchange.ManageAsApp role (looked up)."""
    roles: Sequence[facts.ExchangeRole] = field(default_factory=lambda: [facts.ROLES[n] for n in facts.DEFAULT_MANAGED_IDENTITY_ROLES])
    """Entra roles for the managed identity."""
    public_network_access: bool = True
    """Whether the account's endpoints are reachable from public networks."""
    hybrid_worker_group: str | None = None
    """Name of a hybrid runbook worker group to declare (workers join it outside this program)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the account and its runtime environment."""
    create_resource_group: bool = True
    """Create the resource group, or use an existing one (for example the one the bootstrap stack made)."""


class ExchangeAutomationAccount(pulumi.ComponentResource):
    """Basic Automation account, system-assigned identity, no local (key) auth, Exchange grant, ExchangeOnlineManagement pinned."""

    resource_group_name: pulumi.Output[str]
    account_name: pulumi.Output[str]
    account_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]
    """Object id of the managed identity's service principal: the principal that holds the grant."""
    runtime_environment_name: pulumi.Output[str] | None
    """The runtime environment runbooks link to (PowerShell 7.4 or 7.6); None on the 5.1 and 7.2 module paths."""
    exchange_module: pulumi.Resource
    """The module or package resource: job schedules depend on it. Azure imports it asynchronously after the resource exists;
    `exchange_module_import` reports a failed import."""
    exchange_module_import: pulumi.Output[str]
    """The import state the last evaluation saw (Azure's provisioningState; "" before the resource exists). A failed import is
    logged as an error naming the resource (components/module_import.py)."""
    hybrid_worker_group_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: ExchangeAutomationAccountArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ExchangeAutomationAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        resource_group_name: pulumi.Output[str] = (
            resources.ResourceGroup(
                f"{name}-resource-group",
                resource_group_name=args.resource_group_name,
                location=args.location,
                tags=dict(args.tags),
                opts=child,
            ).name
            if args.create_resource_group
            else pulumi.Output.from_input(args.resource_group_name)
        )
        account = automation.AutomationAccount(
            f"{name}-account",
            automation_account_name=args.account_name,
            resource_group_name=resource_group_name,
            location=args.location,
            sku=automation.SkuArgs(name=automation.SkuNameEnum.BASIC),
            identity=automation.IdentityArgs(type=automation.ResourceIdentityType.SYSTEM_ASSIGNED),
            # Entra only: no account keys to leak.
            disable_local_auth=True,
            public_network_access=args.public_network_access,
            tags=dict(args.tags),
            opts=child,
        )
        principal_id = account.identity.apply(_principal_of)
        ExchangeGrant(
            f"{name}-grant",
            ExchangeGrantArgs(
                principal_object_id=principal_id,
                exchange=args.exchange,
                roles=args.roles,
            ),
            opts=child,
        )

        link = exchange_module_link(args.exchange_module_version)
        self.runtime_environment_name = None
        if args.runtime.module_resource == "runtime-environment":
            version = f"{args.runtime.powershell[0]}.{args.runtime.powershell[1]}"
            # A new version is a new name, so a runtime change creates the new environment, re-links the runbooks to it, and
            # deletes the old one last (Pulumi's create-before-delete): no runbook ever links an environment that is gone.
            environment = automation.RuntimeEnvironment(
                f"{name}-runtime",
                # The spec's pattern has no '.': PowerShell-7-4-Exchange, not PowerShell-7.4-Exchange.
                runtime_environment_name=azure_names.runtime_environment_name(args.runtime.powershell),
                language=facts.RUNTIME_ENVIRONMENT_LANGUAGE,
                version=version,
                # No default Az packages: the runbooks do not use Az, and Az.Accounts beside ExchangeOnlineManagement is the
                # classic MSAL assembly clash.
                default_packages={},
                description=f"PowerShell {version} with ExchangeOnlineManagement, managed by exo-automation",
                location=args.location,
                tags=dict(args.tags),
                # Language and version are immutable in Azure (manage-runtime-environment.md).
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["language", "version"]),
                automation_account_name=account.name,
                resource_group_name=resource_group_name,
            )
            package = automation.Package(
                f"{name}-exchange-package",
                package_name=facts.EXCHANGE_MODULE_NAME,
                runtime_environment_name=environment.name,
                content_link=link,
                opts=child,
                automation_account_name=account.name,
                resource_group_name=resource_group_name,
            )
            self.exchange_module = package
            self.exchange_module_import = report_failed_import(
                package,
                kind="package",
                module_name=facts.EXCHANGE_MODULE_NAME,
                account_name=account.name,
                resource_group_name=resource_group_name,
                runtime_environment_name=environment.name,
            )
            self.runtime_environment_name = environment.name
        else:
            # 7.2 and 5.1 take the same module arguments; only the resource type differs.
            module_type = automation.PowerShell72Module if args.runtime.module_resource == "powershell72-module" else automation.Module
            # ExchangeOnlineManagement 3.x can fail on these accounts unless PowerShellGet and PackageManagement are imported too
            # (facts.EXCHANGE_MODULE_COMPANIONS). depends_on orders only the PUTs: Automation imports each module asynchronously,
            # so a later import may be validated before an earlier one finished. A failed import is reported by the next preview
            # with the command that retries it (components/module_import.py; docs/runtimes.md).
            companions: list[pulumi.Resource] = []
            for companion in args.runtime.companion_modules:
                imported = module_type(
                    f"{name}-{companion.name.lower()}-module",
                    module_name=companion.name,
                    content_link=gallery_link(companion.name, companion.version),
                    automation_account_name=account.name,
                    resource_group_name=resource_group_name,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(companions)),
                )
                report_failed_import(
                    imported, kind="module", module_name=companion.name, account_name=account.name, resource_group_name=resource_group_name
                )
                companions.append(imported)
            module = module_type(
                f"{name}-exchange-module",
                module_name=facts.EXCHANGE_MODULE_NAME,
                content_link=link,
                automation_account_name=account.name,
                resource_group_name=resource_group_name,
                opts=pulumi.ResourceOptions(parent=self, depends_on=companions),
            )
            self.exchange_module = module
            self.exchange_module_import = report_failed_import(
                module,
                kind="module",
                module_name=facts.EXCHANGE_MODULE_NAME,
                account_name=account.name,
                resource_group_name=resource_group_name,
            )

        self.hybrid_worker_group_name = None
        if args.hybrid_worker_group is not None:
            group = automation.HybridRunbookWorkerGroup(
                f"{name}-hybrid-workers",
                hybrid_runbook_worker_group_name=args.hybrid_worker_group,
                automation_account_name=account.name,
                resource_group_name=resource_group_name,
                opts=child,
            )
            self.hybrid_worker_group_name = group.name

        self.resource_group_name = resource_group_name
        self.account_name = account.name
        self.account_id = account.id
        self.principal_id = principal_id
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"accountName": self.account_name, "accountId": self.account_id, "principalId": self.principal_id})
