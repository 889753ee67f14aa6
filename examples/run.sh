#!/usr/bin/env bash
# Sets up bo on a fresh machine and runs it on examples/hello: adds the wasm target,
# builds bo (which builds the example recipes and bundles them), then `bo build`
# (install), `bo build` again (update) and `bo plan`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
rustup target add wasm32-wasip2
cargo build --release -p bo
BO="$ROOT/target/release/bo"
cd examples/hello
echo "== bo build"; "$BO" -U build
echo "== parts/copy/content.txt"; cat parts/copy/content.txt; echo
echo "== bo build again (nothing changed: parts are updated)"; "$BO" -U build
echo "== bo plan"; "$BO" -U plan
echo "== bo annotate greeting"; "$BO" -U annotate greeting
