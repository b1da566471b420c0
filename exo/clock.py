"""The program's one clock: read once per evaluation in `__main__.py`, replaceable by tests (which move it between runs).

Clock values reach resource inputs in two places only, each by design: a Schedule's start time (ignored after creation, so it
never shows a diff) and the renewal period of the runbook links (changes once per period, see components/runbook_store.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)  # noqa: E731 - replaced by tests through use()


def now() -> dt.datetime:
    """The current moment, timezone-aware UTC, whole seconds."""
    return _clock().astimezone(dt.UTC).replace(microsecond=0)


def use(clock: Callable[[], dt.datetime]) -> None:
    """Read the time from `clock` from now on (tests hand in the mock tenant's clock)."""
    global _clock
    _clock = clock


def rfc3339(moment: dt.datetime) -> str:
    """UTC, whole seconds, `Z`: what the azuread provider parses (time.RFC3339) and what the mock tenant stores."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
