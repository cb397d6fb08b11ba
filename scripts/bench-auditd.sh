#!/usr/bin/env bash
# Linux audit interpretation: `auditrail convert --from auditd --to jsonl` (group, interpret
# like `ausearch -i`, normalize, write JSON lines) against `ausearch -i` and against Laurel
# (JSON lines) on the same generated one-million-record audit.log, each pinned to one core,
# best of N runs, in one run of this script. Prints records/s and the ratios.
#
#   scripts/bench-auditd.sh                    # 1,000,000 records, 3 runs
#   RECORDS=200000 RUNS=5 scripts/bench-auditd.sh
#
# Needs ausearch (apt-get install auditd) and laurel (apt-get install laurel). Laurel reads
# records on standard input as an audisp plugin; here it replays the file with its state
# file, privilege drop and /proc enrichment off (they would measure this machine, not the
# log) and writes its JSON to standard output.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS="${RECORDS:-1000000}"
RUNS="${RUNS:-3}"
CORE="${CORE:-0}"
TARGET="${CARGO_TARGET_DIR:-target}"

for tool in ausearch laurel bc taskset; do
  if ! command -v "$tool" >/dev/null && ! [[ -x "/usr/sbin/$tool" ]]; then
    case "$tool" in
      ausearch) echo "ausearch is missing: apt-get install auditd" >&2 ;;
      *) echo "$tool is missing: apt-get install $tool" >&2 ;;
    esac
    exit 2
  fi
done
ausearch=$(command -v ausearch || echo /usr/sbin/ausearch)
laurel=$(command -v laurel || echo /usr/sbin/laurel)

cargo build --release --quiet -p auditrail --no-default-features --bins && cargo build --release --quiet -p synth --features cli --bins
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log="$work/audit.log"
"$TARGET/release/auditrail-synth" --format auditd --records "$RECORDS" --seed 42 --out "$log"
records=$(wc -l < "$log")
bytes=$(stat -c %s "$log")
cat "$log" > /dev/null # warm the page cache

mkdir -p "$work/laurel"
cat > "$work/laurel.toml" <<EOF
directory = "$work/laurel"
[auditlog]
file = "-"
[state]
file = ""
[transform]
execve-argv = ["array"]
[translate]
universal = true
user-db = false
[enrich]
pid = false
execve-env = []
container = false
script = false
EOF

best() { # best wall time in seconds of "$@" over $RUNS runs, output discarded
  local best_time=""
  for _ in $(seq "$RUNS"); do
    local start end elapsed
    start=$(date +%s.%N)
    "$@" > /dev/null
    end=$(date +%s.%N)
    elapsed=$(echo "$end - $start" | bc -l)
    if [[ -z "$best_time" ]] || (( $(echo "$elapsed < $best_time" | bc -l) )); then best_time=$elapsed; fi
  done
  echo "$best_time"
}

run_auditrail() { taskset -c "$CORE" "$TARGET/release/auditrail" --quiet convert --from auditd --to jsonl "$log"; }
run_ausearch() { TZ=UTC LC_ALL=C taskset -c "$CORE" "$ausearch" -i -if "$log" --eoe-timeout 2; }
run_laurel() { taskset -c "$CORE" "$laurel" -c "$work/laurel.toml" < "$log" 2> /dev/null; }

# Every tool must have read every event: count what each wrote.
events_auditrail=$(run_auditrail | wc -l)
events_ausearch=$(run_ausearch | grep -c '^----$' || true)
events_laurel=$(run_laurel | wc -l)

auditrail_time=$(best run_auditrail)
ausearch_time=$(best run_ausearch)
laurel_time=$(best run_laurel)

rate() { echo "$records / $1" | bc -l | xargs printf '%.0f'; }
printf 'input: %d records, %d bytes, best of %d runs, one core (cpu %s)\n' "$records" "$bytes" "$RUNS" "$CORE"
printf '%-46s %8.3f s %10s records/s  (%d events)\n' "auditrail convert --from auditd --to jsonl" "$auditrail_time" "$(rate "$auditrail_time")" "$events_auditrail"
printf '%-46s %8.3f s %10s records/s  (%d events)\n' "ausearch -i" "$ausearch_time" "$(rate "$ausearch_time")" "$events_ausearch"
printf '%-46s %8.3f s %10s records/s  (%d events)\n' "laurel (JSON)" "$laurel_time" "$(rate "$laurel_time")" "$events_laurel"
printf 'ratio auditrail / ausearch -i: %.1fx\n' "$(echo "$ausearch_time / $auditrail_time" | bc -l)"
printf 'ratio auditrail / laurel:      %.1fx\n' "$(echo "$laurel_time / $auditrail_time" | bc -l)"
