"""Static checks of the container deployment: docker-compose.yml, Dockerfile, .env.example.

No Docker engine is needed. The compose file is interpolated from .env.example the
way Compose does it, then validated against the Compose Specification schema
vendored next to this file; the other checks read the files as data. Each checker
is also run on a broken input, so that none of them can pass vacuously.
"""

from __future__ import annotations

import base64
import copy
import http.server
import importlib.util
import json
import re
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY = REPO / "deploy"
INIT_SCRIPT = DEPLOY / "airflow-init.sh"
SCHEMA_FILE = HERE / "compose-spec.json"

REQUIRED_SERVICES = {
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "worker",
    "postgres",
    "redis",
    "init",
}
AIRFLOW_COMMANDS = {
    "api-server": "api-server",
    "scheduler": "scheduler",
    "dag-processor": "dag-processor",
    "triggerer": "triggerer",
    "worker": "celery worker",
}
ONE_SHOT_SERVICES = {"init", "spark-init", "airflow-cli"}
SPARK_PROFILE = "spark"
SPARK_SERVICES = {"spark-init", "spark-master", "spark-worker", "spark-connect"}
# The optional services of Airflow's reference docker-compose.yaml, in its profiles.
REFERENCE_PROFILES = {"flower": {"flower"}, "airflow-cli": {"debug"}}
PROJECT_FOLDERS = ("dags", "plugins", "dbt_project", "expectations")
PLACEHOLDER = "change-me"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|TOKEN|_KEY$|^AIRFLOW_CONN_|REDISCLI_AUTH")
# Compose interpolation: $$ (a literal $), ${NAME}, ${NAME<op>arg} with op one of
# :- - :? ? :+ +, and $NAME.
VARIABLE = re.compile(
    r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)
# Options the Celery provider adds to Airflow's configuration (not installed here).
CELERY_OPTIONS = {"broker_url", "result_backend", "worker_concurrency"}


class InterpolationError(ValueError):
    """A required variable (${NAME:?message}) is missing."""


# --- helpers: parsing and interpolation ------------------------------------------


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines as Compose reads a .env file (comments, optional quotes)."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        assert sep, f"not KEY=VALUE: {raw!r}"
        assert key.strip() not in env, f"{key.strip()} defined twice"
        env[key.strip()] = _unquote(value.strip())
    return env


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].rstrip()


def _substitute(match: re.Match[str], env: dict[str, str]) -> str:
    if match.group(0) == "$$":
        return "$"
    name = match["braced"] or match["bare"]
    value, op, arg = env.get(name), match["op"], match["arg"] or ""
    if op in (":?", "?") and (value is None or (op == ":?" and not value)):
        raise InterpolationError(f"{name}: {arg or 'required'}")
    if op == ":-":
        return value or arg
    if op == "-":
        return arg if value is None else value
    if op == ":+":
        return arg if value else ""
    if op == "+":
        return "" if value is None else arg
    return value or ""


def interpolate(node: Any, env: dict[str, str]) -> Any:
    """Resolve ${...} in every string value of a parsed compose file."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, str):
        return VARIABLE.sub(lambda match: _substitute(match, env), node)
    return node


def referenced_variables(text: str) -> set[str]:
    return {match["braced"] or match["bare"] for match in VARIABLE.finditer(text) if match.group(0) != "$$"}


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- helpers: the checks, each also run on broken input below ---------------------


def schema_errors(compose: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(compose)
    ]


def _is_host_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or "/" in source


def volume_sources(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each mount of a service, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            mounts.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
        elif volume.get("type") in ("volume", "bind"):
            mounts.append((volume.get("source", ""), volume["target"]))
    return mounts


def undeclared_volumes(compose: dict[str, Any]) -> set[str]:
    declared = set(compose.get("volumes") or {})
    used = {
        source
        for service in compose["services"].values()
        for source, _ in volume_sources(service)
        if source and not _is_host_path(source)
    }
    return used - declared


def services_without_healthcheck(compose: dict[str, Any]) -> set[str]:
    missing = set()
    for name, service in compose["services"].items():
        if name in ONE_SHOT_SERVICES:
            continue
        check = service.get("healthcheck") or {}
        test = check.get("test")
        if not test or check.get("disable") in (True, "true") or test in ("NONE", ["NONE"]):
            missing.add(name)
    return missing


def services_without_restart_policy(compose: dict[str, Any]) -> set[str]:
    return {
        name
        for name, service in compose["services"].items()
        if name not in ONE_SHOT_SERVICES
        and service.get("restart") not in ("always", "unless-stopped", "on-failure")
    }


class _FromEnv(dict[str, str]):
    """Every variable resolves to a marker: what is left is written in the file."""

    def get(self, key: str, default: Any = None) -> str:
        return "FROM-ENV"


def _is_secret_name(key: str) -> bool:
    return bool(SECRET_NAME.search(key)) and not key.endswith("_FILE")


def literal_secrets(raw_compose: dict[str, Any]) -> list[str]:
    """Secret-looking settings whose value is written in the file, not read from .env."""
    found = []
    for name, service in raw_compose["services"].items():
        for key, value in environment_of(service).items():
            if _is_secret_name(key) and value and "${" not in value:
                found.append(f"{name}.{key}")
            resolved = interpolate(value, _FromEnv())
            password = urlsplit(resolved).password if "://" in resolved else None
            if password and password != "FROM-ENV":
                found.append(f"{name}.{key} (password in URL)")
    return found


def looks_like_secret(value: str) -> bool:
    """A long run of base64/hex characters: a real key or token, not a placeholder."""
    return bool(re.search(r"[A-Za-z0-9+/_=-]{24,}", value)) and PLACEHOLDER not in value


def _connection_password(value: str) -> str | None:
    if value.startswith("{"):
        return json.loads(value).get("password")
    return urlsplit(value).password


def unsafe_env_values(env: dict[str, str]) -> list[str]:
    """Names in an example env file whose values are not obviously placeholders."""
    unsafe = []
    for key, value in env.items():
        if key.startswith("AIRFLOW_CONN_") and value:
            password = _connection_password(value)
            if password not in (None, PLACEHOLDER):
                unsafe.append(key)
        elif (_is_secret_name(key) and value not in ("", PLACEHOLDER)) or looks_like_secret(value):
            unsafe.append(key)
    return unsafe


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return parse_env_file(ENV_EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose(raw_compose: dict[str, Any], env_example: dict[str, str]) -> dict[str, Any]:
    return interpolate(raw_compose, env_example)


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lock_data() -> dict[str, Any]:
    return tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def lock(lock_data: dict[str, Any]) -> dict[str, str]:
    return {package["name"]: package.get("version", "") for package in lock_data["package"]}


# --- the compose file -----------------------------------------------------------------


def test_compose_is_valid_against_the_compose_spec(compose: dict[str, Any], schema: dict[str, Any]) -> None:
    assert schema_errors(compose, schema) == []


@pytest.mark.parametrize(
    "breakage",
    [
        pytest.param(
            lambda c: c["services"]["worker"].update(helthcheck={"test": ["CMD"]}), id="unknown-key"
        ),
        pytest.param(
            lambda c: c["services"]["worker"]["depends_on"]["init"].update(condition="service_ready"),
            id="bad-condition",
        ),
        pytest.param(lambda c: c.update(service={}), id="unknown-top-level-key"),
        pytest.param(lambda c: c["services"]["redis"]["healthcheck"].update(retries=[5]), id="bad-type"),
        pytest.param(lambda c: c["services"].update({"bad name!": {"image": "x"}}), id="bad-service-name"),
    ],
)
def test_schema_rejects_a_broken_compose_file(
    compose: dict[str, Any], schema: dict[str, Any], breakage: Any
) -> None:
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert schema_errors(broken, schema)


def test_every_service_the_stack_needs_exists(compose: dict[str, Any]) -> None:
    assert REQUIRED_SERVICES - set(compose["services"]) == set()


@pytest.mark.parametrize(("service", "command"), sorted(AIRFLOW_COMMANDS.items()))
def test_airflow_services_run_their_component(compose: dict[str, Any], service: str, command: str) -> None:
    assert compose["services"][service]["command"] == command


def test_executor_is_celery_on_redis_with_postgres_metadata(compose: dict[str, Any]) -> None:
    env = environment_of(compose["services"]["worker"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__RESULT_BACKEND"):
        url = urlsplit(env[key].removeprefix("db+"))
        assert url.scheme.startswith("postgresql") and url.hostname == "postgres", key
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://api-server:8080/")


@pytest.fixture(scope="module")
def airflow_options() -> dict[str, Any]:
    """Airflow's own option catalogue (config.yml of the installed airflow-core)."""
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    config_yml = Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(config_yml.read_text(encoding="utf-8"), Loader=loader)


def unknown_airflow_settings(keys: set[str], known: dict[str, Any]) -> set[str]:
    unknown = set()
    for key in keys:
        if not key.startswith("AIRFLOW__"):
            continue
        section, _, option = key.removeprefix("AIRFLOW__").lower().partition("__")
        if section == "celery" and option in CELERY_OPTIONS:
            continue
        if option not in known.get(section, {}).get("options", {}):
            unknown.add(key)
    return unknown


def test_airflow_settings_use_names_airflow_3_knows(
    compose: dict[str, Any], airflow_options: dict[str, Any]
) -> None:
    keys = {key for service in compose["services"].values() for key in environment_of(service)}
    assert unknown_airflow_settings(keys, airflow_options) == set()


def test_airflow_2_setting_names_are_found(airflow_options: dict[str, Any]) -> None:
    old = {
        "AIRFLOW__WEBSERVER__SECRET_KEY",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__FLOWER_HOST",
    }
    assert unknown_airflow_settings(old | {"AIRFLOW__CORE__EXECUTOR"}, airflow_options) == old


def test_airflow_components_share_one_set_of_secrets(compose: dict[str, Any]) -> None:
    shared = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET")
    services = [compose["services"][name] for name in [*AIRFLOW_COMMANDS, "init"]]
    values = {key: {environment_of(service)[key] for service in services} for key in shared}
    assert all(len(found) == 1 for found in values.values()), values


def test_connections_reach_only_the_processes_that_run_dag_code(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        has_connections = any(key.startswith("AIRFLOW_CONN_") for key in environment_of(service))
        assert has_connections == (name in DAG_CODE_SERVICES), name


DAG_CODE_SERVICES = ("worker", "triggerer", "dag-processor")
# A connection id the package reads: a module constant such as CRM_CONN = "tierwise_crm".
CONN_CONSTANT = re.compile(r'^[A-Z_]*CONN(?:_ID)? = "([a-z][a-z0-9_]*)"$', re.M)


def connection_ids_read_by_the_code(package: Path = REPO / "plugins" / "tierwise") -> set[str]:
    """Every connection id the package reads, from its constants (read as text, not imported)."""
    return {
        conn_id
        for path in package.rglob("*.py")
        for conn_id in CONN_CONSTANT.findall(path.read_text(encoding="utf-8"))
    }


def connections_not_passed(compose: dict[str, Any], conn_ids: set[str]) -> set[str]:
    """``service: AIRFLOW_CONN_<ID>`` for each connection a DAG-code service does not receive."""
    return {
        f"{service}: AIRFLOW_CONN_{conn_id.upper()}"
        for service in DAG_CODE_SERVICES
        for conn_id in conn_ids
        if f"AIRFLOW_CONN_{conn_id.upper()}" not in environment_of(compose["services"][service])
    }


def test_every_connection_the_code_reads_reaches_the_workers(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    conn_ids = connection_ids_read_by_the_code()
    expected = {
        "tierwise_postgres",
        "tierwise_crm",
        "tierwise_webhook",
        "tierwise_smtp",
        "tierwise_alerts",
        "tierwise_spark",
    }
    assert conn_ids == expected
    assert connections_not_passed(compose, conn_ids) == set()
    assert {f"AIRFLOW_CONN_{conn_id.upper()}" for conn_id in conn_ids} <= set(env_example)
    deploy_readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert {conn_id for conn_id in conn_ids if f"| `{conn_id}` |" not in deploy_readme} == set()


def test_a_connection_the_workers_do_not_receive_is_found(tmp_path: Path) -> None:
    (tmp_path / "alerts.py").write_text('ALERTS_CONN_ID = "tierwise_alerts"\nOTHER = "x"\n', encoding="utf-8")
    (tmp_path / "service.py").write_text('SMTP_CONN = "tierwise_smtp"\n', encoding="utf-8")
    assert connection_ids_read_by_the_code(tmp_path) == {"tierwise_alerts", "tierwise_smtp"}
    env = {"environment": {"AIRFLOW_CONN_TIERWISE_ALERTS": ""}}
    broken = {"services": {"worker": env, "triggerer": env, "dag-processor": {}}}
    assert connections_not_passed(broken, {"tierwise_alerts", "tierwise_smtp"}) == {
        "worker: AIRFLOW_CONN_TIERWISE_SMTP",
        "triggerer: AIRFLOW_CONN_TIERWISE_SMTP",
        "dag-processor: AIRFLOW_CONN_TIERWISE_ALERTS",
        "dag-processor: AIRFLOW_CONN_TIERWISE_SMTP",
    }


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    assert undeclared_volumes(compose) == set()


def test_an_undeclared_volume_is_found() -> None:
    broken = {"services": {"a": {"volumes": ["ghost:/data", "./here:/here", "/abs:/abs"]}}, "volumes": {}}
    assert undeclared_volumes(broken) == {"ghost"}


def test_every_variable_is_defined_in_env_example(env_example: dict[str, str]) -> None:
    used = referenced_variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert used - set(env_example) == set()


def test_env_example_defines_nothing_the_compose_file_ignores(env_example: dict[str, str]) -> None:
    used = referenced_variables(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert set(env_example) - used == set()


def test_interpolation_follows_compose_rules() -> None:
    env = {"SET": "value", "EMPTY": ""}
    cases = {
        "${SET}": "value",
        "$SET/x": "value/x",
        "${EMPTY:-fallback}": "fallback",
        "${EMPTY-fallback}": "",
        "${UNSET-fallback}": "fallback",
        "${SET:+alt}": "alt",
        "$${SET}": "${SET}",
    }
    assert {text: interpolate(text, env) for text in cases} == cases
    with pytest.raises(InterpolationError):
        interpolate({"a": "${UNSET:?needed}"}, env)


def test_required_secrets_fail_interpolation_when_missing(
    raw_compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    env = {key: value for key, value in env_example.items() if key != "AIRFLOW_JWT_SECRET"}
    with pytest.raises(InterpolationError, match="AIRFLOW_JWT_SECRET"):
        interpolate(raw_compose, env)


def test_long_running_services_have_healthchecks_and_restart(compose: dict[str, Any]) -> None:
    assert services_without_healthcheck(compose) == set()
    assert services_without_restart_policy(compose) == set()
    assert {compose["services"][name]["restart"] for name in ONE_SHOT_SERVICES} == {"no"}


def test_a_service_without_healthcheck_is_found() -> None:
    broken = {
        "services": {
            "ok": {"healthcheck": {"test": ["CMD", "true"]}, "restart": "always"},
            "none": {"restart": "always"},
            "disabled": {"healthcheck": {"test": ["NONE"]}},
        }
    }
    assert services_without_healthcheck(broken) == {"none", "disabled"}
    assert services_without_restart_policy(broken) == {"disabled"}


def test_dependencies_wait_for_health_and_for_init(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for target, rule in (service.get("depends_on") or {}).items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target}: no healthcheck"
            if rule["condition"] == "service_completed_successfully":
                assert target in ONE_SHOT_SERVICES, f"{name} waits for {target} to exit"
    for name in AIRFLOW_COMMANDS:
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["api-server"]["condition"] == "service_healthy"


# --- the optional profile `spark` -----------------------------------------------------------------


def profiles_of(compose: dict[str, Any]) -> dict[str, set[str]]:
    return {name: set(service.get("profiles") or []) for name, service in compose["services"].items()}


def default_services_needing_a_profile(compose: dict[str, Any]) -> set[str]:
    """``service -> dependency`` where a service without profile waits for one with a profile.

    ``docker compose up`` without that profile would refuse such a file; the default stack must
    stay what it was without the profile.
    """
    profiles = profiles_of(compose)
    return {
        f"{name} -> {target}"
        for name, service in compose["services"].items()
        if not profiles[name]
        for target in service.get("depends_on") or {}
        if profiles[target]
    }


def test_the_optional_services_exist_only_in_their_profiles(compose: dict[str, Any]) -> None:
    profiles = profiles_of(compose)
    assert {name for name, found in profiles.items() if found} == SPARK_SERVICES | set(REFERENCE_PROFILES)
    assert all(profiles[name] == {SPARK_PROFILE} for name in SPARK_SERVICES)
    assert {name: profiles[name] for name in REFERENCE_PROFILES} == REFERENCE_PROFILES
    assert default_services_needing_a_profile(compose) == set()


def test_flower_monitors_the_celery_workers_on_the_host_loopback(compose: dict[str, Any]) -> None:
    flower = compose["services"]["flower"]
    assert flower["command"] == "celery flower"
    assert environment_of(flower)["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert flower["ports"] == ["127.0.0.1:5555:5555"]
    assert flower["healthcheck"]["test"][-1] == "http://localhost:5555/"
    assert flower["depends_on"]["redis"]["condition"] == "service_healthy"
    assert flower["restart"] == "unless-stopped"
    # Flower shows task arguments: no connection reaches it.
    assert not any(key.startswith("AIRFLOW_CONN_") for key in environment_of(flower))


def test_airflow_cli_runs_airflow_once_with_the_stacks_settings(compose: dict[str, Any]) -> None:
    cli, scheduler = compose["services"]["airflow-cli"], compose["services"]["scheduler"]
    assert cli["command"] == ["bash", "-c", "airflow"]
    assert cli["restart"] == "no"
    assert environment_of(cli)["CONNECTION_CHECK_MAX_COUNT"] == "0"
    shared = {key: value for key, value in environment_of(cli).items() if key != "CONNECTION_CHECK_MAX_COUNT"}
    assert shared == environment_of(scheduler)
    assert cli["image"] == scheduler["image"]


def test_flower_is_in_the_lock(lock: dict[str, str]) -> None:
    assert "flower" in lock


def test_a_default_service_waiting_for_a_profile_is_found() -> None:
    broken = {
        "services": {
            "worker": {"depends_on": {"spark-connect": {"condition": "service_healthy"}, "redis": {}}},
            "redis": {},
            "spark-connect": {"profiles": ["spark"], "depends_on": {"redis": {}}},
        }
    }
    assert default_services_needing_a_profile(broken) == {"worker -> spark-connect"}


def test_the_spark_image_is_the_locked_pyspark_version(compose: dict[str, Any], lock: dict[str, str]) -> None:
    images = {compose["services"][name]["image"] for name in SPARK_SERVICES}
    assert images == {f"apache/spark:{lock['pyspark']}"}


def profile_settings() -> dict[str, str]:
    """The settings .env.example's comment gives for the profile (``#   KEY=VALUE`` lines)."""
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    return dict(re.findall(r"^#   ([A-Z_]+)=(\S+)$", text, re.M))


def spark_conf(service: dict[str, Any]) -> dict[str, str]:
    command = service["command"]
    pairs = [command[i + 1] for i, item in enumerate(command) if item == "--conf"]
    return dict(pair.split("=", 1) for pair in pairs)


def test_with_the_profile_the_airflow_workers_reach_the_connect_server(
    raw_compose: dict[str, Any], env_example: dict[str, str], schema: dict[str, Any]
) -> None:
    chosen = profile_settings()
    assert chosen == {
        "COMPOSE_PROFILES": SPARK_PROFILE,
        "TIERWISE_ENGINE": "spark",
        "TIERWISE_SPARK_REMOTE": "sc://spark-connect:15002",
    }
    header = COMPOSE_FILE.read_text(encoding="utf-8").split("\nname:", 1)[0]
    assert all(f"{key}={value}" in header for key, value in chosen.items())
    compose = interpolate(raw_compose, {**env_example, **chosen})
    assert schema_errors(compose, schema) == []
    remote = urlsplit(environment_of(compose["services"]["worker"])["TIERWISE_SPARK_REMOTE"])
    connect = compose["services"]["spark-connect"]
    assert remote.hostname == connect["hostname"] == "spark-connect"
    assert str(remote.port) == spark_conf(connect)["spark.connect.grpc.binding.port"]
    for name in DAG_CODE_SERVICES:
        env = environment_of(compose["services"][name])
        assert (env["TIERWISE_ENGINE"], env["TIERWISE_SPARK_REMOTE"]) == ("spark", remote.geturl()), name


def test_without_the_profile_the_stack_stays_on_duckdb(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_COMMANDS:
        env = environment_of(compose["services"][name])
        assert (env["TIERWISE_ENGINE"], env["TIERWISE_SPARK_REMOTE"]) == ("duckdb", ""), name


def test_the_connect_server_is_a_cluster_driver_with_the_catalog(compose: dict[str, Any]) -> None:
    services = compose["services"]
    connect, worker = services["spark-connect"], services["spark-worker"]
    assert connect["command"][:3] == [
        "/opt/spark/bin/spark-submit",
        "--class",
        "org.apache.spark.sql.connect.service.SparkConnectServer",
    ]
    master = services["spark-master"]
    master_url = f"spark://{master['hostname']}:7077"
    assert connect["command"][connect["command"].index("--master") + 1] == master_url
    assert worker["command"][-1] == master_url
    conf = spark_conf(connect)
    # What the local server of tierwise.engine.spark_server sets too.
    assert conf["spark.sql.catalogImplementation"] == "hive"
    assert conf["spark.sql.sources.partitionOverwriteMode"] == "dynamic"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    # Executors on the worker and the driver see the warehouse at one path, on one volume.
    mounts = {name: dict(volume_sources(services[name])) for name in SPARK_SERVICES}
    warehouse = conf["spark.sql.warehouse.dir"]
    sharing = {
        name: source
        for name, found in mounts.items()
        for source, target in found.items()
        if target == warehouse
    }
    assert set(sharing) == {"spark-connect", "spark-worker", "spark-init"} and len(set(sharing.values())) == 1
    # The metastore: Derby in a volume of the Connect server alone.
    derby = conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    metastore = re.search(r"databaseName=([^;]+)/metastore_db;", derby)
    assert metastore, derby
    owners = {name for name, found in mounts.items() if metastore[1] in found.values()}
    assert owners == {"spark-connect", "spark-init"}
    chowned = services["spark-init"]["command"]
    assert {warehouse, metastore[1]} <= set(chowned) and services["spark-init"]["user"] == "0:0"


# --- init: migration, pool, admin user ------------------------------------------------------


def _script_constant(name: str) -> str:
    script = INIT_SCRIPT.read_text(encoding="utf-8")
    match = re.search(rf'^readonly {name}="?([^"\n]+)"?$', script, re.MULTILINE)
    assert match, f"{name} not set in {INIT_SCRIPT.name}"
    return match.group(1)


def test_init_service_runs_the_init_script(compose: dict[str, Any], dockerfile: str) -> None:
    init = compose["services"]["init"]
    assert init["entrypoint"][-1] == "/opt/tierwise/bin/airflow-init.sh"
    assert re.search(r"^COPY .*deploy/airflow-init\.sh.* /opt/tierwise/bin/$", dockerfile, re.MULTILINE)


def test_init_migrates_and_creates_the_single_writer_pool() -> None:
    # The DAGs take the pool name from tierwise.orchestration; read it without importing.
    source = (REPO / "plugins" / "tierwise" / "orchestration.py").read_text(encoding="utf-8")
    match = re.search(r'^WRITER_POOL = "([^"]+)"$', source, re.M)
    assert match, "WRITER_POOL not found in tierwise/orchestration.py"
    writer_pool = match.group(1)
    script = INIT_SCRIPT.read_text(encoding="utf-8")
    assert re.search(r"^\s*airflow db migrate\s*$", script, re.MULTILINE)
    assert 'airflow pools set "${WRITER_POOL}" "${WRITER_POOL_SLOTS}"' in script
    assert _script_constant("WRITER_POOL") == writer_pool == "duckdb_writer"
    assert _script_constant("WRITER_POOL_SLOTS") == "1"


def test_init_sets_up_the_admin_for_either_auth_manager() -> None:
    script = INIT_SCRIPT.read_text(encoding="utf-8")
    assert "*SimpleAuthManager) write_simple_auth_password" in script
    assert "*FabAuthManager) create_fab_admin" in script


def test_init_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(INIT_SCRIPT)], check=True, timeout=10)


def test_admin_password_file_is_where_the_api_server_reads_it(compose: dict[str, Any]) -> None:
    env = environment_of(compose["services"]["api-server"])
    folder = str(Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]).parent)
    for name in ("api-server", "init"):
        assert folder in {target for _, target in volume_sources(compose["services"][name])}, name


# --- the image --------------------------------------------------------------------------------


def test_image_is_the_locked_airflow_on_the_locked_python(
    dockerfile: str, lock: dict[str, str], lock_data: dict[str, Any]
) -> None:
    base = r"^ARG AIRFLOW_IMAGE=apache/airflow:(?:slim-)?(?P<airflow>[\d.]+)-python(?P<python>[\d.]+)$"
    match = re.search(base, dockerfile, re.M)
    assert match, "the base image must be apache/airflow:<version>-python<version>"
    assert match["airflow"] == lock["apache-airflow"]
    assert match["python"] in lock_data["requires-python"]
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", dockerfile, re.M)


def test_dockerfile_installs_from_the_lock(dockerfile: str) -> None:
    code = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    lock_copy = code.index("COPY --chown=airflow:0 pyproject.toml uv.lock ./")
    first_sync = "uv sync --frozen --no-dev --group deploy --extra spark --no-install-project"
    assert lock_copy < code.index(first_sync)
    assert not re.search(r"uv lock|--upgrade|uv sync(?!.*--frozen)|uv pip install", code)
    bare_pip = re.findall(r"(?<!uv )pip install[^\n]*", code)
    assert bare_pip == ['pip install --no-cache-dir "uv==${UV_VERSION}"']


def test_the_image_has_the_spark_client_in_both_installs(dockerfile: str, lock: dict[str, str]) -> None:
    syncs = re.findall(r"uv sync [^\n\\]*", dockerfile)
    assert len(syncs) == 2 and all("--extra spark" in sync for sync in syncs), syncs
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    spark_extra = project["project"]["optional-dependencies"]["spark"]
    assert {re.split(r"[\[<>=]", dep)[0] for dep in spark_extra} == {"pyspark", "dbt-spark"}
    assert {"pyspark", "dbt-spark"} <= set(lock)
    # The smoke test imports what a worker on TIERWISE_ENGINE=spark loads.
    assert 'python -c "import dbt.adapters.spark, pyspark.sql.connect.session"' in dockerfile


def test_celery_executor_is_in_the_lock(lock: dict[str, str]) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    deploy_group = project["dependency-groups"]["deploy"]
    assert any(dep.startswith("apache-airflow-providers-celery") for dep in deploy_group)
    assert {"apache-airflow-providers-celery", "celery", "redis"} <= set(lock)


def test_image_and_compose_provide_what_the_dags_need(compose: dict[str, Any], dockerfile: str) -> None:
    for folder in PROJECT_FOLDERS:
        assert re.search(rf"^COPY --chown=airflow:0 {folder}/ {folder}/$", dockerfile, re.M), folder
    worker = compose["services"]["worker"]
    targets = {target for _, target in volume_sources(worker)}
    assert {f"/opt/airflow/{folder}" for folder in PROJECT_FOLDERS} <= targets
    env = environment_of(worker)
    warehouse_dir = str(Path(env["TIERWISE_WAREHOUSE"]).parent)
    for path in (warehouse_dir, env["TIERWISE_PUBLISH_DIR"], env["TIERWISE_DATA_DIR"]):
        assert any(path == target or path.startswith(target + "/") for target in targets), path
    assert env["TIERWISE_HOME"] == "/opt/airflow"


def test_dockerignore_keeps_the_build_inputs(dockerfile: str) -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    copied = re.findall(r"^COPY --chown=\S+ (.+) \S+$", dockerfile, re.M)
    needed = {item.rstrip("/") for line in copied for item in line.split()}
    assert {item for item in needed if item in ignored or item.split("/")[0] in ignored} == set()


def test_image_leaves_out_the_dev_tooling(compose: dict[str, Any], dockerfile: str) -> None:
    ignored = {line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {"devtools", "bench"} <= ignored
    assert re.search(r"^\s*&& rm -f /opt/tierwise/venv/bin/tierwise-dev$", dockerfile, re.M)
    assert '! python -c "import tierwise_dev"' in dockerfile
    mounted = {source for service in compose["services"].values() for source, _ in volume_sources(service)}
    assert [source for source in mounted if "devtools" in source] == []


# --- secrets ------------------------------------------------------------------------------------


def test_env_example_holds_only_placeholders(env_example: dict[str, str]) -> None:
    assert unsafe_env_values(env_example) == []
    assert {key for key, value in env_example.items() if value == PLACEHOLDER} >= {
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_JWT_SECRET",
        "TIERWISE_ADMIN_PASSWORD",
    }


def test_a_real_looking_secret_in_env_example_is_found() -> None:
    env = {
        "POSTGRES_PASSWORD": "hunter2",
        "AIRFLOW_CONN_X": "postgresql://u:s3cret@h/db",
        "AIRFLOW_CONN_Y": '{"conn_type": "http", "password": "tok"}',
        "SOMETHING": "ZmVybmV0LWtleS1ub3QtYS1wbGFjZWhvbGRlcg==",
        "AIRFLOW_CONN_OK": "postgresql://u:change-me@h/db",
        "PLAIN": "airflow",
    }
    assert unsafe_env_values(env) == ["POSTGRES_PASSWORD", "AIRFLOW_CONN_X", "AIRFLOW_CONN_Y", "SOMETHING"]


def test_compose_file_commits_no_secret(raw_compose: dict[str, Any]) -> None:
    assert literal_secrets(raw_compose) == []


def test_a_literal_secret_in_compose_is_found() -> None:
    broken = {
        "services": {
            "a": {"environment": {"DB_PASSWORD": "hunter2", "URL": "redis://:pw@redis:6379/0"}},
            "b": {"environment": ["API_TOKEN=${TOKEN}", "URL=redis://:${PW}@redis"]},
        }
    }
    assert literal_secrets(broken) == ["a.DB_PASSWORD", "a.URL (password in URL)"]


def test_no_secret_is_baked_into_the_image(dockerfile: str) -> None:
    declared = re.findall(r"^\s*(?:ARG|ENV)\s+(.*)$", dockerfile, re.M)
    names = {token.split("=", 1)[0] for line in declared for token in line.split() if "=" in token}
    assert {name for name in names if _is_secret_name(name)} == set()
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    assert ".env" in ignored


# --- deploy/make_env.py and deploy/healthcheck.py ---------------------------------------------


@pytest.fixture(scope="module")
def make_env() -> ModuleType:
    return load_module(DEPLOY / "make_env.py")


def test_make_env_fills_every_stack_secret(
    make_env: ModuleType, raw_compose: dict[str, Any], schema: dict[str, Any]
) -> None:
    env = parse_env_file(make_env.render(ENV_EXAMPLE.read_text(encoding="utf-8"), uid=1234))
    assert all(env[name] != PLACEHOLDER for name in make_env.GENERATORS)
    assert len(base64.urlsafe_b64decode(env["AIRFLOW_FERNET_KEY"])) == 32
    assert env["AIRFLOW_UID"] == "1234"
    assert schema_errors(interpolate(raw_compose, env), schema) == []


def test_make_env_never_overwrites_without_force(make_env: ModuleType, tmp_path: Path) -> None:
    output = tmp_path / ".env"
    output.write_text("KEEP=1\n", encoding="utf-8")
    assert make_env.main(["--output", str(output)]) == 1
    assert output.read_text(encoding="utf-8") == "KEEP=1\n"
    assert make_env.main(["--output", str(output), "--force"]) == 0
    assert oct(output.stat().st_mode & 0o777) == "0o600"
    assert make_env.remaining_placeholders(output.read_text(encoding="utf-8")) == [
        "AIRFLOW_CONN_TIERWISE_POSTGRES",
        "AIRFLOW_CONN_TIERWISE_CRM",
        "AIRFLOW_CONN_TIERWISE_ALERTS",
    ]


@pytest.fixture
def local_http_server() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_healthcheck_follows_the_http_status(local_http_server: str) -> None:
    healthcheck = load_module(DEPLOY / "healthcheck.py")
    assert healthcheck.main(["healthcheck.py", f"{local_http_server}/health"]) == 0
    assert healthcheck.main(["healthcheck.py", f"{local_http_server}/broken"]) == 1
    assert healthcheck.is_healthy("http://127.0.0.1:9/health", timeout=1) is False
