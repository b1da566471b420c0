"""The garbage collector tuned for one evaluation of the program, in the process the Pulumi language host starts for it.

Nearly everything an evaluation allocates stays alive until the process ends: the SDK modules, and per resource its Outputs, futures
and registration state. CPython's full collections walk all of it whenever the heap has grown by a quarter, and free almost nothing
(issue 12's profile: at 100 runbooks about ten full passes over ~190k live objects, ~40% of the evaluation). Measured with
benchmarks/bench_program.py (CPU seconds of a `pulumi preview` with 100 / 400 runbooks, every module compiled in the process):
Python's defaults 6.3-7.3 / 31.7; gc.freeze() alone 6.2 / -; a 50,000-object young generation 3.0-3.3 / -; gc.freeze() with full
collections made rare (below) 2.6-3.0 / 10.1; the collector disabled 2.3-2.5 / 7.7 but with more memory (183 instead of 174 MiB, 473
instead of 437 MiB). Young collections stay as Python sets them, so short-lived cycles are still freed and the peak memory does not
grow.
"""

from __future__ import annotations

import gc

# A full collection only after this many young-generation collections (Python's default is 10): about 7 million net allocations.
FULL_COLLECTION_THRESHOLD = 1000


def tune_collector_for_evaluation() -> None:
    """Call once, after the program's imports: what exists then (the SDKs) is never garbage, so later collections skip it."""
    # Collecting the young generations first frees their garbage and leaves every survivor in the oldest generation in allocation
    # order; gc.freeze() would otherwise put younger objects before older ones, and finalizers of garbage found later would then run
    # in that order (an event loop after its own sockets).
    gc.collect(1)
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_THRESHOLD)
