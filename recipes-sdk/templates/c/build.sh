#!/usr/bin/env bash
# Builds __NAME__.wasm from main.c.
# Needs:
#   apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32
#   cargo install --locked wit-bindgen-cli@0.61.1 wasm-tools@1.263.0
# Steps: C bindings from the WIT (wit-bindgen c), a WASI preview1 core module
# (clang + wasi-libc, reactor model), then a component through the preview1
# adapter of the same wasmtime release as bo's host (crates.io).
set -euo pipefail
cd "$(dirname "$0")"
out=__NAME__.wasm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

wit-bindgen c wit --world recipe --out-dir "$work" >/dev/null
clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -Wall -I"$work" \
  -o "$work/core.wasm" main.c "$work/recipe.c" "$work/recipe_component_type.o"

mkdir -p "$work/adapter/src"
cat > "$work/adapter/Cargo.toml" <<'TOML'
[package]
name = "adapter-fetch"
version = "0.0.0"
edition = "2021"
[dependencies]
wasi-preview1-component-adapter-provider = "=48.0.8"
TOML
touch "$work/adapter/src/lib.rs"
manifest=$(cd "$work/adapter" && cargo metadata --format-version 1 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"].startswith("wasi-preview1")))')
adapter="$(dirname "$manifest")/artefacts/wasi_snapshot_preview1.reactor.wasm"

wasm-tools component new "$work/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$work/component.wasm"
wasm-tools strip -a "$work/component.wasm" -o "$out"
ls -l "$out"
