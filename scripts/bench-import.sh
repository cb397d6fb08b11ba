#!/usr/bin/env bash
# Compares `auditrail import` (decode + policy + dedup + durable, signed ledger) with DuckDB
# loading the same Kubernetes audit file with read_json into a database file, on the same
# cores in the same run. Two DuckDB peers:
#   - plain: read_json with its defaults (the whole nested schema detected and loaded as
#     STRUCTs and LISTs), the load the product brief measured;
#   - tuned: maximum_depth=2, which keeps nested objects as JSON text (much less work).
# Also reports user+sys CPU seconds of each best run, `verify` against `sha256sum` of the same
# bytes, and bytes at rest per event against the JSON size.
#
#   scripts/bench-import.sh                      # 1,000,000 events, best of 3
#   EVENTS=200000 RUNS=2 scripts/bench-import.sh
#
# Needs the duckdb Python package (pip install duckdb) and GNU time (Debian package `time`).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-3}"
CORES="${CORES:-0,1}"
TARGET="${CARGO_TARGET_DIR:-target}"

python3 -c 'import duckdb' 2>/dev/null || { echo "duckdb is missing: pip install duckdb" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
cargo build --release --quiet -p auditrail --no-default-features --bins
cargo build --release --quiet -p synth --features cli --bins
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Copies, so that another build into the shared target directory cannot swap them mid-run.
cp "$TARGET/release/auditrail" "$TARGET/release/auditrail-synth" "$work/"
auditrail="$work/auditrail"
input="$work/audit.jsonl"
"$work/auditrail-synth" --events "$EVENTS" --seed 42 --out "$input"
bytes=$(stat -c %s "$input")
cat "$input" > /dev/null

cat > "$work/duck.py" <<'PY'
import sys
import duckdb
database, path, events, options = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect(database)
con.execute("SET threads TO 2")
con.execute(f"CREATE TABLE events AS SELECT * FROM read_json('{path}', format='newline_delimited'{options})")
loaded = con.execute("SELECT count(*) FROM events").fetchone()[0]
assert loaded == events, f"duckdb loaded {loaded} of {events} events"
con.close()
PY

# Every run writes a new directory, and the old ones are removed only at the end: removing
# thousands of tile files just before the next run creates its own makes ext4 search past
# the recently freed inodes on every file creation, a cost of the benchmark's cleanup, not
# of importing.
run=0
fresh() { run=$((run + 1)); data="$work/data.$run"; duckdb_file="$work/duck.$run.db"; }
noop() { :; }

# timed COMMAND…: runs COMMAND on $CORES; sets wall and cpu (user+sys seconds).
timed() {
  if ! taskset -c "$CORES" /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" > /dev/null 2> "$work/stderr"; then
    echo "failed: $*" >&2
    cat "$work/stderr" >&2
    exit 1
  fi
  local user sys
  read -r wall user sys < "$work/time"
  cpu=$(echo "$user + $sys" | bc -l)
}

# best SETUP FUNCTION: runs FUNCTION $RUNS times, SETUP before each; sets best_wall and
# best_cpu (the CPU seconds of the fastest run).
best() {
  best_wall="" best_cpu=""
  for _ in $(seq "$RUNS"); do
    "$1"
    "$2"
    if [[ -z "$best_wall" ]] || (( $(echo "$wall < $best_wall" | bc -l) )); then
      best_wall=$wall best_cpu=$cpu
    fi
  done
}

import_all() { timed "$auditrail" --quiet --data "$data" import "$input"; }
import_policy() { timed "$auditrail" --quiet --data "$data" import --policy examples/policy.yaml "$input"; }
duck_plain() { timed python3 "$work/duck.py" "$duckdb_file" "$input" "$EVENTS" ", sample_size=-1"; }
duck_tuned() {
  timed python3 "$work/duck.py" "$duckdb_file" "$input" "$EVENTS" \
    ", maximum_object_size=100000000, maximum_depth=2, union_by_name=true"
}
verify() { timed "$auditrail" --data "$data" verify; }
sha() { timed sha256sum "$input"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
best fresh import_all; import_all_wall=$best_wall import_all_cpu=$best_cpu
ledger_bytes=$(du -sb "$data/ledger" | cut -f1)
index_bytes=$(du -sb "$data/index" | cut -f1)
quarantine_bytes=$(stat -c %s "$data/quarantine.jsonl" 2>/dev/null || echo 0)
rest_bytes=$(( $(du -sb "$data" | cut -f1) - ledger_bytes - index_bytes - quarantine_bytes ))
best fresh import_policy; import_policy_wall=$best_wall import_policy_cpu=$best_cpu
best fresh duck_plain; duck_plain_wall=$best_wall duck_plain_cpu=$best_cpu
best fresh duck_tuned; duck_tuned_wall=$best_wall duck_tuned_cpu=$best_cpu
duck_bytes=$(stat -c %s "$duckdb_file")

# verify re-hashes every record; sha256sum hashes the same bytes (the JSON input) once.
fresh
"$auditrail" --quiet --data "$data" import "$input"
best noop verify; verify_wall=$best_wall verify_cpu=$best_cpu
best noop sha; sha_wall=$best_wall sha_cpu=$best_cpu

rate() { echo "$EVENTS / $1" | bc -l | xargs printf '%.0f'; }
mbs() { echo "$bytes / $1 / 1000000" | bc -l | xargs printf '%.0f'; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
row() { printf '%-50s %7.2f s wall %6.2f s cpu %8s %s\n' "$1" "$2" "$3" "$4" "$5"; }
printf 'input: %d events, %d bytes (%.0f bytes/event), best of %d runs on cpus %s\n' \
  "$EVENTS" "$bytes" "$(echo "$bytes / $EVENTS" | bc -l)" "$RUNS" "$CORES"
echo "load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
row "auditrail import (default redaction)" "$import_all_wall" "$import_all_cpu" "$(rate "$import_all_wall")" events/s
row "auditrail import --policy examples/policy.yaml" "$import_policy_wall" "$import_policy_cpu" "$(rate "$import_policy_wall")" events/s
row "duckdb read_json (defaults: nested schema)" "$duck_plain_wall" "$duck_plain_cpu" "$(rate "$duck_plain_wall")" events/s
row "duckdb read_json (maximum_depth=2: nested as text)" "$duck_tuned_wall" "$duck_tuned_cpu" "$(rate "$duck_tuned_wall")" events/s
echo "ratio auditrail import --policy / duckdb read_json defaults (the issue's measure): $(ratio "$duck_plain_wall" "$import_policy_wall")x"
echo "ratio auditrail import (all events kept) / duckdb read_json defaults: $(ratio "$duck_plain_wall" "$import_all_wall")x"
echo "ratio auditrail import (all events kept) / duckdb maximum_depth=2:   $(ratio "$duck_tuned_wall" "$import_all_wall")x"
row "auditrail verify" "$verify_wall" "$verify_cpu" "$(mbs "$verify_wall")" "MB/s of JSON"
row "sha256sum of the same bytes" "$sha_wall" "$sha_cpu" "$(mbs "$sha_wall")" MB/s
echo "ratio verify / sha256sum speed: $(ratio "$sha_wall" "$verify_wall")x"
printf 'bytes at rest (data directory but quarantine): ledger %d + index %d + other %d = %.2f%% of the JSON (duckdb database, maximum_depth=2: %.2f%%)\n' \
  "$ledger_bytes" "$index_bytes" "$rest_bytes" \
  "$(echo "100 * ($ledger_bytes + $index_bytes + $rest_bytes) / $bytes" | bc -l)" \
  "$(echo "100 * $duck_bytes / $bytes" | bc -l)"
