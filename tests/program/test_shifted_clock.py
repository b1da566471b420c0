"""The `--clock` option that CI uses to run the suite on other dates moves the clock of the test process and of its children."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from tests.shifted_clock import OFFSET_VARIABLE, SITE_FOLDER, destination

REAL_NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)


def test_relative_and_absolute_destinations() -> None:
    assert destination("+400d", REAL_NOW) == REAL_NOW + dt.timedelta(days=400)
    assert destination("2028-02-29T12:00:00Z", REAL_NOW) == dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC)
    assert destination("2028-02-29T12:00:00", REAL_NOW) == dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC)


def child_now(offset_seconds: float) -> dt.datetime:
    environment = {**os.environ, OFFSET_VARIABLE: repr(offset_seconds), "PYTHONPATH": str(SITE_FOLDER)}
    child = subprocess.run(
        [sys.executable, "-c", "import datetime; print(datetime.datetime.now(datetime.UTC).isoformat())"],
        env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dt.datetime.fromisoformat(child.stdout.strip())


def test_a_child_python_process_travels_by_the_offset_it_is_given() -> None:
    # Both children are told their offset, so this holds whether or not this run itself has a moved clock.
    unmoved = child_now(0.0)
    moved = child_now(400 * 86400.0) - unmoved
    assert dt.timedelta(days=400) <= moved < dt.timedelta(days=400, minutes=5)
