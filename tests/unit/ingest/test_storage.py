from __future__ import annotations

import duckdb
import pytest

from tierwise.exceptions import IngestError
from tierwise.ingest import storage
from tierwise.ingest.config import S3Options


def test_secret_is_built_from_environment_variables_only() -> None:
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s3cr'et",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": "http://localhost:9000/",
    }
    sql = storage.s3_secret_sql("tierwise_orders", S3Options(url_style="path"), env)
    assert sql is not None
    assert "key_id 'AKIAEXAMPLE'" in sql and "secret 's3cr''et'" in sql
    assert "endpoint 'localhost:9000'" in sql and "use_ssl false" in sql and "url_style 'path'" in sql
    # The statement is valid DuckDB syntax (parsed, not executed: no httpfs needed for that).
    with duckdb.connect() as con:
        (statement,) = con.extract_statements(sql)
    assert statement.type == duckdb.StatementType.CREATE
    assert 'secret "tierwise_orders"' in sql


def test_custom_variable_names_and_public_buckets() -> None:
    options = S3Options(key_id_env="MINIO_USER", secret_env="MINIO_PASSWORD", endpoint_env="MINIO_URL")
    sql = storage.s3_secret_sql(
        "s", options, {"MINIO_USER": "u", "MINIO_PASSWORD": "p", "MINIO_URL": "https://m:9000"}
    )
    assert sql is not None and "key_id 'u'" in sql and "use_ssl true" in sql
    assert storage.s3_secret_sql("s", S3Options(), {}) is None


def test_remote_source_without_httpfs_gets_a_clear_error(make_config) -> None:
    config = make_config(files={"pattern": "s3://bucket/orders/*.csv"})
    with duckdb.connect() as con:
        try:
            con.execute("load httpfs")
        except duckdb.Error:
            with pytest.raises(IngestError, match="httpfs"):
                storage.prepare(con, config, "s3://bucket/orders/*.csv")
        else:
            pytest.skip("httpfs is installed here; the no-network path cannot be exercised")


def test_local_sources_need_no_extension(make_config) -> None:
    with duckdb.connect() as con:
        storage.prepare(con, make_config(), "/data/orders/*.csv")
        httpfs = "select loaded from duckdb_extensions() where extension_name = 'httpfs'"
        loaded = con.execute(httpfs).fetchall()
        secrets = con.execute("select count(*) from duckdb_secrets()").fetchone()
    assert loaded in ([], [(False,)]) and secrets == (0,)
