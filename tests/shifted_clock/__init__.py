"""Run the suite with the process clock moved, so that a test which mixes a literal date with the real clock fails today.

`pytest --clock=+400d` or `pytest --clock=2028-02-29T12:00:00Z` moves the clock (time-machine, ticking) for the whole session,
and, through `sitecustomize.py` in this folder put first on PYTHONPATH, for every Python child process the tests start (the
certtool CLI runs as `python -m certtool`): they travel by the same offset from their own start, so parent and children agree.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

OFFSET_VARIABLE = "EXO_TESTS_CLOCK_OFFSET_SECONDS"
SITE_FOLDER = Path(__file__).resolve().parent / "site"

_RELATIVE = re.compile(r"^\+(\d+)d$")


def destination(option: str, real_now: dt.datetime) -> dt.datetime:
    """Where `--clock` moves the clock: `+Nd` (N days from now) or an ISO 8601 moment (UTC if it names no offset)."""
    relative = _RELATIVE.match(option)
    if relative:
        return real_now + dt.timedelta(days=int(relative.group(1)))
    moment = dt.datetime.fromisoformat(option.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def travel_by(offset_seconds: float) -> Any:
    """Start ticking travel `offset_seconds` away from the real now; the returned traveller must be kept alive."""
    import time_machine

    target = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    traveller = time_machine.travel(target, tick=True)
    traveller.start()
    return traveller


def start(option: str) -> Any:
    """Move this process's clock and arrange for child processes to follow; returns the traveller."""
    real_now = dt.datetime.now(dt.UTC)
    offset = (destination(option, real_now) - real_now).total_seconds()
    os.environ[OFFSET_VARIABLE] = repr(offset)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE_FOLDER), os.environ.get("PYTHONPATH")]))
    return travel_by(offset)
