#!/usr/bin/env bash
# One-shot set-up of the Tierwise Airflow stack, run by the `init` service of
# docker-compose.yml (as root) before any other Airflow service starts.
# Idempotent: it runs on every `docker compose up`.
#
#   1. refuses to go on while .env still holds the .env.example placeholders;
#   2. migrates the metadata database;
#   3. creates the `duckdb_writer` pool with one slot (DuckDB has a single writer);
#   4. sets the admin user's password (simple auth manager) or creates the
#      admin user (FAB auth manager), whichever the configuration needs;
#   5. hands the shared volumes to the Airflow user (AIRFLOW_UID, group 0).
set -euo pipefail
umask 0002

readonly WRITER_POOL="duckdb_writer"
readonly WRITER_POOL_SLOTS=1
readonly SHARED_DIRS=(/opt/airflow/logs /opt/airflow/warehouse /opt/airflow/publish /opt/airflow/auth)

log() { printf '[init] %s\n' "$*"; }
fail() {
    printf '[init] ERROR: %s\n' "$*" >&2
    exit 1
}

check_placeholders() {
    local name
    local -a unset_secrets=()
    for name in $(compgen -e); do
        case "${name}" in
            AIRFLOW__* | TIERWISE_ADMIN_PASSWORD)
                if [[ "${!name}" == *change-me* ]]; then unset_secrets+=("${name}"); fi
                ;;
            AIRFLOW_CONN_*)
                if [[ "${!name}" == *change-me* ]]; then
                    log "warning: ${name} still holds the .env.example placeholder; tasks that use it will fail"
                fi
                ;;
        esac
    done
    if ((${#unset_secrets[@]} > 0)); then
        fail "replace the change-me placeholders in .env (python deploy/make_env.py writes real values): ${unset_secrets[*]}"
    fi
}

check_fernet_key() {
    python - <<'PY' || fail "AIRFLOW_FERNET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
import base64, os, sys
key = os.environ.get("AIRFLOW__CORE__FERNET_KEY", "")
try:
    sys.exit(0 if len(base64.urlsafe_b64decode(key.encode())) == 32 else 1)
except ValueError:
    sys.exit(1)
PY
}

wait_for_database() {
    local attempt
    for attempt in $(seq 1 30); do
        if airflow db check >/dev/null 2>&1; then return 0; fi
        log "waiting for the metadata database (${attempt}/30)"
        sleep 2
    done
    fail "the metadata database did not answer; see: docker compose logs postgres"
}

create_writer_pool() {
    airflow pools set "${WRITER_POOL}" "${WRITER_POOL_SLOTS}" "DuckDB warehouse: one writer at a time"
}

write_simple_auth_password() {
    # The simple auth manager reads passwords from a JSON file and generates one for
    # any user missing from it. Writing the admin's password from .env makes the
    # login predictable and lets a new .env value rotate it.
    local password_file
    password_file="$(airflow config get-value core simple_auth_manager_passwords_file)"
    mkdir -p "$(dirname "${password_file}")"
    python - "${password_file}" <<'PY'
import json, os, sys
from pathlib import Path

path = Path(sys.argv[1])
try:
    passwords = json.loads(path.read_text(encoding="utf-8") or "{}")
except (FileNotFoundError, json.JSONDecodeError):
    passwords = {}
passwords[os.environ["TIERWISE_ADMIN_USERNAME"]] = os.environ["TIERWISE_ADMIN_PASSWORD"]
tmp = path.with_suffix(".tmp")
tmp.write_text(json.dumps(passwords) + "\n", encoding="utf-8")
tmp.chmod(0o600)
tmp.replace(path)
PY
    log "admin password set for '${TIERWISE_ADMIN_USERNAME}' (simple auth manager)"
}

create_fab_admin() {
    if airflow users list -o json | python -c 'import json, sys; sys.exit(0 if any(u["username"] == sys.argv[1] for u in json.load(sys.stdin)) else 1)' "${TIERWISE_ADMIN_USERNAME}"; then
        log "admin user '${TIERWISE_ADMIN_USERNAME}' already exists (FAB auth manager)"
        return 0
    fi
    airflow users create --role Admin --username "${TIERWISE_ADMIN_USERNAME}" \
        --password "${TIERWISE_ADMIN_PASSWORD}" --email "${TIERWISE_ADMIN_EMAIL:-admin@example.com}" \
        --firstname Tierwise --lastname Admin
}

set_up_admin() {
    local manager
    manager="$(airflow config get-value core auth_manager)"
    case "${manager}" in
        *SimpleAuthManager) write_simple_auth_password ;;
        *FabAuthManager) create_fab_admin ;;
        *) log "auth manager ${manager}: users are managed outside Airflow, none created" ;;
    esac
}

hand_over_shared_dirs() {
    local uid="${AIRFLOW_UID:?AIRFLOW_UID must be set}"
    mkdir -p "${SHARED_DIRS[@]}"
    find "${SHARED_DIRS[@]}" \( ! -user "${uid}" -o ! -group 0 \) -exec chown "${uid}:0" {} +
    chmod g+rwX "${SHARED_DIRS[@]}"
}

main() {
    check_placeholders
    check_fernet_key
    hand_over_shared_dirs
    wait_for_database
    log "migrating the metadata database"
    airflow db migrate
    create_writer_pool
    set_up_admin
    # Files written above as root (password file, logs) go to the Airflow user too.
    hand_over_shared_dirs
    log "done: Airflow $(airflow version 2>/dev/null | tail -n 1), pool ${WRITER_POOL}=${WRITER_POOL_SLOTS}"
}

main "$@"
