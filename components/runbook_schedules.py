"""The Automation schedules runbooks run on: one Schedule per distinct schedule definition, shared by every runbook that uses it.

Each starts in the future whenever it is created and is never updated in place (its start is ignored after creation; any other edit
makes a new Schedule). Why: docs/design.md, *Schedules* (Azure/bicep #9780; PUT on an existing schedule: 409 Conflict in
Microsoft.Automation stable/2024-10-23/schedule.json, start re-checked per hashicorp/terraform-provider-azurerm #5726).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pulumi
import pulumiverse_time
from pulumi_azure_native import automation

from exo import azure_names
from exo.partition_model import partition_offset
from exo.schedule_time import Schedule, first_run


def schedule_version(schedule: Schedule, scope: str = "") -> str:
    """Eight hex digits naming a schedule definition (within `scope`, for example the account it lives in)."""
    return uuid.uuid5(azure_names.NAME_NAMESPACE, f"{scope}|{schedule.definition()}" if scope else schedule.definition()).hex[:8]


@dataclass(frozen=True)
class ScheduleSlot:
    """A schedule definition, and which partition of a partitioned run uses it.

    Azure links a runbook to a schedule only once ("A job schedule for the specified runbook and schedule already exists",
    Azure/azure-resource-manager-schemas #313, MicrosoftDocs/azure-docs #37854), so the N jobs of a runbook split into N partitions
    each need a schedule of their own; runbooks with the same definition and the same N share those N schedules.
    """

    schedule: Schedule
    partition: int = 0
    partitions: int = 1

    @property
    def suffix(self) -> str:
        """Name suffix of a partition's schedule; none for an unpartitioned run (names stay as they were)."""
        return "" if self.partitions == 1 else f"-p{self.partition}of{self.partitions}"


def schedule_name(slot: ScheduleSlot) -> str:
    """The schedule's name in Automation: frequency and definition hash (shared by every runbook on that definition)."""
    return f"{slot.schedule.frequency}-{schedule_version(slot.schedule)}{slot.suffix}"


def schedule_description(slot: ScheduleSlot) -> str:
    schedule = slot.schedule
    hour, minute = schedule.time_of_day
    days = ", ".join(schedule.week_days) or ", ".join(map(str, schedule.month_days))
    on = f" on {days}" if days else ""
    part = f", partition {slot.partition} of {slot.partitions}" if slot.partitions > 1 else ""
    every = f"every {schedule.interval} {schedule.frequency.lower()}(s){on} at {hour:02d}:{minute:02d} {schedule.time_zone}"
    return f"{every}{part} (exo-automation)"


@dataclass
class RunbookSchedulesArgs:
    resource_group_name: pulumi.Input[str]
    """Resource group of the Automation account."""
    automation_account_name: pulumi.Input[str]
    """The Automation account."""
    scope: str
    """Plain text naming the account (resource group, account name and location from config): part of each Schedule's logical
    name, so that a new account creates new Schedules instead of replacing them with an ignored, past start."""
    schedules: Iterable[ScheduleSlot]
    """The definitions (per partition) the runbooks use; duplicates collapse into one Schedule."""
    now: dt.datetime
    """The program's clock reading: a Schedule created in this run starts at least MINIMUM_LEAD after it."""


def _parse(moment: str) -> dt.datetime:
    """The anchor's `rfc3339`: Go's time.RFC3339 of a UTC moment (`2026-12-06T13:42:31Z`); an offset is honoured all the same."""
    parsed = dt.datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        raise ValueError(f"the schedules' anchor {moment!r} carries no time zone")
    return parsed.astimezone(dt.UTC)


class RunbookSchedules(pulumi.ComponentResource):
    """One Automation Schedule per distinct definition and partition; `names[slot]` is the Schedule's name for job schedules."""

    names: Mapping[ScheduleSlot, pulumi.Output[str]]
    start_times: Mapping[ScheduleSlot, pulumi.Output[str]]
    """Azure's stored start of each schedule (the start chosen when it was created)."""

    def __init__(self, name: str, args: RunbookSchedulesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("exo-automation:index:RunbookSchedules", name, None, opts)
        names: dict[ScheduleSlot, pulumi.Output[str]] = {}
        start_times: dict[ScheduleSlot, pulumi.Output[str]] = {}
        slots = list(dict.fromkeys(args.schedules))
        if slots:
            # One anchor for every Schedule here, replaced whenever the set of Schedules changes: its moment is then unknown to the
            # preview that plans a new Schedule, so an approved update plan (`preview --save-plan`, `up --plan`) leaves the start
            # open instead of pinning one computed from the planner's clock, which the deploy, minutes or hours later, would compute
            # differently ("violates plan"). The Schedules that exist already ignore their start, so a new anchor changes none of
            # them. One anchor, not one per Schedule: a registration less per schedule definition (issue 12).
            # The trigger lists the Schedules' logical names, which carry the account's scope: a moved account's new Schedules
            # renew it too. time:Static (hashicorp/terraform-provider-time's time_static, bridged by pulumiverse-time) reads the
            # clock when it is created and keeps the moment in state; a change of `triggers` replaces it. A provider resource,
            # not a dynamic one: the state holds no code that a refresh or a delete would run (issue 18, docs/schedules-anchor.md).
            anchor = pulumiverse_time.Static(
                f"{name}-created",
                triggers={"schedules": " ".join(sorted(self._logical_name(name, slot, args.scope) for slot in slots))},
                opts=pulumi.ResourceOptions(parent=self),
            )
            for slot in slots:
                created = self._schedule(name, slot, anchor.rfc3339, args)
                names[slot] = created.name
                start_times[slot] = created.start_time.apply(lambda start: start or "")
        self.names = names
        self.start_times = start_times
        # Registering outputs marks the component complete, so a preview shows its children under it.
        self.register_outputs({"names": list(names.values())})

    @staticmethod
    def _logical_name(name: str, slot: ScheduleSlot, scope: str) -> str:
        """Definition, partition and the account's scope: a change of any of them is a new Schedule (see the module docstring)."""
        return f"{name}-{slot.schedule.frequency.lower()}-{schedule_version(slot.schedule, scope)}{slot.suffix}"

    def _schedule(self, name: str, slot: ScheduleSlot, anchor: pulumi.Output[str], args: RunbookSchedulesArgs) -> automation.Schedule:
        schedule = slot.schedule
        advanced = None
        if schedule.week_days:
            advanced = automation.AdvancedScheduleArgs(week_days=list(schedule.week_days))
        elif schedule.month_days:
            advanced = automation.AdvancedScheduleArgs(month_days=list(schedule.month_days))
        azure_name = schedule_name(slot)
        offset = partition_offset(schedule, slot.partition, slot.partitions)
        return automation.Schedule(
            # The partitions of one run share the definition; their starts are spread over a window, partition 0 first.
            self._logical_name(name, slot, args.scope),
            schedule_name=azure_name,
            name=azure_name,
            automation_account_name=args.automation_account_name,
            resource_group_name=args.resource_group_name,
            frequency=schedule.frequency,
            interval=schedule.interval,
            time_zone=schedule.time_zone,
            # Not before this run's clock either: a Schedule re-created after a failed first `up` or a manual delete (the anchor
            # already in state) still starts in the future.
            # Partitions of one run are staggered (exo/partition_model.py): the offset is applied after first_run, which is moved
            # by a negative offset first, so every start still lies MINIMUM_LEAD after the anchor.
            start_time=anchor.apply(
                lambda moment: (first_run(max(_parse(moment), args.now) - min(offset, dt.timedelta(0)), schedule) + offset).isoformat()
            ),
            advanced_schedule=advanced,
            description=schedule_description(slot),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The start is chosen once, when the Schedule is created; later runs' clock readings are not changes.
                ignore_changes=["startTime"],
                replace_on_changes=["*"],
                delete_before_replace=True,
            ),
        )
