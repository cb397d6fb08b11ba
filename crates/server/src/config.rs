//! The server's configuration file (TOML; documented in `examples/auditrail.toml`) and the
//! resolved [`Settings`] the server runs with. The binary overlays command-line flags and
//! `AUDITRAIL_*` environment variables on the file before it starts the server.
//!
//! Invariant: an unknown key is an error, never silently ignored (a misspelt `client_ca`
//! must not turn mutual TLS off).

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::Role;
use crate::error::ServerError;
use crate::limits;

/// The configuration file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Address and port to listen on (`0.0.0.0:8443`).
    pub listen: Option<SocketAddr>,
    /// Data directory of the audit trail.
    pub data: Option<PathBuf>,
    /// Audit policy applied to every ingested event.
    pub policy: Option<PathBuf>,
    /// TLS; without `cert` the server speaks plain HTTP.
    #[serde(default)]
    pub tls: TlsFile,
    /// Limits overriding the defaults of [`crate::limits`].
    #[serde(default)]
    pub limits: LimitsFile,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: MetricsFile,
    /// Collectors: files and journals the server reads itself.
    #[serde(default)]
    pub sources: Vec<collect::SourceConfig>,
}

/// `[tls]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// Server certificate chain (PEM).
    pub cert: Option<PathBuf>,
    /// Server private key (PEM).
    pub key: Option<PathBuf>,
    /// CA certificates (PEM) whose client certificates are accepted (mutual TLS). Clients
    /// without a certificate may still use a bearer token.
    pub client_ca: Option<PathBuf>,
    /// Which client certificate gets which role.
    #[serde(default)]
    pub client_roles: Vec<ClientRole>,
}

/// A client certificate whose subject common name or a DNS/IP subject alternative name is
/// `subject` gets `role`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRole {
    /// The common name or subject alternative name.
    pub subject: String,
    /// The role.
    pub role: Role,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Largest request body in bytes.
    pub body_bytes: Option<usize>,
    /// Ingest requests in flight at once.
    pub ingest_concurrent: Option<usize>,
    /// Batches waiting for the writer.
    pub queue_batches: Option<usize>,
    /// Sustained requests per second per principal.
    pub rate_requests_per_second: Option<u32>,
    /// Burst of requests per principal.
    pub rate_burst: Option<u32>,
}

/// `[metrics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// Whether `/metrics` needs a token (read or admin role). Default: true.
    pub require_auth: Option<bool>,
}

impl ConfigFile {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<ConfigFile, ServerError> {
        let text = read_text(path, limits::CONFIG_FILE_BYTES_MAX)?;
        let file: ConfigFile = toml::from_str(&text).map_err(|error| ServerError::Config {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
        collect::config::validate(&file.sources).map_err(|reason| ServerError::Config {
            path: path.to_owned(),
            reason,
        })?;
        Ok(file)
    }
}

/// Limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes.
    pub body_bytes: usize,
    /// Ingest requests in flight at once.
    pub ingest_concurrent: usize,
    /// Batches waiting for the writer.
    pub queue_batches: usize,
    /// Sustained requests per second per principal.
    pub rate_requests_per_second: u32,
    /// Burst of requests per principal.
    pub rate_burst: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: limits::BODY_BYTES_MAX,
            ingest_concurrent: limits::INGEST_CONCURRENT_MAX,
            queue_batches: limits::QUEUE_BATCHES_MAX,
            rate_requests_per_second: limits::RATE_REQUESTS_PER_SECOND,
            rate_burst: limits::RATE_BURST,
        }
    }
}

impl Limits {
    /// The defaults with what `file` sets.
    pub fn from_file(file: &LimitsFile) -> Limits {
        let default = Limits::default();
        Limits {
            body_bytes: file.body_bytes.unwrap_or(default.body_bytes),
            ingest_concurrent: file
                .ingest_concurrent
                .unwrap_or(default.ingest_concurrent)
                .max(1),
            queue_batches: file.queue_batches.unwrap_or(default.queue_batches).max(1),
            rate_requests_per_second: file
                .rate_requests_per_second
                .unwrap_or(default.rate_requests_per_second)
                .max(1),
            rate_burst: file.rate_burst.unwrap_or(default.rate_burst).max(1),
        }
    }
}

/// TLS files in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Server certificate chain (PEM).
    pub cert: PathBuf,
    /// Server private key (PEM).
    pub key: PathBuf,
    /// CA for client certificates (PEM).
    pub client_ca: Option<PathBuf>,
}

/// Everything the server runs with, resolved from the file, flags and environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (port 0: any free port, announced at start).
    pub listen: SocketAddr,
    /// Data directory.
    pub data: PathBuf,
    /// Audit policy file; none keeps every event with the default redactions.
    pub policy: Option<PathBuf>,
    /// TLS, when a certificate is configured.
    pub tls: Option<TlsSettings>,
    /// Client certificate subjects and their roles.
    pub client_roles: Vec<ClientRole>,
    /// Limits.
    pub limits: Limits,
    /// Whether `/metrics` needs credentials.
    pub metrics_require_auth: bool,
    /// Collectors to run (their positions are kept in `DATA/collectors/`).
    pub sources: Vec<collect::SourceConfig>,
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

/// Reads a text file of at most `max` bytes.
pub(crate) fn read_text(path: &Path, max: u64) -> Result<String, ServerError> {
    let io = |source| ServerError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    file.take(max + 1).read_to_string(&mut text).map_err(io)?;
    if text.len() as u64 > max {
        return Err(ServerError::Config {
            path: path.to_owned(),
            reason: format!("larger than {max} bytes"),
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configuration_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/auditrail.toml");
        let config = ConfigFile::load(&path).unwrap();
        assert!(config.listen.is_some());
        assert!(config.tls.cert.is_some());
        assert!(!config.tls.client_roles.is_empty());
        assert!(
            config.sources.len() >= 3,
            "the example shows every kind of source"
        );
    }

    #[test]
    fn unknown_keys_are_errors() {
        let error = toml::from_str::<ConfigFile>("[tls]\nclient_cas = \"x\"\n").unwrap_err();
        assert!(error.to_string().contains("client_cas"), "{error}");
    }
}
