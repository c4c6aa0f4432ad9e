"""Finding a source's files, their export date and their checksum.

Local paths are listed with Python's glob; object-storage URLs (``s3://``...) are
listed and hashed by DuckDB itself (httpfs), so remote bytes never pass
through Python.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb

from tierwise.exceptions import CorruptFileError, IngestError
from tierwise.ingest.config import FormatOptions, SourceConfig

REMOTE_PREFIXES = ("s3://", "s3a://", "s3n://", "r2://", "gcs://", "gs://", "http://", "https://")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceFile:
    path: str
    """Absolute local path, or the URL of a remote object."""
    file_date: date | None

    @property
    def remote(self) -> bool:
        return is_remote(self.path)


@dataclass(frozen=True)
class FileStat:
    size: int
    checksum: str


def is_remote(path: str) -> bool:
    return path.lower().startswith(REMOTE_PREFIXES)


def is_gzipped(fmt: FormatOptions, path: str) -> bool:
    return fmt.type != "parquet" and (
        fmt.compression == "gzip" or (fmt.compression == "auto" and path.lower().endswith(".gz"))
    )


def resolve_pattern(config: SourceConfig, data_dir: Path) -> str:
    """The pattern as an absolute path or URL; ``${VAR}`` and ``~`` are expanded."""
    pattern = os.path.expanduser(os.path.expandvars(config.files.pattern))
    if is_remote(pattern) or os.path.isabs(pattern):
        return pattern
    return str((data_dir / pattern).resolve())


def list_files(con: duckdb.DuckDBPyConnection, config: SourceConfig, data_dir: Path) -> list[SourceFile]:
    """The files a config points at, oldest export date first; an error if there are none."""
    pattern = resolve_pattern(config, data_dir)
    paths = _list_remote(con, pattern) if is_remote(pattern) else _list_local(pattern)
    if not paths:
        raise IngestError(
            f"{config.origin}: files.pattern {config.files.pattern!r} matched no files "
            f"(looked for {pattern}); check the pattern and the data directory"
        )
    files = [SourceFile(path, file_date_of(path, config)) for path in paths]
    return sorted(files, key=lambda f: (f.file_date or date.max, f.path))


def _list_local(pattern: str) -> list[str]:
    if os.path.isdir(pattern):
        pattern = os.path.join(pattern, "*")
    matches = glob.glob(pattern, recursive=True)
    return [os.path.abspath(path) for path in matches if os.path.isfile(path)]


def _list_remote(con: duckdb.DuckDBPyConnection, pattern: str) -> list[str]:
    if not any(char in pattern for char in "*?["):
        return [pattern]
    try:
        return [row[0] for row in con.execute("select file from glob(?)", [pattern]).fetchall()]
    except duckdb.Error as error:
        raise IngestError(f"could not list {pattern}: {error}") from None


def file_date_of(path: str, config: SourceConfig) -> date | None:
    """The export date written in the file name (the last match of files.date_pattern)."""
    found = re.findall(config.files.date_pattern, os.path.basename(path))
    if not found:
        return None
    try:
        return datetime.strptime(found[-1], config.files.date_format).date()
    except ValueError:
        return None


def stat_file(
    con: duckdb.DuckDBPyConnection, source: SourceFile, *, gzipped: bool = False
) -> FileStat | None:
    """Size and sha256 of a file, or None when it vanished after it was listed.

    A local gzip file is decompressed in the same pass, so that a damaged one (bad CRC, cut
    short) is a CorruptFileError here: DuckDB's reader does not check the gzip trailer and
    would load the altered bytes.
    """
    if source.remote:
        return _stat_remote(con, source.path)
    try:
        with open(source.path, "rb") as handle:
            reader = _HashingReader(handle)
            if gzipped:
                _check_gzip(reader, source.path)
            while reader.read(_CHUNK):
                pass
    except FileNotFoundError:
        return None
    return FileStat(size=reader.size, checksum=reader.digest.hexdigest())


class _HashingReader(io.RawIOBase):
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def _check_gzip(reader: _HashingReader, path: str) -> None:
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as unzipped:
            while unzipped.read(_CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptFileError(path, f"the gzip data is damaged ({error})") from None


def _stat_remote(con: duckdb.DuckDBPyConnection, path: str) -> FileStat | None:
    try:
        row = con.execute("select size, sha256(content) from read_blob(?)", [path]).fetchone()
    except duckdb.IOException:
        return None
    return FileStat(size=int(row[0]), checksum=str(row[1])) if row else None


def exists(source: SourceFile) -> bool:
    return source.remote or os.path.exists(source.path)
