"""The seam between the stages and the warehouse engine.

Every stage reaches the warehouse through an :class:`Engine`: ingest's writes, the quality
gates' GX execution engine, publishing's diff and sync state, the build state and the BI
snapshot open connections with :meth:`Engine.connect`; the transform stage gets dbt's target
from :meth:`Engine.dbt_env` and runs dbt through :meth:`Engine.exclusive`. DuckDB is the one
implementation today (:mod:`tierwise.engine.duckdb`). The shape is the one a Spark engine needs
too: a connection that speaks SQL with DB-API's ``execute``/``fetchone``/``fetchall``, a dbt
target given as values for the profile's ``env_var()`` calls, and a way to wait for the
warehouse to be free (DuckDB's single writer; a no-op where the engine has none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tierwise.settings import EngineName

if TYPE_CHECKING:
    import duckdb

T = TypeVar("T")


class WarehouseBusyError(Exception):
    """A program that opens the warehouse itself (dbt) found it held by another writer.

    Raised inside :meth:`Engine.exclusive`, which waits and tries again.
    """


class Connection(Protocol):
    """The part of a DB-API connection the stages use to read and write the warehouse."""

    def execute(self, query: str, parameters: object = None, /) -> Any: ...

    def fetchone(self) -> tuple[Any, ...] | None: ...

    def fetchall(self) -> list[tuple[Any, ...]]: ...

    def begin(self) -> Any: ...

    def commit(self) -> Any: ...

    def rollback(self) -> Any: ...


class Engine(Protocol):
    """A warehouse engine: where the schemas raw, quarantine, ops, staging and marts live."""

    @property
    def name(self) -> EngineName: ...

    @property
    def location(self) -> str:
        """Where the warehouse is, for messages (a file path, a server URL)."""
        ...

    def exists(self) -> bool:
        """True once anything has been written to the warehouse."""
        ...

    def connect(self, *, read_only: bool = False) -> AbstractContextManager[Any]:
        """A connection to the warehouse (waiting for it if another writer holds it)."""
        ...

    def exclusive(self, work: Callable[[], T]) -> T:
        """Run ``work``, which opens the warehouse itself (dbt), once the warehouse is free."""
        ...

    def busy(self, message: str) -> bool:
        """True when a failure's message says another writer holds the warehouse."""
        ...

    def dbt_env(self) -> Mapping[str, str]:
        """Values for the ``env_var()`` calls of dbt_project/profiles.yml that select this engine."""
        ...

    def dbt_launcher(self) -> str:
        """The Python code that runs dbt's command line for this engine (``python -c``)."""
        ...

    def attach_to(self, con: duckdb.DuckDBPyConnection, alias: str) -> None:
        """Make the warehouse readable from a local DuckDB connection under ``alias`` (BI snapshot)."""
        ...

    def after_ingest(self, con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, Any]:
        """Hand the raw ``tables`` ingest just wrote through ``con`` on to where dbt reads them."""
        ...

    def after_build(self) -> dict[str, Any]:
        """Bring what dbt built to where publishing and BI read it (:meth:`connect`)."""
        ...


def fetch_all(con: Connection, query: str, parameters: object = None) -> list[tuple[Any, ...]]:
    """Every row of ``query``."""
    con.execute(query, parameters)
    return con.fetchall()


def list_tables(con: Connection, schema: str) -> list[str]:
    """The tables (not views) of ``schema``, by name."""
    rows = fetch_all(
        con,
        "select table_name from information_schema.tables "
        "where table_schema = ? and table_type = 'BASE TABLE' order by table_name",
        [schema],
    )
    return [str(row[0]) for row in rows]


def column_names(con: Connection, schema: str, table: str) -> list[str]:
    """The columns of ``schema.table`` in their order; none when it does not exist."""
    rows = fetch_all(
        con,
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table],
    )
    return [str(row[0]) for row in rows]


def table_exists(con: Connection, schema: str, table: str) -> bool:
    con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    )
    row = con.fetchone()
    return bool(row and row[0])


@contextmanager
def transaction(con: Connection) -> Iterator[None]:
    """All statements inside or none: an error, or a kill before the commit, changes nothing."""
    con.begin()
    try:
        yield
        con.commit()
    except BaseException:
        con.rollback()
        raise
