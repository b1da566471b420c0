"""One runbook from the repo: uploaded, published from the store's link with its SHA-256, and linked to its schedule."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import automation, storage

from components.runbook_store import blob_name
from exo import azure_names


def publication_version(fields: Mapping[str, str | None]) -> str:
    """A digest of everything a Runbook PUT sends: it changes exactly when azure-native re-publishes the runbook."""
    return hashlib.sha256(json.dumps(dict(fields), sort_keys=True).encode()).hexdigest()[:16]


def job_schedule_id(account_name: str, runbook: str, schedule: str, parameters: Mapping[str, str], publication: str = "") -> str:
    """The job schedule's id: a new one for another runbook, schedule, parameter set or publication of the runbook."""
    text = "/".join(
        [account_name.lower(), runbook.lower(), schedule.lower(), *(f"{k}={v}" for k, v in sorted(parameters.items()))]
        + ([f"publication={publication}"] if publication else [])
    )
    return str(uuid.uuid5(azure_names.NAME_NAMESPACE, text))


@dataclass
class ScheduledRunbookArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the Automation account and the storage account."""
    location: pulumi.Input[str]
    """Azure region."""
    automation_account_name: pulumi.Input[str]
    """The Automation account."""
    runbook_name: str
    """Name of the runbook in Automation."""
    content: str
    """The runbook's published text: its file with the shared module after the param() block (exo/runbook_assembly.py)."""
    sha256: str
    """Uppercase hex SHA-256 of `content` as UTF-8."""
    runbook_type: str
    """PowerShell (5.1 or a runtime environment) or PowerShell72."""
    storage_account_name: pulumi.Input[str]
    """Storage account of the RunbookStore."""
    container_name: pulumi.Input[str]
    """Container of the RunbookStore."""
    content_link: pulumi.Output[str]
    """The RunbookStore's link to this runbook's blob (secret; valid whenever the program runs, see RunbookStore)."""
    link_version: pulumi.Input[str]
    """The RunbookStore's digest of the link's SAS: a renewed link re-publishes the runbook."""
    organization: pulumi.Input[str]
    """The tenant's initial domain, passed as -Organization."""
    exchange_module: pulumi.Resource
    """The module or package resource. The job schedule (not the runbook) depends on it, so no scheduled job exists before the
    resource does. Azure imports the module asynchronously after that; a failed import is reported by the next preview
    (components/module_import.py), not waited for here."""
    runtime_environment_name: pulumi.Input[str] | None = None
    """Runtime environment to run in (PowerShell 7.4 or 7.6); None on the module-based runtimes (5.1, 7.2)."""
    description: str = ""
    """Runbook description."""
    schedule_names: Sequence[pulumi.Input[str]] = ()
    """The shared Schedules it runs on (RunbookSchedules), one per partition; empty: published only, started by hand or by other
    tooling."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """Job parameters besides Organization."""
    output_parameters: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Job parameters known only once other resources exist (a hybrid runbook's certificate thumbprints and app id): part of the
    job schedule's id like the others, so a rotated certificate re-creates the job schedule with the new thumbprint."""
    run_on: pulumi.Input[str] | None = None
    """Hybrid worker group for the scheduled job; None runs in Azure."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags on the runbook."""
    partitions: int = 1
    """Jobs per scheduled run. Above 1, job i of N gets -PartitionCount N -PartitionIndex i, on `schedule_names[i]`: Azure links a
    runbook to a schedule only once ("A job schedule for the specified runbook and schedule already exists")."""


def partition_parameters(index: int, count: int) -> dict[str, str]:
    """The parameters that pick partition `index` of `count`; none for an unpartitioned runbook."""
    return {} if count == 1 else {"PartitionCount": str(count), "PartitionIndex": str(index)}


def partition_suffix(index: int, count: int) -> str:
    """Name suffix of partition `index`'s job schedule; none for an unpartitioned runbook (names stay as they were)."""
    return "" if count == 1 else f"-p{index}of{count}"


class ScheduledRunbook(pulumi.ComponentResource):
    """Blob (named by content hash) -> published runbook (link from the store) -> job schedule on a shared schedule."""

    runbook_name: pulumi.Output[str]
    content_sha256: str
    job_schedules: Sequence[automation.JobSchedule]

    def __init__(self, name: str, args: ScheduledRunbookArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:ScheduledRunbook", name, None, opts)
        self._name = name
        self._args = args
        blob = storage.Blob(
            f"{name}-content",
            account_name=args.storage_account_name,
            container_name=args.container_name,
            resource_group_name=args.resource_group_name,
            blob_name=blob_name(args.runbook_name, args.sha256),
            type=storage.BlobType.BLOCK,
            content_type="text/plain; charset=utf-8",
            # The assembled text, not the file: the bytes uploaded are the bytes hashed.
            source=pulumi.StringAsset(args.content),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._runbook = automation.Runbook(
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
                uri=args.content_link, content_hash=automation.ContentHashArgs(algorithm="SHA256", value=args.sha256)
            ),
            log_progress=False,
            log_verbose=False,
            tags=dict(args.tags),
            # Publishing needs the blob, not the module: the module matters only once a job runs (the job schedule waits for it).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[blob]),
        )
        # Everything the Runbook PUT sends except the secret link itself (represented by its digest): a change of any of them
        # re-publishes the runbook, which is when its job schedules must be re-created.
        self._publication = pulumi.Output.all(
            args.automation_account_name, args.location, args.runtime_environment_name, args.link_version
        ).apply(
            lambda values: publication_version(
                {
                    "account": values[0],
                    "location": values[1],
                    "runtimeEnvironment": values[2],
                    "link": values[3],
                    "runbookType": args.runbook_type,
                    "sha256": args.sha256,
                    "description": args.description,
                    "tags": json.dumps(dict(args.tags), sort_keys=True),
                }
            )
        )
        self.runbook_name = self._runbook.name
        self.content_sha256 = args.sha256
        if args.schedule_names and len(args.schedule_names) != args.partitions:
            raise ValueError(f"{args.runbook_name}: {args.partitions} partition(s) need as many schedules, got {len(args.schedule_names)}")
        self.job_schedules = [
            self.job_schedule(
                f"{name}-job-schedule{partition_suffix(index, args.partitions)}",
                schedule_name,
                {**args.parameters, **partition_parameters(index, args.partitions)},
            )
            for index, schedule_name in enumerate(args.schedule_names)
        ]
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"runbookName": self.runbook_name})

    def job_schedule(self, resource_name: str, schedule_name: pulumi.Input[str], parameters: Mapping[str, str]) -> automation.JobSchedule:
        """Link this runbook to a schedule with job parameters (-Organization added): the one place job schedules are made.

        Its id covers the runbook's publication: Azure Automation's job schedules do not survive a re-publish of their runbook
        (see docs/design.md, "Job schedules"), so every re-publish gives a new id and Pulumi re-creates the job schedule right after the
        Runbook's PUT, with its parameters. Deleted before re-created: Azure refuses a second job schedule for the same runbook
        and schedule.
        """
        args = self._args
        late = sorted(args.output_parameters)
        job_id = pulumi.Output.all(
            args.automation_account_name, args.organization, schedule_name, self._publication, *(args.output_parameters[k] for k in late)
        ).apply(
            lambda values: job_schedule_id(
                values[0],
                args.runbook_name,
                values[2],
                {**parameters, **dict(zip(late, values[4:], strict=True)), "Organization": values[1]},
                publication=values[3],
            )
        )
        return automation.JobSchedule(
            resource_name,
            job_schedule_id=job_id,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            runbook=automation.RunbookAssociationPropertyArgs(name=self._runbook.name),
            schedule=automation.ScheduleAssociationPropertyArgs(name=schedule_name),
            parameters={"Organization": args.organization, **parameters, **args.output_parameters},
            run_on=args.run_on,
            # A job schedule cannot be updated (Azure answers "already exists"): replace it, removing the old one first. It waits
            # for the module resource so that no scheduled job exists before the module does.
            opts=pulumi.ResourceOptions(
                parent=self, replace_on_changes=["*"], delete_before_replace=True, depends_on=[args.exchange_module, self._runbook]
            ),
        )
