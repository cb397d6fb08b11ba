//! Driver of the SQL lines of `scripts/bench-query.sh`: times `auditrail sql`'s engine
//! (DataFusion over the segment files, as `sql::run` does for the command) on the Parquet
//! segments that `query_bench write` made. Not a test; the script runs DuckDB over the same
//! files in the same run and prints the ratio.
//!
//! ```text
//! sql_bench DIR RUNS NAME=SQL…   # best of RUNS per query, as NAME_ms=…, NAME_first=…
//! ```
#![allow(clippy::print_stdout, missing_docs)]

use std::path::Path;
use std::time::Instant;

use index::{Dataset, Segment};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, runs, queries @ ..] = args.as_slice() else {
        return Err("usage: sql_bench DIR RUNS NAME=SQL…".into());
    };
    let runs: usize = runs.parse()?;
    let mut paths: Vec<_> = std::fs::read_dir(Path::new(dir))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "parquet")
        })
        .collect();
    paths.sort();
    let options = sql::Options::default();
    for named in queries {
        let (name, text) = named.split_once('=').ok_or("queries are NAME=SQL")?;
        let mut best = f64::INFINITY;
        let mut first = String::new();
        // One warm-up run, then the best of `runs`; each run opens the segments as the
        // command does (footers read, no data cached between runs).
        for _ in 0..=runs {
            let started = Instant::now();
            let segments = paths
                .iter()
                .map(Segment::open)
                .collect::<Result<Vec<_>, _>>()?;
            let answer = sql::run(&Dataset::new(segments), text, &options)?;
            best = best.min(started.elapsed().as_secs_f64() * 1000.0);
            if let Some(row) = answer.rows.first() {
                let cells: Vec<String> = row
                    .iter()
                    .take(2)
                    .map(|value| {
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned)
                    })
                    .collect();
                first = cells.join(":");
            }
        }
        println!("{name}_ms={best:.2}");
        println!("{name}_first={first}");
    }
    Ok(())
}
