#!/usr/bin/env bash
# Compares `auditrail convert` (decode + policy + encode, no storage) with `jq -c .` on the
# same generated Kubernetes audit file, both pinned to one core, best of N runs each.
#
#   scripts/bench-convert.sh                 # 1,000,000 events, 3 runs
#   EVENTS=200000 RUNS=5 scripts/bench-convert.sh
#
# Prints events/s for each and the ratio. Needs jq (apt-get install jq).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-3}"
POLICY="${POLICY:-examples/policy.yaml}"
CORE="${CORE:-0}"
TARGET="${CARGO_TARGET_DIR:-target}"

command -v jq >/dev/null || { echo "jq is missing: apt-get install jq" >&2; exit 2; }
cargo build --release --quiet -p auditrail --no-default-features --bins && cargo build --release --quiet -p synth --features cli --bins
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

input="$work/audit.jsonl"
"$TARGET/release/auditrail-synth" --events "$EVENTS" --seed 42 --out "$input"
bytes=$(stat -c %s "$input")
lines=$(wc -l < "$input")
cat "$input" > /dev/null # warm the page cache

best() { # best wall time in seconds of "$@" over $RUNS runs, output discarded
  local best_time=""
  for _ in $(seq "$RUNS"); do
    local start end elapsed
    start=$(date +%s.%N)
    taskset -c "$CORE" "$@" > /dev/null
    end=$(date +%s.%N)
    elapsed=$(echo "$end - $start" | bc -l)
    if [[ -z "$best_time" ]] || (( $(echo "$elapsed < $best_time" | bc -l) )); then best_time=$elapsed; fi
  done
  echo "$best_time"
}

auditrail_k8s=$(best "$TARGET/release/auditrail" --quiet convert --policy "$POLICY" --to k8s "$input")
auditrail_ecs=$(best "$TARGET/release/auditrail" --quiet convert --policy "$POLICY" --to ecs "$input")
auditrail_nopolicy=$(best "$TARGET/release/auditrail" --quiet convert --to k8s "$input")
jq_time=$(best jq -c . "$input")

rate() { echo "$lines / $1" | bc -l | xargs printf '%.0f'; }
printf 'input: %d events, %d bytes (%.0f bytes/event), best of %d runs, one core (cpu %s)\n' \
  "$lines" "$bytes" "$(echo "$bytes / $lines" | bc -l)" "$RUNS" "$CORE"
printf '%-44s %8.3f s %10s events/s\n' "auditrail convert --policy --to k8s" "$auditrail_k8s" "$(rate "$auditrail_k8s")"
printf '%-44s %8.3f s %10s events/s\n' "auditrail convert --policy --to ecs" "$auditrail_ecs" "$(rate "$auditrail_ecs")"
printf '%-44s %8.3f s %10s events/s\n' "auditrail convert --to k8s (no policy)" "$auditrail_nopolicy" "$(rate "$auditrail_nopolicy")"
printf '%-44s %8.3f s %10s events/s\n' "jq -c ." "$jq_time" "$(rate "$jq_time")"
printf 'ratio auditrail (policy, k8s) / jq: %.1fx\n' "$(echo "$jq_time / $auditrail_k8s" | bc -l)"
