#!/usr/bin/env bash
# Compares a page of `GET /api/v1/events` (HTTP, authentication, the query, and the durable
# audit record of the read) with `auditrail query` on the same data directory (the same
# query as a process, no audit record), in the same run: the median of RUNS requests each,
# and the ratio. Also the median of a report (top-users) both ways.
#
#   scripts/bench-query-api.sh                      # 200,000 events, 9 runs
#   EVENTS=50000 RUNS=5 scripts/bench-query-api.sh
#
# Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-200000}"
RUNS="${RUNS:-9}"
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="${AUDITRAIL:-$TARGET/release/auditrail}"
SYNTH="${SYNTH:-$TARGET/release/auditrail-synth}"

command -v curl > /dev/null || { echo "curl is missing: apt-get install curl" >&2; exit 2; }
if [[ -z "${AUDITRAIL:-}" ]]; then
  cargo build --release --quiet -p auditrail --no-default-features --bins
  cargo build --release --quiet -p synth --features cli --bins
fi
work="$(mktemp -d)"
server=""
trap '[[ -n "$server" ]] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$SYNTH" --events "$EVENTS" --seed 42 --out "$work/audit.jsonl"
"$BIN" --data "$work/data" --quiet import "$work/audit.jsonl"
"$BIN" --data "$work/data" serve --listen 127.0.0.1:0 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do
  url=$(sed -n 's/^auditrail serve: listening on //p' "$work/serve.log")
  [[ -n "$url" ]] && break
  sleep 0.1
done
token=$("$BIN" --data "$work/data" --quiet token create --role read --name bench)
sleep 1.2 # the server rereads tokens.json once a second

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
api() { # median seconds of GET $1
  for _ in $(seq "$RUNS"); do
    curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$url$1"
  done | median
}
cli() { # median seconds of auditrail "$@"
  for _ in $(seq "$RUNS"); do
    local start end
    start=$(date +%s.%N)
    "$BIN" --data "$work/data" --quiet "$@" > /dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
  done | median
}

events_api=$(api "/api/v1/events?verb=delete&limit=100")
events_cli=$(cli query --verb delete --limit 100 --output jsonl)
top_api=$(api "/api/v1/reports/top-users")
top_cli=$(cli report top-users --output json)
printf 'events: %s stored, median of %s\n' "$EVENTS" "$RUNS"
printf 'newest 100 deletes: API %.3f s, CLI %.3f s (API/CLI %.2f)\n' \
  "$events_api" "$events_cli" "$(echo "$events_api / $events_cli" | bc -l)"
printf 'top-users report:   API %.3f s, CLI %.3f s (API/CLI %.2f)\n' \
  "$top_api" "$top_cli" "$(echo "$top_api / $top_cli" | bc -l)"
audited=$("$BIN" --data "$work/data" --quiet query --source auditrail --limit 1000000 --output jsonl | wc -l)
printf 'reads recorded in the trail: %s (expected %s)\n' "$audited" $((2 * RUNS))
