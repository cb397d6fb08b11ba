//! Driver of `scripts/bench-query.sh`: writes synth traffic as segments, then times the
//! index's answers over them. Not a test; numbers come from the script, which runs DuckDB
//! over the same files in the same run.
//!
//! ```text
//! query_bench write DIR EVENTS [SEGMENT_EVENTS]   # segments, their key indexes and sizes
//! query_bench query DIR RUNS                      # timings, best of RUNS, as key=value
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

/// The allocator of the `auditrail` binary, so that the times are those of `auditrail
/// report` and `query`: with the system allocator every row group's buffers came back as
/// fresh pages from the kernel (a fifth of a top-users run in page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::time::Instant;

use index::report::{self, Dimension};
use index::{Dataset, Filter, KeyIndex, Segment, TextPattern, write_segment};
use synth::{Generator, SynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["write", dir, events, rest @ ..] => {
            let per_segment = rest.first().map_or(Ok(1_000_000), |text| text.parse())?;
            write(Path::new(dir), events.parse()?, per_segment)
        }
        ["query", dir, runs] => query(Path::new(dir), runs.parse()?),
        _ => Err("usage: query_bench write DIR EVENTS [SEGMENT_EVENTS] | query DIR RUNS".into()),
    }
}

fn write(dir: &Path, events: u64, per_segment: u64) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let mut generator = Generator::new(42, SynthConfig::default());
    let (mut json_bytes, mut k8s_bytes) = (0_u64, 0_u64);
    let (mut parquet_bytes, mut keys_bytes) = (0_u64, 0_u64);
    let mut line = Vec::new();
    let mut seq = 0_u64;
    let started = Instant::now();
    let mut segment = 0;
    while seq < events {
        let count = per_segment.min(events - seq);
        let path = dir.join(format!("segment-{segment:04}.parquet"));
        let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
        let batch = (&mut generator).take(count as usize).map(|event| {
            // auditrail's own lossless `jsonl` form, and the audit.k8s.io/v1 JSON lines the
            // API server writes (what `auditrail import` reads: the source JSON).
            line.clear();
            if serde_json::to_writer(&mut line, &event).is_ok() {
                json_bytes += line.len() as u64 + 1;
            }
            line.clear();
            formats::k8s::encode(&event, &mut line);
            k8s_bytes += line.len() as u64;
            seq += 1;
            (seq, event)
        });
        let written = write_segment(file, batch)?;
        let keys = written.keys.to_bytes();
        std::fs::write(path.with_extension("keys"), &keys)?;
        parquet_bytes += std::fs::metadata(&path)?.len();
        keys_bytes += keys.len() as u64;
        segment += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("events={events}");
    println!("segments={segment}");
    println!("jsonl_bytes={json_bytes}");
    println!("k8s_json_bytes={k8s_bytes}");
    println!("parquet_bytes={parquet_bytes}");
    println!("keys_bytes={keys_bytes}");
    println!(
        "bytes_per_event={:.1}",
        (parquet_bytes + keys_bytes) as f64 / events as f64
    );
    println!(
        "percent_of_jsonl={:.2}",
        100.0 * (parquet_bytes + keys_bytes) as f64 / json_bytes as f64
    );
    println!(
        "percent_of_k8s_json={:.2}",
        100.0 * (parquet_bytes + keys_bytes) as f64 / k8s_bytes as f64
    );
    println!("write_seconds={seconds:.1}");
    Ok(())
}

fn open(dir: &Path) -> Result<Dataset, Box<dyn std::error::Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "parquet"))
        .collect();
    paths.sort();
    let mut segments = Vec::new();
    for path in paths {
        let keys = KeyIndex::from_bytes(&std::fs::read(path.with_extension("keys"))?)?;
        segments.push(Segment::open(&path)?.with_keys(keys));
    }
    Ok(Dataset::new(segments))
}

fn best<T>(runs: usize, mut run: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let value = run();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
        last = Some(value);
    }
    (best, last.unwrap_or_else(run))
}

fn query(dir: &Path, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (open_ms, dataset) = best(1, || open(dir));
    let dataset = dataset?;
    println!("open_ms={open_ms:.2}");
    println!(
        "rows={}",
        dataset.segments().iter().map(Segment::rows).sum::<u64>()
    );

    let (ms, top) = best(runs, || {
        report::top_users(&dataset, &Filter::default(), Dimension::User, 10)
    });
    let top = top?;
    println!("top_users_ms={ms:.2}");
    if let Some(first) = top.first() {
        println!(
            "top_users_first={}:{}",
            first.key.as_deref().unwrap_or(""),
            first.counts.requests
        );
    }

    let filter = Filter {
        verbs: vec![TextPattern::parse("delete")],
        resources: vec![TextPattern::parse("secrets")],
        namespaces: vec![TextPattern::parse("payments")],
        ..Filter::default()
    };
    let (ms, result) = best(runs, || dataset.query(&filter, 100));
    let result = result?;
    println!("filtered_query_ms={ms:.2}");
    println!("filtered_query_matched={}", result.stats.rows_matched);
    println!("filtered_query_rows={}", result.events.len());
    if let Some((seq, _)) = result.events.first() {
        println!("filtered_query_first_seq={seq}");
    }

    let (ms, rows) = best(runs, || {
        dataset
            .segments()
            .iter()
            .filter_map(Segment::keys)
            .map(|keys| keys.object_rows("deployments", "checkout", "queue").len())
            .sum::<usize>()
    });
    println!("object_rows_ms={ms:.4}");
    println!("object_rows_candidates={rows}");

    let (ms, events) = best(runs, || {
        dataset.object_events("deployments", "checkout", "queue")
    });
    println!("object_history_ms={ms:.3}");
    println!("object_history_events={}", events?.len());
    Ok(())
}
