"""How many jobs a mailbox runbook needs, and when each partition's job starts (docs/runbooks.md, "Scale").

A job is planned to do its Exchange calls within JOB_BUDGET_SECONDS at CALLS_PER_SECOND. What each partition's job calls:
  - one call per mailbox of its share (Get-EXOMailboxPermission / Get-InboxRule: no bulk query exists);
  - the pages of the whole mailbox enumeration (every partition pages through every mailbox to find its share);
  - the forwarding audit: the pages of every mail user and mail contact, streamed again by each partition that has pending look-ups;
  - partition 0 only: the tenant-wide reads (settings, the Send As query and one look-up per Send As recipient).
The partitions start STAGGER_WINDOW apart in all, partition 0 first, so that one identity does not open N sessions in one minute.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from exo.schedule_time import Schedule

CALLS_PER_SECOND = 1.0
"""ASSUMED, not documented: Microsoft publishes no call budget for the REST module (docs/runbooks.md, "Scale")."""
JOB_BUDGET_SECONDS = 2 * 3600
"""Two of the sandbox's three fair-share hours (automation-runbook-execution.md): the rest is margin before the soft deadline."""
PAGE_SIZE = 1000
"""Entries per page of a streamed read: Connect-ExchangeOnline -PageSize, "The default value is 1000" (Connect-ExchangeOnline.md)."""
STAGGER_WINDOW = dt.timedelta(minutes=30)
"""The partitions of one run start spread over this window."""


@dataclass(frozen=True)
class Workload:
    """What one logical run reads: mailboxes in scope and the extra reads the model counts."""

    mailboxes: int
    calls_per_mailbox: float = 1.0
    tenant_wide_calls: int = 0
    """Partition 0 only: tenant settings, Send As pages and one look-up per Send As recipient."""
    restreamed_recipients: int = 0
    """Mail users plus mail contacts that every forwarding-audit partition streams again (0 for other runbooks)."""


def pages(entries: int) -> int:
    return math.ceil(entries / PAGE_SIZE)


def partition_calls(workload: Workload, partitions: int, index: int) -> float:
    """Exchange calls job `index` of `partitions` makes."""
    share = math.ceil(workload.mailboxes / partitions)
    calls = share * workload.calls_per_mailbox + pages(workload.mailboxes) + pages(workload.restreamed_recipients)
    return calls + (workload.tenant_wide_calls if index == 0 else 0)


def recommended_partitions(workload: Workload, limit: int = 64) -> int:
    """The fewest jobs whose busiest one (partition 0 carries the tenant-wide reads) stays within the budget; `limit` when even
    that many do not (the summaries' recommendedPartitionCount then says how far off the run is)."""
    for partitions in range(1, limit + 1):
        if partition_calls(workload, partitions, 0) / CALLS_PER_SECOND <= JOB_BUDGET_SECONDS:
            return partitions
    return limit


def partition_offset(schedule: Schedule, index: int, partitions: int) -> dt.timedelta:
    """How far partition `index`'s start lies from the schedule's time: spread over STAGGER_WINDOW, partition 0 first. For daily,
    weekly and monthly schedules whose window would cross midnight (in the schedule's zone), the spread ends at the time instead
    of starting there, so that no partition runs on another day than the one the schedule names."""
    if partitions <= 1:
        return dt.timedelta(0)
    window = int(STAGGER_WINDOW.total_seconds() // 60)
    # Whole minutes (more than `window` partitions share minutes): partition i at floor(i * window / N).
    hour, minute = schedule.time_of_day
    crosses_midnight = schedule.frequency != "Hour" and hour * 60 + minute + window >= 24 * 60
    if crosses_midnight:
        return -dt.timedelta(minutes=((partitions - 1 - index) * window) // partitions)
    return dt.timedelta(minutes=(index * window) // partitions)
