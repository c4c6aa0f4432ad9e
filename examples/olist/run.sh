#!/usr/bin/env bash
# The Olist export end to end (README.md). Usage: examples/olist/run.sh [DATA_DIR]
exec "$(dirname "$0")/../run.sh" olist "$@"
