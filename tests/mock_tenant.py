"""A mock Entra tenant for Pulumi's unit-test mocks: it answers like a tenant and a provider would, and keeps state between runs.

- Look-ups answer with camelCase keys as the engine does; object ids, the initial domain and the deployer differ per tenant instance.
- Resources get provider-like outputs: tls returns a real key and a real certificate made with `cryptography`, azuread returns fresh ids.
- Like a real stack, the tenant remembers what was deployed: unchanged inputs give back the stored outputs, so a second evaluation
  sees the same ids and certificates, and a preview of an existing stack sees known values while a new resource's computed outputs
  stay unknown.
- Referential checks a tenant would make fail loudly: an assignment to a principal that does not exist, a certificate credential on an
  application id that is not an application's resource id, an end date past the certificate's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import random
import secrets
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pulumi
from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _sync_await

from exo import facts

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

EXCHANGE_ONLINE_APP_ID = "00000002-0000-0ff1-ce00-000000000000"
MANAGE_AS_APP_ROLE_ID = "dc50a0fb-09a3-484d-be87-e023b12c6440"

# Built-in role template ids a tenant knows (Entra permissions reference); a role id outside these does not exist.
BUILT_IN_ROLE_TEMPLATE_IDS = {
    "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "31392ffb-586c-42d1-9346-e59415a2cc4e",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "17315797-102d-40b4-93e0-432062caca18",
    "5d6b6bb7-de71-4623-b4af-96380a352509",
    "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "62e90394-69f5-4237-9190-012177145e10",
    "fe930be7-5e62-47db-91af-98c3a49a38b1",  # User Administrator: exists, but Exchange does not accept it app-only
}

SECRET_SIG = rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SECRET_VALUE = rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def reveal(value: Any) -> Any:
    """The plain value behind secret markers, recursively (unknowns stay as they are)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def comparable(value: Any) -> Any:
    """Plain values with assets replaced by what the engine compares them by: their content hash."""
    value = reveal(value)
    if isinstance(value, pulumi.FileAsset):
        # Relative asset paths resolve in the project directory, as Pulumi resolves them.
        path = Path(__file__).resolve().parent.parent / str(value.path)
        return {"fileAsset": hashlib.sha256(path.read_bytes()).hexdigest()}
    if isinstance(value, pulumi.StringAsset):
        return {"stringAsset": hashlib.sha256(str(value.text).encode()).hexdigest()}
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def is_unknown(value: Any) -> bool:
    return type(value).__name__ == "Unknown"


def rfc3339(moment: dt.datetime) -> str:
    # Go's time.RFC3339, as the tls provider writes it: seconds, 'Z'.
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Registration:
    """One resource registration as the engine received it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    """Inputs with secret markers and preview unknowns kept."""
    dependencies: list[str]
    additional_secret_outputs: list[str]
    delete_before_replace: bool
    ignore_changes: list[str]
    retain_on_delete: bool
    aliases: list[str] = field(default_factory=list)
    """Each alias as the engine received it: a URN, or a spec's `type::name` (empty parts where the spec leaves them)."""
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    """Per input, the URNs its value came from (what the engine stores as `propertyDependencies`)."""
    provider: str = ""
    """An explicit provider's reference (`urn::id`); empty for the default provider."""
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return reveal(self.inputs)

    def diffable(self) -> dict[str, Any]:
        """The inputs the engine compares with the stored ones: content hashes for assets, ignored properties left out."""
        return {k: v for k, v in comparable(self.inputs).items() if k not in self.ignore_changes}


@dataclass
class StoredResource:
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


# Azure Monitor types (issue 24): the input holding the name, and the ARM type in their resource ids.
WORKSPACE = "azure-native:operationalinsights:Workspace"
SAVED_SEARCH = "azure-native:operationalinsights:SavedSearch"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
ACTION_GROUP = "azure-native:monitor:ActionGroup"
ALERT_RULE = "azure-native:monitor:ScheduledQueryRule"
WORKBOOK = "azure-native:applicationinsights:Workbook"
MONITORING_TYPES = {
    WORKSPACE: ("workspaceName", "Microsoft.OperationalInsights/workspaces"),
    ACTION_GROUP: ("actionGroupName", "Microsoft.Insights/actionGroups"),
    ALERT_RULE: ("ruleName", "Microsoft.Insights/scheduledQueryRules"),
    WORKBOOK: ("resourceName", "Microsoft.Insights/workbooks"),
}
# azure-native resources: which input holds the resource's name (its `name` output).
AZURE_NAME_INPUTS = {
    "azure-native:resources:ResourceGroup": "resourceGroupName",
    "azure-native:automation:AutomationAccount": "automationAccountName",
    "azure-native:automation:RuntimeEnvironment": "runtimeEnvironmentName",
    "azure-native:automation:Package": "packageName",
    "azure-native:automation:Module": "moduleName",
    "azure-native:automation:PowerShell72Module": "moduleName",
    "azure-native:automation:HybridRunbookWorkerGroup": "hybridRunbookWorkerGroupName",
    "azure-native:automation:Runbook": "runbookName",
    "azure-native:automation:Schedule": "scheduleName",
    "azure-native:automation:JobSchedule": "jobScheduleId",
    "azure-native:storage:StorageAccount": "accountName",
    "azure-native:storage:BlobContainer": "containerName",
    "azure-native:storage:Blob": "blobName",
    "azure-native:network:PrivateEndpoint": "privateEndpointName",
    **{token: name_input for token, (name_input, _arm) in MONITORING_TYPES.items()},
}
RESOURCE_GROUP = "azure-native:resources:ResourceGroup"
VAULT = "azure-native:keyvault:Vault"
SECRET = "azure-native:keyvault:Secret"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"

SECRET_MAX_BYTES = 25 * 1024
KNOWN_ROLE_DEFINITION_IDS = {
    "4633458b-17de-408a-b874-0445c86b69e6",  # Key Vault Secrets User
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",  # Key Vault Secrets Officer
    "21090545-7ca7-4776-b22c-e363652d74d2",  # Key Vault Reader
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",  # Key Vault Administrator
}
# pulumiverse-time's time:Static (hashicorp/terraform-provider-time internal/provider/resource_time_static.go, v0.12.1): the
# provider's clock at create, unknown in the preview that plans the create; `triggers` (and `rfc3339`) force a replacement.
TIME_STATIC = "time:index/static:Static"
TIME_STATIC_COMPUTED = ("rfc3339", "year", "month", "day", "hour", "minute", "second", "unix")
SERVICE_SAS = "azure-native:storage:listStorageAccountServiceSAS"
# Rules from the REST spec (and the provider issues that quote its patterns) are what azure-native checks before any request.
CHECKED_BY_PROVIDER = ("Azure/azure-rest-api-specs", "pulumi/pulumi-azure-native")
BLOB = "azure-native:storage:Blob"
RUNBOOK = "azure-native:automation:Runbook"
SCHEDULE = "azure-native:automation:Schedule"
JOB_SCHEDULE = "azure-native:automation:JobSchedule"
RUNTIME_ENVIRONMENT = "azure-native:automation:RuntimeEnvironment"
PACKAGE = "azure-native:automation:Package"
MODULE_TYPES = {
    "azure-native:automation:Package": ("packageName", "azure-native:automation:getPackage"),
    "azure-native:automation:Module": ("moduleName", "azure-native:automation:getModule"),
    "azure-native:automation:PowerShell72Module": ("moduleName", "azure-native:automation:getPowerShell72Module"),
}
# Azure Automation refuses a schedule that starts less than 5 minutes after its creation (Azure/bicep #9780).
SCHEDULE_MINIMUM_LEAD = dt.timedelta(minutes=5)


SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert"


def certificate_ready_for_renewal(
    type_token: str, outputs: dict[str, Any], now: dt.datetime, planned_inputs: dict[str, Any] | None = None
) -> bool:
    """The tls provider's early renewal: from `early_renewal_hours` before a certificate's end (and after it) the next plan replaces
    it, although no input changed (hashicorp/terraform-provider-tls internal/provider/common_cert.go,
    modifyPlanIfCertificateReadyForRenewal; pulumi-tls bridges it). Found by the engine suite: the mock used to keep the old one.
    The window is the *planned* `early_renewal_hours` (the function reads it from req.Plan), so `planned_inputs` win over the state."""
    end = outputs.get("validityEndTime")
    if type_token != SELF_SIGNED_CERT or not isinstance(end, str):
        return False
    # Unset in a plan, the attribute is the schema's default, 0.
    source = planned_inputs if planned_inputs is not None else outputs
    early = dt.timedelta(hours=float(source.get("earlyRenewalHours") or 0))
    return now >= _parse_time(end) - early


def certificate_renewal_setting_only(prior_inputs: dict[str, Any], inputs: dict[str, Any]) -> bool:
    """Whether a certificate's inputs differ only in `early_renewal_hours`, which tls updates in place (no RequiresReplace in
    terraform-provider-tls's self-signed certificate schema): the certificate itself stays."""
    rest = {k: v for k, v in comparable(inputs).items() if k != "earlyRenewalHours"}
    return rest == {k: v for k, v in comparable(prior_inputs).items() if k != "earlyRenewalHours"}


def _parse_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class TenantError(Exception):
    """What the tenant (or a provider) would answer with an error."""


class MockTenant(pulumi.runtime.Mocks):
    """An Entra tenant with Exchange Online, and the providers that talk to it."""

    def __init__(
        self,
        *,
        exchange_present: bool = True,
        manage_as_app_role_present: bool = True,
        initial_domain_suffix: str = ".onmicrosoft.com",
        clock: Callable[[], dt.datetime] | None = None,
        seed: int | None = None,
        existing_resource_groups: dict[str, str] | None = None,
    ) -> None:
        self.random = random.Random(seed if seed is not None else secrets.randbits(64))
        self.tenant_id = self._uuid()
        self.deployer_object_id = self._uuid()
        self.deployer_client_id = self._uuid()
        word = "".join(self.random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(self.random.randint(5, 12)))
        self.initial_domain = f"{word}{self.random.randint(10, 999)}{initial_domain_suffix}"
        self.vanity_domain = f"{word}.example"
        self.exchange_object_id = self._uuid()
        self.exchange_present = exchange_present
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        roles = [
            # Look-alikes on the real SP: a program that picks by value prefix, or the first 'ManageAsApp', grabs the wrong one.
            {"value": "Exchange.ManageAsAppV2", "id": self._uuid(), "allowedMemberTypes": ["Application"]},
            {"value": "Exchange.AdminAPI.ManageAsApp", "id": self._uuid(), "allowedMemberTypes": ["Application"]},
            {"value": "full_access_as_app", "id": self._uuid(), "allowedMemberTypes": ["Application"]},
        ]
        if manage_as_app_role_present:
            roles.append({"value": "Exchange.ManageAsApp", "id": MANAGE_AS_APP_ROLE_ID, "allowedMemberTypes": ["Application"]})
        self.random.shuffle(roles)
        self.exchange_app_roles = [
            {**role, "description": f"Allows {role['value']}", "displayName": role["value"], "enabled": True} for role in roles
        ]
        # Directory objects that exist: principals that can be granted something, and applications.
        self.service_principals: dict[str, str] = {self.exchange_object_id: EXCHANGE_ONLINE_APP_ID} if exchange_present else {}
        self.applications: dict[str, str] = {}  # object id -> client id
        self.users: set[str] = set()  # object ids of users and groups (principals that are not service principals)
        self.groups: set[str] = set()
        self.state: dict[tuple[str, str], StoredResource] = {}
        # One Azure subscription with the resource groups that already exist in it.
        self.subscription_id = self._uuid()
        self.resource_groups: dict[str, str] = {name.lower(): location for name, location in (existing_resource_groups or {}).items()}
        self.vaults: dict[str, str] = {}  # vault name (lower) -> resource id
        self.resource_ids: set[str] = set()
        self.role_assignment_names: dict[str, str] = {}  # GUID -> scope
        self.storage_key = self.random.randbytes(32)
        # What Azure holds, apart from the stack's state: blobs (content SHA-256), published runbooks, schedules, job
        # schedules (id -> runbook, schedule, parameters) and each module import's live state.
        self.blobs: dict[str, str] = {}  # account/container/blob -> SHA-256 of the content
        self.blob_paths: dict[str, str] = {}  # resource id -> account/container/blob
        self.runbooks: dict[str, dict[str, Any]] = {}
        self.schedules: dict[str, dict[str, Any]] = {}
        self.job_schedules: dict[str, dict[str, Any]] = {}
        self.module_imports: dict[str, dict[str, Any]] = {}
        self.runtime_environments: dict[str, dict[str, Any]] = {}  # resource id -> name, account, version
        # Replaced resources whose new copy has another Azure id: the engine deletes the old copy after the update (create before
        # delete, Pulumi's default), with the resources the program no longer registers.
        self.replaced: list[tuple[str, StoredResource]] = []
        self.failures: dict[str, str] = {}
        # Azure Monitor: diagnostic settings per resource id (lower) -> name -> (workspace id, categories); saved searches per
        # workspace id (lower) -> function alias (lower) -> saved search id.
        self.diagnostic_settings: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
        self.function_aliases: dict[str, dict[str, str]] = {}
        self.preview = False
        self.registrations: list[Registration] = []
        self.registered_outputs: dict[str, dict[str, Any]] = {}
        """What components and the stack registered as their outputs (`register_outputs`, stack exports), by URN."""
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    # -- helpers ---------------------------------------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def begin(self, *, preview: bool) -> None:
        """Start one evaluation (one `pulumi preview` or `pulumi up`)."""
        self.preview = preview
        self.replaced = []
        self.registrations = []
        self.registered_outputs = {}
        self.calls = []

    def finish(self) -> None:
        """End a successful `pulumi up`: the engine deletes what the program no longer registers."""
        if self.preview:
            return
        registered = {(r.type, r.name) for r in self.registrations}
        deletes = self.replaced + [(k[0], self.state.pop(k)) for k in [k for k in self.state if k not in registered]]
        self.replaced = []
        # Dependents first, as the engine orders deletes: a runtime environment goes after its packages and after the runbooks
        # that linked it were re-linked or deleted.
        for type_token, stored in sorted(deletes, key=lambda item: item[0] == RUNTIME_ENVIRONMENT):
            self._delete_in_azure(type_token, stored)

    def _delete_in_azure(self, type_token: str, stored: StoredResource) -> None:
        self.resource_ids.discard(stored.id.lower())
        if type_token == JOB_SCHEDULE:
            self.job_schedules.pop(stored.id.lower(), None)
        elif type_token == SCHEDULE:
            self.schedules.pop(stored.id.lower(), None)
            # Azure removes the job schedules of a deleted schedule with it.
            name = str(stored.outputs.get("name", "")).lower()
            for job_id in [j for j, v in self.job_schedules.items() if v["schedule"].lower() == name]:
                del self.job_schedules[job_id]
        elif type_token == RUNBOOK:
            gone = self.runbooks.pop(stored.id.lower(), None)
            # Azure removes a deleted runbook's job schedules with it.
            name = str((gone or {}).get("name", "")).lower()
            for job_id in [j for j, v in self.job_schedules.items() if v["runbook"].lower() == name]:
                del self.job_schedules[job_id]
        elif type_token == BLOB:
            self.blobs.pop(self.blob_paths.pop(stored.id.lower(), ""), None)
        elif type_token in MODULE_TYPES:
            self.module_imports.pop(stored.id.lower(), None)
        elif type_token == DIAGNOSTIC_SETTING:
            self.diagnostic_settings.get(str(stored.inputs.get("resourceUri", "")).lower(), {}).pop(str(stored.inputs.get("name")), None)
        elif type_token == SAVED_SEARCH:
            aliases = self.function_aliases.get(stored.id.lower().split("/savedsearches/")[0], {})
            for alias in [a for a, owner in aliases.items() if owner == stored.id.lower()]:
                del aliases[alias]
        elif type_token == RUNTIME_ENVIRONMENT:
            environment = self.runtime_environments.get(stored.id.lower())
            if environment is None:
                return
            linked = sorted(v["name"] for v in self.runbooks.values() if self._links(v, environment))
            if linked:
                # Assumption (no source states it either way): Azure keeps an environment that runbooks still link. The program
                # never relies on it: a runtime change re-links every runbook before the old environment is deleted.
                raise TenantError(
                    f"RuntimeEnvironment {environment['name']}: Conflict: runbook(s) {', '.join(linked)} still link this "
                    "runtime environment"
                )
            del self.runtime_environments[stored.id.lower()]
            # Its packages go with it.
            for key in [k for k, v in self.module_imports.items() if v.get("runtimeEnvironment") == environment["name"]]:
                del self.module_imports[key]

    @staticmethod
    def _links(runbook: dict[str, Any], environment: dict[str, Any]) -> bool:
        named = str(runbook.get("runtimeEnvironment") or "").lower()
        return named == str(environment["name"]).lower() and runbook.get("account") == environment["account"]

    def _runtime_environment_exists(self, account: Any, name: str) -> bool:
        return any(v["account"] == account and str(v["name"]).lower() == name.lower() for v in self.runtime_environments.values())

    def dangling_links(self) -> list[str]:
        """What Azure holds that points at something gone: a runbook linked to a runtime environment that no longer exists, or a
        job schedule whose runbook is gone or is such a runbook. Empty after every update the program makes."""
        problems = [
            f"runbook {v['name']} links runtime environment {v['runtimeEnvironment']}, which does not exist"
            for v in self.runbooks.values()
            if v.get("runtimeEnvironment") and not self._runtime_environment_exists(v["account"], str(v["runtimeEnvironment"]))
        ]
        runbooks = {str(v["name"]).lower(): v for v in self.runbooks.values()}
        for job in self.job_schedules.values():
            runbook = runbooks.get(str(job["runbook"]).lower())
            if runbook is None:
                problems.append(f"job schedule of {job['runbook']} on {job['schedule']}: the runbook does not exist")
            elif runbook.get("runtimeEnvironment") and not self._runtime_environment_exists(
                runbook["account"], str(runbook["runtimeEnvironment"])
            ):
                problems.append(f"job schedule of {job['runbook']} on {job['schedule']}: its runtime environment does not exist")
        return problems

    def delete_outside_pulumi(self, type_token: str, name: str) -> None:
        """Someone deletes the resource in the portal, and a `pulumi refresh` drops it (and what Azure deleted with it) from the
        stack's state."""
        self._delete_in_azure(type_token, self.state.pop((type_token, name)))
        for key in [k for k, v in self.state.items() if k[0] == JOB_SCHEDULE and v.id.lower() not in self.job_schedules]:
            del self.state[key]

    def rotate_storage_key(self) -> None:
        """Rotate the storage account key: every SAS signed with the old key stops working."""
        self.storage_key = self.random.randbytes(32)

    def fail_next(self, type_token: str, message: str) -> None:
        """The next create or update of a resource of this type fails in Azure (a transient error, a quota, a timeout)."""
        self.failures[type_token] = message

    def finish_imports(self, failed: dict[str, str] | None = None) -> None:
        """Azure finishes every pending module import: those named in `failed` (module name -> error message) fail."""
        for live in self.module_imports.values():
            message = (failed or {}).get(live["name"])
            live.update(
                provisioningState="Failed" if message else "Succeeded",
                error={"code": "ModuleImportFailed", "message": message} if message else {},
            )

    def refresh(self) -> None:
        """`pulumi refresh` (or `up --refresh`): the stack's state takes Azure's current import states."""
        for (type_token, _name), stored in self.state.items():
            live = self.module_imports.get(stored.id.lower()) if type_token in MODULE_TYPES else None
            if live is not None:
                stored.outputs = {**stored.outputs, "provisioningState": live["provisioningState"], "error": live["error"]}

    def job_schedules_of(self, runbook: str) -> list[dict[str, Any]]:
        """The job schedules Azure holds for a runbook (by runbook name)."""
        return [v for v in self.job_schedules.values() if v["runbook"].lower() == runbook.lower()]

    def add_principal(self, object_id: str | None = None) -> str:
        """A principal that exists outside this program (for example a managed identity Azure created)."""
        object_id = object_id or self._uuid()
        self.service_principals[object_id] = self._uuid()
        return object_id

    # -- look-ups --------------------------------------------------------------------------------------------------------------
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        handler = {
            "azuread:index/getClientConfig:getClientConfig": self._client_config,
            "azuread:index/getDomains:getDomains": self._domains,
            "azuread:index/getServicePrincipals:getServicePrincipals": self._service_principals,
            "azuread:index/getServicePrincipal:getServicePrincipal": self._service_principal,
            SERVICE_SAS: self._service_sas,
            **{getter: self._module_state for _name_input, getter in MODULE_TYPES.values()},
        }.get(args.token)
        if handler is None:
            raise TenantError(f"the mock tenant does not answer {args.token}: add it to tests/mock_tenant.py")
        return handler(args.args), []

    def _client_config(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "clientId": self.deployer_client_id,
            "objectId": self.deployer_object_id,
            "tenantId": self.tenant_id,
            "id": f"clientConfigs/clientId={self.deployer_client_id};objectId={self.deployer_object_id};tenantId={self.tenant_id}",
        }

    def _domains(self, args: dict[str, Any]) -> dict[str, Any]:
        domains = [
            {"domainName": self.vanity_domain, "initial": False, "default": True, "verified": True},
            {"domainName": self.initial_domain, "initial": True, "default": False, "verified": True},
        ]
        if args.get("onlyInitial"):
            domains = [d for d in domains if d["initial"]]
        if args.get("onlyDefault"):
            domains = [d for d in domains if d["default"]]
        return {
            "domains": [
                {**d, "adminManaged": True, "authenticationType": "Managed", "rootDomain": "", "supportsServices": ["Email"]}
                for d in domains
            ],
            "id": "domains-" + str(abs(hash(self.tenant_id)) % 10**8),
            **{k: v for k, v in args.items()},
        }

    def _exchange(self) -> dict[str, Any]:
        return {
            "objectId": self.exchange_object_id,
            "clientId": EXCHANGE_ONLINE_APP_ID,
            "displayName": "Office 365 Exchange Online",
            "accountEnabled": True,
            "appRoleAssignmentRequired": False,
            "applicationTenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
            "appRoles": self.exchange_app_roles,
            "appRoleIds": {role["value"]: role["id"] for role in self.exchange_app_roles},
            "servicePrincipalNames": [EXCHANGE_ONLINE_APP_ID, "https://outlook.office365.com"],
            "signInAudience": "AzureADMultipleOrgs",
            "tags": [],
            "type": "Application",
            "id": f"/servicePrincipals/{self.exchange_object_id}",
        }

    def _service_principals(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = args.get("clientIds") or []
        found = [self._exchange()] if self.exchange_present and EXCHANGE_ONLINE_APP_ID in wanted else []
        missing = [c for c in wanted if c != EXCHANGE_ONLINE_APP_ID or not self.exchange_present]
        if missing and not args.get("ignoreMissing"):
            raise TenantError(f"service principals not found: {missing}")
        summary = ["objectId", "clientId", "displayName", "accountEnabled", "appRoleAssignmentRequired", "applicationTenantId"]
        return {
            "servicePrincipals": [{k: sp[k] for k in summary} for sp in found],
            "clientIds": [sp["clientId"] for sp in found],
            "objectIds": [sp["objectId"] for sp in found],
            "displayNames": [sp["displayName"] for sp in found],
            "id": "servicePrincipals-" + "-".join(sp["objectId"][:8] for sp in found),
        }

    def _service_principal(self, args: dict[str, Any]) -> dict[str, Any]:
        # Look-up by object id (issue 14: a managed identity's client id for Exchange RBAC): any principal that exists here.
        if args.get("objectId") is not None:
            client_id = self.service_principals.get(str(args["objectId"]))
            if client_id is None:
                raise TenantError(f"service principal not found for object id {args.get('objectId')!r}")
            if client_id == EXCHANGE_ONLINE_APP_ID:
                return self._exchange()
            return {"objectId": args["objectId"], "clientId": client_id, "displayName": "managed identity", "type": "ManagedIdentity"}
        if args.get("clientId") != EXCHANGE_ONLINE_APP_ID or not self.exchange_present:
            raise TenantError(f"service principal not found for client id {args.get('clientId')!r}")
        return self._exchange()

    def _service_sas(self, args: dict[str, Any]) -> dict[str, Any]:
        """A service SAS as Azure signs it with the account key: deterministic for the same arguments, checked like Azure would."""
        resource = str(args.get("canonicalizedResource", ""))
        account = args.get("accountName")
        if not resource.startswith(f"/blob/{account}/"):
            raise TenantError(f"listServiceSAS: canonicalizedResource {resource!r} is not a blob of account {account!r}")
        start, expiry = args.get("sharedAccessStartTime"), args.get("sharedAccessExpiryTime")
        if not start or not expiry:
            raise TenantError("listServiceSAS: a SAS needs a start and an expiry")
        fields = [args.get("permissions"), start, expiry, resource, args.get("protocols"), args.get("resource")]
        signature = hmac.new(self.storage_key, "\n".join(map(str, fields)).encode(), hashlib.sha256).hexdigest()
        token = f"sv=2022-11-02&sr={args.get('resource')}&sp={args.get('permissions')}&spr={args.get('protocols')}&st={start}&se={expiry}"
        return {"serviceSasToken": f"{token}&sig={signature}"}

    def _module_state(self, args: dict[str, Any]) -> dict[str, Any]:
        name = args.get("packageName") or args.get("moduleName")
        environment = args.get("runtimeEnvironmentName")
        found = [
            v
            for v in self.module_imports.values()
            if v["name"] == name
            and v["account"] == args.get("automationAccountName")
            and (environment is None or v.get("runtimeEnvironment") == environment)
        ]
        if not found:
            raise TenantError(f"ResourceNotFound: module {name!r} in account {args.get('automationAccountName')!r}")
        live = found[0]
        return {"name": name, "provisioningState": live["provisioningState"], "error": live["error"], "version": live["version"]}

    # -- resources -------------------------------------------------------------------------------------------------------------
    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        key = (args.typ, args.name)
        inputs = reveal(args.inputs)
        self._check_azure_names(args.typ, args.name, inputs)
        prior = self.state.get(key)
        if (
            prior is not None
            and comparable(prior.inputs) == comparable(inputs)
            and not certificate_ready_for_renewal(args.typ, prior.outputs, self.clock(), inputs)
        ):
            return prior.id, dict(prior.outputs)
        if (
            prior is not None
            and args.typ == SELF_SIGNED_CERT
            and certificate_renewal_setting_only(prior.inputs, inputs)
            and not certificate_ready_for_renewal(args.typ, prior.outputs, self.clock(), inputs)
        ):
            # Updated in place: the same certificate with the new renewal window.
            outputs = {**prior.outputs, "earlyRenewalHours": inputs.get("earlyRenewalHours")}
            if not self.preview:
                self.state[key] = StoredResource(prior.id, inputs, outputs)
            return prior.id, dict(outputs)
        if self.preview:
            # A planned create or update: computed outputs are unknown until the provider runs.
            return (prior.id if prior else ""), self._planned(args.typ, inputs, prior)
        if any(is_unknown(v) for v in _walk(inputs)):
            raise TenantError(f"{args.typ} {args.name}: an input is still unknown at deployment: {inputs}")
        failure = self.failures.pop(args.typ, None)
        if failure is not None:
            raise TenantError(f"{args.typ} {args.name}: {failure}")
        if prior is not None and args.typ in (JOB_SCHEDULE, SCHEDULE):
            # Replaced, delete before replace (the program's option for both): the old one goes first.
            self._delete_in_azure(args.typ, prior)
        create = {
            "tls:index/privateKey:PrivateKey": self._private_key,
            "tls:index/selfSignedCert:SelfSignedCert": self._self_signed_cert,
            "azuread:index/application:Application": self._application,
            "azuread:index/servicePrincipal:ServicePrincipal": self._service_principal_resource,
            "azuread:index/applicationCertificate:ApplicationCertificate": self._application_certificate,
            "azuread:index/appRoleAssignment:AppRoleAssignment": self._app_role_assignment,
            "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment": self._directory_role_assignment,
            "azure-native:automation:AutomationAccount": self._automation_account,
            TIME_STATIC: self._time_static,
            BLOB: self._blob,
            RUNBOOK: self._runbook,
            RUNTIME_ENVIRONMENT: self._runtime_environment,
            SCHEDULE: self._schedule,
            JOB_SCHEDULE: self._job_schedule,
            **dict.fromkeys(MODULE_TYPES, lambda _name, given, typ=args.typ: self._module(typ, given)),
            RESOURCE_GROUP: lambda _name, given: self._resource_group(given),
            VAULT: lambda _name, given: self._vault(given),
            SECRET: lambda _name, given: self._secret(given),
            ROLE_ASSIGNMENT: lambda _name, given: self._role_assignment(given),
            **self._monitoring_handlers(),
        }.get(args.typ)
        if create is not None:
            resource_id, outputs = create(args.name, inputs)
        elif args.typ in AZURE_NAME_INPUTS:
            resource_id, outputs = self._azure(args.typ, inputs)
        else:
            resource_id, outputs = self._generic(args.name, inputs)
        if args.typ.startswith("azure-native:"):
            self.resource_ids.add(resource_id.lower())
        if prior is not None and args.typ in (RUNTIME_ENVIRONMENT, PACKAGE) and prior.id.lower() != resource_id.lower():
            self.replaced.append((args.typ, prior))
        self.state[key] = StoredResource(resource_id, inputs, outputs)
        return resource_id, dict(outputs)

    @staticmethod
    def _planned(type_token: str, inputs: dict[str, Any], prior: StoredResource | None = None) -> dict[str, Any]:
        planned = dict(inputs)
        if type_token in AZURE_NAME_INPUTS:
            planned.update(name=rpc.UNKNOWN, id=rpc.UNKNOWN)
            same_path = prior is not None and all(
                str(inputs.get(k, "")).lower() == str(prior.inputs.get(k, "")).lower()
                for k in (*facts.AZURE_PATH_INPUTS.get(type_token, ()), AZURE_NAME_INPUTS[type_token], "location")
            )
            if prior is not None and same_path:
                # An update keeps `name` and `location` of the old state in its preview (pulumi/pulumi-azure-native
                # provider/pkg/provider/provider.go, Update: "stableOutputs"); found by the engine suite. A changed path or
                # location is a replacement, planned like a create.
                planned.update({k: prior.outputs[k] for k in ("name", "location") if k in prior.outputs})
        if type_token == TIME_STATIC:
            # Computed at apply (the provider's ModifyPlan fills them only from a configured rfc3339).
            given = inputs.get("rfc3339")
            planned.update(dict.fromkeys(TIME_STATIC_COMPUTED, rpc.UNKNOWN))
            if given is not None:
                planned["rfc3339"] = given
        if type_token == "azure-native:automation:AutomationAccount" and "identity" in inputs:
            planned["identity"] = {**inputs["identity"], "principalId": rpc.UNKNOWN, "tenantId": rpc.UNKNOWN}
        return planned

    def _generic(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return self._uuid(), dict(inputs)

    def _azure(self, type_token: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name = inputs.get(AZURE_NAME_INPUTS[type_token])
        if not name:
            raise TenantError(f"{type_token}: no {AZURE_NAME_INPUTS[type_token]} given (names are deterministic in this program)")
        group = str(inputs.get("resourceGroupName", ""))
        if group.lower() not in self.resource_groups:
            raise TenantError(f"{type_token}: resource group {group!r} could not be found")
        kind = type_token.split(":")[-1]
        resource_id = f"{self._group_id(group)}/providers/{kind}/{name}"
        return resource_id, {**inputs, "name": name, "id": resource_id}

    def _automation_account(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure("azure-native:automation:AutomationAccount", inputs)
        identity = dict(inputs.get("identity") or {})
        if identity.get("type") == "SystemAssigned":
            # Azure creates the managed identity's service principal with the account.
            identity.update(principalId=self.add_principal(), tenantId=self.tenant_id)
        return resource_id, {**outputs, "identity": identity}

    def _blob(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(BLOB, inputs)
        content = comparable(inputs.get("source"))
        path = f"{inputs.get('accountName')}/{inputs.get('containerName')}/{inputs.get('blobName')}"
        self.blobs[path] = str(content.get("fileAsset") or content.get("stringAsset") or "").upper() if isinstance(content, dict) else ""
        self.blob_paths[resource_id.lower()] = path
        return resource_id, outputs

    def _check_link(self, runbook: str, link: dict[str, Any]) -> None:
        """What Automation does during a Runbook PUT: fetch the content link now, and check the content against its hash."""
        uri = urllib.parse.urlsplit(str(link.get("uri", "")))
        account = uri.hostname.split(".")[0] if uri.hostname else ""
        container, _, blob = uri.path.lstrip("/").partition("/")
        query = {k: v[0] for k, v in urllib.parse.parse_qs(uri.query).items()}
        fail = f"Runbook {runbook}: Validation errors while reading content link"
        if uri.scheme != "https" or query.get("spr") != "https" or "r" not in query.get("sp", ""):
            raise TenantError(f"{fail}: not a readable HTTPS SAS link")
        resource = {"c": f"/blob/{account}/{container}", "b": f"/blob/{account}/{container}/{blob}"}.get(query.get("sr", ""))
        fields = [query.get("sp"), query.get("st"), query.get("se"), resource, query.get("spr"), query.get("sr")]
        expected = hmac.new(self.storage_key, "\n".join(map(str, fields)).encode(), hashlib.sha256).hexdigest()
        if resource is None or not hmac.compare_digest(expected, query.get("sig", "")):
            raise TenantError(f"{fail}: 403 AuthenticationFailed (signature does not match the storage key)")
        now = self.clock()
        if not _parse_time(query["st"]) <= now <= _parse_time(query["se"]):
            raise TenantError(f"{fail}: 403 AuthenticationFailed (the SAS is valid {query['st']} to {query['se']}, now {rfc3339(now)})")
        content = self.blobs.get(f"{account}/{container}/{blob}")
        if content is None:
            raise TenantError(f"{fail}: 404 BlobNotFound {blob}")
        wanted = str((link.get("contentHash") or {}).get("value", "")).upper()
        if wanted and wanted != content:
            raise TenantError(f"{fail}: the content hash does not match")

    def _runtime_environment(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(RUNTIME_ENVIRONMENT, inputs)
        self.runtime_environments[resource_id.lower()] = {
            "name": inputs.get("runtimeEnvironmentName"),
            "account": inputs.get("automationAccountName"),
            "version": inputs.get("version"),
        }
        return resource_id, outputs

    def _runbook(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(RUNBOOK, inputs)
        name = str(inputs.get("runbookName"))
        environment = inputs.get("runtimeEnvironment")
        if environment and not self._runtime_environment_exists(inputs.get("automationAccountName"), str(environment)):
            raise TenantError(f"Runbook {name}: BadRequest: runtime environment {environment!r} does not exist in the account")
        self._check_link(name, dict(inputs.get("publishContentLink") or {}))
        # Re-publishing a runbook leaves none of its job schedules (hashicorp/terraform-provider-azurerm #8634; see docs/design.md).
        for job_id in [j for j, v in self.job_schedules.items() if v["runbook"].lower() == name.lower()]:
            del self.job_schedules[job_id]
        self.runbooks[resource_id.lower()] = {
            "name": name,
            "published": rfc3339(self.clock()),
            "account": inputs.get("automationAccountName"),
            "runtimeEnvironment": environment,
        }
        return resource_id, {**outputs, "state": "Published", "lastModifiedTime": rfc3339(self.clock())}

    def _schedule(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(SCHEDULE, inputs)
        start = _parse_time(str(inputs.get("startTime", "")))
        if start < self.clock() + SCHEDULE_MINIMUM_LEAD:
            raise TenantError(
                f"Schedule {inputs.get('scheduleName')}: BadRequest: the start time {start.isoformat()} must be at least 5 minutes "
                f"after the time the schedule is created ({rfc3339(self.clock())})"
            )
        if resource_id.lower() in self.schedules:
            raise TenantError(f"Schedule {inputs.get('scheduleName')}: Conflict: a schedule of that name exists")
        self.schedules[resource_id.lower()] = {
            "name": inputs.get("scheduleName"),
            "startTime": inputs.get("startTime"),
            "created": self.clock(),
        }
        return resource_id, outputs

    def _job_schedule(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(JOB_SCHEDULE, inputs)
        runbook, schedule = str(inputs["runbook"]["name"]), str(inputs["schedule"]["name"])
        if not any(v["name"].lower() == runbook.lower() for v in self.runbooks.values()):
            raise TenantError(f"JobSchedule: runbook {runbook!r} does not exist")
        if not any(str(v["name"]).lower() == schedule.lower() for v in self.schedules.values()):
            raise TenantError(f"JobSchedule: schedule {schedule!r} does not exist")
        # Azure links a runbook to a schedule only once, whatever the job schedule id or parameters (Azure/azure-resource-manager-
        # schemas #313, MicrosoftDocs/azure-docs #37854): "A job schedule for the specified runbook and schedule already exists."
        if any(v["runbook"].lower() == runbook.lower() and v["schedule"].lower() == schedule.lower() for v in self.job_schedules.values()):
            raise TenantError(
                f"JobSchedule: Conflict: A job schedule for the specified runbook and schedule already exists ({runbook!r}, {schedule!r})"
            )
        self.job_schedules[resource_id.lower()] = {
            "runbook": runbook,
            "schedule": schedule,
            "parameters": dict(inputs.get("parameters") or {}),
        }
        return resource_id, outputs

    def _module(self, type_token: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = self._azure(type_token, inputs)
        name_input, _getter = MODULE_TYPES[type_token]
        environment = inputs.get("runtimeEnvironmentName") if type_token == PACKAGE else None
        if type_token == PACKAGE:
            if not self._runtime_environment_exists(inputs.get("automationAccountName"), str(environment)):
                raise TenantError(f"Package {inputs.get(name_input)}: runtime environment {environment!r} does not exist")
            # A package lives under its runtime environment: the same package in another environment is another resource.
            resource_id = resource_id.replace("/providers/Package/", f"/providers/RuntimeEnvironment/{environment}/Package/")
            outputs = {**outputs, "id": resource_id}
        uri = str((inputs.get("contentLink") or {}).get("uri", ""))
        # Not a long-running operation: Azure answers Creating and imports afterwards.
        self.module_imports[resource_id.lower()] = {
            "name": inputs.get(name_input),
            "account": inputs.get("automationAccountName"),
            "version": uri.rstrip("/").rsplit("/", 1)[-1],
            "runtimeEnvironment": environment,
            "provisioningState": "Creating",
            "error": {},
        }
        return resource_id, {**outputs, "provisioningState": "Creating", "error": {}}

    def _time_static(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """time:Static's Create: the given rfc3339, else the clock (UTC, whole seconds); the id is the same RFC 3339 text."""
        given = inputs.get("rfc3339")
        moment = _parse_time(str(given)) if given is not None else self.clock()
        moment = moment.astimezone(dt.UTC).replace(microsecond=0)
        stamp = rfc3339(moment)
        outputs: dict[str, Any] = {
            "rfc3339": stamp,
            "year": moment.year,
            "month": moment.month,
            "day": moment.day,
            "hour": moment.hour,
            "minute": moment.minute,
            "second": moment.second,
            "unix": int(moment.timestamp()),
        }
        if inputs.get("triggers") is not None:
            outputs["triggers"] = dict(inputs["triggers"])
        return stamp, outputs

    def _private_key(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # The engine's side: imported when a certificate is made or read, so a preview that needs none does not time it.
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        if inputs.get("algorithm") != "RSA":
            raise TenantError(f"tls.PrivateKey: algorithm {inputs.get('algorithm')!r} (expected RSA for Entra)")
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048)))
        pkcs1 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())
        pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._keys[pkcs1.decode()] = key
        fingerprint = hashes.Hash(hashes.SHA1())
        fingerprint.update(public)
        return fingerprint.finalize().hex(), {
            **inputs,
            "privateKeyPem": pkcs1.decode(),
            "privateKeyPemPkcs8": pkcs8.decode(),
            "publicKeyPem": public.decode(),
        }

    def _self_signed_cert(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # The engine's side: imported when a certificate is made or read, so a preview that needs none does not time it.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = self._keys.get(inputs.get("privateKeyPem", ""))
        if key is None:
            raise TenantError("tls.SelfSignedCert: private_key_pem is not a key the tls provider made")
        for required in ("validityPeriodHours", "allowedUses"):
            if required not in inputs:
                raise TenantError(f"tls.SelfSignedCert: {required} is required")
        now = self.clock().replace(microsecond=0)
        not_after = now + dt.timedelta(hours=int(inputs["validityPeriodHours"]))
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, inputs.get("subject", {}).get("commonName", "unnamed"))])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(not_after)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        certificate = builder.sign(key, hashes.SHA256())
        return str(certificate.serial_number), {
            **inputs,
            "certPem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
            "validityStartTime": rfc3339(now),
            "validityEndTime": rfc3339(not_after),
            "readyForRenewal": False,
        }

    def _application(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_id, client_id = self._uuid(), self._uuid()
        self.applications[object_id] = client_id
        return f"/applications/{object_id}", {
            **inputs,
            "objectId": object_id,
            "clientId": client_id,
            "publisherDomain": self.initial_domain,
        }

    def _service_principal_resource(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        client_id = inputs.get("clientId")
        if client_id == EXCHANGE_ONLINE_APP_ID:
            raise TenantError("refusing to manage Microsoft's Exchange Online service principal as a resource")
        if client_id not in self.applications.values():
            raise TenantError(f"ServicePrincipal: no application with client id {client_id!r} in this tenant")
        object_id = self._uuid()
        self.service_principals[object_id] = str(client_id)
        return f"/servicePrincipals/{object_id}", {**inputs, "objectId": object_id, "applicationTenantId": self.tenant_id}

    def _application_certificate(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        # The engine's side: imported when a certificate is made or read, so a preview that needs none does not time it.
        from cryptography import x509

        application_id = str(inputs.get("applicationId", ""))
        if not application_id.startswith("/applications/") or application_id.split("/")[-1] not in self.applications:
            raise TenantError(
                f"ApplicationCertificate: application_id {application_id!r} is not an application's resource id "
                "(/applications/<object id>); a client id here is the classic mistake"
            )
        certificate = x509.load_pem_x509_certificate(str(inputs["value"]).encode())
        end_date = inputs.get("endDate")
        if end_date is not None:
            end = dt.datetime.strptime(end_date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            if end > certificate.not_valid_after_utc:
                raise TenantError("Key credential end date is invalid: it is after the certificate's notAfter")
        key_id = self._uuid()
        return f"{application_id}/certificate/{key_id}", {**inputs, "keyId": key_id}

    def _app_role_assignment(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        principal, resource, role = inputs.get("principalObjectId"), inputs.get("resourceObjectId"), inputs.get("appRoleId")
        if principal not in self.service_principals:
            raise TenantError(f"AppRoleAssignment: principal {principal!r} does not exist (or has not replicated)")
        if resource != self.exchange_object_id:
            raise TenantError(f"AppRoleAssignment: resource {resource!r} is not a service principal that offers app roles here")
        if role not in {r["id"] for r in self.exchange_app_roles}:
            raise TenantError(f"AppRoleAssignment: app role {role!r} is not defined on the resource service principal")
        assignment_id = self._uuid()
        return f"/servicePrincipals/{resource}/appRoleAssignedTo/{assignment_id}", {
            **inputs,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": "Office 365 Exchange Online",
        }

    def _directory_role_assignment(self, _name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if inputs.get("principalObjectId") not in self.service_principals:
            raise TenantError(f"DirectoryRoleAssignment: principal {inputs.get('principalObjectId')!r} does not exist")
        if inputs.get("roleId") not in BUILT_IN_ROLE_TEMPLATE_IDS:
            raise TenantError(f"DirectoryRoleAssignment: role {inputs.get('roleId')!r} does not exist")
        return self._uuid(), dict(inputs)

    def _group_id(self, resource_group: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{resource_group}"

    def _resource_group(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name, location = inputs.get("resourceGroupName"), inputs.get("location")
        if not name or not location:
            raise TenantError(f"ResourceGroup: name and location are required, got {inputs}")
        self.resource_groups[str(name).lower()] = str(location)
        return self._group_id(str(name)), {**inputs, "name": name, "type": "Microsoft.Resources/resourceGroups"}

    def _vault(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group, name = str(inputs.get("resourceGroupName", "")), str(inputs.get("vaultName", ""))
        if group.lower() not in self.resource_groups:
            raise TenantError(f"Vault: resource group {group!r} could not be found")
        resource_id = f"{self._group_id(group)}/providers/Microsoft.KeyVault/vaults/{name}"
        taken = self.vaults.get(name.lower())
        if taken is not None and taken != resource_id:
            raise TenantError(f"Vault: VaultAlreadyExists: the vault name {name!r} is already in use")
        properties = dict(inputs.get("properties", {}))
        prior = next((s for (t, _), s in self.state.items() if t == VAULT and s.id == resource_id), None)
        if prior is not None:
            before = prior.inputs.get("properties", {})
            if before.get("enablePurgeProtection") and not properties.get("enablePurgeProtection"):
                raise TenantError("Vault: purge protection cannot be disabled once enabled")
            if before.get("enableSoftDelete", True) and properties.get("enableSoftDelete") is False:
                raise TenantError("Vault: soft delete cannot be disabled once enabled")
        self.vaults[name.lower()] = resource_id
        return resource_id, {
            **inputs,
            "name": name,
            "location": inputs.get("location") or self.resource_groups[group.lower()],
            "type": "Microsoft.KeyVault/vaults",
            "properties": {**properties, "vaultUri": f"https://{name.lower()}.vault.azure.net/", "provisioningState": "Succeeded"},
        }

    def _secret(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group, vault, name = (str(inputs.get(k, "")) for k in ("resourceGroupName", "vaultName", "secretName"))
        vault_id = f"{self._group_id(group)}/providers/Microsoft.KeyVault/vaults/{vault}"
        if self.vaults.get(vault.lower()) != vault_id:
            raise TenantError(f"Secret: vault {vault!r} does not exist in resource group {group!r}")
        properties = dict(inputs.get("properties", {}))
        value = str(properties.get("value", ""))
        if len(value.encode("utf-8")) > SECRET_MAX_BYTES:
            raise TenantError(f"Secret: the value is {len(value.encode())} bytes; Key Vault takes at most {SECRET_MAX_BYTES}")
        version = uuid.UUID(int=self.random.getrandbits(128)).hex
        uri = f"https://{vault.lower()}.vault.azure.net/secrets/{name}"
        # The management API never returns the value: it is write-only there.
        shown = {k: v for k, v in properties.items() if k != "value"}
        return f"{vault_id}/secrets/{name}", {
            **{k: v for k, v in inputs.items() if k != "properties"},
            "name": name,
            "type": "Microsoft.KeyVault/vaults/secrets",
            "properties": {**shown, "secretUri": uri, "secretUriWithVersion": f"{uri}/{version}"},
        }

    def _role_assignment(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        scope, principal = str(inputs.get("scope", "")), str(inputs.get("principalId", ""))
        definition, name = str(inputs.get("roleDefinitionId", "")), str(inputs.get("roleAssignmentName", ""))
        if scope.lower() not in self.resource_ids:
            raise TenantError(f"RoleAssignment: scope {scope!r} is not a resource in this subscription")
        self._check_principal_type(principal, inputs.get("principalType"))
        prefix = f"/subscriptions/{self.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/"
        if not definition.startswith(prefix) or definition[len(prefix) :] not in KNOWN_ROLE_DEFINITION_IDS:
            raise TenantError(f"RoleAssignment: role definition {definition!r} does not exist in this subscription")
        try:
            uuid.UUID(name)
        except ValueError:
            raise TenantError(f"RoleAssignment: the name {name!r} is not a GUID") from None
        used = self.role_assignment_names.get(name)
        if used is not None and used != scope:
            raise TenantError(f"RoleAssignment: RoleAssignmentExists: the name {name} is already used at {used}")
        self.role_assignment_names[name] = scope
        return f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", {
            **inputs,
            "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
        }

    # -- names and principal types (issue 9) -------------------------------------------------------------------------------------
    def add_user(self, object_id: str | None = None) -> str:
        """A user that exists in the directory (it can be granted Azure roles, but it is not a service principal)."""
        object_id = object_id or self._uuid()
        self.users.add(object_id)
        return object_id

    def add_group(self, object_id: str | None = None) -> str:
        object_id = object_id or self._uuid()
        self.groups.add(object_id)
        return object_id

    def principal_type(self, object_id: str) -> str | None:
        if object_id in self.service_principals:
            return "ServicePrincipal"
        if object_id in self.users:
            return "User"
        if object_id in self.groups:
            return "Group"
        return None

    def _check_principal_type(self, principal: str, stated: Any) -> None:
        """ARM looks the principal up when the type is not stated; a stated type must be the object's real type."""
        actual = self.principal_type(principal)
        if actual is None:
            raise TenantError(f"RoleAssignment: PrincipalNotFound: principal {principal!r} does not exist in the directory")
        if stated is not None and stated != actual:
            raise TenantError(
                f"RoleAssignment: UnmatchedPrincipalType: the principal type {stated!r} does not match the type {actual!r} "
                f"of principal {principal}"
            )

    # -- Azure Monitor (issue 24) -----------------------------------------------------------------------------------------------
    def add_workspace(self, resource_group: str, name: str, location: str = "westeurope") -> str:
        """A Log Analytics workspace made outside the stack (a landing zone's platform workspace); its resource id."""
        self.resource_groups.setdefault(resource_group.lower(), location)
        resource_id = f"{self._group_id(resource_group)}/providers/Microsoft.OperationalInsights/workspaces/{name}"
        self.resource_ids.add(resource_id.lower())
        return resource_id

    def add_diagnostic_setting(self, resource_uri: str, name: str, workspace_id: str, categories: tuple[str, ...]) -> None:
        """A diagnostic setting made outside the stack, for example by the landing zone policy Deploy-Diagnostics-AA."""
        self.diagnostic_settings.setdefault(resource_uri.lower(), {})[name] = (workspace_id.lower(), categories)

    def _monitoring_handlers(self) -> dict[str, Any]:
        return {
            **{token: lambda _name, given, typ=token: self._monitoring_resource(typ, given) for token in MONITORING_TYPES},
            DIAGNOSTIC_SETTING: lambda _name, given: self._diagnostic_setting(given),
            SAVED_SEARCH: lambda _name, given: self._saved_search(given),
        }

    def _require(self, what: str, resource_id: object) -> None:
        if str(resource_id).lower() not in self.resource_ids:
            raise TenantError(f"{what}: resource {resource_id!r} was not found (ResourceNotFound)")

    def _monitoring_resource(self, type_token: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        name_input, arm_type = MONITORING_TYPES[type_token]
        name, group = str(inputs.get(name_input) or ""), str(inputs.get("resourceGroupName", ""))
        if not name:
            raise TenantError(f"{type_token}: no {name_input} given")
        if group.lower() not in self.resource_groups:
            raise TenantError(f"{type_token}: resource group {group!r} could not be found")
        if type_token == WORKBOOK:
            try:
                uuid.UUID(name)
            except ValueError:
                raise TenantError(f"Workbook: the name {name!r} must be a UUID") from None
            json.loads(str(inputs.get("serializedData")))  # Azure refuses serializedData that is not JSON
        if type_token == ALERT_RULE:
            for scope in inputs.get("scopes") or []:
                self._require("ScheduledQueryRule scope", scope)
            for group_id in (inputs.get("actions") or {}).get("actionGroups") or []:
                self._require("ScheduledQueryRule action group", group_id)
        resource_id = f"{self._group_id(group)}/providers/{arm_type}/{name}"
        return resource_id, {**inputs, "name": name, "id": resource_id}

    def _diagnostic_setting(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        resource_uri, name, workspace = str(inputs.get("resourceUri", "")), str(inputs.get("name", "")), inputs.get("workspaceId")
        self._require("DiagnosticSetting resourceUri", resource_uri)
        self._require("DiagnosticSetting workspaceId", workspace)
        categories = tuple(str(log.get("category")) for log in inputs.get("logs") or [] if log.get("enabled"))
        settings = self.diagnostic_settings.setdefault(resource_uri.lower(), {})
        for other, (other_workspace, other_categories) in settings.items():
            shared = sorted(set(categories) & set(other_categories))
            # Azure refuses a second setting that sends a category to a destination another setting already sends it to.
            if other != name and other_workspace == str(workspace).lower() and shared:
                raise TenantError(
                    f"DiagnosticSetting {name!r}: Data sink '{workspace}' is already used in diagnostic setting '{other}' for "
                    f"category {shared[0]!r}. Data sinks can't be reused in different settings on the same category for the same "
                    "resource."
                )
        if len(settings) >= 5 and name not in settings:
            raise TenantError(f"DiagnosticSetting {name!r}: a resource has at most 5 diagnostic settings")
        settings[name] = (str(workspace).lower(), categories)
        resource_id = f"{resource_uri}/providers/Microsoft.Insights/diagnosticSettings/{name}"
        return resource_id, {**inputs, "id": resource_id}

    def _saved_search(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        group, workspace = str(inputs.get("resourceGroupName", "")), str(inputs.get("workspaceName", ""))
        workspace_id = f"{self._group_id(group)}/providers/Microsoft.OperationalInsights/workspaces/{workspace}"
        self._require("SavedSearch workspace", workspace_id)
        for required in ("category", "displayName", "query"):
            if not inputs.get(required):
                raise TenantError(f"SavedSearch: {required} is required")
        resource_id = f"{workspace_id}/savedSearches/{inputs.get('savedSearchId')}"
        alias = str(inputs.get("functionAlias") or "").lower()
        aliases = self.function_aliases.setdefault(workspace_id.lower(), {})
        if alias and aliases.get(alias, resource_id.lower()) != resource_id.lower():
            raise TenantError(f"SavedSearch: function alias {alias!r} is already used by another saved search in {workspace}")
        if alias:
            aliases[alias] = resource_id.lower()
        return resource_id, {**inputs, "id": resource_id, "name": inputs.get("savedSearchId")}

    def _check_azure_names(self, type_token: str, name: str, inputs: dict[str, Any]) -> None:
        """azure-native's Check refuses a path name that breaks the spec's pattern or lengths, in preview too; Azure itself also
        refuses what the naming rules forbid when the request arrives. Unknown values (preview) are not checked yet."""
        for input_name in facts.AZURE_PATH_INPUTS.get(type_token, ()):
            value = inputs.get(input_name)
            if value is None or is_unknown(value):
                continue
            for rule in facts.AZURE_INPUT_RULES.get((type_token, input_name), ()):
                if self.preview and not rule.source.startswith(CHECKED_BY_PROVIDER):
                    continue
                problems = facts.rule_problems(rule, value)
                if problems:
                    raise TenantError(f"{type_token} resource {name!r} has a problem: {input_name!r} {problems[0]} ({rule.source})")


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _walk(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _walk(v)]
    return [value]


class TenantMonitor(MockMonitor):
    """The mock monitor, recording each registration with its options and applying additional secret outputs as the engine does."""

    def __init__(self, tenant: MockTenant) -> None:
        super().__init__(tenant)
        self.tenant = tenant

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        """Components' `register_outputs` and the stack's exports: what the engine writes into state for them."""
        self.tenant.registered_outputs[request.urn] = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
        return super().RegisterResourceOutputs(request)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            return resource_pb2.RegisterResourceResponse(urn=urn)
        inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
        registration = Registration(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent,
            custom=bool(request.custom),
            inputs=inputs,
            dependencies=list(request.dependencies),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            delete_before_replace=bool(request.deleteBeforeReplace),
            ignore_changes=list(request.ignoreChanges),
            retain_on_delete=bool(request.retainOnDelete),
            aliases=[alias.urn or f"{alias.spec.type}::{alias.spec.name}" for alias in request.aliases],
            property_dependencies={key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
            provider=request.provider,
        )
        self.tenant.registrations.append(registration)
        if not request.custom:
            # Components have no provider: the engine just records them.
            self.resources[urn] = MockMonitor.ResourceRegistration(urn, "", {})
            return resource_pb2.RegisterResourceResponse(urn=urn, id="", object=struct_pb2.Struct())
        prior = self.tenant.state.get((request.type, request.name))
        if prior is not None:
            # As the engine does: an ignored property keeps its stored value, for updates and for replacements alike.
            inputs = {**inputs, **{k: prior.inputs[k] for k in request.ignoreChanges if k in prior.inputs}}
        resource_id, state = self.tenant.new_resource(
            MockResourceArgs(typ=request.type, name=request.name, inputs=inputs, provider=request.provider, custom=True)
        )
        registration.id, registration.outputs = resource_id, dict(state)
        shown = {
            k: ({SECRET_SIG: SECRET_VALUE, "value": v} if k in registration.additional_secret_outputs else v) for k, v in state.items()
        }
        obj_proto = _sync_await(rpc.serialize_properties(shown, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=obj_proto)
