"""A corpus of bad inputs, one class per case, across the three entities and every format.

Each case writes one export and loads it beside a clean file of the same source. The
outcome is either a clear error naming the file, with nothing of that file written, or, per
file, ``rows read = rows loaded + rows quarantined`` with the expected number of rows read
(every physical record of the export counts) and the expected quarantine reasons; then the
clean file loads in full: a quarantined row never costs the rows of another file.
"""

from __future__ import annotations

import gzip
import io
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.support import engine_at

from tierwise.exceptions import IngestError
from tierwise.ingest import ingest_source, parse_source_config

ORDERS = "order_id,customer_id,ordered_at,status,currency,gross_amount"
ORDER = "O{n},C{n},2024-01-01 10:00:00,completed,EUR,10.00"
CONTACTS = "customer_id,account_type,status,is_verified,signup_date,updated_at"
CONTACT = "C{n},individual,active,true,2023-01-01,2024-01-01 09:00:00"
TICKETS = "ticket_id,customer_id,opened_at,category"
TICKET = "T{n},C{n},2024-01-01 08:00:00,complaint"
CLEAN = {"orders": (ORDERS, ORDER), "contacts": (CONTACTS, CONTACT), "tickets": (TICKETS, TICKET)}


@dataclass(frozen=True)
class Case:
    name: str
    content: bytes
    entity: str = "orders"
    fmt: str = "csv"
    suffix: str = ".csv"
    read: int = 0
    loaded: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error: str = ""
    """A regex the IngestError must match; the file's path must be in it too."""


def rows(entity: str, *lines: str, header: bool = True) -> bytes:
    head, _ = CLEAN[entity]
    return ("\n".join(([head] if header else []) + list(lines)) + "\n").encode()


def good(entity: str, n: int) -> str:
    return CLEAN[entity][1].format(n=n)


def jsonl(*records: object) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def parquet(table: dict[str, list[Any]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    return buffer.getvalue()


def damaged_gzip() -> bytes:
    data = bytearray(gzip.compress(rows("orders", good("orders", 7)), mtime=0))
    data[-8] ^= 0x01
    return bytes(data)


def zstd(content: bytes) -> bytes:
    """``content`` compressed with zstd, by DuckDB (the standard library has no zstd)."""
    with tempfile.TemporaryDirectory() as folder, duckdb.connect() as con:
        target = Path(folder) / "out.csv.zst"
        con.execute(
            f"copy (select unnest(?::varchar[]) as line) to '{target}' "
            "(format csv, header false, quote '', escape '', delim '\x01', compression zstd)",
            [content.decode().splitlines()],
        )
        return target.read_bytes()


ORDER_JSON = {"order_id": "O7", "customer_id": "C7", "ordered_at": "2024-01-01 10:00:00"}
ORDER_JSON |= {"status": "completed", "currency": "EUR", "gross_amount": "10.00"}

CASES = [
    Case("empty file", b"", error=r"the file is empty"),
    Case("header only", rows("orders")),
    Case(
        "truncated last line",
        rows("orders", good("orders", 7)) + b"O8,C8,2024-0",
        read=2,
        loaded=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "too many columns",
        rows("orders", good("orders", 7) + ",x", good("orders", 8)),
        read=2,
        loaded=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "too few columns",
        rows("orders", "O7,C7", good("orders", 8)),
        read=2,
        loaded=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "stray quote mid-file",
        rows(
            "orders", good("orders", 7).replace(",EUR,", ',"EUR,'), *[good("orders", n) for n in range(8, 20)]
        ),
        read=13,
        loaded=12,
        reasons={"malformed_line": 1},
    ),
    Case(
        "unterminated quote on the last line",
        rows("orders", good("orders", 7), 'O8,"C8,2024'),
        read=2,
        loaded=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "latin-1 bytes in a utf-8 export",
        rows("orders", good("orders", 7))
        + "O8,C\xe9,2024-01-01 10:00:00,completed,EUR,1\n".encode("latin-1"),
        read=2,
        loaded=1,
        reasons={"invalid_encoding": 1},
    ),
    Case("byte order mark", b"\xef\xbb\xbf" + rows("orders", good("orders", 7)), read=1, loaded=1),
    Case(
        "CRLF line endings",
        rows("orders", good("orders", 7), good("orders", 8)).replace(b"\n", b"\r\n"),
        read=2,
        loaded=2,
    ),
    Case(
        "blank lines in the middle",
        rows("orders", good("orders", 7), "", "", good("orders", 8)),
        read=2,
        loaded=2,
    ),
    Case(
        "whitespace-only line",
        rows("orders", good("orders", 7), "   ", good("orders", 8)),
        read=3,
        loaded=2,
        reasons={"malformed_line": 1},
    ),
    Case(
        "exact duplicate lines",
        rows("orders", good("orders", 7), good("orders", 7)),
        read=2,
        loaded=1,
        reasons={"duplicate": 1},
    ),
    Case(
        "NUL byte in an id",
        rows("orders", good("orders", 7).replace("C7", "C\x007")),
        read=1,
        reasons={"invalid_customer_id": 1},
    ),
    Case(
        "unreadable date",
        rows("orders", good("orders", 7).replace("2024-01-01 10", "2024-13-45 10")),
        read=1,
        reasons={"invalid_ordered_at": 1},
    ),
    Case(
        "date after the export date",
        rows("orders", good("orders", 7).replace("2024-01-01", "2030-01-01")),
        read=1,
        reasons={"future_ordered_at": 1},
    ),
    Case(
        "negative amount",
        rows("orders", good("orders", 7).replace("10.00", "-3")),
        read=1,
        reasons={"negative_gross_amount": 1},
    ),
    Case(
        "absurd amount",
        rows("orders", good("orders", 7).replace("10.00", "99999999")),
        read=1,
        reasons={"absurd_gross_amount": 1},
    ),
    Case(
        "NaN and Infinity amounts",
        rows(
            "orders",
            good("orders", 7).replace("10.00", "NaN"),
            good("orders", 8).replace("10.00", "Infinity"),
        ),
        read=2,
        reasons={"invalid_gross_amount": 2},
    ),
    Case(
        "unknown status and currency",
        rows(
            "orders", good("orders", 7).replace("completed", "lost"), good("orders", 8).replace("EUR", "EURO")
        ),
        read=2,
        reasons={"unknown_status": 1, "unknown_currency": 1},
    ),
    Case(
        "missing required value",
        rows("orders", good("orders", 7).replace("C7", "")),
        read=1,
        reasons={"missing_customer_id": 1},
    ),
    Case(
        "wrong delimiter", rows("orders", good("orders", 7)).replace(b",", b";"), error=r"one single column"
    ),
    Case(
        "missing required column",
        b"order_id,ordered_at,status,currency,gross_amount\nO7,2024-01-01 10:00:00,completed,EUR,1\n",
        error=r"no column for required field 'customer_id'",
    ),
    Case(
        "a new column (schema drift)",
        b"order_id,customer_id,ordered_at,status,currency,gross_amount,"
        b"coupon\nO7,C7,2024-01-01 10:00:00,completed,EUR,1,SPRING\n",
        read=1,
        loaded=1,
    ),
    Case("damaged gzip", damaged_gzip(), suffix=".csv.gz", error=r"the gzip data is damaged"),
    Case(
        "zstd export with a stray quote",
        zstd(
            rows(
                "orders",
                good("orders", 7).replace(",EUR,", ',"EUR,'),
                *[good("orders", n) for n in range(8, 14)],
            )
        ),
        suffix=".csv.zst",
        read=7,
        loaded=6,
        reasons={"malformed_line": 1},
    ),
    Case(
        "a 1 MB field",
        rows("orders", good("orders", 7) + ',"' + "x" * 1_000_000 + '"'),
        read=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "quoted line break (legitimate)",
        rows("orders", 'O7,"C7",2024-01-01 10:00:00,completed,EUR,1', good("orders", 8))
        + b'O9,C9,2024-01-01 10:00:00,"comp\nleted",EUR,1\n',
        read=3,
        loaded=2,
        reasons={"unknown_status": 1},
    ),
    Case(
        "contacts: unreadable boolean",
        rows("contacts", good("contacts", 7).replace("true", "maybe")),
        entity="contacts",
        read=1,
        reasons={"invalid_is_verified": 1},
    ),
    Case(
        "contacts: unknown account type",
        rows("contacts", good("contacts", 7).replace("individual", "alien")),
        entity="contacts",
        read=1,
        reasons={"unknown_account_type": 1},
    ),
    Case(
        "contacts: stray quote",
        rows("contacts", good("contacts", 7).replace("active", '"active'), good("contacts", 8)),
        entity="contacts",
        read=2,
        loaded=1,
        reasons={"malformed_line": 1},
    ),
    Case(
        "tickets: unknown category",
        rows("tickets", good("tickets", 7).replace("complaint", "praise")),
        entity="tickets",
        read=1,
        reasons={"unknown_category": 1},
    ),
    Case(
        "tickets: missing opened_at",
        rows("tickets", good("tickets", 7).replace("2024-01-01 08:00:00", "")),
        entity="tickets",
        read=1,
        reasons={"missing_opened_at": 1},
    ),
    Case(
        "JSON Lines: malformed line and array",
        jsonl(ORDER_JSON, "{not json", "[1, 2]"),
        fmt="jsonl",
        suffix=".jsonl",
        read=3,
        loaded=1,
        reasons={"malformed_line": 2},
    ),
    Case(
        "JSON Lines: blank lines and nested values",
        jsonl(ORDER_JSON, "", ORDER_JSON | {"order_id": "O8", "extra": {"a": [1]}}),
        fmt="jsonl",
        suffix=".jsonl",
        read=2,
        loaded=2,
    ),
    Case(
        "JSON Lines: contacts with a number for a boolean",
        jsonl(
            {
                "customer_id": "C7",
                "account_type": "individual",
                "status": "active",
                "is_verified": 3,
                "signup_date": "2023-01-01",
                "updated_at": "2024-01-01 09:00:00",
            }
        ),
        entity="contacts",
        fmt="jsonl",
        suffix=".jsonl",
        read=1,
        reasons={"invalid_is_verified": 1},
    ),
    Case(
        "Parquet: typed columns and a null id",
        parquet(
            {
                "ticket_id": ["T7", None],
                "customer_id": ["C7", "C8"],
                "opened_at": [None, None],
                "category": ["complaint", "inquiry"],
            }
        ),
        entity="tickets",
        fmt="parquet",
        suffix=".parquet",
        read=2,
        reasons={"missing_ticket_id": 1, "missing_opened_at": 1},
    ),
    Case(
        "Parquet: a required column missing",
        parquet({"order_id": ["O7"], "ordered_at": ["2024-01-01"]}),
        fmt="parquet",
        suffix=".parquet",
        error=r"no column for required field 'customer_id'",
    ),
]


def _config(case: Case) -> Any:
    pattern = f"{case.entity}/*.csv*" if case.fmt == "csv" else f"{case.entity}/*{case.suffix}"
    data: dict[str, Any] = {
        "entity": case.entity,
        "files": {"pattern": pattern},
        "format": {"type": case.fmt},
    }
    return parse_source_config(data, origin=f"{case.entity}.yml", default_name=case.entity)


def _write_clean(data: Path, case: Case) -> Path:
    path = data / case.entity / f"{case.entity}_2024-01-01{case.suffix}"
    content: bytes = rows(case.entity, good(case.entity, 1), good(case.entity, 2))
    if case.fmt == "jsonl":
        head, line = CLEAN[case.entity]
        content = jsonl(
            *(dict(zip(head.split(","), line.format(n=n).split(","), strict=True)) for n in (1, 2))
        )
    elif case.fmt == "parquet":
        content = parquet(
            {
                "ticket_id": ["T1", "T2"],
                "customer_id": ["C1", "C2"],
                "opened_at": ["2024-01-01 08:00:00"] * 2,
                "category": ["complaint"] * 2,
            }
            if case.entity == "tickets"
            else {
                "order_id": ["O1", "O2"],
                "customer_id": ["C1", "C2"],
                "ordered_at": ["2024-01-01 10:00:00"] * 2,
                "status": ["completed"] * 2,
                "currency": ["EUR"] * 2,
                "gross_amount": ["1.00"] * 2,
            }
        )
    elif case.suffix.endswith(".gz"):
        content = gzip.compress(content)
    elif case.suffix.endswith(".zst"):
        content = zstd(content)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_quarantined_or_refused_never_lost(tmp_path: Path, case: Case) -> None:
    data = tmp_path / "data"
    clean = _write_clean(data, case)
    bad = data / case.entity / f"{case.entity}_2024-01-02{case.suffix}"
    bad.write_bytes(case.content)
    warehouse = tmp_path / "w.duckdb"

    def load() -> Any:
        return ingest_source(_config(case), engine=engine_at(warehouse), data_dir=data, run_id="corpus")

    if case.error:
        with pytest.raises(IngestError, match=case.error) as caught:
            load()
        assert str(bad) in str(caught.value)
        assert _written(warehouse, case.entity, bad) == (0, 0, 0)
        return
    report = load()
    by_path = {result.path: result for result in report.files}
    for result in report.files:
        assert result.rows_read == result.rows_loaded + result.rows_quarantined, result.path
    assert (by_path[str(clean)].rows_read, by_path[str(clean)].rows_loaded) == (2, 2)
    outcome = by_path[str(bad)]
    assert (outcome.rows_read, outcome.rows_loaded) == (case.read, case.loaded)
    assert outcome.quarantined_by_reason == case.reasons
    assert _written(warehouse, case.entity, bad)[:2] == (case.loaded, case.read - case.loaded)


def _written(warehouse: Path, entity: str, path: Path) -> tuple[int, int, int]:
    """Rows of ``path`` in raw, in quarantine, and its manifest rows."""
    if not warehouse.exists():
        return 0, 0, 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = {
            row[0]
            for row in con.execute("select schema_name || '.' || table_name from duckdb_tables()").fetchall()
        }
        counts = []
        for table, column in (
            (f"raw.{entity}", "_source_file"),
            (f"quarantine.{entity}", "_source_file"),
            ("ops.load_manifest", "file_path"),
        ):
            if table not in tables:
                counts.append(0)
                continue
            row = con.execute(f"select count(*) from {table} where {column} = ?", [str(path)]).fetchone()
            counts.append(int(row[0]) if row else 0)
    return counts[0], counts[1], counts[2]


def test_the_corpus_covers_every_entity_and_format() -> None:
    assert len(CASES) >= 25
    assert {case.entity for case in CASES} == {"orders", "contacts", "tickets"}
    assert {case.fmt for case in CASES} == {"csv", "jsonl", "parquet"}
