//! `auditrail serve`: resolves the settings (configuration file, then `AUDITRAIL_*`
//! environment variables and flags over it) and runs the server. The server itself is the
//! `server` crate.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap::parser::ValueSource;
use server::{ConfigFile, Limits, Settings, TlsSettings};

use crate::Status;
use crate::cli::{Args, CommonArgs, ServeArgs};

pub(crate) fn run(args: &ServeArgs, common: &CommonArgs) -> Result<Status> {
    crate::prefer_small_pages();
    let file = match &args.config {
        Some(path) => ConfigFile::load(path)
            .with_context(|| format!("cannot read the configuration {}", path.display()))?,
        None => ConfigFile::default(),
    };
    // `--data` (or AUDITRAIL_DATA) wins over the file; the file wins over the default.
    let data_given = Args::command()
        .get_matches()
        .value_source("data")
        .is_some_and(|source| source != ValueSource::DefaultValue);
    let data = match (&file.data, data_given) {
        (Some(data), false) => data.clone(),
        _ => common.data.clone(),
    };
    let cert = args.tls_cert.clone().or(file.tls.cert.clone());
    let key = args.tls_key.clone().or(file.tls.key.clone());
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(TlsSettings {
            cert,
            key,
            client_ca: args.tls_client_ca.clone().or(file.tls.client_ca.clone()),
        }),
        (None, None) => None,
        _ => anyhow::bail!("TLS needs both a certificate and a key (--tls-cert and --tls-key)"),
    };
    let listen = match (args.listen, file.listen) {
        (Some(listen), _) | (None, Some(listen)) => listen,
        (None, None) => server::config::DEFAULT_LISTEN
            .parse()
            .context("the default listen address")?,
    };
    let settings = Settings {
        listen,
        data,
        policy: args.policy.clone().or(file.policy.clone()),
        tls,
        client_roles: file.tls.client_roles.clone(),
        limits: Limits::from_file(&file.limits),
        metrics_require_auth: file.metrics.require_auth.unwrap_or(true),
        sources: file.sources.clone(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUDITRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let quiet = common.quiet;
    let announce = |text: &str| {
        if !quiet || text.starts_with("listening") {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "auditrail serve: {text}");
        }
    };
    server::run(&settings, &announce)
        .with_context(|| format!("serving the audit trail in {}", settings.data.display()))?;
    Ok(Status::Success)
}
