"""A bad rule seed stops ``tierwise build`` before anything is written.

The README promises that a bad config fails "before anything is written". Here a fixture
warehouse is built and recorded the way the pipeline does (``pipeline.build``: dbt build, then
``ops.build_state``); then each rule seed is broken in turn and the build run again for another
evaluation date. The build must fail naming the problem, and every table and view of the
warehouse (raw, staging seeds, intermediate, marts, ops.build_state) must be as before, row for row.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.support import isolate_tierwise

from tierwise.exceptions import BuildError

REPO = Path(__file__).resolve().parents[2]
FIXTURE_SQL = Path(__file__).parent / "fixtures" / "raw_fixture.sql"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A built and recorded fixture warehouse; yields the dbt project copy whose seeds tests edit."""
    from tierwise.pipeline import RunContext, build

    root = tmp_path_factory.mktemp("bad_rules")
    project = root / "dbt_project"
    shutil.copytree(
        REPO / "dbt_project",
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"),
    )
    patch = isolate_tierwise(root)
    patch.setenv("TIERWISE_DBT_PROJECT_DIR", str(project))
    patch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    warehouse = root / "warehouse" / "tierwise.duckdb"
    warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(FIXTURE_SQL.read_text(encoding="utf-8"))
    build(RunContext.create("good_build", as_of_date=date(2025, 12, 31)))
    yield project
    patch.undo()


def _warehouse_contents() -> dict[str, Any]:
    from tierwise.settings import load_settings

    with duckdb.connect(str(load_settings().warehouse), read_only=True) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall()
        contents: dict[str, Any] = {
            f"{schema}.{table}": con.execute(f'select * from "{schema}"."{table}" order by all').fetchall()
            for schema, table in tables
        }
        contents["views"] = con.execute(
            "select schema_name, view_name, sql from duckdb_views() where not internal order by all"
        ).fetchall()
    return contents


def _build_rejected(project: Path, seed: str, edit: tuple[str, str]) -> str:
    """Break one seed, run the pipeline's build for 2025-11-30; the warehouse must not change."""
    from tierwise.pipeline import RunContext, build

    path = project / "seeds" / f"{seed}.csv"
    good = path.read_text(encoding="utf-8")
    assert edit[0] in good
    before = _warehouse_contents()
    assert before["ops.build_state"] and before["marts.customer_tiers"]
    path.write_text(good.replace(*edit), encoding="utf-8")
    try:
        with pytest.raises(BuildError) as failure:
            build(RunContext.create("bad_build", as_of_date=date(2025, 11, 30)))
    finally:
        path.write_text(good, encoding="utf-8")
    after = _warehouse_contents()
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    assert not changed, f"the rejected build changed {changed}"
    return str(failure.value)


def test_a_bad_tier_ladder_writes_nothing_and_names_the_tiers(project: Path) -> None:
    message = _build_rejected(project, "tier_ladder", ("gold,Gold,3,2000.00", "gold,Gold,3,6000.00"))
    assert "seeds/tier_ladder.csv" in message
    assert (
        "platinum (tier_rank 4, min_value 5000.00) must have a higher min_value than gold "
        "(tier_rank 3, min_value 6000.00)"
    ) in message


def test_an_unreadable_tier_ladder_writes_nothing_and_names_the_file(project: Path) -> None:
    message = _build_rejected(project, "tier_ladder", ("silver,Silver,2,500.00", "silver,Silver,2,5OO.00"))
    assert "seeds/tier_ladder.csv" in message
    assert "5OO.00" in message


def test_a_bad_fx_rate_writes_nothing_and_names_the_rate(project: Path) -> None:
    message = _build_rejected(project, "fx_rates", ("USD,2024-01-01,0.92000000", "USD,2024-01-01,-0.92"))
    assert "seeds/fx_rates.csv" in message
    assert "seeds/fx_rates.csv (USD from 2024-01-01): rate_to_eur must be positive" in message


def test_a_bad_rfm_segment_writes_nothing_and_names_the_segment(project: Path) -> None:
    message = _build_rejected(project, "rfm_segments", ("loyal,Loyal,4,3,5,3,5", "loyal,Loyal,4,5,3,3,5"))
    assert "seeds/rfm_segments.csv" in message
    assert "loyal: r_min 5 is above r_max 3" in message


def test_the_good_rules_build_again(project: Path) -> None:
    """The checks pass on the shipped seeds, and a real build still records its state."""
    from tierwise.pipeline import RunContext, build

    # A full refresh: the fixture has no ops.load_manifest for incremental staging to read.
    result = build(RunContext.create("second_good_build", as_of_date=date(2025, 11, 30), full_refresh=True))
    assert "ok" in result.line
    contents = _warehouse_contents()
    assert {row[0] for row in contents["marts.customer_tiers"]} and all(
        row[1] == date(2025, 11, 30) for row in contents["marts.customer_tiers"]
    )
    # The build forgot the previous state before writing and recorded its own after.
    run_ids = [row[3] for row in sorted(contents["ops.build_state"], key=lambda row: row[4])]
    assert run_ids[-2:] == ["second_good_build", "second_good_build"]


def test_bad_rules_create_no_table_in_a_new_warehouse(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tierwise.pipeline import RunContext, build

    fresh = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("TIERWISE_WAREHOUSE", str(fresh))
    try:
        with pytest.raises(BuildError, match="abc_method"):
            build(
                RunContext.create("bad_vars", as_of_date=date(2025, 12, 31), dbt_vars={"abc_method": "foo"})
            )
    finally:
        monkeypatch.undo()
    if fresh.exists():
        with duckdb.connect(str(fresh), read_only=True) as con:
            assert con.execute("select count(*) from duckdb_tables()").fetchone() == (0,)
