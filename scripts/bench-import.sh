#!/usr/bin/env bash
# Compares `auditrail import` (decode + policy + dedup + durable, signed ledger) with DuckDB
# loading the same Kubernetes audit file with read_json into a database file, on the same
# cores in the same run. Also reports bytes at rest per event against the JSON size.
#
#   scripts/bench-import.sh                      # 1,000,000 events, best of 3
#   EVENTS=200000 RUNS=2 scripts/bench-import.sh
#
# Needs the duckdb Python package (pip install duckdb).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-3}"
CORES="${CORES:-0,1}"
TARGET="${CARGO_TARGET_DIR:-target}"

python3 -c 'import duckdb' 2>/dev/null || { echo "duckdb is missing: pip install duckdb" >&2; exit 2; }
cargo build --release --quiet -p auditrail --bins
cargo build --release --quiet -p synth --features cli --bins
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
input="$work/audit.jsonl"
"$TARGET/release/auditrail-synth" --events "$EVENTS" --seed 42 --out "$input"
bytes=$(stat -c %s "$input")
cat "$input" > /dev/null

best() { # best wall time of "$@" over $RUNS runs; $1 is a setup function run before each
  local setup=$1; shift
  local best_time=""
  for _ in $(seq "$RUNS"); do
    "$setup"
    local start end elapsed
    start=$(date +%s.%N)
    taskset -c "$CORES" "$@" > /dev/null
    end=$(date +%s.%N)
    elapsed=$(echo "$end - $start" | bc -l)
    if [[ -z "$best_time" ]] || (( $(echo "$elapsed < $best_time" | bc -l) )); then best_time=$elapsed; fi
  done
  echo "$best_time"
}

fresh_data() { rm -rf "$work/data"; }
fresh_duckdb() { rm -f "$work/duck.db" "$work/duck.db.wal"; }

import_all=$(best fresh_data "$TARGET/release/auditrail" --quiet --data "$work/data" import "$input")
ledger_bytes=$(du -sb "$work/data/ledger" | cut -f1)
index_bytes=$(du -sb "$work/data/index" | cut -f1)
import_policy=$(best fresh_data "$TARGET/release/auditrail" --quiet --data "$work/data" import --policy examples/policy.yaml "$input")
duck=$(best fresh_duckdb python3 -c "
import duckdb, sys
con = duckdb.connect('$work/duck.db')
con.execute('SET threads TO 2')
con.execute(\"CREATE TABLE events AS SELECT * FROM read_json('$input', format='newline_delimited', maximum_object_size=100000000, maximum_depth=2, union_by_name=true)\")
con.close()
")
duck_bytes=$(stat -c %s "$work/duck.db")

# verify re-hashes every record; sha256sum hashes the same bytes (the JSON input) once.
"$TARGET/release/auditrail" --quiet --data "$work/data" import "$input" > /dev/null 2>&1 || true
noop() { :; }
verify_time=$(best noop "$TARGET/release/auditrail" --data "$work/data" verify)
sha_time=$(best noop sha256sum "$input")

rate() { echo "$EVENTS / $1" | bc -l | xargs printf '%.0f'; }
printf 'input: %d events, %d bytes (%.0f bytes/event), best of %d runs on cpus %s\n' "$EVENTS" "$bytes" "$(echo "$bytes / $EVENTS" | bc -l)" "$RUNS" "$CORES"
printf '%-46s %8.3f s %10s events/s\n' "auditrail import (default redaction)" "$import_all" "$(rate "$import_all")"
printf '%-46s %8.3f s %10s events/s\n' "auditrail import --policy examples/policy.yaml" "$import_policy" "$(rate "$import_policy")"
printf '%-46s %8.3f s %10s events/s\n' "duckdb read_json into a database file" "$duck" "$(rate "$duck")"
printf 'ratio auditrail import (all events kept) / duckdb: %.2fx\n' "$(echo "$duck / $import_all" | bc -l)"
printf '%-46s %8.3f s %10s MB/s of JSON\n' "auditrail verify" "$verify_time" "$(echo "$bytes / $verify_time / 1000000" | bc -l | xargs printf '%.0f')"
printf '%-46s %8.3f s %10s MB/s\n' "sha256sum of the same bytes" "$sha_time" "$(echo "$bytes / $sha_time / 1000000" | bc -l | xargs printf '%.0f')"
printf 'ratio verify / sha256sum speed: %.2fx\n' "$(echo "$sha_time / $verify_time" | bc -l)"
printf 'bytes at rest: ledger %d + index %d = %.2f%% of the JSON (duckdb database: %.2f%%)\n' \
  "$ledger_bytes" "$index_bytes" "$(echo "100 * ($ledger_bytes + $index_bytes) / $bytes" | bc -l)" "$(echo "100 * $duck_bytes / $bytes" | bc -l)"
