"""One benchmark stage in a process of its own: ``python -m tierwise_dev.bench.stage STAGE ...``.

The bench runs every stage this way so that the stage's peak memory can be measured
(:mod:`tierwise_dev.bench.measure`). Paths come from the TIERWISE_* environment the bench sets;
the stage writes ``{"elapsed": seconds, "details": ...}`` to ``--result``. Steps that log their
timing (the Spark engine's raw sync and marts fetch, :data:`tierwise.engine.spark.TIMING`) add
``details["timings"]``: seconds per step, summed over the stage.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tierwise.context import RunContext

Work = Callable[[argparse.Namespace], dict[str, Any]]


def _context(args: argparse.Namespace, interval: tuple[date, date] | None = None) -> RunContext:
    from tierwise.context import RunContext

    return RunContext.create(
        args.run_id, as_of_date=args.as_of, interval=interval, gate_override=args.override_gate
    )


def _generate(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise_dev.generate import generate

    result = generate(
        Path(args.out),
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        start=args.start,
        end=args.end,
    )
    return {"rows_written": result.rows_written, "distinct_orders": result.distinct_orders}


def _ingest(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise import pipeline
    from tierwise.schema import ENTITIES

    interval = (args.interval_start, args.interval_end) if args.interval_start else None
    ctx = _context(args, interval)
    return {source: pipeline.ingest(ctx, source).line for source in ENTITIES}


def _validate(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise import pipeline

    return {"line": pipeline.validate(_context(args), args.gate).line}


def _build(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise import pipeline

    result = pipeline.build(_context(args))
    return {"line": result.line, "build_skipped": bool(result.details.get("skipped"))}


def _publish(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise import pipeline

    return {"line": pipeline.publish(_context(args), tuple(args.destination)).line}


def _airflow(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise.exceptions import TierwiseError
    from tierwise_dev.demo import run_dag

    log_file = Path(args.log_file)
    if not run_dag(args.logical_date, log_file):
        raise TierwiseError(f"the DAG run failed, see {log_file}")
    return {"log": str(log_file)}


def _airflow_setup(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise.airflow_local import airflow_home, setup_airflow

    setup_airflow(Path(args.log_file))
    return {"airflow_home": str(airflow_home())}


def _floor(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise_dev.bench.floor import run_floor

    rows = run_floor(Path(args.data_dir), args.as_of, Path(args.out))
    return {"customers": rows}


def _spark_server(args: argparse.Namespace) -> dict[str, Any]:
    """Start the local Spark server (the JVM, then a first catalog query), or stop it."""
    from tierwise.context import workspace
    from tierwise.engine.spark import SparkEngine, close_sessions
    from tierwise.exceptions import ConfigError
    from tierwise_dev.bench.measure import high_water_mb

    engine = SparkEngine(workspace())
    server = engine.server
    if server is None:
        raise ConfigError("the bench starts its own Spark server: TIERWISE_SPARK_REMOTE must be unset")
    started = time.perf_counter()
    if args.action == "stop":
        pid = server.pid()
        # The JVM's peak over its whole life, the bench's stages included.
        lifetime_peak = high_water_mb(pid) if pid else None
        return {"was_running": server.stop(), "lifetime_peak_mb": lifetime_peak}
    server.start()
    jvm = time.perf_counter() - started
    # Spark's catalog (the Hive metastore, an embedded Derby database) is created on first use.
    engine.session().sql("show databases").collect()
    close_sessions()
    return {
        "jvm_start_s": round(jvm, 3),
        "first_catalog_query_s": round(time.perf_counter() - started - jvm, 3),
        "pid": server.pid(),
        "master": server.master,
        "url": server.url,
    }


STAGES: dict[str, Work] = {
    "generate": _generate,
    "ingest": _ingest,
    "validate": _validate,
    "build": _build,
    "publish": _publish,
    "airflow": _airflow,
    "airflow-setup": _airflow_setup,
    "floor": _floor,
    "spark-server": _spark_server,
}


class _Timings(logging.Handler):
    """Sums the seconds of the log records that carry a step's timing."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        from tierwise.engine.spark import TIMING

        timing = getattr(record, TIMING, None)
        if isinstance(timing, dict):
            step = str(timing["step"])
            self.seconds[step] = round(self.seconds.get(step, 0.0) + float(timing["seconds"]), 3)


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m tierwise_dev.bench.stage")
    parse.add_argument("stage", choices=sorted(STAGES))
    parse.add_argument("--result", required=True, help="where to write the stage's JSON result")
    parse.add_argument("--run-id", default="bench")
    parse.add_argument("--as-of", type=date.fromisoformat)
    parse.add_argument("--interval-start", type=date.fromisoformat)
    parse.add_argument("--interval-end", type=date.fromisoformat)
    parse.add_argument("--gate", choices=("raw", "marts"))
    parse.add_argument("--action", choices=("start", "stop"), default="start")
    parse.add_argument("--destination", action="append", default=[])
    parse.add_argument("--override-gate", help="publish although the marts gate failed, for this reason")
    parse.add_argument("--logical-date", type=datetime.fromisoformat)
    parse.add_argument("--log-file")
    parse.add_argument("--data-dir")
    parse.add_argument("--out")
    parse.add_argument("--customers", type=int)
    parse.add_argument("--orders", type=int)
    parse.add_argument("--seed", type=int, default=42)
    parse.add_argument("--start", type=date.fromisoformat)
    parse.add_argument("--end", type=date.fromisoformat)
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    from tierwise.console import configure_cli_logging
    from tierwise.context import workspace

    args = parser().parse_args(argv)
    # Library logs go to the bench's log folder; progress lines to stdout, which the bench captures.
    configure_cli_logging(workspace().log_dir)
    timings = _Timings()
    logging.getLogger("tierwise").addHandler(timings)
    started = time.perf_counter()
    details = STAGES[args.stage](args)
    elapsed = round(time.perf_counter() - started, 3)
    if timings.seconds:
        details["timings"] = timings.seconds
    Path(args.result).write_text(json.dumps({"elapsed": elapsed, "details": details}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
