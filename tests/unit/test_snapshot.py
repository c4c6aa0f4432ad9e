"""The BI snapshot: a reader holding it open never blocks the next run; no personal data by default."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from tests.support import engine_at

from tierwise.exceptions import ConfigError
from tierwise.publish.identifiers import normalise_email, normalise_phone, sha256_hex
from tierwise.settings import PersonalData, load_settings
from tierwise.snapshot import publish_snapshot


def snap(
    warehouse: Path, target: Path | None = None, personal_data: PersonalData | None = None
) -> tuple[Path, int, float]:
    """The BI snapshot of ``warehouse``, with the environment's settings or ``personal_data``."""
    changes = {"snapshot_personal_data": personal_data} if personal_data else {}
    engine = engine_at(warehouse, **changes)
    return publish_snapshot(engine.settings, engine, target)


def _warehouse(path: Path, customers: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.customer_tiers as "
            f"select i::varchar as customer_id, 'gold' as tier_code from range({customers}) t(i)"
        )


def _open_reader(snapshot: Path) -> subprocess.Popen:
    """A BI tool: opens the snapshot read-only and keeps it open until told to stop."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys
        con = duckdb.connect({str(snapshot)!r}, read_only=True)
        print(con.execute("select count(*) from customer_tiers").fetchone()[0], flush=True)
        sys.stdin.readline()
        print(con.execute("select count(*) from customer_tiers").fetchone()[0], flush=True)
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_reader_keeps_old_snapshot_while_next_run_swaps_in(tierwise_env: Path) -> None:
    warehouse = tierwise_env / "wh.duckdb"
    target = tierwise_env / "bi" / "marts.duckdb"
    _warehouse(warehouse, 10)
    snap(warehouse, target)
    reader = _open_reader(target)
    try:
        assert reader.stdout.readline().strip() == "10"
        _warehouse(warehouse, 25)
        started = time.perf_counter()
        path, tables, _ = snap(warehouse, target)
        assert time.perf_counter() - started < 30
        assert (path, tables) == (target, 1)
        with duckdb.connect(str(target), read_only=True) as con:
            assert con.execute("select count(*) from customer_tiers").fetchone()[0] == 25
        reader.stdin.write("\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "10"
    finally:
        reader.kill()
        reader.wait()
    assert not list(target.parent.glob(".*.tmp"))


def _staging_writer(staging: Path) -> subprocess.Popen:
    """Another snapshot writer: its staging file open for writing, a table written, WAL not checkpointed."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys
        con = duckdb.connect({str(staging)!r})
        con.execute("create table customer_tiers as select range as i from range(1000)")
        print("writing", flush=True)
        sys.stdin.readline()
        """
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline().strip() == "writing"
    return writer


def test_a_writer_killed_mid_copy_leaves_no_staging_file(tierwise_env: Path) -> None:
    """kill -9 during a snapshot leaves its half-written staging file: the next snapshot removes it,
    not the file of a writer still at work (it holds DuckDB's lock)."""
    warehouse = tierwise_env / "wh.duckdb"
    target = tierwise_env / "bi" / "marts.duckdb"
    _warehouse(warehouse, 10)
    target.parent.mkdir(parents=True)
    killed = _staging_writer(target.with_name(f".{target.name}.1000001.tmp"))
    killed.kill()
    killed.wait()
    working = _staging_writer(target.with_name(f".{target.name}.1000002.tmp"))
    try:
        assert sorted(path.name for path in target.parent.iterdir()) == [
            ".marts.duckdb.1000001.tmp",
            ".marts.duckdb.1000001.tmp.wal",
            ".marts.duckdb.1000002.tmp",
            ".marts.duckdb.1000002.tmp.wal",
        ]
        snap(warehouse, target)
        left = sorted(path.name for path in target.parent.iterdir())
    finally:
        working.kill()
        working.wait()
    assert left == [".marts.duckdb.1000002.tmp", ".marts.duckdb.1000002.tmp.wal", "marts.duckdb"]


def test_views_become_tables_in_the_snapshot(tierwise_env: Path) -> None:
    """dbt-duckdb's views name their tables with the warehouse's database name, as here."""
    warehouse = tierwise_env / "tierwise.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema intermediate; create schema marts")
        con.execute("create table intermediate.lines as select range as line from range(5)")
        con.execute(
            'create view marts.orders as select line * 2 as doubled from "tierwise"."intermediate"."lines"'
        )
    snapshot, relations, _ = snap(warehouse, tierwise_env / "bi" / "marts.duckdb")
    assert relations == 1
    with duckdb.connect(str(snapshot), read_only=True) as con:
        kind = con.execute("select table_type from information_schema.tables where table_name = 'orders'")
        assert kind.fetchone()[0] == "BASE TABLE"
        assert con.execute("select sum(doubled) from orders").fetchone()[0] == 20


def _customers_warehouse(path: Path) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customers as select 'C1' as customer_id, 'Ann Lee' as customer_name,"
            # A tab as an export leaves it: the CRM's normalising strips it, DuckDB's trim() does not.
            " ' Ann.Lee@Example.com' || chr(9) as email, '+44 20 7946 0123' as phone, 'EU' as region"
        )
    return path


def _snapshot_row(snapshot: Path) -> dict[str, object]:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        cursor = con.execute("select * from customers")
        return dict(zip([column[0] for column in cursor.description], cursor.fetchone(), strict=True))


def test_personal_columns_are_left_out_by_default(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERWISE_SNAPSHOT_PERSONAL_DATA", raising=False)
    warehouse = _customers_warehouse(tierwise_env / "tierwise.duckdb")
    snapshot, _, _ = snap(warehouse, tierwise_env / "bi" / "marts.duckdb")
    assert _snapshot_row(snapshot) == {"customer_id": "C1", "region": "EU"}


def test_hashed_personal_columns_match_the_crms_hashed_identifiers(
    tierwise_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERWISE_SNAPSHOT_PERSONAL_DATA", "hash")
    warehouse = _customers_warehouse(tierwise_env / "tierwise.duckdb")
    row = _snapshot_row(snap(warehouse, tierwise_env / "bi" / "marts.duckdb")[0])
    assert row["email"] == sha256_hex(normalise_email(" Ann.Lee@Example.com\t") or "")
    assert row["phone"] == sha256_hex(normalise_phone("+44 20 7946 0123") or "")
    assert row["customer_name"] == sha256_hex("ann lee")
    assert (row["customer_id"], row["region"]) == ("C1", "EU")


def test_personal_columns_kept_only_when_asked(tierwise_env: Path) -> None:
    warehouse = _customers_warehouse(tierwise_env / "tierwise.duckdb")
    snapshot, _, _ = snap(warehouse, tierwise_env / "bi" / "marts.duckdb", PersonalData.INCLUDE)
    assert _snapshot_row(snapshot)["email"] == " Ann.Lee@Example.com\t"


def test_an_unknown_personal_data_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERWISE_SNAPSHOT_PERSONAL_DATA", "encrypt")
    try:
        with pytest.raises(ConfigError, match="TIERWISE_SNAPSHOT_PERSONAL_DATA='encrypt' is not one of"):
            load_settings()
    finally:
        monkeypatch.delenv("TIERWISE_SNAPSHOT_PERSONAL_DATA")


def _snapshot_comments(snapshot: Path) -> dict[str, str | None]:
    """The copy's comments: ``table`` for each table, ``table.column`` for each column."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = con.execute("select table_name, comment from duckdb_tables() where not internal").fetchall()
        columns = con.execute(
            "select table_name || '.' || column_name, comment from duckdb_columns() where not internal"
        )
        return dict(tables + columns.fetchall())


def test_comments_reach_the_snapshot(tierwise_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's persist_docs comments (a table's, a view's and their columns') are where BI tools read them.

    A column left out as personal data takes its comment with it; a quote in a comment survives.
    """
    monkeypatch.delenv("TIERWISE_SNAPSHOT_PERSONAL_DATA", raising=False)
    warehouse = _customers_warehouse(tierwise_env / "tierwise.duckdb")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("comment on table marts.customers is 'One row per customer'")
        con.execute("comment on column marts.customers.region is 'Sales region (the CRM''s)'")
        con.execute("comment on column marts.customers.email is 'Email address'")
        con.execute("create schema intermediate")
        con.execute("create table intermediate.regions as select 'EU' as region")
        con.execute('create view marts.regions as select region from "tierwise"."intermediate"."regions"')
        con.execute("comment on view marts.regions is 'Regions'")
        con.execute("comment on column marts.regions.region is 'Sales region'")
    snapshot, relations, _ = snap(warehouse, tierwise_env / "bi" / "marts.duckdb")
    assert relations == 2
    assert _snapshot_comments(snapshot) == {
        "customers": "One row per customer",
        "customers.customer_id": None,
        "customers.region": "Sales region (the CRM's)",
        "regions": "Regions",
        "regions.region": "Sales region",
    }
