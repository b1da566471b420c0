"""When a schedule first runs: a pure function of a moment (the program's clock reading) and the schedule's definition."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

# Azure Automation refuses a start time less than 5 minutes after the schedule is created (Azure/bicep #9780). The program's clock
# is read before `pulumi up` creates anything, so the margin covers the time until the Schedule's PUT (it waits only for the
# account) and leaves the asynchronous module import time to finish before the first job.
MINIMUM_LEAD = dt.timedelta(minutes=15)

WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Schedule:
    """When a runbook runs: every `interval` `frequency`s at `time_of_day` in `time_zone`."""

    frequency: str
    interval: int
    time_zone: str
    time_of_day: tuple[int, int]
    week_days: tuple[str, ...] = ()
    month_days: tuple[int, ...] = ()

    def definition(self) -> str:
        """A stable text of the definition: schedules cannot be updated in place, so it names the schedule's version."""
        days = ",".join(self.week_days) + "|" + ",".join(map(str, self.month_days))
        return f"{self.frequency}/{self.interval}/{self.time_zone}/{self.time_of_day[0]:02d}:{self.time_of_day[1]:02d}/{days}"


def first_run(anchor: dt.datetime, schedule: Schedule, lead: dt.timedelta = MINIMUM_LEAD) -> dt.datetime:
    """The first instant at least `lead` after `anchor` that matches the schedule, in the schedule's time zone."""
    zone = zoneinfo.ZoneInfo(schedule.time_zone)
    earliest = (anchor + lead).astimezone(zone)
    hour, minute = schedule.time_of_day
    if schedule.frequency == "Hour":
        candidate = earliest.replace(minute=minute, second=0, microsecond=0)
        return candidate if candidate >= earliest else candidate + dt.timedelta(hours=1)
    day = earliest.date()
    for _ in range(0, 400):  # a month day (29-31) may be more than a month away; a year always holds it
        # Build the wall-clock time in the zone; fold=0 picks the first of a repeated hour, and a skipped hour moves forward.
        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        candidate = candidate.astimezone(dt.UTC).astimezone(zone)
        matches = (
            schedule.frequency == "Day"
            or (schedule.frequency == "Week" and WEEK_DAYS[day.weekday()] in schedule.week_days)
            or (schedule.frequency == "Month" and day.day in schedule.month_days)
        )
        if matches and candidate >= earliest:
            return candidate
        day += dt.timedelta(days=1)
    raise ValueError(f"no day matches {schedule.definition()} within a year")
