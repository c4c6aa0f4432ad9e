"""One benchmark stage in a process of its own: ``python -m tierwise_dev.bench.stage STAGE ...``.

The bench runs every stage this way so that the stage's peak memory can be measured
(:mod:`tierwise_dev.bench.measure`). Paths come from the TIERWISE_* environment the bench sets;
the stage writes ``{"elapsed": seconds, "details": ...}`` to ``--result``.
"""

from __future__ import annotations

import argparse
import json
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

    return RunContext.create(args.run_id, as_of_date=args.as_of, interval=interval)


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
    from tierwise_dev.airflow_local import airflow_home, setup_airflow

    setup_airflow(Path(args.log_file))
    return {"airflow_home": str(airflow_home())}


def _floor(args: argparse.Namespace) -> dict[str, Any]:
    from tierwise_dev.bench.floor import run_floor

    rows = run_floor(Path(args.data_dir), args.as_of, Path(args.out))
    return {"customers": rows}


STAGES: dict[str, Work] = {
    "generate": _generate,
    "ingest": _ingest,
    "validate": _validate,
    "build": _build,
    "publish": _publish,
    "airflow": _airflow,
    "airflow-setup": _airflow_setup,
    "floor": _floor,
}


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(prog="python -m tierwise_dev.bench.stage")
    parse.add_argument("stage", choices=sorted(STAGES))
    parse.add_argument("--result", required=True, help="where to write the stage's JSON result")
    parse.add_argument("--run-id", default="bench")
    parse.add_argument("--as-of", type=date.fromisoformat)
    parse.add_argument("--interval-start", type=date.fromisoformat)
    parse.add_argument("--interval-end", type=date.fromisoformat)
    parse.add_argument("--gate", choices=("raw", "marts"))
    parse.add_argument("--destination", action="append", default=[])
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
    started = time.perf_counter()
    details = STAGES[args.stage](args)
    elapsed = round(time.perf_counter() - started, 3)
    Path(args.result).write_text(json.dumps({"elapsed": elapsed, "details": details}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
