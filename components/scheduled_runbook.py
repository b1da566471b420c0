"""One runbook from the repo: uploaded, published from a short-lived link with its SHA-256, scheduled with its parameters."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import automation, storage

from components.automation_settings import ScheduleSettings
from components.creation_time import CreationTime
from components.schedule_time import first_run_text

# Automation fetches the content while `pulumi up` publishes it, then keeps its own copy: the link needs to live only that long.
LINK_LIFETIME = dt.timedelta(hours=24)
LINK_CLOCK_SKEW = dt.timedelta(minutes=5)
# Fixed namespace for job schedule ids: the same runbook, schedule and parameters always give the same id (never random).
JOB_SCHEDULE_NAMESPACE = uuid.UUID("5f1e2b0e-3c1a-4d8e-9b7a-6a0c2e4d8f10")


def link_window(created: str) -> tuple[str, str]:
    """SAS start and expiry around the moment the content version was deployed (RFC 3339 in, RFC 3339 out)."""
    anchor = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (
        (anchor - LINK_CLOCK_SKEW).strftime("%Y-%m-%dT%H:%M:%SZ"),
        (anchor + LINK_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def job_schedule_id(account_name: str, runbook: str, schedule: str, parameters: Mapping[str, str]) -> str:
    text = "/".join([account_name.lower(), runbook.lower(), schedule.lower(), *(f"{k}={v}" for k, v in sorted(parameters.items()))])
    return str(uuid.uuid5(JOB_SCHEDULE_NAMESPACE, text))


@dataclass
class ScheduledRunbookArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the Automation account and the storage account."""
    location: pulumi.Input[str]
    """Azure region."""
    automation_account_name: pulumi.Input[str]
    """The Automation account."""
    automation_account_id: pulumi.Input[str]
    """Its resource id: a new account means new links and schedules."""
    runbook_name: str
    """Name of the runbook in Automation."""
    source_path: str
    """The .ps1 file, relative to the project directory (Pulumi resolves it there)."""
    sha256: str
    """Uppercase hex SHA-256 of the file."""
    runbook_type: str
    """PowerShell (5.1 or a runtime environment) or PowerShell72."""
    storage_account_name: pulumi.Input[str]
    """Storage account of the RunbookStore."""
    container_name: pulumi.Input[str]
    """Container of the RunbookStore."""
    organization: pulumi.Input[str]
    """The tenant's initial domain, passed as -Organization."""
    exchange_module: pulumi.Resource
    """The module or package the runbook needs; imported asynchronously by Azure, so the runbook waits for it."""
    runtime_environment_name: pulumi.Input[str] | None = None
    """Runtime environment to run in (PowerShell 7.4)."""
    description: str = ""
    """Runbook description."""
    schedule: ScheduleSettings | None = None
    """When it runs; None: published only, started by hand or by other tooling."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """Job parameters besides Organization."""
    run_on: pulumi.Input[str] | None = None
    """Hybrid worker group for the scheduled job; None runs in Azure."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the runbook."""
    partitions: int = 1
    """Jobs per scheduled run. Above 1, job i of N gets -PartitionCount N -PartitionIndex i, on its own schedule: Azure links a
    runbook to a schedule only once ("A job schedule for the specified runbook and schedule already exists")."""


def partition_parameters(index: int, count: int) -> dict[str, str]:
    """The parameters that pick partition `index` of `count`; none for an unpartitioned runbook."""
    return {} if count == 1 else {"PartitionCount": str(count), "PartitionIndex": str(index)}


def partition_suffix(index: int, count: int) -> str:
    """Name suffix of partition `index`'s schedule and job schedule; none for an unpartitioned runbook (names stay as they were)."""
    return "" if count == 1 else f"-p{index}of{count}"


class ScheduledRunbook(pulumi.ComponentResource):
    """Blob (named by content hash) -> read-only HTTPS SAS for that blob -> published runbook -> schedule -> job schedule."""

    runbook_name: pulumi.Output[str]
    content_sha256: str
    schedule_name: pulumi.Output[str] | None
    first_run: pulumi.Output[str] | None
    """When the schedule first runs (ISO 8601 with the zone's offset)."""

    def __init__(self, name: str, args: ScheduledRunbookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ScheduledRunbook", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        blob_name = f"{args.runbook_name}/{args.sha256}.ps1"
        blob = storage.Blob(
            f"{name}-content",
            account_name=args.storage_account_name,
            container_name=args.container_name,
            resource_group_name=args.resource_group_name,
            blob_name=blob_name,
            type=storage.BlobType.BLOCK,
            content_type="text/plain; charset=utf-8",
            source=pulumi.FileAsset(args.source_path),
            opts=child,
        )
        # A new content version (or a new account, or another runbook type) gets a fresh anchor, so its link is fresh too; an
        # unchanged runbook keeps its link and shows no diff.
        link_anchor = CreationTime(
            f"{name}-link-time",
            triggers={
                "sha256": args.sha256,
                "account": args.automation_account_id,
                "runbookType": args.runbook_type,
                "runtime": args.runtime_environment_name or "",
            },
            opts=child,
        )
        window = link_anchor.created.apply(link_window)
        token = storage.list_storage_account_service_sas_output(
            account_name=args.storage_account_name,
            resource_group_name=args.resource_group_name,
            canonicalized_resource=pulumi.Output.concat("/blob/", args.storage_account_name, "/", args.container_name, "/", blob_name),
            resource=storage.SignedResource.B,
            permissions=storage.Permissions.R,
            protocols=storage.HttpProtocol.HTTPS,
            shared_access_start_time=window[0],
            shared_access_expiry_time=window[1],
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[blob]),
        ).service_sas_token
        link = pulumi.Output.secret(
            pulumi.Output.concat(
                "https://", args.storage_account_name, ".blob.core.windows.net/", args.container_name, "/", blob_name, "?", token
            )
        )
        runbook = automation.Runbook(
            f"{name}-runbook",
            runbook_name=args.runbook_name,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            runbook_type=args.runbook_type,
            runtime_environment=args.runtime_environment_name,
            description=args.description,
            # Automation checks the content against the hash: a swapped blob fails to publish instead of running.
            publish_content_link=automation.ContentLinkArgs(
                uri=link, content_hash=automation.ContentHashArgs(algorithm="SHA256", value=args.sha256)
            ),
            log_progress=False,
            log_verbose=False,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.exchange_module, blob]),
        )
        self.runbook_name = runbook.name
        self.content_sha256 = args.sha256
        self.schedule_name = None
        self.first_run = None

        schedule = args.schedule
        if schedule is not None:
            # One anchor for all partitions: the N jobs of a run start at the same moment.
            start_anchor = CreationTime(
                f"{name}-schedule-time",
                triggers={"definition": schedule.definition(), "account": args.automation_account_id},
                opts=child,
            )
            start_time = start_anchor.created.apply(lambda created: first_run_text(created, schedule))
            for partition in range(args.partitions):
                self._schedule_partition(name, args, schedule, start_time, runbook, partition)
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"runbookName": self.runbook_name, "firstRun": self.first_run})

    def _schedule_partition(
        self,
        name: str,
        args: ScheduledRunbookArgs,
        schedule: ScheduleSettings,
        start_time: pulumi.Output[str],
        runbook: automation.Runbook,
        partition: int,
    ) -> None:
        """One schedule and its job schedule; partition i of N runs the runbook with -PartitionCount N -PartitionIndex i."""
        suffix = partition_suffix(partition, args.partitions)
        # Schedules cannot be changed in place (PUT answers 409); a definition change gives a new name and a new schedule.
        version = uuid.uuid5(JOB_SCHEDULE_NAMESPACE, schedule.definition()).hex[:8]
        schedule_name = f"{args.runbook_name}-{schedule.frequency.lower()}-{version}{suffix}"
        advanced = None
        if schedule.week_days:
            advanced = automation.AdvancedScheduleArgs(week_days=list(schedule.week_days))
        elif schedule.month_days:
            advanced = automation.AdvancedScheduleArgs(month_days=list(schedule.month_days))
        automation_schedule = automation.Schedule(
            f"{name}-schedule{suffix}",
            schedule_name=schedule_name,
            name=schedule_name,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            frequency=schedule.frequency,
            interval=schedule.interval,
            time_zone=schedule.time_zone,
            start_time=start_time,
            advanced_schedule=advanced,
            description=f"{args.runbook_name}: every {schedule.interval} {schedule.frequency.lower()}(s) (exo-automation)",
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["*"], delete_before_replace=True),
        )
        job_parameters = {**args.parameters, **partition_parameters(partition, args.partitions)}
        parameters = {"Organization": args.organization, **job_parameters}
        job_id = pulumi.Output.all(args.automation_account_name, args.organization).apply(
            lambda values: job_schedule_id(values[0], args.runbook_name, schedule_name, {**job_parameters, "Organization": values[1]})
        )
        automation.JobSchedule(
            f"{name}-job-schedule{suffix}",
            job_schedule_id=job_id,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            runbook=automation.RunbookAssociationPropertyArgs(name=runbook.name),
            schedule=automation.ScheduleAssociationPropertyArgs(name=automation_schedule.name),
            parameters=parameters,
            run_on=args.run_on,
            # A job schedule cannot be updated: Azure answers "already exists". Replace it, removing the old one first.
            opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["*"], delete_before_replace=True),
        )
        if partition == 0:
            self.schedule_name = automation_schedule.name
            self.first_run = start_time
