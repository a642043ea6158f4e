#!/usr/bin/env bash
# Chunk-size measurement for the pieces format: one generated stack, a week of
# `gen_stack.py --mutate`, each day's folder as the deterministic tar stream a backup reads
# (sorted names, numeric owners), cut by each candidate (minimum, average, maximum) and
# counted as stored (each new piece compressed on its own, once).
#
#   bench/chunking.sh [SCALE] [SHAPE]     (default 1, ai-chatbot: about 330 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1}
SHAPE=${2:-ai-chatbot}
GEN=../shared/bench/gen_stack.py
W=$(mktemp -d /tmp/lifeboat-chunking.XXXX)
trap 'rm -rf "$W"' EXIT
cargo build --release -q -p lifeboat-core --example chunk_sizes
python3 "$GEN" --shape "$SHAPE" --scale "$SCALE" --out "$W/stack"
snap() { tar -C "$W" --sort=name --numeric-owner -cf "$W/day$1.tar" stack; }
snap 0
for d in 1 2 3 4 5 6 7; do
  python3 "$GEN" --out "$W/stack" --mutate --seed $((d + 1))
  snap "$d"
done
echo "$SHAPE, scale $SCALE: $(du -sb "$W/stack" | cut -f1) bytes on day 7, 8 days"
target/release/examples/chunk_sizes "$W"/day{0..7}.tar
