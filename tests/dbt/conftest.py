"""Shared by the CLV tests: the dbt Python models as modules, and the shared benchmark data."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from tests import support

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "dbt_project/models/intermediate/clv"


def load_model(name: str) -> ModuleType:
    """A dbt Python model's file as a module (dbt-duckdb runs it the same way)."""
    spec = importlib.util.spec_from_file_location(name, MODELS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_data(name: str) -> Path:
    """A data set of ``../shared/data`` (tests/support.py); the test is skipped, saying where it looked."""
    folder = support.shared_data(name)
    if not folder.is_dir():
        pytest.skip(
            f"{folder} is absent: the {name} data set lives there (set TIERWISE_SHARED_DATA to its parent)"
        )
    return folder


@pytest.fixture(scope="session")
def cdnow() -> Path:
    """The CDNOW benchmark (transactions, summaries, published figures in its README)."""
    return shared_data("cdnow")


@pytest.fixture(scope="session")
def olist() -> Path:
    """The Olist export (multi-table, hardly any repeat buyers)."""
    return shared_data("olist")


@pytest.fixture(scope="session")
def online_retail() -> Path:
    """The Online Retail export (one CSV of invoice lines)."""
    return shared_data("online_retail")


@pytest.fixture(scope="module")
def clv() -> ModuleType:
    return load_model("int_clv_models_fitted")


@pytest.fixture(scope="module")
def scoring() -> ModuleType:
    return load_model("int_customers_predicted")
