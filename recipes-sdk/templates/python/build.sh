#!/usr/bin/env bash
# Builds __NAME__.wasm. Needs `pip install componentize-py==0.25.1`.
set -euo pipefail
cd "$(dirname "$0")"
componentize-py -d wit -w recipe componentize app -o __NAME__.wasm
