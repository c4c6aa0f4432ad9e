#!/usr/bin/env bash
# One example end to end: ingest, raw gate, dbt build, marts gate (and BI snapshot), publish (files).
# Usage: examples/run.sh NAME [DATA_DIR]   (DATA_DIR defaults to ../shared/data/NAME)
# Every source config of examples/NAME (its *.yml but vars.yml, in name order) is ingested; vars.yml
# holds the rules of the run (--vars). Results go to examples/NAME/work/ unless TIERWISE_WAREHOUSE,
# TIERWISE_PUBLISH_DIR and TIERWISE_LOG_DIR say otherwise.
set -euo pipefail
name="$1"
shift
examples="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$examples/.." && pwd)"
example="$examples/$name"
data="${1:-$repo/../shared/data/$name}"
make -s -C "$repo" install
export TIERWISE_WAREHOUSE="${TIERWISE_WAREHOUSE:-$example/work/warehouse.duckdb}"
export TIERWISE_PUBLISH_DIR="${TIERWISE_PUBLISH_DIR:-$example/work/publish}"
export TIERWISE_LOG_DIR="${TIERWISE_LOG_DIR:-$example/work/logs}"
configs=()
for config in "$example"/*.yml; do
    [ "$(basename "$config")" = vars.yml ] || configs+=(--config "$config")
done
cd "$repo"  # paths in vars.yml (a rates file) are relative to the repository
exec "$repo/.venv/bin/tierwise" run "${configs[@]}" --data-dir "$data" \
    --vars "$(cat "$example/vars.yml")" --destination files
