#!/usr/bin/env bash
# The Online Retail export end to end: ingest, raw gate, dbt build, marts gate (and BI snapshot),
# publish to files. Usage: examples/online_retail/run.sh [DATA_DIR]  (default ../shared/data/online_retail)
# Results go to examples/online_retail/work/ unless TIERWISE_WAREHOUSE, TIERWISE_PUBLISH_DIR and
# TIERWISE_LOG_DIR say otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${1:-$repo/../shared/data/online_retail}"
work="$here/work"
make -s -C "$repo" install
export TIERWISE_WAREHOUSE="${TIERWISE_WAREHOUSE:-$work/warehouse.duckdb}"
export TIERWISE_PUBLISH_DIR="${TIERWISE_PUBLISH_DIR:-$work/publish}"
export TIERWISE_LOG_DIR="${TIERWISE_LOG_DIR:-$work/logs}"
exec "$repo/.venv/bin/tierwise" run \
    --config "$here/orders.yml" --data-dir "$data" \
    --vars "$(cat "$here/vars.yml")" \
    --destination files
