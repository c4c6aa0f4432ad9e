"""The benchmark's record: machine and versions, the JSON file and its Markdown tables.

``python -m tierwise_dev.bench.report RESULTS.json`` prints the Markdown of a results file
(what BENCHMARKS.md shows); ``... report BEFORE.json AFTER.json`` prints, per size both runs
measured, each stage's wall time before and after and the ratios side by side.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "duckdb",
    "dbt-core",
    "dbt-duckdb",
    "apache-airflow",
    "great-expectations",
    "pandas",
    "pyarrow",
    "numpy",
    "psycopg",
    "pyspark",
    "dbt-spark",
)
STAGE_LABELS = {
    "generate": "generate exports (not in totals)",
    "ingest": "ingest, 3 sources",
    "validate_raw": "raw gate (GX)",
    "build": "dbt build (models + tests)",
    "validate_marts": "marts gate (GX)",
    "publish_files": "publish: files",
    "publish_postgres": "publish: PostgreSQL",
    "pipeline_total": "**pipeline, stage by stage**",
    "airflow_e2e": "**end-to-end through Airflow**",
    "daily_ingest": "next day: ingest",
    "daily_build": "next day: dbt build (skipped when unchanged)",
    "daily_total": "**next day, incremental**",
    "daily_build_forced": "next day: dbt build, forced",
    "daily_total_forced": "next day, forced build",
    "monthly_build": "next month-end: dbt build",
    "floor": "**floor** (floor.sql)",
    "pandas": "**pandas baseline**",
}
SPARK_STAGE_LABELS = {
    "server_start": "Spark server start-up (JVM, first catalog query)",
    "ingest": "ingest, 3 sources (with the raw sync to Spark)",
    "validate_raw": "raw gate (GX)",
    "build": "dbt build (models + tests, marts fetched)",
    "validate_marts": "marts gate (GX)",
    "publish_files": "publish: files",
    "publish_postgres": "publish: PostgreSQL",
    "pipeline_total": "**pipeline, stage by stage**",
    "server_stop": "Spark server stop",
}
COMPARISON_LABELS = {
    "server_start": "server start-up (JVM, first catalog query)",
    "ingest": "ingest, 3 sources",
    "sync_raw": "· of which raw sent to Spark (Arrow over Connect)",
    "validate_raw": "raw gate (GX)",
    "build": "dbt build",
    "dbt_elapsed": "· of which dbt's elapsed time",
    "dbt_models": "· · model seconds (summed over 2 threads)",
    "dbt_tests": "· · test seconds (summed over 2 threads)",
    "fetch_marts": "· of which marts fetched into the ledger",
    "validate_marts": "marts gate (GX)",
    "publish_files": "publish: files",
    "compared_total": "**pipeline (stages that ran on both)**",
    "with_server_start": "**pipeline + server start-up**",
    "peak_mb": "peak RSS, MB (Spark: JVM included)",
    "server_stop": "server stop",
}
RATIO_LABELS = {
    "end_to_end_over_floor": "end-to-end / floor (target: <= 8 at 1M, <= 5 at 10M)",
    "pipeline_over_floor": "pipeline stages / floor",
    "build_over_floor": "dbt build / floor",
    "pandas_over_end_to_end": "pandas / end-to-end = speed-up (target >= 1 at 1M and 10M)",
    "daily_over_full": "next day / full run",
    "daily_forced_over_full": "next day with a forced build / full run (target <= 0.25)",
    "monthly_over_full": "next month-end / full run",
    "monthly_over_build": "next month-end build / first full build",
    "airflow_over_pipeline": "Airflow run / pipeline stages",
}
TOP_NODES = 10


def _java_version() -> str:
    """The first line of ``java -version`` (Spark's local server runs on it)."""
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return "not found"
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0] if lines else "unknown"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["java"] = _java_version()
    return found


def _meminfo_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        return None
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "memory_mb": _meminfo_mb(),
        "platform": platform.platform(),
        "python_executable": sys.executable,
    }


def dbt_timings(run_results: Path) -> dict[str, Any]:
    """Where ``dbt build`` spent its time: per resource type and the slowest nodes."""
    try:
        data = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    nodes = [
        (item["unique_id"], float(item.get("execution_time") or 0.0)) for item in data.get("results", [])
    ]
    by_type: Counter[str] = Counter()
    for unique_id, seconds in nodes:
        by_type[unique_id.split(".")[0]] += seconds
    slowest = sorted(nodes, key=lambda node: node[1], reverse=True)[:TOP_NODES]
    return {
        "elapsed_s": round(float(data.get("elapsed_time") or 0.0), 3),
        "seconds_by_type": {kind: round(seconds, 3) for kind, seconds in by_type.most_common()},
        "slowest": [{"node": unique_id, "seconds": round(seconds, 3)} for unique_id, seconds in slowest],
    }


def _cell(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    if entry.get("skipped"):
        return "skipped"
    if not entry.get("ok"):
        return "FAILED"
    text = f"{entry['wall_s']:.1f} s · {entry.get('peak_mb', 0):,.0f} MB"
    if (entry.get("details") or {}).get("build_skipped"):
        text += " (unchanged: skipped)"
    if entry.get("gate_overridden"):
        text += " (marts gate overridden)"
    return text + " (reused)" if entry.get("reused") else text


def _header(sizes: list[dict[str, Any]], first: str) -> list[str]:
    names = [f"{size['orders']:,} orders" for size in sizes]
    return [f"| {first} | " + " | ".join(names) + " |", "|---|" + "---|" * len(sizes)]


def stage_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = _header(sizes, "stage (wall · peak RSS)")
    for key, label in STAGE_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(_cell(size["stages"].get(key)) for size in sizes) + " |")
    return lines


def spark_stage_table(sizes: list[dict[str, Any]]) -> list[str]:
    """The stages on Spark; peak RSS includes the server's JVM, sampled with each stage."""
    on_spark = [size for size in sizes if "spark" in size]
    if not on_spark:
        return []
    master = on_spark[0]["spark"]["master"]
    lines = _header(on_spark, f"on Spark {master} (wall · peak RSS with the JVM)")
    for key, label in SPARK_STAGE_LABELS.items():
        cells = (_cell(size["spark"]["stages"].get(key)) for size in on_spark)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _seconds(value: float | None, key: str) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if key == "peak_mb" else f"{value:,.1f}"


def comparison_table(sizes: list[dict[str, Any]]) -> list[str]:
    """Spark beside DuckDB per stage and size, seconds (peak RSS in MB), and Spark ÷ DuckDB."""
    on_spark = [size for size in sizes if "spark" in size]
    if not on_spark:
        return []
    head = " | ".join(f"DuckDB {size['orders']:,} | Spark | Spark ÷ DuckDB" for size in on_spark)
    lines = [f"| seconds | {head} |", "|---|" + "---|---|---|" * len(on_spark)]
    for key, label in COMPARISON_LABELS.items():
        cells = []
        for size in on_spark:
            compared = size["spark"]["over_duckdb"]
            ratio = compared["spark_over_duckdb"].get(key)
            cells += [
                _seconds(compared["duckdb"].get(key), key),
                _seconds(compared["spark"].get(key), key),
                "–" if ratio is None else f"{ratio:,.2f}",
            ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    stages = {", ".join(size["spark"]["over_duckdb"]["compared_stages"]) for size in on_spark}
    lines += ["", f"The pipeline rows add the stages that succeeded on both engines: {'; '.join(stages)}."]
    return lines


def _number(value: Any) -> str:
    return "–" if value is None else f"{value:,.2f}"


def ratio_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = _header(sizes, "ratio (same run)")
    for key, label in RATIO_LABELS.items():
        lines.append(f"| {label} | " + " | ".join(_number(size["ratios"].get(key)) for size in sizes) + " |")
    return lines


def _check_cell(check: dict[str, Any]) -> str:
    if check.get("passed"):
        return f"equal ({check['customers']:,} customers)"
    if "error" in check:
        return f"NOT CHECKED: {check['error']}"
    wrong = {name: count for name, count in check.get("mismatches", {}).items() if count}
    keys = f"keys only in marts {check.get('only_in_marts')}, only here {check.get('only_in_other')}"
    return f"DIFFERENT: {wrong}, {keys}"


CHECK_LABELS = {
    "floor": "floor = DuckDB's marts",
    "pandas": "pandas = DuckDB's marts",
    "spark": "Spark's marts = floor",
}


def check_table(sizes: list[dict[str, Any]]) -> list[str]:
    lines = _header(sizes, "same answer?")
    for name, label in CHECK_LABELS.items():
        if not any(name in size["checks"] for size in sizes):
            continue
        cells = (_check_cell(size["checks"][name]) if name in size["checks"] else "–" for size in sizes)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def target_table(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | at | measured | met |", "|---|---|---|---|"]
    for target in targets:
        met = {True: "yes", False: "**no**", None: "–"}[target["met"]]
        lines.append(
            f"| {target['target']} | {target['orders']:,} orders | {_number(target['measured'])} | {met} |"
        )
    return lines


def dbt_table(size: dict[str, Any], engine: str = "on DuckDB") -> list[str]:
    timings = size.get("dbt") or {}
    if not timings:
        return []
    lines = [
        f"Slowest dbt nodes of the full build {engine} at {size['orders']:,} orders "
        f"(dbt elapsed {timings['elapsed_s']:.1f} s; seconds by type: {timings['seconds_by_type']}):",
        "",
        "| node | seconds |",
        "|---|---|",
    ]
    lines += [f"| `{node['node']}` | {node['seconds']:.1f} |" for node in timings["slowest"]]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    sizes = results["sizes"]
    box, found = results["machine"], results["versions"]
    header = [
        f"Run {results['started_at']} ({'quick' if results['quick'] else 'full'} mode), "
        f"{box['cores']} cores {box['cpu_model']}, {box['memory_mb']:,.0f} MB RAM; "
        + ", ".join(f"{name} {version}" for name, version in found.items()),
        "",
    ]
    blocks = [stage_table(sizes), ratio_table(sizes), check_table(sizes), target_table(results["targets"])]
    blocks += [spark_stage_table(sizes), comparison_table(sizes)]
    if sizes:
        blocks.append(dbt_table(sizes[-1]))
        if "spark" in sizes[-1]:
            blocks.append(dbt_table(sizes[-1] | {"dbt": sizes[-1]["spark"]["dbt"]}, "on Spark"))
    body = [line for block in blocks if block for line in [*block, ""]]
    if "elapsed_s" in results:
        body.append(f"The whole bench run took {results['elapsed_s'] / 60:.1f} minutes.")
    return "\n".join(header + body)


COMPARED_RATIOS = (
    "end_to_end_over_floor",
    "pipeline_over_floor",
    "build_over_floor",
    "pandas_over_end_to_end",
)


def _wall(entry: dict[str, Any] | None) -> float | None:
    if not entry or entry.get("skipped") or not entry.get("ok") or "wall_s" not in entry:
        return None
    return float(entry["wall_s"])


def _change(before: float | None, after: float | None) -> str:
    return f"{after / before:.2f}" if before and after else "–"


def before_after_table(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Per size measured in both runs: each stage's seconds before and after, and after ÷ before.

    Seconds from two runs meet different machine states; the ratios to the floor, each taken
    within its own run, are the figures to compare (they close the table).
    """
    earlier = {size["orders"]: size for size in before["sizes"]}
    common = [size for size in after["sizes"] if size["orders"] in earlier]
    if not common:
        return []
    head = "| stage, wall seconds | " + " | ".join(
        f"{size['orders']:,}: before → after (×)" for size in common
    )
    lines = [head + " |", "|---|" + "---|" * len(common)]
    for key, label in STAGE_LABELS.items():
        cells = []
        for size in common:
            old, new = _wall(earlier[size["orders"]]["stages"].get(key)), _wall(size["stages"].get(key))
            cells.append(f"{_number(old)} → {_number(new)} ({_change(old, new)})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key in COMPARED_RATIOS:
        cells = [
            f"{_number(earlier[size['orders']]['ratios'].get(key))} → {_number(size['ratios'].get(key))}"
            for size in common
        ]
        lines.append(f"| {RATIO_LABELS[key]} | " + " | ".join(cells) + " |")
    return lines


def write_results(results: dict[str, Any], out_dir: Path, stamp: str) -> Path:
    """Write ``<stamp>.json`` and ``<stamp>.md``; returns the JSON path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stamp}.json"
    # Written aside then renamed, so a reader never sees half a file.
    temporary = out_dir / f"{stamp}.json.tmp"
    temporary.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    temporary.replace(path)
    path.with_suffix(".md").write_text(render_markdown(results), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) not in (1, 2):
        print("usage: python -m tierwise_dev.bench.report RESULTS.json [AFTER.json]", file=sys.stderr)
        return 2
    found = [json.loads(Path(arg).read_text(encoding="utf-8")) for arg in args]
    print(render_markdown(found[0]) if len(found) == 1 else "\n".join(before_after_table(*found)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
