"""The garbage collector tuned for one evaluation, in the process the language host starts for it: nearly everything an evaluation
allocates lives until the process ends, and Python's full collections walk it again and again while freeing almost nothing.
Figures and the decision to keep it: docs/benchmarks.md ("The garbage collector", "SDK workarounds under the real engine").
"""

from __future__ import annotations

import gc

# What the figures that keep this tuning were measured on (benchmarks/bench_workarounds.py); tests/exo/test_evaluation_gc.py fails
# when the SDKs or Python move, so that the next upgrade measures again instead of carrying the tuning on trust.
MEASURED_ON = {"python": "3.11", "pulumi": "3.272.0", "pulumi-azure-native": "3.29.0"}

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
