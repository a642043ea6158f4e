#!/usr/bin/env bash
# Backup benchmark: Lifeboat against `tar czf - | age`, `tar | pigz | age` and restic on the
# same generated stack, in one run. Prints times, output sizes and ratios, then the time of a
# second backup with nothing changed and of one after a day of change (gen_stack --mutate).
#
#   bench/backup.sh [SCALE]      (default 4: about 1.3 GB, the issue's reference size)
#
# Needs ../shared/bench/gen_stack.py; installs age, restic and pigz with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-4}
GEN=../shared/bench/gen_stack.py
for p in age restic pigz; do
  command -v "$p" >/dev/null || { apt-get install -y -q "$p" >/dev/null; }
done
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
cargo build --release -q -p lifeboat-cli
LB=$PWD/target/release/lifeboat
W=$(mktemp -d /tmp/lifeboat-bench.XXXX)
trap 'rm -rf "$W"' EXIT
python3 "$GEN" --shape ai-chatbot --scale "$SCALE" --out "$W/stack"
SIZE=$(du -sb "$W/stack" | cut -f1)
"$LB" key init --identity "$W/key.txt" >/dev/null
RECIPIENT=$("$LB" key recipient --identity "$W/key.txt")
mkdir -p "$W/lb" "$W/restic"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$W/restic"
restic init -q

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }
sync; sleep 3   # let the generated files leave the "changed just now" window

T_LB=$(timed /usr/bin/time -o "$W/rss" -f %M "$LB" backup "$W/stack" --to "$W/lb" --identity "$W/key.txt" --no-docker)
# The disk's share: the stack read, encrypted and written with nothing compressed, hashed
# or cut, then synced (Lifeboat and restic sync what they write; the `tar czf | age` below
# is timed without a sync, as people run it). A backup that keeps its promise to be on the
# disk when it says done cannot be much faster than this on the same disk.
T_FLOOR=$(timed sh -c "tar -C '$W' -cf - stack | age -r $RECIPIENT > '$W/floor.age' && sync")
rm -f "$W/floor.age"
RSS_KB=$(tail -1 "$W/rss")
T_TAR=$(timed sh -c "tar -C '$W' -czf - stack | age -r $RECIPIENT > '$W/tar.tgz.age'")
T_PIGZ=$(timed sh -c "tar -C '$W' -cf - stack | pigz | age -r $RECIPIENT > '$W/pigz.tgz.age'")
T_RESTIC=$(timed restic backup -q "$W/stack")
S_LB=$(du -sb "$W/lb" | cut -f1)
S_TAR=$(stat -c %s "$W/tar.tgz.age")
S_PIGZ=$(stat -c %s "$W/pigz.tgz.age")
S_RESTIC=$(du -sb "$W/restic" | cut -f1)
sleep 3
T_LB2=$(timed "$LB" backup "$W/stack" --to "$W/lb" --identity "$W/key.txt" --no-docker)
T_RESTIC2=$(timed restic backup -q "$W/stack")
python3 "$GEN" --out "$W/stack" --mutate --seed 2
T_LB3=$(timed "$LB" backup "$W/stack" --to "$W/lb" --identity "$W/key.txt" --no-docker)
T_RESTIC3=$(timed restic backup -q "$W/stack")

mb() { echo "scale=1; $1 / 1048576" | bc; }
r() { echo "scale=2; $1 / $2" | bc; }
echo "ai-chatbot --scale $SCALE: $(mb "$SIZE") MiB on $(nproc) cores"
printf '%-22s %9s %11s\n' "first backup" "seconds" "output MiB"
printf '%-22s %9.2f %11s\n' "lifeboat" "$T_LB" "$(mb "$S_LB")"
printf '%-22s %9.2f %11s\n' "tar czf | age" "$T_TAR" "$(mb "$S_TAR")"
printf '%-22s %9.2f %11s\n' "tar | pigz | age" "$T_PIGZ" "$(mb "$S_PIGZ")"
printf '%-22s %9.2f %11s\n' "restic" "$T_RESTIC" "$(mb "$S_RESTIC")"
printf '%-22s %9.2f\n' "tar | age; sync" "$T_FLOOR"
echo "lifeboat peak memory:    $((RSS_KB / 1024)) MiB resident"
echo "speed-up vs tar czf|age: $(r "$T_TAR" "$T_LB")x (target >= 15)"
echo "speed-up vs pigz|age:    $(r "$T_PIGZ" "$T_LB")x"
echo "speed-up vs restic:      $(r "$T_RESTIC" "$T_LB")x (target >= 3)"
echo "lifeboat / tar|age;sync: $(r "$T_LB" "$T_FLOOR")x (the disk's share of a first backup here)"
echo "size vs gzip -6:         $(r "$S_LB" "$S_TAR")x (target <= 1.10)"
printf 'no change: lifeboat %.2f s, restic %.2f s, ratio %s (target <= 0.1)\n' "$T_LB2" "$T_RESTIC2" "$(r "$T_LB2" "$T_RESTIC2")"
printf 'after --mutate: lifeboat %.2f s, restic %.2f s\n' "$T_LB3" "$T_RESTIC3"
