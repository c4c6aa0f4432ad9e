"""``tierwise-dev``: sample exports, the demo and the benchmark (the stages: ``tierwise``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path


def cmd_generate(args: argparse.Namespace) -> int:
    from tierwise.console import progress
    from tierwise_dev.generate import generate

    result = generate(
        Path(args.out),
        customers=args.customers,
        orders=args.orders,
        seed=args.seed,
        dirty=args.dirty,
        start=args.start,
        end=args.end,
        progress=not args.no_progress,
    )
    progress(
        "generate",
        f"{args.customers:,} customers, {args.orders:,} orders -> {args.out} "
        f"in {result.elapsed_seconds:.1f}s",
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tierwise_dev.demo import run_demo

    return run_demo(customers=args.customers, orders=args.orders, seed=args.seed, dirty=args.dirty)


def cmd_bench(args: argparse.Namespace) -> int:
    from tierwise_dev.bench import run_bench

    sizes = [int(size) for size in args.sizes.split(",")]
    engines = [name.strip() for name in args.engines.split(",")] if args.engines else None
    path = run_bench(sizes, Path(args.out), quick=args.quick, engines=engines)
    print(f"benchmark results: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tierwise.cli import iso_date, top_parser

    parser, command = top_parser("tierwise-dev", __doc__)

    gen = command("generate", help="write deterministic sample exports")
    gen.add_argument("--out", required=True, help="folder the exports are written to")
    gen.add_argument("--customers", type=int, default=5_000, help="customers in the CRM export")
    gen.add_argument("--orders", type=int, default=50_000, help="orders (an order has one or more lines)")
    gen.add_argument("--seed", type=int, default=42, help="the same seed writes the same files")
    gen.add_argument("--dirty", type=float, default=0.0, help="share of bad rows added (e.g. 0.01)")
    gen.add_argument("--start", type=iso_date, default=date(2024, 1, 1), help="first order day")
    gen.add_argument("--end", type=iso_date, default=date(2025, 12, 31), help="last order day")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    demo = command("demo", help="sample data + the main DAG through Airflow (airflow dags test)")
    demo.add_argument("--customers", type=int, default=5_000, help="customers in the sample")
    demo.add_argument("--orders", type=int, default=60_000, help="orders in the sample")
    demo.add_argument("--seed", type=int, default=7, help="the sample's seed")
    demo.add_argument("--dirty", type=float, default=0.005, help="share of bad rows in the sample")
    demo.set_defaults(func=cmd_demo)

    bench = command("bench", help="benchmark every stage against the floor and a pandas baseline")
    bench.add_argument("--sizes", default="100000", help="order counts, comma-separated")
    bench.add_argument("--out", default="bench/results", help="folder for the results (JSON and Markdown)")
    bench.add_argument("--quick", action="store_true", help="skip the slowest stages (CI smoke test)")
    bench.add_argument(
        "--engines",
        help="engines to run the stages on, comma-separated: duckdb, spark (Spark local[2] on a server "
        "the bench starts and stops; needs Java 17); default both, duckdb only with --quick",
    )
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from tierwise.cli import run_command

    return run_command(build_parser(), argv)


def entry_point() -> None:
    """Console script ``tierwise-dev``."""
    raise SystemExit(main())


if __name__ == "__main__":
    entry_point()
