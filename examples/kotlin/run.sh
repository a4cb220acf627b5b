#!/usr/bin/env bash
# Compiles (once) and runs examples/kotlin/RunAssistant.kt on a WAV file:
#   examples/kotlin/run.sh command.wav [data dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
EMMA_HOME="${EMMA_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/emma}"
K="$EMMA_HOME/npm/node_modules/kotlin-compiler"
[ -x "$K/bin/kotlinc" ] || { echo "kotlinc not found: run scripts/setup" >&2; exit 1; }
target="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
gen="$target/emma-kotlin"
bindings/scripts/generate.sh kotlin "$gen" >/dev/null
jar="$target/emma-kotlin-example.jar"
cp="/usr/share/java/jna.jar:$K/lib/kotlinx-coroutines-core-jvm.jar"
if [ ! -f "$jar" ] || [ -n "$(find "$gen" examples/kotlin -name '*.kt' -newer "$jar")" ]; then
  "$K/bin/kotlinc" -Werror -cp "$cp" -d "$jar" "$gen"/emma/*.kt examples/kotlin/RunAssistant.kt
fi
# -Xmn16m: a small young generation lets JNA free the per-call native memory promptly (bindings/README.md).
exec java -Xmn16m -cp "$jar:$cp:$K/lib/kotlin-stdlib.jar" -Djna.library.path="$target/debug" emma.examples.RunAssistant "$@"
