#!/usr/bin/env bash
# Load benchmark of `auditrail serve` (the webhook backend): a release build of the server on
# a fresh temporary data directory, and crates/server/examples/load.rs posting EventList
# batches of 400 realistic events from several keep-alive connections for a sustained
# period, on the same machine. Reports sustained events/s, p50/p99/max acknowledgement
# latency (answered only once the batch is durable: fsync included), refusals and the
# server's peak RSS; then checks that the trail holds every acknowledged event and verifies.
#
#   scripts/bench-serve.sh                        # 4 connections, 20 s
#   CONNECTIONS=8 DURATION=30 scripts/bench-serve.sh
#   RATE=60000 CONNECTIONS=8 scripts/bench-serve.sh   # open loop: 60k events/s offered,
#                                                      # latency from when each batch was due
#
# Target (README, Benchmarks): >= 50k events/s sustained, p99 < 50 ms on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS="${CONNECTIONS:-4}"
DURATION="${DURATION:-20}"
RATE="${RATE:-0}"
TARGET="${CARGO_TARGET_DIR:-target}"

cargo build --release --quiet -p auditrail --no-default-features --bin auditrail
cargo build --release --quiet -p server --no-default-features --example load
work="$(mktemp -d)"
# The target directory may be shared with other builds: run copies of what was just built.
cp "$TARGET/release/auditrail" "$TARGET/release/examples/load" "$work/"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

: > "$work/auditrail.toml"
"$work/auditrail" --data "$work/data" serve --listen 127.0.0.1:0 --config "$work/auditrail.toml" \
  2> "$work/serve.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q 'listening on' "$work/serve.log" 2>/dev/null && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/serve.log" | head -1)
[[ -n "$url" ]] || { echo "the server did not start:" >&2; cat "$work/serve.log" >&2; exit 1; }

echo "server: $url (pid $server_pid), data in $work/data; $(nproc) cpus: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$work/load" "$url" "$(cat "$work/data/admin.token")" "$CONNECTIONS" "$DURATION" "$server_pid" "$RATE" \
  | tee "$work/load.txt"

# The server's view: group commits (ledger append with fsync) and requests merged into each.
curl -fsS -H "Authorization: Bearer $(cat "$work/data/admin.token")" "$url/metrics" > "$work/metrics.txt"
awk '
  /^auditrail_ledger_append_seconds_sum / { append_sum = $2 }
  /^auditrail_ledger_append_seconds_count / { commits = $2 }
  /^auditrail_ledger_append_seconds_bucket\{le="0.0128"\}/ { under13 = $2 }
  /^auditrail_ledger_append_seconds_bucket\{le="0.0256"\}/ { under26 = $2 }
  /^auditrail_ledger_append_seconds_bucket\{le="0.0512"\}/ { under51 = $2 }
  /^auditrail_ledger_append_seconds_bucket\{le="0.1024"\}/ { under = $2 }
  /^auditrail_group_commit_requests_sum / { requests = $2 }
  /^auditrail_ingest_batch_seconds_count / { batches = $2 }
  /^auditrail_ingest_batch_seconds_bucket\{le="0.016"\}/ { b16 = $2 }
  /^auditrail_ingest_batch_seconds_bucket\{le="0.032"\}/ { b32 = $2 }
  /^auditrail_ingest_batch_seconds_bucket\{le="0.064"\}/ { b64 = $2 }
  /^auditrail_ingest_batch_seconds_bucket\{le="0.128"\}/ { b128 = $2 }
  /^auditrail_ingest_batch_seconds_bucket\{le="0.256"\}/ { b256 = $2 }
  END {
    if (batches > 0)
      printf "server: %d ingest requests, handled (body read to answer) in over 16/32/64/128/256 ms: %d/%d/%d/%d/%d\n",
        batches, batches - b16, batches - b32, batches - b64, batches - b128, batches - b256
    if (commits > 0)
      printf "server: %d group commits, mean %.1f ms, over 13/26/51/102 ms: %d/%d/%d/%d; %.1f requests per commit\n",
        commits, 1000 * append_sum / commits, commits - under13, commits - under26,
        commits - under51, commits - under, requests / commits
  }' "$work/metrics.txt"

# Compaction under the load: sealed ledger segments still in row form when it ends (queries
# decode those row by row), segments compacted, and the writer's share of each compaction.
segments="$work/data/ledger/segments"
row_form=$(find "$segments" -name '*.seg' | wc -l)
stubs=$(find "$segments" -name '*.ext' | wc -l)
echo "ledger at the end of the load: $(( row_form > 0 ? row_form - 1 : 0 )) sealed segments in row form (+1 active), $stubs compacted"
awk '
  /^auditrail_compaction_pending_segments / { pending = $2; seen = 1 }
  /^auditrail_compaction_commit_seconds_sum / { commit_sum = $2 }
  /^auditrail_compaction_commit_seconds_count / { commits = $2 }
  /^auditrail_compaction_commit_seconds_bucket\{le="0.0512"\}/ { under = $2 }
  /^auditrail_compaction_seconds_sum / { work_sum = $2 }
  END {
    mean = 0; work = 0
    if (commits > 0) { mean = 1000 * commit_sum / commits; work = work_sum / commits }
    if (seen)
      printf "server: %d segments waiting in row form; %d compactions committed, writer share mean %.1f ms (%d over 51 ms), background mean %.2f s\n",
        pending, commits, mean, commits - under, work
  }' "$work/metrics.txt"
# What a query costs now: it reads the index segments and decodes the row-form tail.
TIMEFORMAT="query --limit 10 beside the server: %R s"
time "$work/auditrail" --data "$work/data" query --limit 10 --output json > /dev/null

# SIGTERM: the server drains and writes its final checkpoint; then the trail verifies.
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
acknowledged=$(sed -n 's/^\([0-9]*\) events in.*/\1/p' "$work/load.txt")
stored=$("$work/auditrail" --data "$work/data" checkpoint | sed -n 2p)
echo "trail: $stored leaves in the final checkpoint (acknowledged: $acknowledged events)"
(( stored >= acknowledged )) || { echo "the trail lacks acknowledged events" >&2; exit 1; }
"$work/auditrail" --data "$work/data" verify | tail -1
