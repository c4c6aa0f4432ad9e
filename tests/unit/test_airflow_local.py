"""The local Airflow's config binding: Airflow's generated airflow.cfg points at this repository."""

from __future__ import annotations

from pathlib import Path

from tierwise.airflow_local import LocalAirflow, bind_config, set_config_values, without_login

GENERATED = """[core]
# The folder where your airflow pipelines live
dags_folder = /home/x/.airflow/dags
# load_examples = True
load_examples = True

[logging]
# base_log_folder =
"""


def test_set_config_values_replaces_in_its_section_and_keeps_comments() -> None:
    text = set_config_values(
        GENERATED,
        {
            ("core", "dags_folder"): "/repo/dags",
            ("logging", "base_log_folder"): "/repo/logs",
            ("api", "port"): "9",
        },
    )
    assert "dags_folder = /repo/dags" in text
    assert "/home/x/.airflow/dags" not in text
    assert "# The folder where your airflow pipelines live" in text
    assert text.index("base_log_folder = /repo/logs") > text.index("[logging]")
    assert text.rstrip().endswith("[api]\nport = 9")


def test_bind_config_points_airflow_at_the_repo_and_turns_examples_off(
    tierwise_env: Path,
) -> None:
    home = tierwise_env / "airflow"
    home.mkdir()
    (home / "airflow.cfg").write_text(GENERATED, encoding="utf-8")
    text = bind_config(home).read_text(encoding="utf-8")
    repo = Path(__file__).resolve().parents[2]
    assert f"dags_folder = {repo / 'dags'}" in text
    assert f"plugins_folder = {repo / 'plugins'}" in text
    assert "load_examples = False" in text and "\nload_examples = True" not in text
    assert f"base_log_folder = {tierwise_env / 'logs' / 'airflow'}" in text


def test_no_login_only_on_the_loopback_and_when_not_asked_for() -> None:
    assert without_login("127.0.0.1", login=False)
    assert not without_login("127.0.0.1", login=True)
    assert not without_login("0.0.0.0", login=False)
    assert not without_login("192.168.1.5", login=False)


def test_the_services_share_the_ui_address_and_one_auth_setting(tierwise_env: Path) -> None:
    env = LocalAirflow(host="0.0.0.0", port=9123, all_admins=False).env()
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9123/execution/"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith(str(tierwise_env / "airflow"))
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
