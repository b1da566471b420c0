"""Child processes of a `pytest --clock=…` run travel with their parent (see tests/shifted_clock/__init__.py)."""

import os

_offset = os.environ.get("EXO_TESTS_CLOCK_OFFSET_SECONDS")
if _offset:
    import datetime as _dt

    import time_machine as _time_machine

    _traveller = _time_machine.travel(_dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=float(_offset)), tick=True)
    _traveller.start()
