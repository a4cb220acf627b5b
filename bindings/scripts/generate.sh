#!/usr/bin/env bash
# Generates Emma's bindings for one language from a fresh build of the library:
#
#   bindings/scripts/generate.sh kotlin|python|swift OUT_DIR
#
# Python: OUT_DIR/emma.py plus the library beside it (PYTHONPATH=OUT_DIR).
# Kotlin: OUT_DIR/emma/emma.kt; run with JNA on the classpath and
#         -Djna.library.path=<target>/debug (see examples/kotlin/run.sh).
# Swift:  OUT_DIR/emma.swift, EmmaFFI.h, EmmaFFI.modulemap.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 kotlin|python|swift OUT_DIR" >&2; exit 2; }
lang="$1" out="$2"
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
cargo build -q -p emma-bindings --lib --bin uniffi-bindgen
lib="$target/debug/libemma_bindings.so"
"$target/debug/uniffi-bindgen" generate --library "$lib" --language "$lang" --out-dir "$out"
[ "$lang" = python ] && cp "$lib" "$out/"
echo "$out"
