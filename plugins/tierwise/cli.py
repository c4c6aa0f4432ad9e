"""``tierwise``: every stage of the pipeline without a scheduler (dev tooling: ``tierwise-dev``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierwise.exceptions import TierwiseError

if TYPE_CHECKING:
    from tierwise.context import RunContext
    from tierwise.settings import Settings


def iso_date(text: str) -> date:
    """An argparse type: a date as YYYY-MM-DD, refused with a message that says so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _context(args: argparse.Namespace, prefix: str) -> RunContext:
    """The run context of a command: the workspace's settings and the command's options."""
    from tierwise.context import RunContext, run_id_for
    from tierwise.transform import parse_dbt_vars

    interval = None
    if getattr(args, "interval_start", None) and getattr(args, "interval_end", None):
        interval = (args.interval_start, args.interval_end)
    settings: Settings = args.settings
    return RunContext.create(
        run_id_for(prefix),
        settings=settings,
        as_of_date=getattr(args, "as_of", None),
        interval=interval,
        full_refresh=getattr(args, "full_refresh", False),
        dry_run=getattr(args, "dry_run", False),
        gate_override=getattr(args, "override_gate", None),
        dbt_vars=parse_dbt_vars(getattr(args, "vars", None), settings.dbt_project_dir),
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from tierwise import pipeline
    from tierwise.schema import ENTITIES

    ctx = _context(args, "cli_ingest")
    data_dir = Path(args.data_dir) if args.data_dir else None
    sources = [Path(path) for path in args.config or []] or args.source or list(ENTITIES)
    for source in sources:
        pipeline.ingest(ctx, source, data_dir=data_dir)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from tierwise import pipeline

    pipeline.build(_context(args, "cli_build"))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tierwise import pipeline
    from tierwise.names import Gate

    ctx = _context(args, "cli_validate")
    for gate in tuple(Gate) if args.gate == "all" else (Gate(args.gate),):
        pipeline.validate(ctx, gate)
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from tierwise import pipeline

    ctx = _context(args, "cli_publish")
    destinations = args.destination or pipeline.DEFAULT_DESTINATIONS
    result = pipeline.publish(ctx, destinations, full_resync=args.full_resync, sample=args.sample)
    if ctx.dry_run:
        # The diff, with its sample of changed fields: what a dry run is for.
        print("\n".join(result.details.get("lines", [])))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from tierwise import pipeline
    from tierwise.summary import write_summary

    ctx = _context(args, "cli_run")
    sources = [Path(path) for path in args.config or []] or None
    destinations = tuple(args.destination) if args.destination else None
    data_dir = Path(args.data_dir) if args.data_dir else None
    results = pipeline.run_all(ctx, pipeline.run_order(sources, destinations, data_dir))
    print(write_summary(ctx, results).read_text(encoding="utf-8"))
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from tierwise.transform import dbt_passthrough

    return dbt_passthrough(_context(args, "cli_dbt"), args.dbt_args)


def cmd_metrics(args: argparse.Namespace) -> int:
    from tierwise.metrics import metrics_passthrough

    return metrics_passthrough(_context(args, "cli_metrics"), args.mf_args)


def cmd_explain(args: argparse.Namespace) -> int:
    """One customer's tier, rule, eligibility, next tier, history, value and notifications."""
    import json

    from tierwise.engine import make_engine
    from tierwise.explain import explain, render

    settings: Settings = args.settings
    explained = explain(
        make_engine(settings),
        args.customer_id,
        project_dir=settings.dbt_project_dir,
        as_of=args.as_of,
        changes=args.changes,
    )
    print(json.dumps(explained, indent=2) if args.json else render(explained))
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """dbt docs with the project overview, and the offline Data Docs index with each verdict."""
    from tierwise.docs import build_docs

    paths = build_docs(_context(args, "cli_docs"))
    print(f"dbt docs generated in {paths.elapsed:.0f}s")
    print(f"  dbt docs (one file, opens from disk)  {paths.dbt_single_file}")
    print(f"  dbt docs (serve the folder over HTTP) {paths.dbt_site}")
    told = paths.data_docs or "none yet: run tierwise validate"
    print(f"  Data Docs index (status per validation) {told}")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from tierwise.simulate import Proposal, simulate

    if not args.ladder and not args.vars:
        raise TierwiseError("give the rules to try: --ladder FILE, --vars YAML or both")
    ctx = _context(args, "cli_simulate")
    proposal = Proposal(ladder=Path(args.ladder) if args.ladder else None, dbt_vars=ctx.dbt_vars)
    done = simulate(ctx, proposal, Path(args.out) if args.out else None)
    print("\n".join(done.lines()))
    return 0


def cmd_spark(args: argparse.Namespace) -> int:
    """Start, stop or show the local Spark Connect server of the workspace (TIERWISE_ENGINE=spark)."""
    from tierwise.engine.spark import SparkEngine

    engine = SparkEngine(args.settings)
    server = engine.server
    if server is None:
        print(f"Spark is the remote server {engine.url} (TIERWISE_SPARK_REMOTE): nothing to {args.action}")
        return 0 if args.action == "status" else 1
    if args.action == "start":
        server.start()
        print(f"local Spark Connect server ({server.master}) at {server.url}; files in {server.directory}")
    elif args.action == "stop":
        told = "stopped" if server.stop() else "was not running"
        print(f"local Spark Connect server at {server.url} {told}")
    else:
        state = "running" if server.running() else "not running"
        print(f"local Spark Connect server at {server.url}: {state}; files in {server.directory}")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from tierwise.airflow_local import serve

    return serve(args.host, args.port, login=args.login)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as-of", type=iso_date, help="evaluation date (default: latest order date)")


def _add_vars_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--vars",
        metavar="YAML",
        help="rules for this run, over dbt_project.yml's vars, in dbt's syntax, e.g. "
        "'{evaluation_window_months: all, abc_method: rank}'",
    )


class _DefaultsShown(argparse.HelpFormatter):
    """Shows an option's default in its help, when it has one worth saying and the help does not."""

    def _get_help_string(self, action: argparse.Action) -> str:
        told = action.help or ""
        if (
            not action.option_strings
            or "default" in told
            or action.default in (None, False, argparse.SUPPRESS)
        ):
            return told
        return f"{told} (default: %(default)s)".strip()


def common_options() -> argparse.ArgumentParser:
    """Options every command takes, before or after its name (``tierwise -v build`` or ``build -v``)."""
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand that was not given -v keeps the value given before its name.
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="debug logging in logs/tierwise.log",
    )
    return common


def top_parser(
    prog: str, description: str | None
) -> tuple[argparse.ArgumentParser, Callable[..., argparse.ArgumentParser]]:
    """The parser of a command line with ``--version`` and ``-v``, and a maker of its subcommands.

    Every subcommand takes the common options too and shows its defaults in its help.
    """
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog=prog, description=description, parents=[common_options()])
    parser.set_defaults(verbose=False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('tierwise')}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        formatter = _DefaultsShown
        made: argparse.ArgumentParser = commands.add_parser(
            name, parents=[common_options()], formatter_class=formatter, **options
        )
        return made

    return parser, command


def build_parser() -> argparse.ArgumentParser:
    from tierwise.names import Destination, Gate

    parser, command = top_parser("tierwise", __doc__)

    ing = command("ingest", help="load exports into the warehouse's raw schema")
    ing.add_argument("--source", action="append", help="source config name (repeatable; default: all)")
    ing.add_argument("--config", action="append", help="a source config file (repeatable), e.g. examples/...")
    ing.add_argument("--data-dir", help="folder the source patterns are relative to")
    ing.add_argument(
        "--interval-start", type=iso_date, help="load only files of this day or later (YYYY-MM-DD)"
    )
    ing.add_argument("--interval-end", type=iso_date, help="... and before this day (exclusive)")
    ing.set_defaults(func=cmd_ingest)

    bld = command("build", help="dbt build: models, seeds, snapshots and tests")
    _add_run_options(bld)
    _add_vars_option(bld)
    bld.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental models from scratch"
    )
    bld.set_defaults(func=cmd_build)

    val = command(
        "validate", help="run the Great Expectations quality gates (passed marts refresh the BI snapshot)"
    )
    _add_run_options(val)
    val.add_argument(
        "--gate", choices=(*(gate.value for gate in Gate), "all"), default="all", help="which gate to run"
    )
    val.set_defaults(func=cmd_validate)

    pub = command("publish", help="publish the tiers to the destinations")
    _add_run_options(pub)
    pub.add_argument(
        "--destination",
        action="append",
        choices=[destination.value for destination in Destination],
        help="repeatable (default: files, database)",
    )
    pub.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing; print the counts and, for a sample of records, the fields that would change",
    )
    pub.add_argument(
        "--sample",
        type=int,
        default=5,
        metavar="N",
        help="with --dry-run: records per destination stream whose changed fields are shown",
    )
    pub.add_argument(
        "--full-resync",
        action="store_true",
        help="send every record again, changed or not (not notifications: those go out once)",
    )
    pub.add_argument(
        "--override-gate",
        metavar="REASON",
        help="publish although the marts gate did not pass (or did not run); recorded in ops.sync_runs",
    )
    pub.set_defaults(func=cmd_publish)

    run = command("run", help="all stages in order, without a scheduler")
    _add_run_options(run)
    _add_vars_option(run)
    run.add_argument(
        "--full-refresh", action="store_true", help="rebuild the incremental models from scratch"
    )
    run.add_argument(
        "--config",
        action="append",
        help="source config files to ingest (repeatable; default: config/sources)",
    )
    run.add_argument("--data-dir", help="folder the source patterns are relative to")
    run.add_argument(
        "--destination",
        action="append",
        choices=[destination.value for destination in Destination],
        help="publish to these (repeatable; default: files, database)",
    )
    run.set_defaults(func=cmd_run)

    exp = command(
        "explain", help="one customer explained: tier and its rule, eligibility, next tier, history"
    )
    exp.add_argument("customer_id", help="the customer's id, as in marts.customer_tiers (e.g. C0000141)")
    exp.add_argument(
        "--as-of",
        type=iso_date,
        help="the evaluation of this date's month, from the tier history (default: the current evaluation)",
    )
    exp.add_argument("--json", action="store_true", help="print JSON for tools instead of text")
    exp.add_argument("--changes", type=int, default=10, help="how many recent tier changes to show")
    exp.set_defaults(func=cmd_explain)

    docs = command(
        "docs",
        help="dbt docs (project overview, lineage) in PUBLISH_DIR/docs/dbt, and the offline Data Docs "
        "index with each validation's status",
    )
    docs.set_defaults(func=cmd_docs)

    sim = command(
        "simulate",
        help="what-if: evaluate a proposed ladder and rules on a copy of the warehouse and compare "
        "with the live tiers (nothing live changes, nothing is published)",
    )
    sim.add_argument(
        "--ladder",
        metavar="CSV",
        help="proposed tier ladder, with the columns of dbt_project/seeds/tier_ladder.csv "
        "(default: the live ladder)",
    )
    _add_vars_option(sim)
    sim.add_argument(
        "--as-of",
        type=iso_date,
        help="evaluation date (default: the evaluation of the live marts, the latest build)",
    )
    sim.add_argument(
        "--out",
        metavar="DIR",
        help="report folder (default: <publish folder>/simulations/<timestamp>)",
    )
    sim.set_defaults(func=cmd_simulate)

    dbt = command(
        "dbt",
        help="run dbt on the project with the workspace's target, e.g. tierwise dbt -- docs generate",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's arguments (after --)")
    dbt.set_defaults(func=cmd_dbt)

    metrics = command(
        "metrics",
        help="query the semantic layer with MetricFlow's mf on the workspace's warehouse, e.g. "
        "tierwise metrics -- query --saved-query tier_overview (docs/semantic-layer.md)",
    )
    metrics.add_argument("mf_args", nargs=argparse.REMAINDER, help="mf's arguments (after --)")
    metrics.set_defaults(func=cmd_metrics)

    spark = command(
        "spark",
        help="start, stop or show the local Spark Connect server (TIERWISE_ENGINE=spark without "
        "TIERWISE_SPARK_REMOTE: stages start it when needed, and it stays up until stopped)",
    )
    spark.add_argument("action", choices=("start", "stop", "status"), help="what to do")
    spark.set_defaults(func=cmd_spark)

    air = command(
        "airflow",
        help="the Airflow UI on this workspace: api-server, scheduler, dag-processor and triggerer "
        "(SQLite metadata in .airflow) until Ctrl-C",
    )
    air.add_argument("--host", default="127.0.0.1", help="address the UI listens on")
    air.add_argument("--port", type=int, default=8080, help="port of the UI and the REST API")
    air.add_argument(
        "--login",
        action="store_true",
        help="ask for a login (user admin, generated password file); always so off 127.0.0.1",
    )
    air.set_defaults(func=cmd_airflow)
    return parser


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse, set up logging in the workspace and run the chosen command; an error is exit code 1.

    Shared with the dev tools' command (``tierwise-dev``). The workspace's settings are read here,
    once, and reach the command as ``args.settings``.
    """
    from tierwise.console import configure_cli_logging
    from tierwise.context import workspace

    args = parser.parse_args(argv)
    try:
        args.settings = workspace()
        configure_cli_logging(args.settings.log_dir, verbose=args.verbose)
        return int(args.func(args))
    except TierwiseError as error:
        print(f"{parser.prog} {args.command}: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv)


def entry_point() -> None:
    """Console script: exit without interpreter teardown once everything is flushed.

    GX and duckdb-engine imported together make DuckDB's bindings print pages of
    "nanobind: leaked ..." at teardown, which would bury the run's own output.
    """
    import logging
    import os

    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
