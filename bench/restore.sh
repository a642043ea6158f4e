#!/usr/bin/env bash
# Restore benchmark on one snapshot of a generated stack:
#   - a full restore with Lifeboat against `age -d | tar xzf -` of the same archives (and
#     restic's restore of the same data, for scale);
#   - one small component (the secrets) against the full restore: it must not read the
#     other archives (target <= 0.1x).
#
#   bench/restore.sh [SCALE]     (default 4: about 1.3 GB)
#
# Needs ../shared/bench/gen_stack.py; installs age and restic with apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-4}
GEN=../shared/bench/gen_stack.py
for p in age restic; do
  command -v "$p" >/dev/null || { apt-get install -y -q "$p" >/dev/null; }
done
[ -x /usr/bin/time ] || apt-get install -y -q time >/dev/null
cargo build --release -q -p lifeboat-cli
LB=$PWD/target/release/lifeboat
W=$(mktemp -d /tmp/lifeboat-rbench.XXXX)
trap 'rm -rf "$W"' EXIT
export LIFEBOAT_HOME="$W/home"
python3 "$GEN" --shape ai-chatbot --scale "$SCALE" --out "$W/stack"
SIZE=$(du -sb "$W/stack" | cut -f1)
"$LB" key init --identity "$W/key.txt" >/dev/null
mkdir -p "$W/lb"
"$LB" backup "$W/stack" --to "$W/lb" --identity "$W/key.txt" --no-docker >/dev/null
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY="$W/restic"
restic init -q
restic backup -q "$W/stack"

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null; echo "$(now) - $t0" | bc; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

restore_lb() { "$LB" restore latest --from "$W/lb" --into "$1" --identity "$W/key.txt" --yes --no-docker "${@:2}"; }
stock() {
  mkdir -p "$W/stock"
  # The one-liner README-RESTORE.txt gives, for every component's piece list.
  (cd "$W/lb" && for l in */snapshots/*.list.age; do
    age -d -i "$W/key.txt" "$l" | xargs -n1 age -d -i "$W/key.txt" | tar -xzpf - --numeric-owner -C "$W/stock"
  done)
}

# The plan first, while the disk has room for what it checks.
drop; T_PLAN=$(timed "$LB" restore latest --from "$W/lb" --into "$W/plan" --identity "$W/key.txt" --dry-run --no-docker)
drop; T_FULL=$(timed /usr/bin/time -o "$W/rss" -f %M "$LB" restore latest --from "$W/lb" --into "$W/full" --identity "$W/key.txt" --yes --no-docker)
RSS_KB=$(tail -1 "$W/rss")
drop; T_STOCK=$(timed stock)
drop; T_RESTIC=$(timed restic restore -q latest --target "$W/restic-out")
drop; T_ONE=$(timed restore_lb "$W/one" --only secrets)

# The full restore is complete: same files as the stack (SQLite compared by size only here;
# the tests compare content).
diff <(cd "$W/stack" && find . -type f ! -name '*-wal' ! -name '*-shm' -printf '%P %s\n' | sort) \
     <(cd "$W/full" && find . -path ./.lifeboat -prune -o -type f -printf '%P %s\n' | sort) >/dev/null \
  || { echo "the full restore differs from the stack" >&2; exit 1; }

mb() { echo "scale=1; $1 / 1048576" | bc; }
r() { echo "scale=3; $1 / $2" | bc; }
echo "ai-chatbot --scale $SCALE: $(mb "$SIZE") MiB on $(nproc) cores"
printf '%-32s %9s\n' "restore" "seconds"
printf '%-32s %9.2f\n' "lifeboat, full" "$T_FULL"
printf '%-32s %9.2f\n' "stock one-liner, every list" "$T_STOCK"
printf '%-32s %9.2f\n' "restic restore" "$T_RESTIC"
printf '%-32s %9.2f\n' "lifeboat, secrets only" "$T_ONE"
printf '%-32s %9.2f\n' "lifeboat, plan (--dry-run)" "$T_PLAN"
echo "lifeboat peak memory (full): $((RSS_KB / 1024)) MiB resident"
echo "full vs age|tar:   $(r "$T_STOCK" "$T_FULL")x faster (target >= 1)"
echo "full vs restic:    $(r "$T_RESTIC" "$T_FULL")x faster"
echo "one / full:        $(r "$T_ONE" "$T_FULL") (target <= 0.1)"
