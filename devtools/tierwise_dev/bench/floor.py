"""Run the floor (``floor.sql`` beside this module): the compared mart columns in one DuckDB process.

The rule values come from ``dbt_project.yml`` and the seeds folder, the same places dbt
reads them from, so a tuned rule changes the floor and the marts alike.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import yaml

from tierwise.context import workspace
from tierwise.exceptions import ConfigError

OUTPUT_QUERY = """
select
    customer_value.*,
    customer_tiers.abc_class,
    customer_tiers.tier_code,
    customer_tiers.is_eligible
from customer_value
inner join customer_tiers
    on customer_value.customer_id = customer_tiers.customer_id
"""


def floor_sql_path() -> Path:
    return Path(__file__).with_name("floor.sql")


def project_vars(project_dir: Path) -> dict[str, Any]:
    config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    variables: dict[str, Any] = config.get("vars", {})
    return variables


def rule_variables(project_dir: Path, data_dir: Path, as_of: date) -> dict[str, Any]:
    """The DuckDB variables floor.sql reads."""
    rules = project_vars(project_dir)
    # The floor implements the default measure and ABC method only; other settings would compare wrongly.
    if rules.get("tier_measure") != "monetary" or rules.get("abc_method") != "share":
        raise ConfigError("the bench floor supports tier_measure=monetary with abc_method=share only")
    return {
        "data_dir": str(data_dir),
        "seeds_dir": str(project_dir / "seeds"),
        "as_of_date": as_of.isoformat(),
        "window_months": int(rules["evaluation_window_months"]),
        "abc_a": float(rules["abc_share_cutoffs"]["a"]),
        "abc_b": float(rules["abc_share_cutoffs"]["b"]),
        "min_tenure_months": int(rules["eligibility_min_tenure_months"]),
        "allowed_statuses": [str(status) for status in rules["eligibility_allowed_statuses"]],
        "excluded_account_types": [str(kind) for kind in rules["eligibility_excluded_account_types"]],
        "require_verified": bool(rules["eligibility_require_verified"]),
        "unrated_tier_code": str(rules["unrated_tier_code"]),
    }


def sql_literal(value: Any) -> str:
    """A DuckDB literal for a rule value (strings, numbers, booleans, lists of strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(sql_literal(item) for item in value) + "]::varchar[]"
    return "'" + str(value).replace("'", "''") + "'"


def run_floor(data_dir: Path, as_of: date, out: Path) -> int:
    """Compute the floor's customer columns from the exports in ``data_dir``; write them to ``out``."""
    settings = workspace()
    variables = rule_variables(settings.dbt_project_dir, data_dir, as_of)
    con = duckdb.connect()
    try:
        # The same limits as the warehouse, so the comparison is like for like.
        con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
        con.execute(f"set threads = {settings.duckdb_threads}")
        for name, value in variables.items():
            con.execute(f"set variable {name} = {sql_literal(value)}")
        con.execute(floor_sql_path().read_text(encoding="utf-8"))
        out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"copy ({OUTPUT_QUERY}) to {sql_literal(str(out))} (format parquet)")
        row = con.execute("select count(*) from customer_value").fetchone()
    finally:
        con.close()
    return int(row[0]) if row else 0
