#!/usr/bin/env bash
# The Online Retail export end to end (README.md). Usage: examples/online_retail/run.sh [DATA_DIR]
exec "$(dirname "$0")/../run.sh" online_retail "$@"
