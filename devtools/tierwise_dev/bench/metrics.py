"""Totals, ratios and targets computed from the measured stages.

Ratios are only ever taken between figures of the same run: the machine is shared and its
speed drifts, so absolute seconds from different runs do not compare, ratios do better.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

Stages = dict[str, dict[str, Any]]

PIPELINE_STAGES = (
    "ingest",
    "validate_raw",
    "build",
    "validate_marts",
    "publish_files",
    "publish_postgres",
)
DAILY_STAGES = ("daily_ingest", "daily_build")
DAILY_FORCED_STAGES = ("daily_ingest", "daily_build_forced")
MEMORY_STAGES = (*PIPELINE_STAGES, "airflow_e2e", *DAILY_STAGES, "daily_build_forced", "monthly_build")
MEMORY_LIMIT_MB = 4096
NEAR_LINEAR_SLACK = 1.2
"""Growth counts as near-linear while time grows at most 20% faster than the data."""


def wall(stages: Stages, key: str) -> float | None:
    """Wall seconds of a stage that ran and succeeded, else None."""
    entry = stages.get(key) or {}
    if entry.get("skipped") or not entry.get("ok") or "wall_s" not in entry:
        return None
    return float(entry["wall_s"])


def _total(stages: Stages, keys: tuple[str, ...], label: str) -> dict[str, Any]:
    names = [key for key in keys if key in stages and not stages[key].get("skipped")]
    if not names:
        return {"skipped": True, "ok": True, "note": f"no {label} stage ran"}
    ran = [stages[key] for key in names]
    return {
        "wall_s": round(sum(entry.get("wall_s", 0.0) for entry in ran), 3),
        "peak_mb": max(entry.get("peak_mb", 0.0) for entry in ran),
        "ok": all(entry.get("ok") for entry in ran),
        "note": "sum of " + ", ".join(names),
    }


def add_totals(stages: Stages) -> None:
    stages["pipeline_total"] = _total(stages, PIPELINE_STAGES, "pipeline")
    stages["daily_total"] = _total(stages, DAILY_STAGES, "incremental")
    stages["daily_total_forced"] = _total(stages, DAILY_FORCED_STAGES, "forced incremental")


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def end_to_end_key(stages: Stages) -> str:
    """The Airflow run when it ran, else the stages run one after the other (quick mode)."""
    return "airflow_e2e" if wall(stages, "airflow_e2e") else "pipeline_total"


def ratios(stages: Stages) -> dict[str, Any]:
    e2e = wall(stages, end_to_end_key(stages))
    pipeline, floor, pandas = wall(stages, "pipeline_total"), wall(stages, "floor"), wall(stages, "pandas")
    return {
        "end_to_end_basis": end_to_end_key(stages),
        "end_to_end_over_floor": _ratio(e2e, floor),
        "pipeline_over_floor": _ratio(pipeline, floor),
        "build_over_floor": _ratio(wall(stages, "build"), floor),
        "pandas_over_end_to_end": _ratio(pandas, e2e),
        "pandas_over_pipeline": _ratio(pandas, pipeline),
        "daily_over_full": _ratio(wall(stages, "daily_total"), pipeline),
        "daily_forced_over_full": _ratio(wall(stages, "daily_total_forced"), pipeline),
        "monthly_over_full": _ratio(wall(stages, "monthly_build"), pipeline),
        "monthly_over_build": _ratio(wall(stages, "monthly_build"), wall(stages, "build")),
        "airflow_over_pipeline": _ratio(wall(stages, "airflow_e2e"), pipeline),
    }


SCALED = ("airflow_e2e", "pipeline_total", "ingest", "build", "floor", "pandas")


def scaling(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """How each figure grows from one size to the next."""
    steps = []
    for small, big in pairwise(sizes):
        times = {key: _ratio(wall(big["stages"], key), wall(small["stages"], key)) for key in SCALED}
        steps.append(
            {
                "from": small["orders"],
                "to": big["orders"],
                "size_ratio": big["orders"] / small["orders"],
                "time_ratio": times,
            }
        )
    return steps


def peak_memory_mb(stages: Stages) -> float | None:
    peaks = [stages[key].get("peak_mb", 0.0) for key in MEMORY_STAGES if wall(stages, key)]
    return max(peaks) if peaks else None


def _target(text: str, orders: int, measured: float | None, met: bool | None) -> dict[str, Any]:
    return {"target": text, "orders": orders, "measured": measured, "met": met}


def _bounded(measured: float | None, limit: float, upper: bool) -> bool | None:
    if measured is None:
        return None
    return measured <= limit if upper else measured >= limit


def _growth_target(sizes: list[dict[str, Any]]) -> dict[str, Any]:
    largest = sizes[-1]["orders"]
    step = scaling(sizes)[-1] if len(sizes) > 1 else None
    if step is None:
        return _target("near-linear growth (needs two sizes)", largest, None, None)
    key = end_to_end_key(sizes[-1]["stages"])
    measured = step["time_ratio"].get(key)
    limit = NEAR_LINEAR_SLACK * step["size_ratio"]
    text = f"near-linear growth {step['from']:,} -> {step['to']:,} orders (time x{limit:.1f} at most)"
    return _target(text, largest, measured, _bounded(measured, limit, upper=True))


END_TO_END_OVER_FLOOR = {1_000_000: 8.0, 10_000_000: 5.0}
"""Issue 21: the whole Airflow run at most this many times the floor, at these sizes (aim: 4x at 10M)."""
SMALL_SHOP_ORDERS, SMALL_SHOP_WALL_S = 100_000, 20.0
"""Issue 21: a small shop's whole run under 20 s of wall time."""
PANDAS_SIZES = (1_000_000, 10_000_000)
"""Issue 21: faster than the pandas notebook end to end at these sizes."""


def targets(sizes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets: each at the sizes it names, and the rest at the largest size measured."""
    if not sizes:
        return []
    found = [target for size in sizes for target in _size_targets(size)]
    last = sizes[-1]
    orders, measured = last["orders"], last["ratios"]
    memory = peak_memory_mb(last["stages"])
    return [
        *found,
        _target(
            "incremental day with a forced build under a quarter of the full run",
            orders,
            measured["daily_forced_over_full"],
            _bounded(measured["daily_forced_over_full"], 0.25, upper=True),
        ),
        _growth_target(sizes),
        _target("peak memory under 4 GB (MB)", orders, memory, _bounded(memory, MEMORY_LIMIT_MB, upper=True)),
    ]


def _size_targets(size: dict[str, Any]) -> list[dict[str, Any]]:
    orders, measured = size["orders"], size["ratios"]
    found = []
    if orders == SMALL_SHOP_ORDERS:
        e2e = wall(size["stages"], end_to_end_key(size["stages"]))
        found.append(
            _target(
                f"end-to-end under {SMALL_SHOP_WALL_S:.0f} s (s)",
                orders,
                e2e,
                _bounded(e2e, SMALL_SHOP_WALL_S, True),
            )
        )
    if orders in END_TO_END_OVER_FLOOR:
        limit = END_TO_END_OVER_FLOOR[orders]
        ratio = measured["end_to_end_over_floor"]
        found.append(
            _target(f"end-to-end within {limit:.0f}x the floor", orders, ratio, _bounded(ratio, limit, True))
        )
    if orders in PANDAS_SIZES:
        speedup = measured["pandas_over_end_to_end"]
        found.append(
            _target("faster than pandas end to end", orders, speedup, _bounded(speedup, 1.0, upper=False))
        )
    return found


# --- Spark beside DuckDB ------------------------------------------------------------------------

COMPARED_STAGES = ("ingest", "validate_raw", "build", "validate_marts", "publish_files")
"""The stages both engines run. Publishing to PostgreSQL reads the ledger's marts on either."""
SPARK_STEPS = {"sync_raw": ("ingest", "spark_sync_raw"), "fetch_marts": ("build", "spark_fetch_marts")}
"""Parts of a stage that the Spark engine times itself: (stage, step in the stage's timings)."""


def pipeline_total(stages: Stages) -> dict[str, Any]:
    """The pipeline stages of one engine, summed (what :func:`add_totals` records as pipeline_total)."""
    return _total(stages, PIPELINE_STAGES, "pipeline")


def _step(stages: Stages, stage: str, step: str) -> float | None:
    timings = ((stages.get(stage) or {}).get("details") or {}).get("timings") or {}
    return float(timings[step]) if step in timings else None


def _dbt_seconds(dbt: dict[str, Any], *kinds: str) -> float | None:
    by_type = dbt.get("seconds_by_type") or {}
    found = [float(by_type[kind]) for kind in kinds if kind in by_type]
    return round(sum(found), 3) if found else None


def engine_figures(stages: Stages, dbt: dict[str, Any], compared: tuple[str, ...]) -> dict[str, float | None]:
    """One engine's figures for the comparison: the stages, the parts timed within them (Spark's
    raw sync and marts fetch; dbt's node seconds by type, summed over its threads), the total of
    the ``compared`` stages, with the server's start-up, and the peak memory of those stages."""
    figures: dict[str, float | None] = {key: wall(stages, key) for key in (*COMPARED_STAGES, "server_start")}
    figures |= {name: _step(stages, stage, step) for name, (stage, step) in SPARK_STEPS.items()}
    figures |= {
        "dbt_elapsed": float(dbt["elapsed_s"]) if dbt.get("elapsed_s") else None,
        "dbt_models": _dbt_seconds(dbt, "model"),
        "dbt_tests": _dbt_seconds(dbt, "test", "unit_test"),
        "server_stop": wall(stages, "server_stop"),
    }
    total = round(sum(wall(stages, key) or 0.0 for key in compared), 3) if compared else None
    figures["compared_total"] = total
    figures["with_server_start"] = (
        round((total or 0.0) + (figures["server_start"] or 0.0), 3) if total else None
    )
    ran = [
        float(stages[key]["peak_mb"])
        for key in (*COMPARED_STAGES, "server_start")
        if "peak_mb" in (stages.get(key) or {})
    ]
    figures["peak_mb"] = max(ran) if ran else None
    return figures


def engine_ratios(
    duckdb_stages: Stages, duckdb_dbt: dict[str, Any], spark_stages: Stages, spark_dbt: dict[str, Any]
) -> dict[str, Any]:
    """Spark beside DuckDB at one size, from the same run: each engine's figures and Spark ÷ DuckDB.
    The totals add only the stages that succeeded on both, so that they compare like with like."""
    compared = tuple(key for key in COMPARED_STAGES if wall(duckdb_stages, key) and wall(spark_stages, key))
    duckdb = engine_figures(duckdb_stages, duckdb_dbt, compared)
    spark = engine_figures(spark_stages, spark_dbt, compared)
    return {
        "compared_stages": list(compared),
        "duckdb": duckdb,
        "spark": spark,
        "spark_over_duckdb": {key: _ratio(spark[key], duckdb[key]) for key in spark},
    }
