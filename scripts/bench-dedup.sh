#!/usr/bin/env bash
# Memory and time of deduplication against a stored history, this build against another
# build of auditrail (BASELINE, e.g. the main branch's release binary) on the same generated
# file, in the same run, alternating: for each binary and run,
#   1. `import` of EVENTS generated Kubernetes events into a new data directory,
#   2. `import /dev/null` on it twice: opening the store for writing (what `serve`, `import`
#      and `prune` pay first), importing nothing, closing. The first open after a bulk load
#      also writes the level-0 tiles the load left out (the ledger's work, reported apart as
#      `open-1`); the second (`open`) is the steady cost,
#   3. `import` of the same file again into the same directory (every event a duplicate:
#      it must store 0).
# Reports wall seconds and peak RSS (GNU time's maximum resident set size) of each step.
#
#   BASELINE=/path/to/old/auditrail scripts/bench-dedup.sh          # 3,000,000 events, 1 run
#   BASELINE=... EVENTS=2000000 RUNS=2 scripts/bench-dedup.sh
#
# Needs GNU time (Debian package `time`) and about 1 KiB of disk per event for the file,
# plus the data directories (about 60 bytes per event each); all removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-3000000}"
RUNS="${RUNS:-1}"
TARGET="${CARGO_TARGET_DIR:-target}"
[[ -n "${BASELINE:-}" && -x "${BASELINE}" ]] || {
  echo "set BASELINE to the auditrail binary to compare with (a release build of another commit)" >&2
  exit 2
}
[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
cargo build --release --quiet -p auditrail --no-default-features --bin auditrail
cargo build --release --quiet -p synth --features cli --bin auditrail-synth
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-dedup.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$BASELINE" "$work/baseline"
cp "$TARGET/release/auditrail" "$work/current"
input="$work/audit.jsonl"
"$TARGET/release/auditrail-synth" --events "$EVENTS" --seed 42 --out "$input"
cat "$input" > /dev/null
echo "$EVENTS events, $(stat -c %s "$input") bytes; $(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# step NAME BINARY DATA ARGS...: prints "NAME wall_s peak_rss_MiB" and the command's summary.
step() {
  local name=$1 binary=$2 data=$3
  shift 3
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$binary" --data "$data" "$@" \
    > "$work/out.txt" 2> "$work/err.txt" || { cat "$work/err.txt" >&2; exit 1; }
  read -r wall rss < "$work/time.txt"
  printf '%-10s %-10s %8.2f s %8.0f MiB   %s\n' "$(basename "$binary")" "$name" "$wall" \
    "$((rss / 1024))" "$(grep -h -o -E '[0-9]+ stored, [0-9]+ duplicates' "$work/out.txt" "$work/err.txt" | tail -1)"
}

for run in $(seq "$RUNS"); do
  for binary in "$work/baseline" "$work/current"; do
    data="$work/data-$(basename "$binary")"
    rm -rf "$data"
    step import "$binary" "$data" import "$input"
    step open-1 "$binary" "$data" import /dev/null
    step open "$binary" "$data" import /dev/null
    step reimport "$binary" "$data" import "$input"
    rm -rf "$data"
  done
done
