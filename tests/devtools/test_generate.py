"""Sample data generator: layout, determinism, realism and the manifest's truth.

The dirty-row checks re-implement the hard rules of docs/contracts.md here, on
purpose independently of the generator, so a row the generator calls dirty but
ingestion would load (or the reverse) makes a test fail.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tierwise.exceptions import ConfigError
from tierwise.schema import (
    ACCOUNT_TYPES,
    CONTACT_STATUSES,
    CURRENCIES,
    ENTITIES,
    ORDER_STATUSES,
    PAYMENT_METHODS,
    TICKET_CATEGORIES,
    TICKET_SEVERITIES,
    TICKET_STATUSES,
)
from tierwise_dev.generate import DIRTY_KINDS, PASSING_KINDS, GenerationResult, generate
from tierwise_dev.generate.vocab import CURRENCIES as SAMPLE_CURRENCIES

CUSTOMERS = 1_500
ORDERS = 15_000
SEED = 20240101
DIRTY = 0.03
# One year keeps the file count (and the test time) down; the default window is tested on a tiny run.
START, END = date(2025, 1, 1), date(2025, 12, 31)
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MONEY = re.compile(r"-?\d+\.\d{2}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
FILE_NAME = re.compile(r"(orders|contacts|tickets)_(\d{4}-\d{2}-\d{2})\.csv")
ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "orders": {"status": ORDER_STATUSES, "currency": CURRENCIES, "payment_method": PAYMENT_METHODS},
    "contacts": {"status": CONTACT_STATUSES, "account_type": ACCOUNT_TYPES},
    "tickets": {"category": TICKET_CATEGORIES, "severity": TICKET_SEVERITIES, "status": TICKET_STATUSES},
}
AMOUNTS = {"orders": ("gross_amount", "discount_amount", "refunded_amount")}
TIMESTAMPS = {
    "orders": ("ordered_at", "updated_at"),
    "contacts": ("updated_at",),
    "tickets": ("opened_at", "resolved_at", "updated_at"),
}
DATES = {"contacts": ("signup_date",)}
ORDER_COLUMNS = {
    "order_id": "varchar",
    "line_no": "integer",
    "customer_id": "varchar",
    "ordered_at": "timestamp",
    "status": "varchar",
    "currency": "varchar",
    "gross_amount": "decimal(18,2)",
    "discount_amount": "decimal(18,2)",
    "refunded_amount": "decimal(18,2)",
    "payment_method": "varchar",
    "parent_order_id": "varchar",
    "updated_at": "timestamp",
}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    return generate(tmp_path_factory.mktemp("clean"), CUSTOMERS, ORDERS, SEED, start=START, end=END)


@pytest.fixture(scope="module")
def dirty_run(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    return generate(
        tmp_path_factory.mktemp("dirty"), CUSTOMERS, ORDERS, SEED, dirty=DIRTY, start=START, end=END
    )


@pytest.fixture(scope="module")
def con(clean_run: GenerationResult) -> Iterator[duckdb.DuckDBPyConnection]:
    """The clean run loaded once: orders (typed), latest order versions with net, contacts (text)."""
    connection = duckdb.connect()
    out = clean_run.out
    connection.execute(
        f"create table orders as select * from read_csv('{out}/orders/*.csv', header = true, "
        f"columns = {ORDER_COLUMNS!r}, filename = true)"
    )
    connection.execute(
        "create table latest as select *, case when status = 'cancelled' then 0 "
        "else gross_amount - discount_amount - refunded_amount end as net from orders "
        "qualify row_number() over (partition by order_id, line_no order by updated_at desc) = 1"
    )
    connection.execute(
        f"create table contacts as select * from read_csv('{out}/contacts/*.csv', header = true, "
        "all_varchar = true)"
    )
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def dirty_audit(dirty_run: GenerationResult) -> Audit:
    return _audit(dirty_run.out)


def _manifest(result: GenerationResult) -> dict[str, Any]:
    return json.loads(result.manifest.read_text(encoding="utf-8"))


def _digest(out: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        sha.update(path.relative_to(out).as_posix().encode())
        sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()


def _rows(out: Path, entity: str) -> Iterator[tuple[date, list[str], str]]:
    """(file date, fields, raw line) of every data line of an entity."""
    for path in sorted((out / entity).glob("*.csv")):
        file_date = date.fromisoformat(FILE_NAME.fullmatch(path.name).group(2))  # type: ignore[union-attr]
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        for line, fields in zip(lines, csv.reader(lines), strict=True):
            yield file_date, fields, line


# --- hard rules, as ingestion applies them -------------------------------------------------


def _bad_text(entity: str, row: dict[str, str]) -> bool:
    for name in AMOUNTS.get(entity, ()):
        if row[name] and not MONEY.fullmatch(row[name]):
            return True
    for name in TIMESTAMPS[entity]:
        if row[name] and not _parses(row[name], TIMESTAMP):
            return True
    return any(row[name] and not _parses(row[name], DATE) for name in DATES.get(entity, ()))


def _parses(text: str, shape: re.Pattern[str]) -> bool:
    if not shape.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _amount_kind(entity: str, row: dict[str, str]) -> str | None:
    values = [Decimal(row[name]) for name in AMOUNTS.get(entity, ()) if row[name]]
    if any(v < 0 for v in values):
        return "negative_amount"
    if any(v >= Decimal(10_000_000) for v in values):
        return "absurd_amount"
    return None


def _too_late(entity: str, row: dict[str, str], file_date: date) -> bool:
    limit = file_date + timedelta(days=1)
    names = TIMESTAMPS[entity] + DATES.get(entity, ())
    return any(row[name] and date.fromisoformat(row[name][:10]) > limit for name in names)


def _soft_kind(entity: str, row: dict[str, str], customers: set[str]) -> str:
    if entity == "contacts" and not EMAIL.fullmatch(row["email"]):
        return "bad_email"
    if entity == "orders" and row["customer_id"] not in customers:
        return "unknown_customer"
    return "clean"


def _classify(entity: str, fields: list[str], file_date: date, customers: set[str]) -> str:
    columns = ENTITIES[entity].columns
    if len(fields) != len(columns):
        return "malformed_columns"
    row = dict(zip(columns, fields, strict=True))
    if any(not row[f.name] for f in ENTITIES[entity].fields if f.required):
        return "null_required"
    if _bad_text(entity, row):
        return "malformed_amount" if entity == "orders" and not _money_ok(row) else "malformed_date"
    if any(row[name] not in allowed for name, allowed in ALLOWED[entity].items() if row[name]):
        return "bad_value"
    amount_kind = _amount_kind(entity, row)
    if amount_kind:
        return amount_kind
    if _too_late(entity, row, file_date):
        return "future_date"
    return _soft_kind(entity, row, customers)


def _money_ok(row: dict[str, str]) -> bool:
    try:
        return all(Decimal(row[name]).is_finite() for name in AMOUNTS["orders"] if row[name])
    except InvalidOperation:
        return False


@dataclass
class Audit:
    """Every line of a run, classified by the hard rules."""

    kinds: dict[str, Counter[str]] = field(default_factory=dict)
    clean_orders: list[dict[str, str]] = field(default_factory=list)
    unknown_orders: list[dict[str, str]] = field(default_factory=list)


def _contact_ids(out: Path) -> set[str]:
    return {fields[0] for _, fields, _ in _rows(out, "contacts") if len(fields) == 14 and fields[0]}


def _audit(out: Path) -> Audit:
    audit = Audit()
    customers = _contact_ids(out)
    for entity in ENTITIES:
        kinds: Counter[str] = Counter()
        seen: set[tuple[date, str]] = set()
        for file_date, fields, line in _rows(out, entity):
            kind = (
                "duplicate" if (file_date, line) in seen else _classify(entity, fields, file_date, customers)
            )
            seen.add((file_date, line))
            kinds[kind] += 1
            if entity == "orders" and kind in ("clean", "unknown_customer"):
                target = audit.clean_orders if kind == "clean" else audit.unknown_orders
                target.append(dict(zip(ENTITIES["orders"].columns, fields, strict=True)))
        audit.kinds[entity] = kinds
    return audit


def _net_by_currency(rows: list[dict[str, str]]) -> dict[str, str]:
    latest: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        key = (row["order_id"], row["line_no"])
        if key not in latest or row["updated_at"] > latest[key]["updated_at"]:
            latest[key] = row
    totals = dict.fromkeys(SAMPLE_CURRENCIES, Decimal("0.00"))
    for row in latest.values():
        if row["status"] != "cancelled":
            net = (
                Decimal(row["gross_amount"])
                - Decimal(row["discount_amount"])
                - Decimal(row["refunded_amount"])
            )
            totals[row["currency"]] += net
    return {currency: f"{total:.2f}" for currency, total in totals.items()}


# --- tests ---------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(clean_run: GenerationResult, tmp_path: Path) -> None:
    again = generate(tmp_path / "again", CUSTOMERS, ORDERS, SEED, start=START, end=END)
    assert _digest(again.out) == _digest(clean_run.out)


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    start, end = date(2025, 1, 1), date(2025, 1, 31)
    one = generate(tmp_path / "one", 200, 2_000, SEED, start=start, end=end)
    other = generate(tmp_path / "other", 200, 2_000, SEED + 1, start=start, end=end)
    assert _digest(one.out) != _digest(other.out)


def test_rerun_replaces_earlier_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(out, 300, 3_000, SEED, dirty=0.1, start=date(2025, 1, 1), end=date(2025, 2, 28))
    (out / "notes.txt").write_text("keep me")
    result = generate(out, 300, 3_000, SEED, start=date(2025, 2, 1), end=date(2025, 2, 28))
    for entity in ENTITIES:
        assert sorted((out / entity).iterdir()) == list(result.files[entity])
        assert len(result.files[entity]) == 28
    assert (out / "notes.txt").read_text() == "keep me"
    assert _manifest(result)["dirty"]["total"] == 0


def test_default_window_has_one_file_per_day_with_canonical_header(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = generate(tmp_path, 30, 300, SEED)
    outside = round(time.perf_counter() - started, 3)
    days = (date(2025, 12, 31) - date(2024, 1, 1)).days + 1
    for entity, meta in ENTITIES.items():
        paths = sorted((tmp_path / entity).iterdir())
        assert paths == list(result.files[entity]) and len(paths) == days
        assert paths[0].name == f"{entity}_2024-01-01.csv" and paths[-1].name == f"{entity}_2025-12-31.csv"
        headers = {path.read_text(encoding="utf-8").split("\n", 1)[0] for path in paths}
        assert headers == {",".join(meta.columns)}
    assert result.manifest == tmp_path / "manifest.json" and result.manifest.is_file()
    assert 0 < result.elapsed_seconds <= outside + 0.001


def test_rows_land_in_the_file_of_their_updated_at_day(clean_run: GenerationResult) -> None:
    for entity in ENTITIES:
        position = ENTITIES[entity].columns.index("updated_at")
        for file_date, fields, _ in _rows(clean_run.out, entity):
            assert fields[position][:10] == file_date.isoformat()


def test_values_are_canonical_and_well_formed(
    clean_run: GenerationResult, con: duckdb.DuckDBPyConnection
) -> None:
    audit = _audit(clean_run.out)
    for entity in ENTITIES:
        assert set(audit.kinds[entity]) == {"clean"}, (entity, audit.kinds[entity])
    currencies = dict(con.execute("select currency, count(*) from latest group by 1").fetchall())
    assert currencies["EUR"] > 2 * (currencies["GBP"] + currencies["USD"]) and min(currencies.values()) > 0
    statuses = {row[0] for row in con.execute("select distinct status from latest").fetchall()}
    assert statuses == set(ORDER_STATUSES)


def test_clean_run_has_no_dirty_rows(clean_run: GenerationResult) -> None:
    manifest = _manifest(clean_run)
    assert manifest["dirty"]["total"] == 0
    assert set(manifest["dirty"]["by_kind"].values()) == {0}
    assert manifest["rows_written"] == {e: manifest["clean"][e]["rows"] for e in ENTITIES}
    assert clean_run.dirty_rows == manifest["dirty"]["by_kind"]


def test_late_refunds_arrive_as_later_versions(con: duckdb.DuckDBPyConnection) -> None:
    late = con.execute(
        "select count(*), min(date_diff('day', first.updated_at, later.updated_at)) "
        "from orders as later join orders as first using (order_id, line_no) "
        "where later.status in ('refunded', 'partially_returned') and first.status = 'completed' "
        "and later.updated_at > first.updated_at and later.filename > first.filename"
    ).fetchone()
    assert late is not None and late[0] > 100 and late[1] >= 1
    assert con.execute("select count(distinct line_no), min(line_no) from orders").fetchone() == (1, 1)


def test_split_orders_point_to_a_parent_of_the_same_customer(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        "select count(*), count(parent.order_id) filter (where parent.customer_id = child.customer_id "
        "and parent.ordered_at = child.ordered_at) from latest as child "
        "left join latest as parent on parent.order_id = child.parent_order_id "
        "where child.parent_order_id is not null"
    ).fetchone()
    assert row is not None and row[0] > 100 and row[1] == row[0]


def test_orders_follow_signup_and_belong_to_contacts(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute(
        "select count(*) filter (where orders.ordered_at::date < signup.signup_date::date), "
        "count(*) filter (where signup.customer_id is null) from latest as orders left join "
        "(select customer_id, min(signup_date) as signup_date from contacts group by 1) as signup "
        "using (customer_id)"
    ).fetchone()
    assert row == (0, 0)


def test_contacts_change_over_time(con: duckdb.DuckDBPyConnection) -> None:
    stats = con.execute(
        "select count(*) - count(distinct customer_id), count(*) filter (where is_deleted = 'true'), "
        "count(*) filter (where merged_into <> ''), count(distinct status), count(distinct account_type) "
        "from contacts"
    ).fetchone()
    assert stats is not None
    later_versions, deleted, merged, statuses, account_types = stats
    assert later_versions > CUSTOMERS // 10 and deleted > 0 and merged > 0
    assert statuses == len(CONTACT_STATUSES) and account_types == len(ACCOUNT_TYPES)


def test_top_fifth_of_customers_makes_most_revenue(con: duckdb.DuckDBPyConnection) -> None:
    share = con.execute(
        "with spend as (select customer_id, sum(net) as net from latest group by 1), "
        "ranked as (select net, row_number() over (order by net desc) as pos, count(*) over () as n "
        "from spend) select sum(net) filter (where pos <= 0.2 * n) / sum(net) from ranked"
    ).fetchone()
    assert share is not None and 0.6 <= share[0] <= 0.95


def test_manifest_truth_matches_the_written_files(
    clean_run: GenerationResult, con: duckdb.DuckDBPyConnection
) -> None:
    totals = dict(con.execute("select currency, sum(net)::varchar from latest group by 1").fetchall())
    manifest = _manifest(clean_run)
    assert manifest["truth"]["net_revenue"] == {c: totals.get(c, "0.00") for c in SAMPLE_CURRENCIES}
    counts = con.execute(
        "select count(distinct order_id), count(distinct customer_id) from latest"
    ).fetchone()
    assert counts == (manifest["distinct_orders"], manifest["customers_with_orders"])
    assert manifest["distinct_orders"] == ORDERS and manifest["distinct_customers"] == CUSTOMERS
    by_status = dict(con.execute("select status, count(*) from latest group by 1").fetchall())
    assert manifest["truth"]["latest_orders_by_status"] == by_status
    rows = dict(
        con.execute(
            "select 'orders', count(*) from orders union all select 'contacts', count(*) from contacts"
        ).fetchall()
    )
    assert rows == {e: manifest["clean"][e]["rows"] for e in rows}


def test_dirty_rows_are_counted_by_kind(dirty_run: GenerationResult, dirty_audit: Audit) -> None:
    manifest = _manifest(dirty_run)
    for entity in ENTITIES:
        found = {kind: dirty_audit.kinds[entity][kind] for kind in DIRTY_KINDS}
        assert found == manifest["dirty"]["by_entity"][entity], entity
        assert dirty_audit.kinds[entity]["clean"] == manifest["clean"][entity]["rows"]
        assert "bad_value" not in dirty_audit.kinds[entity]
    total = sum(manifest["dirty"]["by_kind"].values())
    clean_total = sum(manifest["clean"][e]["rows"] for e in ENTITIES)
    assert total == manifest["dirty"]["total"] and total == pytest.approx(DIRTY * clean_total, rel=0.01)
    assert all(manifest["dirty"]["by_kind"][kind] > 0 for kind in DIRTY_KINDS)
    passing = sum(manifest["dirty"]["passing_ingestion"][kind] for kind in PASSING_KINDS)
    assert manifest["dirty"]["quarantined"] == total - passing


def test_dirty_rows_leave_the_truth_alone(
    dirty_run: GenerationResult, clean_run: GenerationResult, dirty_audit: Audit
) -> None:
    manifest = _manifest(dirty_run)
    assert _net_by_currency(dirty_audit.clean_orders) == manifest["truth"]["net_revenue"]
    assert manifest["truth"] == _manifest(clean_run)["truth"]
    assert _net_by_currency(dirty_audit.unknown_orders) == manifest["dirty"]["unknown_customer_net_revenue"]


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path, 20, 100, SEED, start=date(2025, 1, 1), end=date(2025, 1, 10), progress=True)
    captured = capsys.readouterr()
    assert "generate" in captured.err and "8/8" in captured.err and captured.out == ""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"customers": 0},
        {"orders": -1},
        {"dirty": 1.5},
        {"seed": -3},
        {"start": date(2025, 2, 1), "end": date(2025, 1, 1)},
    ],
)
def test_invalid_parameters_are_rejected(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"customers": 10, "orders": 10, "seed": 1} | kwargs
    with pytest.raises(ConfigError):
        generate(tmp_path, **args)
    assert not (tmp_path / "manifest.json").exists()
