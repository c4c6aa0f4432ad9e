"""The semantic layer, queried for real: MetricFlow's numbers are the marts' numbers.

A fixture warehouse is built for two evaluations (2025-11-30, then 2025-12-31), so there are
tier changes between them; MetricFlow's CLI runs as ``tierwise metrics`` runs it (the saved
queries of dbt_project/models/marts/_marts__exposures.yml), and each answer is checked against
plain SQL on the marts. The descriptions dbt persists as comments reach the warehouse and the
BI snapshot.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.dbt.support import Workspace, make_workspace
from tests.support import engine_at, isolate_tierwise, settings

from tierwise.context import RunContext
from tierwise.masking import PERSONAL_COLUMNS
from tierwise.metrics import metricflow_command
from tierwise.snapshot import publish_snapshot

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

EVALUATIONS = ("2025-11-30", "2025-12-31")
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("semantic")
    patch = isolate_tierwise(root / "home")
    workspace = make_workspace(root)
    for name, value in engine_at(workspace.warehouse).dbt_env().items():
        patch.setenv(name, value)
    patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    try:
        for as_of, refresh in zip(EVALUATIONS, ((), ("--full-refresh",)), strict=True):
            # The fixture has no ops.load_manifest for incremental staging: the second build
            # refreshes, and customer_tier_history keeps the first evaluation (it ignores it).
            built = workspace.dbt(
                "build",
                "--exclude-resource-type",
                "test",
                "unit_test",
                *refresh,
                dbt_vars={"as_of_date": as_of},
            )
            assert built.success, built.exception or built.failures
        yield workspace
    finally:
        patch.undo()


def mf_rows(workspace: Workspace, tmp_path: Path, *args: str) -> list[dict[str, str]]:
    """``mf <args> --csv`` run the way ``tierwise metrics`` runs it, on the workspace; its rows."""
    ctx = RunContext.create(
        "test_semantic", settings=settings(workspace.warehouse, dbt_project_dir=workspace.project)
    )
    out = tmp_path / "answer.csv"
    command = metricflow_command(ctx, ["--", *args, "--csv", str(out)])
    done = subprocess.run(
        command.argv, env=command.env, cwd=command.cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and out.exists(), done.stdout + done.stderr
    with out.open(newline="", encoding="utf-8") as answer:
        return list(csv.DictReader(answer))


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def share(value: Any) -> float:
    return round(float(value or 0), 6)


def test_customers_revenue_and_share_per_tier_match_tier_summary(
    workspace: Workspace, tmp_path: Path
) -> None:
    rows = mf_rows(workspace, tmp_path, "query", "--saved-query", "tier_overview")
    got = {
        (row["metric_time__month"][:10], row["customer_evaluation__tier_code"]): (
            int(row["customers"]),
            money(row["net_revenue"]),
            share(row["revenue_share"]),
        )
        for row in rows
    }
    expected = {
        (str(month), tier): (customers, money(revenue), share(revenue_share))
        for month, tier, customers, revenue, revenue_share in workspace.query(
            "select evaluation_month, tier_code, customers_count, revenue, revenue_share "
            "from marts.tier_summary where customers_count > 0"
        )
    }
    assert len({month for month, _ in expected}) == len(EVALUATIONS)
    assert got == expected


def test_revenue_share_per_abc_class_is_the_share_of_the_whole_evaluation(
    workspace: Workspace, tmp_path: Path
) -> None:
    """A ratio metric: each class's window revenue over the evaluation's, also with a filter on the tier."""
    rows = mf_rows(
        workspace,
        tmp_path,
        "query",
        "--metrics",
        "revenue_share,customers",
        "--group-by",
        "metric_time__month,customer_evaluation__abc_class",
        "--where",
        "{{ Dimension('customer_evaluation__tier_code') }} <> 'unrated'",
    )
    got = {
        (row["metric_time__month"][:10], row["customer_evaluation__abc_class"]): (
            share(row["revenue_share"]),
            int(row["customers"]),
        )
        for row in rows
    }
    expected = {
        (str(month), abc_class): (share(class_share), customers)
        for month, abc_class, class_share, customers in workspace.query(
            "with totals as (select evaluation_month, sum(window_net_revenue) as revenue "
            "from marts.customer_tier_history group by all) "
            "select history.evaluation_month, history.abc_class, "
            "sum(history.window_net_revenue) / max(totals.revenue), count(*) "
            "from marts.customer_tier_history as history inner join totals using (evaluation_month) "
            "where history.tier_code <> 'unrated' group by all"
        )
    }
    assert got == expected
    assert all(0 < value[0] < 1 for value in got.values())


def test_tier_movements_per_evaluation_match_tier_changes(workspace: Workspace, tmp_path: Path) -> None:
    rows = mf_rows(workspace, tmp_path, "query", "--saved-query", "tier_movements")
    kinds = ("upgrade", "downgrade", "entry", "exit")
    metrics = ("upgrades", "downgrades", "entries", "exits")
    got = {row["metric_time__month"][:10]: tuple(int(row[metric]) for metric in metrics) for row in rows}
    counted = workspace.query(
        "select cast(date_trunc('month', as_of_date) as date), change_type, count(*) "
        "from marts.tier_changes group by all"
    )
    expected: dict[str, list[int]] = {}
    for month, kind, count in counted:
        expected.setdefault(str(month), [0] * len(kinds))[kinds.index(kind)] = count
    assert got == {month: tuple(counts) for month, counts in expected.items()}
    assert got["2025-12-01"][0] >= 1, "the fixture's second evaluation has an upgrade"


def _comments(path: Path, schema: str) -> dict[str, str | None]:
    with duckdb.connect(str(path), read_only=True) as con:
        relations = con.execute(
            "select table_name, comment from duckdb_tables() where schema_name = ? and not internal "
            "union all select view_name, comment from duckdb_views() where schema_name = ? and not internal",
            [schema, schema],
        ).fetchall()
        columns = con.execute(
            "select table_name || '.' || column_name, comment from duckdb_columns() "
            "where schema_name = ? and not internal",
            [schema],
        ).fetchall()
    return dict(relations + columns)


def test_descriptions_reach_the_warehouse_and_the_bi_snapshot(workspace: Workspace, tmp_path: Path) -> None:
    """persist_docs: every mart and column has its description as a comment, also in the snapshot."""
    in_warehouse = _comments(workspace.warehouse, "marts")
    assert len(in_warehouse) > 150
    assert in_warehouse["customer_tiers.tier_code"] == "Tier held."
    assert str(in_warehouse["customer_tiers"]).startswith("The current evaluation: one row per customer")
    missing = sorted(name for name, comment in in_warehouse.items() if not comment)
    assert missing == []
    engine = engine_at(workspace.warehouse)
    snapshot, _, _ = publish_snapshot(engine.settings, engine, tmp_path / "bi" / "marts.duckdb")
    kept = {
        name: comment
        for name, comment in in_warehouse.items()
        if name.rpartition(".")[2].lower() not in PERSONAL_COLUMNS
    }
    assert _comments(snapshot, "main") == kept
