#!/usr/bin/env bash
# Sets up bo on a fresh machine and runs it on examples/hello: adds the wasm target,
# builds bo and the example recipes, then `bo build` (install), `bo build` again
# (update) and `bo plan`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
rustup target add wasm32-wasip2
cargo build --release -p bo
cargo build --release --target wasm32-wasip2 --manifest-path example-recipes/Cargo.toml
RECIPES="$ROOT/target/example-recipes"
mkdir -p "$RECIPES"
for f in example-recipes/target/wasm32-wasip2/release/*.wasm; do
  name=$(basename "$f"); cp "$f" "$RECIPES/${name//_/-}"
done
export BO_RECIPE_PATH="$RECIPES"
BO="$ROOT/target/release/bo"
cd examples/hello
echo "== bo build"; "$BO" -U build
echo "== parts/copy/content.txt"; cat parts/copy/content.txt; echo
echo "== bo build again (nothing changed: parts are updated)"; "$BO" -U build
echo "== bo plan"; "$BO" -U plan
echo "== bo annotate greeting"; "$BO" -U annotate greeting
