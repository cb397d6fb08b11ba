//! `auditrail`: the command line. Thin glue: parse arguments, run one command, map its result
//! to an exit code. The work lives in the library crates.
//!
//! Exit codes: 0 success, 1 a finding (for example tampering found by `verify`), 2 bad usage
//! or bad input.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: decoding allocates many small strings per event
/// and frees them in batches, which glibc's allocator handles at a quarter of the run time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod agent;
mod cli;
mod clock;
mod convert;
mod follow;
mod import;
mod input;
mod limits;
mod policy_check;
mod policy_file;
mod prove;
mod prune;
mod query;
mod report;
mod serve;
mod sql;
mod token;
mod verify;

/// Turns transparent huge pages off for this process, for the commands that go through
/// much memory in large buffers (`import`, `verify`, `serve`, and `query`, `report` and `sql`,
/// which decode the ledger's row-form tail). mimalloc asks for huge pages
/// for its large allocations, and the kernel then clears 2 MiB at each first touch:
/// measured on 300,000 events, `import` spent 2.6 s in the kernel with them and 0.8 s
/// without (and the same time in user space). `serve` spent its first second of a 50k
/// events/s load mostly clearing huge pages (p99 acknowledgement latency of that second
/// 150-300 ms, against none over 50 ms without), and peaked at 340 MiB against 260 MiB.
/// `query --limit 10` over a store with 300,000 events in row form: 6.0 s (3.5 s in the
/// kernel) with them, 4.2 s (1.3 s) without.
/// Best effort: without the setting, only speed changes.
pub(crate) fn prefer_small_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// What a command tells `main` besides errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Everything went as asked.
    Success,
    /// The command ran, but found a problem to report (exit 1): `verify` found tampering.
    Finding,
    /// The command ran, but some input was bad (exit 2).
    BadInput,
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let result = match args.command {
        cli::Command::Convert(command) => convert::run(&command, &args.common),
        cli::Command::Import(command) => import::run(&command, &args.common),
        cli::Command::Query(command) => query::run(&command, &args.common),
        cli::Command::Report(command) => report::run(&command, &args.common),
        cli::Command::Sql(command) => sql::run(&command, &args.common),
        cli::Command::Verify(command) => verify::run(&command, &args.common),
        cli::Command::Prove(command) => prove::run(&command, &args.common),
        cli::Command::Checkpoint => prove::print_checkpoint(&args.common),
        cli::Command::Prune(command) => prune::run(&command, &args.common),
        cli::Command::Policy(cli::PolicyCommand::Check(command)) => {
            policy_check::run(&command, &args.common)
        }
        cli::Command::Serve(command) => serve::run(&command, &args.common),
        cli::Command::Token(command) => token::run(&command, &args.common),
        cli::Command::Agent(command) => agent::run(&command, &args.common),
    };
    match result {
        Ok(Status::Success) => ExitCode::SUCCESS,
        Ok(Status::Finding) => ExitCode::from(1),
        Ok(Status::BadInput) => ExitCode::from(2),
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let mut stderr = std::io::stderr().lock();
            // Nothing useful can be done if standard error itself is gone.
            let _ = writeln!(stderr, "auditrail: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A reader that closed the pipe (`auditrail convert … | head`) is not an error.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
