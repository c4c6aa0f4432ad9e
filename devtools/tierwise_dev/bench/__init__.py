"""``tierwise-dev bench``: wall time and peak memory of every stage, against a floor and pandas.

Entry point: :func:`run_bench` (what ``make bench`` / ``make bench-full`` run through the CLI).
"""

from tierwise_dev.bench.suite import DEFAULT_SIZES, QUICK_SIZES, run_bench

__all__ = ["DEFAULT_SIZES", "QUICK_SIZES", "run_bench"]
