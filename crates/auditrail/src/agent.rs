//! `auditrail agent --config FILE`: reads the configuration and runs the agent (the `agent`
//! crate) until SIGTERM or SIGINT.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

use crate::Status;
use crate::cli::{AgentArgs, CommonArgs};
use crate::clock;

pub(crate) fn run(args: &AgentArgs, common: &CommonArgs) -> Result<Status> {
    let settings = agent::AgentSettings::load(&args.config)
        .with_context(|| format!("cannot read the configuration {}", args.config.display()))?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUDITRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_signal(Arc::clone(&stop))?;
    let quiet = common.quiet;
    let announce = |text: &str| {
        if !quiet {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "auditrail agent: {text}");
        }
    };
    agent::run(&settings, &stop, Arc::new(clock::now), &announce).with_context(|| {
        format!(
            "running the agent with state in {}",
            settings.state.display()
        )
    })?;
    announce("stopped");
    Ok(Status::Success)
}

/// Sets `stop` on SIGTERM or SIGINT (a thread with a small runtime waits for them).
fn stop_on_signal(stop: Arc<AtomicBool>) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot set up signal handling")?;
    let mut terminate = runtime
        .block_on(async {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        })
        .context("cannot handle SIGTERM")?;
    std::thread::Builder::new()
        .name("auditrail-signals".to_owned())
        .spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            });
            stop.store(true, Ordering::Relaxed);
        })
        .context("cannot start the signal thread")?;
    Ok(())
}
