//! `auditrail-synth --events N --seed S [--out FILE]`: writes generated Kubernetes audit
//! traffic as `audit.k8s.io/v1` JSON lines, as an API server's log backend would.
//! `auditrail-synth --format auditd --records N [--enriched] [--node NAME]…` writes a Linux
//! audit log (`audit.log`) of at least N records instead (`synth::auditd`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use event::Timestamp;
use synth::{Generator, SynthConfig};

/// Generate realistic Kubernetes audit events (audit.k8s.io/v1 JSON lines) or a Linux audit
/// log.
#[derive(Debug, Parser)]
#[command(name = "auditrail-synth", version)]
struct Args {
    /// What to write.
    #[arg(long, value_enum, default_value_t = Format::K8s)]
    format: Format,
    /// Linux audit records to write (at least; whole events), with --format auditd.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// auditd's ENRICHED format (names after 0x1D), with --format auditd.
    #[arg(long)]
    enriched: bool,
    /// Prefix records with node=NAME, the nodes taking turns; repeatable; with --format
    /// auditd.
    #[arg(long, value_name = "NAME")]
    node: Vec<String>,
    /// Number of events to write.
    #[arg(long, default_value_t = 10_000)]
    events: u64,
    /// Seed of the random stream: the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file; standard output when absent or `-`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Time of the first request (RFC 3339).
    #[arg(long, value_parser = Timestamp::parse)]
    start: Option<Timestamp>,
    /// Requests per second of simulated time.
    #[arg(long)]
    rate: Option<u32>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Kubernetes audit.k8s.io/v1 JSON lines.
    K8s,
    /// A Linux audit log (raw, or ENRICHED with --enriched).
    Auditd,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("auditrail-synth: {error:#}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let mut config = SynthConfig::default();
    if let Some(start) = args.start {
        config.start = start;
    }
    if let Some(rate) = args.rate {
        config.requests_per_second = rate;
    }
    let output: Box<dyn Write> = match &args.out {
        Some(path) if path.as_os_str() != "-" => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
        _ => Box::new(io::stdout().lock()),
    };
    let mut output = BufWriter::with_capacity(1 << 20, output);
    if args.format == Format::Auditd {
        let config = synth::auditd::AuditLogConfig {
            nodes: args.node.clone(),
            enriched: args.enriched,
            ..synth::auditd::AuditLogConfig::default()
        };
        let mut log = synth::auditd::AuditLog::new(args.seed, config);
        let mut text = String::with_capacity(1 << 20);
        while log.records() < args.records {
            text.clear();
            while text.len() < (1 << 20) - 16_384 && log.records() < args.records {
                log.write_event(&mut text);
            }
            output
                .write_all(text.as_bytes())
                .context("cannot write records")?;
        }
        output.flush().context("cannot write records")?;
        return Ok(());
    }
    let mut line = Vec::with_capacity(64 * 1024);
    for event in Generator::new(args.seed, config).take(usize::try_from(args.events)?) {
        line.clear();
        formats::k8s::encode(&event, &mut line);
        output.write_all(&line).context("cannot write events")?;
    }
    output.flush().context("cannot write events")?;
    Ok(())
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<io::Error>())
        .any(|cause| cause.kind() == io::ErrorKind::BrokenPipe)
}
