"""Turn columnar rows into daily CSV files.

DuckDB formats every row into one finished CSV line (in parallel); Python then
copies each day's contiguous run of line bytes straight from the Arrow buffer
into that day's file. Rows are sorted before formatting, and DuckDB keeps
insertion order, so the bytes are the same on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from tierwise.schema import ENTITIES
from tierwise_dev.generate import vocab
from tierwise_dev.generate.common import DAY, EPOCH, Params, Rows, sort_index
from tierwise_dev.generate.dirty import KIND

BATCH_ROWS = 1_000_000
# Text that no parser takes as an amount or a date (one quoted so its comma stays inside the field).
BAD_TEXT = {
    "malformed_amount": ('"12,3x"', "12.3.4", "EUR 12x", "1O.50"),
    "malformed_timestamp": ("2024-02-30 10:00:00", "2025-13-01 08:15:00", "yesterday", "31.12.2024 25:61"),
    "malformed_date": ("2024-02-30", "2025-13-01", "yesterday", "31.12.2024"),
}
# (entity, column) -> (dirty kind, bad values); bad e-mails are derived from the valid address.
TEXT_DEFECTS = {
    ("orders", "gross_amount"): ("malformed_amount", BAD_TEXT["malformed_amount"]),
    ("orders", "ordered_at"): ("malformed_date", BAD_TEXT["malformed_timestamp"]),
    ("tickets", "opened_at"): ("malformed_date", BAD_TEXT["malformed_timestamp"]),
    ("contacts", "signup_date"): ("malformed_date", BAD_TEXT["malformed_date"]),
}
BAD_EMAILS = (
    "replace({e}, '@', ' at ')",
    "replace({e}, '@', '@@')",
    "split_part({e}, '@', 1) || '@'",
    "replace({e}, '.', ' ')",
    "split_part({e}, '@', 1) || '@example'",
)


@dataclass(frozen=True)
class Widths:
    """Zero-padded digits of generated ids."""

    order: int
    customer: int
    ticket: int


ARROW_TYPES = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
}


def _bitmap(flags: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(flags, bitorder="little"))


def _arrow(
    values: np.ndarray, arrow_type: pa.DataType | None = None, missing: np.ndarray | None = None
) -> pa.Array:
    """Arrow view of a numpy array.

    Built from buffers because ``pa.array`` imports pandas, which costs seconds
    per process and is not needed here.
    """
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        data, arrow_type = _bitmap(values), pa.bool_()
    else:
        data, arrow_type = pa.py_buffer(values), arrow_type or ARROW_TYPES[values.dtype]
    if missing is None or not missing.any():
        return pa.Array.from_buffers(arrow_type, len(values), [None, data], null_count=0)
    return pa.Array.from_buffers(
        arrow_type, len(values), [_bitmap(~missing), data], null_count=int(missing.sum())
    )


def _strings(values: tuple[str, ...]) -> pa.Array:
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, np.int32)
    offsets[1:] = np.cumsum([len(value) for value in encoded])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers, null_count=0)


def _codes(codes: np.ndarray, values: tuple[str, ...]) -> pa.DictionaryArray:
    """Small-integer codes as a dictionary column; negative codes become NULL."""
    indices = _arrow(codes.astype(np.int16, copy=False), missing=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, _strings(values))


def _timestamps(seconds: np.ndarray, nullable: bool = False) -> pa.Array:
    values = seconds.astype(np.int64, copy=False)
    return _arrow(values, pa.timestamp("s"), missing=seconds == 0 if nullable else None)


def _id(prefix: str, column: str, width: int) -> str:
    return f"'{prefix}' || lpad({column}::varchar, {width}, '0')"


def _money(column: str) -> str:
    # Integer cents / 100 as DOUBLE is exact to the cent at these magnitudes; DECIMAL prints 2 places.
    return f"({column} / 100)::decimal(18, 2)::varchar"


def _orders(rows: Rows, w: Widths) -> tuple[dict[str, pa.Array], dict[str, str]]:
    source = {
        "key": _arrow(rows["key"]),
        "cust": _arrow(rows["cust"]),
        "ordered": _timestamps(rows["ordered"]),
        "status": _codes(rows["status"], vocab.ORDER_STATUSES),
        "currency": _codes(rows["currency"], vocab.CURRENCIES),
        "gross": _arrow(rows["gross"]),
        "discount": _arrow(rows["discount"]),
        "refunded": _arrow(rows["refunded"]),
        "payment": _codes(rows["payment"], vocab.PAYMENT_METHODS),
        "parent": _arrow(rows["parent"]),
        "updated": _timestamps(rows["updated"]),
    }
    fields = {
        "order_id": _id("O", "key", w.order),
        "line_no": "'1'",
        "customer_id": _id("C", "cust", w.customer),
        "ordered_at": "ordered::varchar",
        "status": "status::varchar",
        "currency": "currency::varchar",
        "gross_amount": _money("gross"),
        "discount_amount": _money("discount"),
        "refunded_amount": _money("refunded"),
        "payment_method": "payment::varchar",
        "parent_order_id": f"case when parent > 0 then {_id('O', 'parent', w.order)} end",
        "updated_at": "updated::varchar",
    }
    return source, fields


def _name_parts(rows: Rows) -> dict[str, pa.Array]:
    firsts, lasts = zip(*vocab.FIRST_NAMES, strict=True), zip(*vocab.LAST_NAMES, strict=True)
    first_display, first_ascii = (tuple(x) for x in firsts)
    last_display, last_ascii = (tuple(x) for x in lasts)
    return {
        "first": _codes(rows["first"], first_display),
        "first_ascii": _codes(rows["first"], first_ascii),
        "last": _codes(rows["last"], last_display),
        "last_ascii": _codes(rows["last"], last_ascii),
        "word": _codes(rows["word"], vocab.BUSINESS_WORDS),
        "suffix": _codes(rows["country"], vocab.BUSINESS_SUFFIX),
        "domain": _codes(rows["domain"], vocab.EMAIL_DOMAINS),
    }


CONTACT_NAME = """case acct_code
    when 0 then first || ' ' || last
    when 1 then last || ' ' || word || ' ' || suffix
    when 2 then 'Test Account ' || key::varchar
    else 'Tierwise Internal - ' || first || ' ' || last end"""
CONTACT_EMAIL = """case acct_code
    when 0 then first_ascii || '.' || last_ascii || key::varchar || '@' || domain
    when 1 then 'info.' || key::varchar || '@' || last_ascii || '-' || lower(word) || '.example'
    when 2 then 'qa+' || key::varchar || '@tierwise.example'
    else first_ascii || '.' || last_ascii || '.' || key::varchar || '@tierwise.example' end"""


def _contacts(rows: Rows, w: Widths) -> tuple[dict[str, pa.Array], dict[str, str]]:
    country = rows["country"]
    source = {
        "key": _arrow(rows["key"]),
        "acct_code": _arrow(rows["acct"]),
        **_name_parts(rows),
        "calling": _codes(country, vocab.CALLING_CODES),
        "phone": _arrow(rows["phone"]),
        "acct": _codes(rows["acct"], vocab.ACCOUNT_TYPES),
        "industry": _codes(rows["industry"], vocab.INDUSTRIES),
        "region": _codes(np.asarray(vocab.COUNTRY_REGION, np.int8)[country], vocab.REGIONS),
        "country": _codes(country, vocab.COUNTRY_CODES),
        "status": _codes(rows["status"], vocab.CONTACT_STATUSES),
        "verified": _arrow(rows["verified"]),
        "signup": _arrow(rows["signup_day"].astype(np.int32), pa.date32()),
        "updated": _timestamps(rows["updated"]),
        "deleted": _arrow(rows["deleted"]),
        "merged": _arrow(rows["merged"]),
    }
    fields = {
        "customer_id": _id("C", "key", w.customer),
        "customer_name": CONTACT_NAME,
        "email": CONTACT_EMAIL,
        "phone": "case when phone > 0 then '+' || calling || ' ' || phone::varchar end",
        "account_type": "acct::varchar",
        "industry": "industry::varchar",
        "region": "region::varchar",
        "country": "country::varchar",
        "status": "status::varchar",
        "is_verified": "verified::varchar",
        "signup_date": "signup::varchar",
        "updated_at": "updated::varchar",
        "is_deleted": "deleted::varchar",
        "merged_into": f"case when merged > 0 then {_id('C', 'merged', w.customer)} end",
    }
    return source, fields


def _tickets(rows: Rows, w: Widths) -> tuple[dict[str, pa.Array], dict[str, str]]:
    source = {
        "key": _arrow(rows["key"]),
        "cust": _arrow(rows["cust"]),
        "opened": _timestamps(rows["opened"]),
        "category": _codes(rows["category"], vocab.TICKET_CATEGORIES),
        "severity": _codes(rows["severity"], vocab.TICKET_SEVERITIES),
        "status": _codes(rows["status"], vocab.TICKET_STATUSES),
        "resolved": _timestamps(rows["resolved"], nullable=True),
        "updated": _timestamps(rows["updated"]),
    }
    fields = {
        "ticket_id": _id("T", "key", w.ticket),
        "customer_id": _id("C", "cust", w.customer),
        "opened_at": "opened::varchar",
        "category": "category::varchar",
        "severity": "severity::varchar",
        "status": "status::varchar",
        "resolved_at": "resolved::varchar",
        "updated_at": "updated::varchar",
    }
    return source, fields


BUILDERS = {"orders": _orders, "contacts": _contacts, "tickets": _tickets}


def _pick(values: list[str]) -> str:
    return f"[{', '.join(values)}][variant % {len(values)} + 1]"


def _with_defects(entity: str, fields: dict[str, str], kinds: set[str]) -> dict[str, str]:
    """Wrap field expressions so the dirty rows present in this run render broken."""
    out = dict(fields)
    for (owner, column), (kind, bad) in TEXT_DEFECTS.items():
        if owner == entity and kind in kinds:
            values = [f"'{text}'" for text in bad]
            out[column] = f"case when kind = {KIND[kind]} then {_pick(values)} else {out[column]} end"
    if entity == "contacts" and "bad_email" in kinds:
        bad_emails = [template.format(e=f"({fields['email']})") for template in BAD_EMAILS]
        out["email"] = (
            f"case when kind = {KIND['bad_email']} then {_pick(bad_emails)} else {out['email']} end"
        )
    if "null_required" in kinds:
        required = [f.name for f in ENTITIES[entity].fields if f.required]
        for j, column in enumerate(required):
            test = f"kind = {KIND['null_required']} and variant % {len(required)} = {j}"
            out[column] = f"case when {test} then null else {out[column]} end"
    return out


def _csv_line(parts: list[str]) -> str:
    """Fields joined by commas, newline-terminated; ``concat`` skips NULLs, so no coalesce is needed."""
    return "concat(" + ", ',', ".join(parts) + ", chr(10))"


def line_sql(entity: str, fields: dict[str, str], kinds: set[str]) -> str:
    """SELECT producing (day, line) in row order; ``line`` is one finished CSV line."""
    columns = ENTITIES[entity].columns
    exprs = _with_defects(entity, fields, kinds)
    inner = ",\n  ".join(f"{exprs[name]} as f{i}" for i, name in enumerate(columns))
    names = [f"f{i}" for i in range(len(columns))]
    line = _csv_line(names)
    if "malformed_columns" in kinds:
        extra = _csv_line([*names, "'unexpected'", "'columns'"])
        broken = f"case when variant % 2 = 0 then {extra} else {_csv_line(names[:3])} end"
        line = f"case when kind = {KIND['malformed_columns']} then {broken} else {line} end"
    return f"select day, {line} as line\nfrom (select day, kind, variant,\n  {inner}\n  from src)"


def sort_rows(rows: Rows) -> Rows:
    """File order: by day, then id; versions of one id and dirty copies follow in generation order."""
    return rows.take(sort_index([rows["updated"] // DAY, rows["key"]]))


def file_name(entity: str, day: int) -> str:
    return f"{entity}_{(EPOCH + timedelta(days=day)).isoformat()}.csv"


def _start_files(p: Params, entity: str, folder: Path) -> list[Path]:
    """Every day of the window gets a file, header-only when nothing changed that day."""
    header = (",".join(ENTITIES[entity].columns) + "\n").encode()
    paths = []
    for day in range(p.start_day, p.end_day + 1):
        path = folder / file_name(entity, day)
        path.write_bytes(header)
        paths.append(path)
    return paths


def _line_bytes(lines: pa.Array) -> tuple[np.ndarray, pa.Buffer]:
    """Offsets (relative to the data buffer) and data buffer of a string column."""
    if lines.null_count:
        raise RuntimeError("generate: a rendered CSV line is NULL")
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    _, offsets, data = lines.buffers()
    offs = np.frombuffer(offsets, dtype=width)[lines.offset : lines.offset + len(lines) + 1]
    return offs.astype(np.int64), data


def _day_numbers(column: pa.Array) -> np.ndarray:
    """The int32 day column as numpy, read from its buffer (``to_numpy`` would import pandas)."""
    if column.null_count or column.type != pa.int32():
        raise RuntimeError("generate: unexpected day column from DuckDB")
    values = np.frombuffer(column.buffers()[1], dtype=np.int32)
    return values[column.offset : column.offset + len(column)].astype(np.int64)


def _append_batch(batch: pa.RecordBatch, paths: list[Path], first_day: int, last_seen: int) -> int:
    days = _day_numbers(batch.column(0))
    if len(days) == 0:
        return last_seen
    if days[0] < last_seen or np.any(np.diff(days) < 0):
        raise RuntimeError("generate: rows reached the writer out of order")
    if days[-1] >= first_day + len(paths):
        raise RuntimeError("generate: a row was updated after the end of the window")
    offs, data = _line_bytes(batch.column(1))
    cuts = np.r_[0, np.flatnonzero(np.diff(days)) + 1, len(days)]
    for lo, hi in pairwise(cuts.tolist()):
        with paths[int(days[lo]) - first_day].open("ab") as handle:
            handle.write(data[int(offs[lo]) : int(offs[hi])])
    return int(days[-1])


def write_entity(
    con: duckdb.DuckDBPyConnection, p: Params, entity: str, rows: Rows, folder: Path, widths: Widths
) -> list[Path]:
    """Write the daily files of one entity; returns them in day order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = _start_files(p, entity, folder)
    source, fields = BUILDERS[entity](rows, widths)
    kinds = {name for name, code in KIND.items() if code and np.any(rows["kind"] == code)}
    table = pa.table(
        {
            "day": _arrow((rows["updated"] // DAY).astype(np.int32)),
            "kind": _arrow(rows["kind"]),
            "variant": _arrow(rows["variant"]),
            **source,
        }
    )
    con.register("src", table)
    try:
        reader = con.sql(line_sql(entity, fields, kinds)).to_arrow_reader(BATCH_ROWS)
        last_seen = p.start_day
        for batch in reader:
            last_seen = _append_batch(batch, paths, p.start_day, last_seen)
    finally:
        con.unregister("src")
    return paths
