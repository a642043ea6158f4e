#!/usr/bin/env bash
# A week of backups: Lifeboat against restic and borg (Debian packages) on the same data in
# one run. A generated stack is backed up, then changed by `gen_stack.py --mutate` once a
# day for 7 days, each day followed by a backup with each tool. Prints each day's time and
# bytes added to each repository, the totals, a backup with nothing changed, a full
# restore of the last day, and the stock one-liner's time beside it.
#
#   bench/week.sh [SCALE] [SHAPE]     (default 2, ai-chatbot: about 660 MiB)
#
# Needs ../shared/bench/gen_stack.py; installs age, restic, borgbackup and time with
# apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-2}
SHAPE=${2:-ai-chatbot}
GEN=../shared/bench/gen_stack.py
for p in age restic borg; do
  command -v "$p" >/dev/null || { apt-get install -y -q "$( [ $p = borg ] && echo borgbackup || echo $p)" >/dev/null; }
done
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
cargo build --release -q -p lifeboat-cli
LB=$PWD/target/release/lifeboat
W=$(mktemp -d /tmp/lifeboat-week.XXXX)
trap 'rm -rf "$W"' EXIT
export LIFEBOAT_HOME="$W/home"
python3 "$GEN" --shape "$SHAPE" --scale "$SCALE" --out "$W/stack"
# The days are minutes apart here; on a real server they are days apart, and what each day
# writes carries that day's time. So the stack is dated nine days back, and what each day's
# `--mutate` writes is dated that day (only the files it wrote: the others keep their times,
# as on a real server). Every tool sees the same files.
BASE=$(( $(date +%s) - 9 * 86400 ))
find "$W/stack" -exec touch -h -d "@$BASE" {} +
touch "$W/marker"
"$LB" key init --identity "$W/key.txt" >/dev/null
mkdir -p "$W/lb"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$W/restic"
restic init -q
export BORG_PASSPHRASE=bench BORG_REPO="$W/borg" BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
borg init --encryption=repokey-blake2 "$W/borg" >/dev/null

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }
size() { du -sb "$1" | cut -f1; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
lb() { /usr/bin/time -a -o "$W/rss" -f %M "$LB" backup "$W/stack" --to "$W/lb" --identity "$W/key.txt" --no-docker; }
rs() { restic backup -q "$W/stack"; }
bg() { borg create --compression zlib,6 "::day$1" "$W/stack"; }

mb() { echo "scale=2; $1 / 1048576" | bc; }
r() { echo "scale=2; $1 / $2" | bc; }
printf '%-5s %10s %10s %10s %12s %12s %12s\n' day "lb s" "restic s" "borg s" "lb +MiB" "restic +MiB" "borg +MiB"
sync; sleep 2
declare -a TL TR TB AL AR AB
for d in 0 1 2 3 4 5 6 7; do
  if [ "$d" -gt 0 ]; then
    python3 "$GEN" --out "$W/stack" --mutate --seed $((d + 1)) >/dev/null
    find "$W/stack" -newer "$W/marker" -exec touch -h -d "@$((BASE + d * 86400))" {} +
    touch "$W/marker"
    sleep 3   # past the "changed just now" window, as bench/backup.sh
  fi
  s0=$(size "$W/lb"); r0=$(size "$W/restic"); b0=$(size "$W/borg")
  drop; TL[$d]=$(timed lb)
  drop; TR[$d]=$(timed rs)
  drop; TB[$d]=$(timed bg "$d")
  AL[$d]=$(( $(size "$W/lb") - s0 )); AR[$d]=$(( $(size "$W/restic") - r0 )); AB[$d]=$(( $(size "$W/borg") - b0 ))
  printf '%-5s %10.2f %10.2f %10.2f %12s %12s %12s\n' "$d" "${TL[$d]}" "${TR[$d]}" "${TB[$d]}" "$(mb "${AL[$d]}")" "$(mb "${AR[$d]}")" "$(mb "${AB[$d]}")"
done
# Nothing changed since the last backup.
sleep 3
drop; T_LB0=$(timed lb); drop; T_RS0=$(timed rs); drop; T_BG0=$(timed bg 8)

sum() { local t=0; for x in "$@"; do t=$(echo "$t + $x" | bc); done; echo "$t"; }
DL=$(sum "${TL[@]:1}"); DR=$(sum "${TR[@]:1}"); DB=$(sum "${TB[@]:1}")
BL=$(sum "${AL[@]:1}"); BR=$(sum "${AR[@]:1}"); BB=$(sum "${AB[@]:1}")
ZL=$(size "$W/lb"); ZR=$(size "$W/restic"); ZB=$(size "$W/borg")
RSS=$(sort -n "$W/rss" | tail -1)

# A full restore of the last snapshot, and the stock one-liner for every component of it.
drop; T_RLB=$(timed "$LB" restore latest --from "$W/lb" --into "$W/r-lb" --identity "$W/key.txt" --yes --no-docker)
drop; T_RRS=$(timed restic restore -q latest --target "$W/r-restic")
LAST=$(ls "$W"/lb/*/snapshots/*.manifest.age | sort | tail -1 | xargs basename | sed 's/\.manifest\.age$//')
stock() {
  mkdir -p "$W/r-stock"
  (cd "$W/lb" && for l in */snapshots/"$LAST".*.list.age; do
    age -d -i "$W/key.txt" "$l" | xargs -n1 age -d -i "$W/key.txt" | tar -xzpf - --numeric-owner -C "$W/r-stock"
  done)
}
drop; T_RSTOCK=$(timed stock)
PIECES=$(find "$W/lb/_pieces" -type f | wc -l)

echo
echo "$SHAPE --scale $SCALE: $(mb "$(size "$W/stack")") MiB on day 7, $(nproc) cores"
printf 'days 1-7 time:        lifeboat %.2f s, restic %.2f s, borg %.2f s; lifeboat/restic %s (target <= 1.0, aim 0.5)\n' "$DL" "$DR" "$DB" "$(r "$DL" "$DR")"
printf 'days 1-7 bytes added: lifeboat %s MiB, restic %s MiB, borg %s MiB; lifeboat/restic %s (target <= 1.2)\n' "$(mb "$BL")" "$(mb "$BR")" "$(mb "$BB")" "$(r "$BL" "$BR")"
printf 'total after the week: lifeboat %s MiB, restic %s MiB, borg %s MiB; lifeboat/restic %s (target <= 1.2)\n' "$(mb "$ZL")" "$(mb "$ZR")" "$(mb "$ZB")" "$(r "$ZL" "$ZR")"
printf 'first backup:         lifeboat %.2f s, restic %.2f s, borg %.2f s; restic/lifeboat %s (target >= 3)\n' "${TL[0]}" "${TR[0]}" "${TB[0]}" "$(r "${TR[0]}" "${TL[0]}")"
printf 'nothing changed:      lifeboat %.2f s, restic %.2f s, borg %.2f s; lifeboat/restic %s (target <= 0.1)\n' "$T_LB0" "$T_RS0" "$T_BG0" "$(r "$T_LB0" "$T_RS0")"
printf 'full restore:         lifeboat %.2f s, restic %.2f s; lifeboat/restic %s (target <= 1.0); stock one-liner %.2f s\n' "$T_RLB" "$T_RRS" "$(r "$T_RLB" "$T_RRS")" "$T_RSTOCK"
echo "lifeboat peak memory: $((RSS / 1024)) MiB resident (largest of the week's backups); $PIECES pieces"
