#!/usr/bin/env bash
# Sets up bo on a fresh machine and runs it on the examples: adds the wasm target,
# builds bo (which builds the example recipes and bundles them), then on
# examples/hello `bo build` (install), `bo build` again (update) and `bo plan`, and
# on examples/python-app a real Python project's buildout (distributions from PyPI
# with an interpreter, a configuration file from a template, a confined command).
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

cd "$ROOT/examples/python-app"
echo "== python-app: bo build (eggs from PyPI, an interpreter, a template, a command)"
"$BO" -U build --grant check:program=sh
echo "== etc/app.ini (from the template)"; cat etc/app.ini
echo "== parts/check/versions.txt (what the command printed)"; cat parts/check/versions.txt
echo "== bin/py runs with exactly the pinned versions"
bin/py -c "import dateutil, six; print(dateutil.__file__); print(six.__file__)"
