#!/usr/bin/env bash
# Compares the index's answers with DuckDB over the same zstd Parquet segments, in one run:
# top-10 users (requests, writes, errors; one request counted once, as the report does;
# DuckDB both from the stage/code/verb/method columns and from the request_flags column the
# index reads), the plain GROUP BY user count (DuckDB only: a different question), a
# filtered query (deletes of secrets in one namespace, newest 100, whole events), and an
# object's history (key-index rows; whole events). Also prints the bytes at rest (Parquet
# segments and their key indexes) per event as a share of the JSON: of the audit.k8s.io/v1
# JSON lines the API server writes for the same events (percent_of_k8s_json, the source JSON
# that `auditrail import` reads), and of auditrail's more compact jsonl form (percent_of_jsonl).
#
#   scripts/bench-query.sh                    # 1,000,000 events, best of 5 runs
#   EVENTS=10000000 scripts/bench-query.sh    # the issue's 10M-event benchmark
#   KEEP=/tmp/segments EVENTS=... scripts/bench-query.sh   # keep (and reuse) the segments
#
# Also times `auditrail sql` (DataFusion, crates/sql) on the same files with the same SQL text
# as DuckDB: top-10 users with request/write/error counts, and the plain count per user;
# printed as time ratios.
#
# The SQL times are `sql::run` as `auditrail sql` calls it (the segment footers read, a
# DataFusion session and its threads set up, the query planned and run), DuckDB's the query
# on an open connection; both over the same files with the page cache warm.
#
#   SQL=0 scripts/bench-query.sh          # without the SQL lines (no DataFusion release build)
#   PROFILE=dev EVENTS=100000 RUNS=1 scripts/bench-query.sh   # a quick smoke run of the
#                                         # script itself (times from a dev build mean little)
#
# Needs python3 with duckdb (pip install duckdb). Both sides use the same number of threads.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS="${EVENTS:-1000000}"
RUNS="${RUNS:-5}"
SEGMENT_EVENTS="${SEGMENT_EVENTS:-1000000}"
THREADS="${THREADS:-$(nproc)}"
TARGET="${CARGO_TARGET_DIR:-target}"
PROFILE="${PROFILE:-release}"
SQL="${SQL:-1}"
case "$PROFILE" in
  dev) BIN="$TARGET/debug/examples" ;;
  *) BIN="$TARGET/$PROFILE/examples" ;;
esac

python3 -c 'import duckdb' 2>/dev/null || { echo "duckdb for python is missing: pip install duckdb" >&2; exit 2; }
cargo build --profile "$PROFILE" --quiet -p index --example query_bench
if [[ "$SQL" != 0 ]]; then
  cargo build --profile "$PROFILE" --quiet -p sql --example sql_bench
fi

if [[ -n "${KEEP:-}" ]]; then
  dir="$KEEP"
else
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' EXIT
fi
mkdir -p "$dir"
if ! ls "$dir"/*.parquet >/dev/null 2>&1; then
  echo "writing $EVENTS events as segments of $SEGMENT_EVENTS into $dir"
  "$BIN/query_bench" write "$dir" "$EVENTS" "$SEGMENT_EVENTS" | tee "$dir/write.txt"
fi
cat "$dir"/*.parquet "$dir"/*.keys > /dev/null # warm the page cache for both sides

ours="$("$BIN/query_bench" query "$dir" "$RUNS")"
echo "$ours"

# The SQL of `auditrail sql` (table `events`), run as is by DataFusion and, with `events`
# replaced by the files, by DuckDB.
SQL_TOP_USERS="SELECT \"user\", count(*) AS requests,
    count(*) FILTER (WHERE verb IN ('create','update','patch','delete','deletecollection')
                      OR method IN ('POST','PUT','PATCH','DELETE')) AS writes,
    count(*) FILTER (WHERE code >= 400) AS errors
  FROM events
  WHERE stage IS NULL OR stage IN ('ResponseComplete','Panic')
     OR (stage = 'ResponseStarted' AND code >= 400)
  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
SQL_PLAIN_TOP_USERS="SELECT \"user\", count(*) AS requests FROM events GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10"
sql=""
if [[ "$SQL" != 0 ]]; then
  sql="$("$BIN/sql_bench" "$dir" "$RUNS" \
    "sql_top_users=$SQL_TOP_USERS" "sql_plain_top_users=$SQL_PLAIN_TOP_USERS")"
  echo "$sql"
fi
export SQL_TOP_USERS SQL_PLAIN_TOP_USERS

python3 - "$dir" "$RUNS" "$THREADS" "$ours" "$sql" <<'PY'
import os, sys, time, duckdb
directory, runs, threads, ours, df = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ours = dict(line.split("=", 1) for line in ours.splitlines() if "=" in line)
df = dict(line.split("=", 1) for line in df.splitlines() if "=" in line)
con = duckdb.connect()
con.execute(f"SET threads={threads}")
src = f"read_parquet('{directory}/*.parquet')"
# Whole rows, with the times as text so that Python needs no time-zone module.
every = "* REPLACE (CAST(time AS VARCHAR) AS time, CAST(stage_time AS VARCHAR) AS stage_time)"
queries = {
    "top_users": f"""SELECT "user", count(*) AS requests,
        count(*) FILTER (WHERE verb IN ('create','update','patch','delete','deletecollection')
                          OR method IN ('POST','PUT','PATCH','DELETE')) AS writes,
        count(*) FILTER (WHERE code >= 400) AS errors
      FROM {src}
      WHERE stage IS NULL OR stage IN ('ResponseComplete','Panic')
         OR (stage = 'ResponseStarted' AND code >= 400)
      GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10""",
    "top_users_by_flags": f"""SELECT "user", count(*) AS requests,
        count(*) FILTER (WHERE request_flags & 2 = 2) AS writes,
        count(*) FILTER (WHERE request_flags & 4 = 4) AS errors
      FROM {src} WHERE request_flags & 1 = 1
      GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10""",
    "plain_top_users": f"""SELECT "user", count(*) FROM {src} GROUP BY 1 ORDER BY 2 DESC LIMIT 10""",
    "filtered_query": f"""SELECT {every} FROM {src}
      WHERE verb = 'delete' AND resource = 'secrets' AND namespace = 'payments'
      ORDER BY coalesce(time, stage_time) DESC, ledger_seq DESC LIMIT 100""",
    "object_rows": f"""SELECT ledger_seq FROM {src}
      WHERE resource = 'deployments' AND namespace = 'checkout' AND name = 'queue'""",
    "object_history": f"""SELECT {every} FROM {src}
      WHERE resource = 'deployments' AND namespace = 'checkout' AND name = 'queue'
      ORDER BY coalesce(time, stage_time), ledger_seq""",
}
rows = con.execute(f"SELECT count(*) FROM {src}").fetchone()[0]
print(f"duckdb {duckdb.__version__}, {threads} threads, {rows} rows, best of {runs}")
if str(rows) != ours.get("rows"):
    sys.exit(f"duckdb counts {rows} rows, the index {ours.get('rows')}: the files are not read alike")
print("duckdb reads every row the index wrote: ok")
for name, sql in queries.items():
    con.execute(sql).fetchall()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - start)
    mine = ours.get(f"{name}_ms") or (ours.get("top_users_ms") if name == "top_users_by_flags" else None)
    ratio = f"  ratio duckdb/index {best * 1000 / float(mine):.1f}x" if mine and float(mine) > 0 else ""
    print(f"{name:18s} duckdb {best * 1000:9.2f} ms  index {mine or '-':>9} ms{ratio}")
    if name == "top_users":
        first = result[0]
        print(f"  duckdb first row {first[0]}:{first[1]}, index {ours.get('top_users_first')}")
    if name == "filtered_query":
        # The same rows on both sides: as many, the same newest one, of as many matches.
        seq = [column[0] for column in con.description].index("ledger_seq")
        where = sql.split("WHERE", 1)[1].split("ORDER BY", 1)[0]
        matches = con.execute(f"SELECT count(*) FROM {src} WHERE {where}").fetchone()[0]
        first = str(result[0][seq]) if result else "-"
        print(f"  duckdb {matches} matches, {len(result)} rows, newest seq {first}; index "
              f"{ours.get('filtered_query_matched')} matches, {ours.get('filtered_query_rows')} rows, "
              f"newest seq {ours.get('filtered_query_first_seq', '-')}")
        if (str(matches), str(len(result)), first) != (ours.get("filtered_query_matched"),
                ours.get("filtered_query_rows"), ours.get("filtered_query_first_seq", "-")):
            sys.exit("filtered_query: duckdb and the index disagree")
# auditrail sql (DataFusion) against DuckDB, the same SQL text over the same files.
for name, variable in [("sql_top_users", "SQL_TOP_USERS"), ("sql_plain_top_users", "SQL_PLAIN_TOP_USERS")]:
    if f"{name}_ms" not in df:
        continue  # SQL=0
    text = os.environ[variable].replace("FROM events", f"FROM {src}")
    result = con.execute(text).fetchall()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = con.execute(text).fetchall()
        best = min(best, time.perf_counter() - start)
    mine = float(df[f"{name}_ms"])
    first = f"{result[0][0]}:{result[0][1]}"
    print(f"{name:19s} duckdb {best * 1000:9.2f} ms  sql {mine:9.2f} ms  ratio duckdb/sql {best * 1000 / mine:.2f}x (sql/duckdb {mine / (best * 1000):.2f}x)")
    if first != df.get(f"{name}_first"):
        sys.exit(f"{name}: duckdb's first row {first}, datafusion's {df.get(f'{name}_first')}")
PY
