"""The Automation account after `pulumi up`: its managed identity's grant, runtime, module, runbooks and schedules."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import tempfile
import unittest
import urllib.parse
from pathlib import Path
from unittest import mock

import pulumi

from exo.runbook_assembly import MODULE_PATH, assemble
from tests.fixtures import AUDIT_INDEX, automation_stack, hybrid_worker_stack
from tests.harness import REPO, Deployment, evaluate
from tests.mock_tenant import MockTenant, Registration, comparable, is_secret, reveal
from tests.schema_check import check_registration

ACCOUNT = "azure-native:automation:AutomationAccount"
RUNBOOK = "azure-native:automation:Runbook"
BLOB = "azure-native:storage:Blob"
SCHEDULE = "azure-native:automation:Schedule"
JOB_SCHEDULE = "azure-native:automation:JobSchedule"
STORAGE_ACCOUNT = "azure-native:storage:StorageAccount"
APP_ROLE_ASSIGNMENT = "azuread:index/appRoleAssignment:AppRoleAssignment"
DIRECTORY_ROLE_ASSIGNMENT = "azuread:index/directoryRoleAssignment:DirectoryRoleAssignment"
EXCHANGE_ADMINISTRATOR = "29232cdf-9323-42fd-ade2-1d097af3e4de"
GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"


def schedule_of(deployment: Deployment, runbook: str) -> Registration:
    """The Schedule a runbook's job schedule links to."""
    job = deployment.one(JOB_SCHEDULE, f"runbook-{runbook.lower()}-job-schedule")
    (schedule,) = [s for s in deployment.of_type(SCHEDULE) if s.plain_inputs["scheduleName"] == job.plain_inputs["schedule"]["name"]]
    return schedule


def manage_as_app_id(tenant: MockTenant) -> str:
    return next(r["id"] for r in tenant.exchange_app_roles if r["value"] == "Exchange.ManageAsApp")


def blob_of(deployment: Deployment, runbook: Registration) -> Registration:
    """The blob the runbook's publish link points to (account, container and blob name from the URI)."""
    uri = urllib.parse.urlsplit(runbook.plain_inputs["publishContentLink"]["uri"])
    account = uri.netloc.split(".")[0]
    container, blob_name = uri.path.lstrip("/").split("/", 1)
    (blob,) = [
        b
        for b in deployment.of_type(BLOB)
        if (b.plain_inputs["accountName"], b.plain_inputs["containerName"], b.plain_inputs["blobName"]) == (account, container, blob_name)
    ]
    return blob


class ManagedIdentityGrant(unittest.IsolatedAsyncioTestCase):
    async def test_exactly_the_accounts_identity_holds_manage_as_app_and_the_configured_roles(self) -> None:
        tenant = MockTenant()
        config = automation_stack(roles=["Global Reader", "Exchange Administrator"])
        deployment = await evaluate(tenant, preview=False, config=config)
        (account,) = deployment.of_type(ACCOUNT)
        principal = account.outputs["identity"]["principalId"]  # a random id the tenant made for this account
        self.assertEqual(deployment.output("automation")["principalId"], principal)
        holders = [a for a in deployment.of_type(APP_ROLE_ASSIGNMENT) if a.plain_inputs["principalObjectId"] == principal]
        self.assertEqual(len(holders), 1)
        self.assertEqual(holders[0].plain_inputs["resourceObjectId"], tenant.exchange_object_id)
        self.assertEqual(holders[0].plain_inputs["appRoleId"], manage_as_app_id(tenant))
        roles = {
            a.plain_inputs["roleId"]
            for a in deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT)
            if a.plain_inputs["principalObjectId"] == principal
        }
        self.assertEqual(roles, {GLOBAL_READER, EXCHANGE_ADMINISTRATOR})
        self.assertEqual(
            sorted(a.name for a in deployment.of_type(APP_ROLE_ASSIGNMENT)), ["automation-grant-manage-as-app", "exo-grant-manage-as-app"]
        )

    async def test_the_account_is_basic_with_system_identity_and_no_local_auth(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=automation_stack(publicNetworkAccess=False))
        (account,) = deployment.of_type(ACCOUNT)
        inputs = account.plain_inputs
        self.assertEqual(inputs["sku"], {"name": "Basic"})
        self.assertEqual(inputs["identity"], {"type": "SystemAssigned"})
        self.assertIs(inputs["disableLocalAuth"], True)
        self.assertIs(inputs["publicNetworkAccess"], False)
        self.assertEqual(inputs["tags"], {"environment": "dev", "managed-by": "exo-automation"})
        self.assertEqual(inputs["automationAccountName"], "aa-exo-automation-dev")

    async def test_the_identity_grant_waits_out_replication(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=automation_stack())
        grant = deployment.one(APP_ROLE_ASSIGNMENT, "automation-grant-manage-as-app")
        for role in deployment.of_type(DIRECTORY_ROLE_ASSIGNMENT):
            if role.name.startswith("automation-"):
                self.assertIn(grant.urn, role.dependencies)

    async def test_an_existing_resource_group_is_used_not_created(self) -> None:
        tenant = MockTenant(existing_resource_groups={"rg-from-bootstrap": "westeurope"})
        deployment = await evaluate(
            tenant, preview=False, config=automation_stack(createResourceGroup=False, resourceGroupName="rg-from-bootstrap")
        )
        self.assertEqual(deployment.of_type("azure-native:resources:ResourceGroup"), [])
        self.assertEqual(deployment.of_type(ACCOUNT)[0].plain_inputs["resourceGroupName"], "rg-from-bootstrap")


class RuntimeAndModule(unittest.IsolatedAsyncioTestCase):
    async def test_runtime_environments_for_74_and_76_carry_the_pinned_package(self) -> None:
        for runtime, version in (("PowerShell-7.6", "3.10.1"), ("PowerShell-7.4", "3.9.2")):
            with self.subTest(runtime):
                config = automation_stack(runtime=runtime)
                del config["exo-automation:automation"]["exchangeModuleVersion"]
                deployment = await evaluate(MockTenant(), preview=False, config=config)
                (environment,) = deployment.of_type("azure-native:automation:RuntimeEnvironment")
                powershell = runtime.removeprefix("PowerShell-")
                self.assertEqual((environment.plain_inputs["language"], environment.plain_inputs["version"]), ("PowerShell", powershell))
                self.assertEqual(environment.plain_inputs["defaultPackages"], {})
                description = f"PowerShell {powershell} with ExchangeOnlineManagement, managed by exo-automation"
                self.assertEqual(environment.plain_inputs["description"], description)
                (package,) = deployment.of_type("azure-native:automation:Package")
                self.assertEqual(package.plain_inputs["packageName"], "ExchangeOnlineManagement")
                self.assertEqual(package.plain_inputs["runtimeEnvironmentName"], environment.outputs["name"])
                self.assertEqual(
                    package.plain_inputs["contentLink"]["uri"],
                    f"https://www.powershellgallery.com/api/v2/package/ExchangeOnlineManagement/{version}",
                )
                self.assertEqual(deployment.of_type("azure-native:automation:Module"), [], "no companion modules in an environment")
                for runbook in deployment.of_type(RUNBOOK):
                    self.assertEqual(runbook.plain_inputs["runbookType"], "PowerShell")
                    self.assertEqual(runbook.plain_inputs["runtimeEnvironment"], environment.outputs["name"])
                    self.assertNotIn(package.urn, runbook.dependencies, "publishing does not need the module: it is off that path")
                for job in deployment.of_type(JOB_SCHEDULE):
                    self.assertIn(package.urn, job.dependencies, "no scheduled job exists before the module resource does")
                automation = deployment.output("automation")
                self.assertEqual((automation["runtime"], automation["exchangeModuleVersion"]), (runtime, version))

    async def test_windows_powershell_51_uses_modules_and_72_powershell72_modules_with_powershellget_first(self) -> None:
        # automation-runbook-types.md (577b2248), known issues of 5.1 and 7.2: ExchangeOnlineManagement 3.0.0+ needs PowerShellGet
        # and PackageManagement uploaded explicitly; 2.2.5 and 1.4.8.1 are the pair PowerShell 7.4 ships (What-s-New-in-PowerShell-74.md).
        for runtime, module_type, runbook_type, version in (
            ("WindowsPowerShell-5.1", "azure-native:automation:Module", "PowerShell", "3.10.1"),
            ("PowerShell-7.2", "azure-native:automation:PowerShell72Module", "PowerShell72", "3.4.0"),
        ):
            with self.subTest(runtime):
                config = automation_stack(runtime=runtime)
                del config["exo-automation:automation"]["exchangeModuleVersion"]
                deployment = await evaluate(MockTenant(), preview=False, config=config)
                modules = {m.plain_inputs["moduleName"]: m for m in deployment.of_type(module_type)}
                self.assertEqual(set(modules), {"ExchangeOnlineManagement", "PowerShellGet", "PackageManagement"})
                uris = {name: m.plain_inputs["contentLink"]["uri"] for name, m in modules.items()}
                self.assertTrue(uris["ExchangeOnlineManagement"].endswith(f"/ExchangeOnlineManagement/{version}"))
                self.assertTrue(uris["PowerShellGet"].endswith("/PowerShellGet/2.2.5"))
                self.assertTrue(uris["PackageManagement"].endswith("/PackageManagement/1.4.8.1"))
                exchange, get, management = (modules[n] for n in ("ExchangeOnlineManagement", "PowerShellGet", "PackageManagement"))
                self.assertIn(management.urn, get.dependencies, "PowerShellGet depends on PackageManagement")
                self.assertTrue({get.urn, management.urn} <= set(exchange.dependencies), "imported before the Exchange module")
                self.assertEqual(deployment.of_type("azure-native:automation:RuntimeEnvironment"), [])
                for runbook in deployment.of_type(RUNBOOK):
                    self.assertEqual(runbook.plain_inputs["runbookType"], runbook_type)
                    self.assertNotIn("runtimeEnvironment", runbook.plain_inputs)
                    self.assertNotIn(exchange.urn, runbook.dependencies)
                for job in deployment.of_type(JOB_SCHEDULE):
                    self.assertIn(exchange.urn, job.dependencies)

    async def test_a_hybrid_worker_group_on_51_receives_the_scheduled_job(self) -> None:
        config = hybrid_worker_stack(exchangeModuleVersion="3.6.0")
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        (group,) = deployment.of_type("azure-native:automation:HybridRunbookWorkerGroup")
        self.assertEqual(group.plain_inputs["hybridRunbookWorkerGroupName"], "exo-hybrid")
        run_on = {j.name: j.plain_inputs.get("runOn") for j in deployment.of_type(JOB_SCHEDULE)}
        self.assertEqual(
            run_on, {"runbook-mailboxpermissionreport-job-schedule": None, "runbook-forwardingaudit-job-schedule": "exo-hybrid"}
        )
        # On the worker the job signs in with the identity's certificate (no managed identity there) and has no fair-share deadline.
        identity = reveal(deployment.output("identities"))["exo"]
        hybrid = deployment.one(JOB_SCHEDULE, "runbook-forwardingaudit-job-schedule").plain_inputs["parameters"]
        self.assertEqual(hybrid["CertificateThumbprint"], identity["thumbprint"])
        self.assertEqual(hybrid["AppId"], identity["clientId"])
        self.assertEqual(hybrid["SoftDeadlineMinutes"], "0")
        cloud = deployment.one(JOB_SCHEDULE, "runbook-mailboxpermissionreport-job-schedule").plain_inputs["parameters"]
        self.assertFalse({"CertificateThumbprint", "AppId", "SoftDeadlineMinutes"} & set(cloud))


class RunbookContent(unittest.IsolatedAsyncioTestCase):
    async def test_the_published_hash_is_the_sha256_of_the_text_actually_uploaded(self) -> None:
        config = automation_stack()
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        runbooks = deployment.of_type(RUNBOOK)
        self.assertEqual(len(runbooks), 2)
        module = (REPO / MODULE_PATH).read_bytes()
        files = {entry["name"]: entry["file"] for entry in config["exo-automation:automation"]["runbooks"]}
        for runbook in runbooks:
            link = runbook.plain_inputs["publishContentLink"]
            blob = blob_of(deployment, runbook)
            source = blob.plain_inputs["source"]
            # The runbook with the shared module after its param() block: the text, not a path (no machine's path in state).
            self.assertIsInstance(source, pulumi.StringAsset)
            file = REPO / files[runbook.plain_inputs["runbookName"]]
            self.assertEqual(source.text, assemble(file.read_bytes(), module).text)
            uploaded = str(source.text).encode("utf-8")
            self.assertEqual(link["contentHash"], {"algorithm": "SHA256", "value": hashlib.sha256(uploaded).hexdigest().upper()})
            self.assertIn(hashlib.sha256(uploaded).hexdigest().upper(), blob.plain_inputs["blobName"], "blob named by its content")

    async def test_editing_the_shared_module_republishes_every_runbook(self) -> None:
        tenant = MockTenant()
        first = await evaluate(tenant, preview=False, config=automation_stack())
        with tempfile.TemporaryDirectory() as folder:
            # An edited copy of the module (the repo's file stays untouched for tests running beside this one).
            edited = Path(folder) / "ExoCommon.psm1"
            edited.write_bytes((REPO / MODULE_PATH).read_bytes() + b"\n# an edit\n")
            with mock.patch("settings.automation.MODULE_PATH", str(edited)):
                second = await evaluate(tenant, preview=False, config=automation_stack())
        before = {(r.type, r.name): (r.id, comparable(r.inputs)) for r in first.custom()}
        after = {(r.type, r.name): (r.id, comparable(r.inputs)) for r in second.custom()}
        changed = {key[1] for key in before if before[key] != after[key]}
        self.assertEqual(
            changed,
            {
                f"runbook-{name}-{part}"
                for name in ("mailboxpermissionreport", "forwardingaudit")
                for part in ("content", "runbook", "job-schedule")
            },
        )

    async def test_the_link_is_a_secret_read_only_https_sas_for_the_container_from_one_call(self) -> None:
        wall_clock = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
        deployment = await evaluate(MockTenant(clock=lambda: wall_clock), preview=False, config=automation_stack())
        for runbook in deployment.of_type(RUNBOOK):
            # The SAS is a credential: the link travels as a secret (the engine marks the whole link object).
            self.assertTrue(is_secret(runbook.inputs["publishContentLink"]))
            uri = urllib.parse.urlsplit(runbook.plain_inputs["publishContentLink"]["uri"])
            self.assertEqual(uri.scheme, "https")
            query = urllib.parse.parse_qs(uri.query)
            self.assertEqual((query["sp"], query["spr"], query["sr"]), (["r"], ["https"], ["c"]))
            start = dt.datetime.strptime(query["st"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            expiry = dt.datetime.strptime(query["se"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            self.assertLess(start, wall_clock)
            self.assertEqual(expiry - start, dt.timedelta(days=210, minutes=15), "the renewal period, 30 days' margin, 15 minutes' skew")
            self.assertGreaterEqual(expiry - wall_clock, dt.timedelta(days=30))
        sas_calls = [args for token, args in deployment.tenant.calls if token.endswith("listStorageAccountServiceSAS")]
        self.assertEqual(len(sas_calls), 1, "one SAS for every runbook")
        self.assertRegex(sas_calls[0]["canonicalizedResource"], r"^/blob/stexo[0-9a-f]{19}/runbooks$")
        self.assertEqual(sas_calls[0]["resource"], "c")

    async def test_the_storage_is_https_only_tls12_without_public_blobs(self) -> None:
        deployment = await evaluate(MockTenant(), preview=False, config=automation_stack())
        (account,) = deployment.of_type(STORAGE_ACCOUNT)
        inputs = account.plain_inputs
        self.assertEqual(
            (inputs["enableHttpsTrafficOnly"], inputs["minimumTlsVersion"], inputs["allowBlobPublicAccess"]), (True, "TLS1_2", False)
        )
        (container,) = deployment.of_type("azure-native:storage:BlobContainer")
        self.assertEqual(container.plain_inputs["publicAccess"], "None")

    async def test_editing_a_runbook_republishes_it_and_nothing_else_changes(self) -> None:
        tenant = MockTenant()
        config = automation_stack()
        first = await evaluate(tenant, preview=False, config=config)
        original = REPO / "runbooks" / "Invoke-ForwardingAudit.ps1"
        edited = REPO / "runbooks" / "Invoke-ForwardingAudit.edited-by-test.ps1"
        try:
            edited.write_bytes(original.read_bytes() + b"\n# an edit\n")
            config["exo-automation:automation"]["runbooks"][AUDIT_INDEX]["file"] = f"runbooks/{edited.name}"
            second = await evaluate(tenant, preview=False, config=config)
            before = {(r.type, r.name): (r.id, comparable(r.inputs)) for r in first.custom()}
            after = {(r.type, r.name): (r.id, comparable(r.inputs)) for r in second.custom()}
        finally:
            edited.unlink()
        changed = {key[1] for key in before if before[key] != after[key]}
        self.assertEqual(
            changed,
            {
                "runbook-forwardingaudit-content",  # a new blob, named by the new hash
                "runbook-forwardingaudit-runbook",  # republished with the new link and hash
                "runbook-forwardingaudit-job-schedule",  # re-created after the republish, which drops it in Azure
            },
        )


class Schedules(unittest.IsolatedAsyncioTestCase):
    async def test_job_schedules_link_runbook_schedule_and_parameters(self) -> None:
        tenant = MockTenant()
        deployment = await evaluate(tenant, preview=False, config=automation_stack())
        schedules = {s.plain_inputs["scheduleName"]: s for s in deployment.of_type(SCHEDULE)}
        runbooks = {r.outputs["name"] for r in deployment.of_type(RUNBOOK)}
        for job in deployment.of_type(JOB_SCHEDULE):
            inputs = job.plain_inputs
            self.assertIn(inputs["runbook"]["name"], runbooks)
            self.assertIn(inputs["schedule"]["name"], schedules)
            self.assertEqual(inputs["parameters"]["Organization"], tenant.initial_domain)
            self.assertEqual(inputs["parameters"]["OutputFormat"], "JsonLines")
            self.assertTrue(job.delete_before_replace, "Azure refuses a second job schedule for the same pair")
        audit = deployment.one(JOB_SCHEDULE, "runbook-forwardingaudit-job-schedule").plain_inputs
        self.assertEqual(audit["parameters"], {"Organization": tenant.initial_domain, "OutputFormat": "JsonLines", "Remediate": "false"})

    async def test_weekly_schedule_in_its_time_zone_starting_after_the_clock(self) -> None:
        wall_clock = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)  # a Saturday
        deployment = await evaluate(MockTenant(clock=lambda: wall_clock), preview=False, config=automation_stack())
        weekly = schedule_of(deployment, "MailboxPermissionReport").plain_inputs
        self.assertEqual(
            (weekly["frequency"], weekly["interval"], weekly["timeZone"], weekly["advancedSchedule"]),
            ("Week", 1, "Europe/Berlin", {"weekDays": ["Monday"]}),
        )
        self.assertEqual(weekly["startTime"], "2026-11-30T06:00:00+01:00")
        daily = schedule_of(deployment, "ForwardingAudit").plain_inputs
        self.assertEqual(daily["startTime"], "2026-11-29T05:30:00+01:00")
        self.assertEqual(deployment.output("automation")["runbooks"]["ForwardingAudit"]["firstRun"], "2026-11-29T05:30:00+01:00")

    async def test_start_times_stay_put_across_runs_and_a_changed_schedule_gets_a_new_future_start(self) -> None:
        wall_clock = [dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)]
        tenant = MockTenant(clock=lambda clock=wall_clock: clock[0])
        config = automation_stack()
        first = await evaluate(tenant, preview=False, config=config)
        wall_clock[0] += dt.timedelta(days=40)
        again = await evaluate(tenant, preview=False, config=config)
        self.assertEqual({r.name: r.diffable() for r in first.registrations}, {r.name: r.diffable() for r in again.registrations})
        self.assertEqual({r.name: r.id for r in first.custom()}, {r.name: r.id for r in again.custom()}, "nothing was created or replaced")
        self.assertEqual(again.output("automation")["runbooks"]["ForwardingAudit"]["firstRun"], "2026-11-29T05:30:00+01:00")

        config["exo-automation:automation"]["runbooks"][AUDIT_INDEX]["schedule"]["time"] = "04:15"
        changed = await evaluate(tenant, preview=False, config=config)
        new = schedule_of(changed, "ForwardingAudit")
        old = schedule_of(first, "ForwardingAudit")
        self.assertNotEqual(new.urn, old.urn, "a new Schedule, so that its start is chosen now")
        self.assertNotEqual(new.plain_inputs["scheduleName"], old.plain_inputs["scheduleName"])
        self.assertEqual(new.outputs["startTime"], "2027-01-08T04:15:00+01:00")
        self.assertNotIn(old.outputs["name"], [s["name"] for s in tenant.schedules.values()], "the old schedule is deleted")
        unchanged = schedule_of(changed, "MailboxPermissionReport")
        self.assertEqual(
            (unchanged.urn, unchanged.id),
            (schedule_of(first, "MailboxPermissionReport").urn, schedule_of(first, "MailboxPermissionReport").id),
        )

    async def test_runbooks_on_the_same_definition_share_one_schedule(self) -> None:
        config = automation_stack()
        runbooks = config["exo-automation:automation"]["runbooks"]
        runbooks[1]["schedule"] = copy.deepcopy(runbooks[0]["schedule"])
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        (schedule,) = deployment.of_type(SCHEDULE)
        linked = {j.plain_inputs["runbook"]["name"]: j.plain_inputs["schedule"]["name"] for j in deployment.of_type(JOB_SCHEDULE)}
        self.assertEqual(linked, dict.fromkeys(["MailboxPermissionReport", "ForwardingAudit"], schedule.outputs["name"]))


class AutomationModes(unittest.IsolatedAsyncioTestCase):
    async def test_preview_with_unknown_identity_drops_no_required_input(self) -> None:
        for preview in (True, False):
            with self.subTest(preview=preview):
                deployment = await evaluate(MockTenant(), preview=preview, config=automation_stack())
                for registration in deployment.custom():
                    self.assertEqual(check_registration(registration.type, registration.name, registration.inputs), [])
                if preview:
                    grant = deployment.one(APP_ROLE_ASSIGNMENT, "automation-grant-manage-as-app")
                    self.assertEqual(type(grant.inputs["principalObjectId"]).__name__, "Unknown")

    async def test_two_evaluations_at_different_times_register_identical_inputs(self) -> None:
        wall_clock = [dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)]
        tenant = MockTenant(clock=lambda clock=wall_clock: clock[0])
        first = await evaluate(tenant, preview=False, config=automation_stack())
        wall_clock[0] += dt.timedelta(hours=30)
        second = await evaluate(tenant, preview=False, config=automation_stack())
        preview = await evaluate(tenant, preview=True, config=automation_stack())
        inputs = [{(r.type, r.name): r.diffable() for r in d.registrations} for d in (first, second, preview)]
        self.assertEqual(inputs[0], inputs[1])
        self.assertEqual(inputs[0], inputs[2])

    async def test_automation_is_off_unless_enabled(self) -> None:
        config = automation_stack()
        config["exo-automation:automation"] = {"enabled": False, "location": "westeurope"}
        deployment = await evaluate(MockTenant(), preview=False, config=config)
        self.assertFalse(any(r.type.startswith("azure-native:") for r in deployment.registrations))
        self.assertNotIn("automation", deployment.outputs)

    async def test_national_cloud_runbooks_get_the_exchange_environment(self) -> None:
        config = automation_stack()
        config["azuread:environment"] = "usgovernmentl4"
        deployment = await evaluate(MockTenant(initial_domain_suffix=".onmicrosoft.us"), preview=False, config=config)
        for job in deployment.of_type(JOB_SCHEDULE):
            self.assertEqual(job.plain_inputs["parameters"]["ExchangeEnvironmentName"], "O365USGovGCCHigh")
        self.assertIn("-ExchangeEnvironmentName O365USGovGCCHigh", deployment.output("automation")["connectCommand"])
