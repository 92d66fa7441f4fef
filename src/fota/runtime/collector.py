"""The garbage collector's settings for a long-running server process."""

from __future__ import annotations

import gc

# Collections of the youngest generation start after this many net allocations (CPython's default: 700). A report
# page builds a few thousand objects per request; at the default, a run of 64 concurrent pages spent half its CPU
# in collections that scan the pages still being built (docs/adr/0030-api-hot-path.md).
YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def tune() -> None:
    """Moves what start-up built (modules, the app, its routes) out of the collector's sight, and makes young
    collections rarer. Called once, just before the process starts serving."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
