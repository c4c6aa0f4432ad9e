#!/usr/bin/env bash
# The Olist export end to end: ingest orders (orders, customers, items, payments) and reviews,
# raw gate, dbt build, marts gate (and BI snapshot), publish to files.
# Usage: examples/olist/run.sh [DATA_DIR]  (default ../shared/data/olist)
# Results go to examples/olist/work/ unless TIERWISE_WAREHOUSE, TIERWISE_PUBLISH_DIR and
# TIERWISE_LOG_DIR say otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="${1:-$repo/../shared/data/olist}"
work="$here/work"
make -s -C "$repo" install
export TIERWISE_WAREHOUSE="${TIERWISE_WAREHOUSE:-$work/warehouse.duckdb}"
export TIERWISE_PUBLISH_DIR="${TIERWISE_PUBLISH_DIR:-$work/publish}"
export TIERWISE_LOG_DIR="${TIERWISE_LOG_DIR:-$work/logs}"
cd "$repo"  # vars.yml names the rates file relative to the repository
exec "$repo/.venv/bin/tierwise" run \
    --config "$here/orders.yml" --config "$here/reviews.yml" --data-dir "$data" \
    --vars "$(cat "$here/vars.yml")" \
    --destination files
