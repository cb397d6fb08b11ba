//! The agent's configuration file (TOML; documented in `examples/agent.toml`): where to
//! forward, how to authenticate, where to keep state, and the `[[sources]]` to collect
//! (the same entries as `auditrail serve` reads).
//!
//! ```toml
//! [agent]
//! server = "https://auditrail.example.com:8443"
//! token_file = "/etc/auditrail/agent.token"    # an ingest token, or client_cert/client_key
//! ca = "/etc/auditrail/tls/ca.crt"
//! state = "/var/lib/auditrail-agent"
//! spool_bytes = 268435456
//! metrics_listen = "127.0.0.1:9464"              # optional: GET /metrics, no credentials
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{AgentError, io};
use crate::limits::{CONFIG_FILE_BYTES_MAX, SPOOL_BYTES_DEFAULT, SPOOL_BYTES_MIN};

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    /// `[agent]`.
    pub agent: AgentSection,
    /// What to collect.
    #[serde(default)]
    pub sources: Vec<collect::SourceConfig>,
}

/// `[agent]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSection {
    /// Base URL of the server (`https://host:8443`).
    pub server: String,
    /// File holding an ingest token (`auditrail token create --role ingest`).
    pub token_file: Option<PathBuf>,
    /// CA certificates (PEM) to trust for the server's certificate; default: the public
    /// web roots.
    pub ca: Option<PathBuf>,
    /// Client certificate chain (PEM), for mutual TLS instead of a token.
    pub client_cert: Option<PathBuf>,
    /// Client private key (PEM).
    pub client_key: Option<PathBuf>,
    /// State directory: positions, the spool, the local quarantine file.
    pub state: PathBuf,
    /// Size limit of the spool in bytes.
    pub spool_bytes: Option<u64>,
    /// Where to serve Prometheus metrics (`GET /metrics`, no credentials); none by default.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// Everything the agent runs with.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// `POST` target: `{server}/api/v1/ingest/jsonl`.
    pub ingest_url: String,
    /// Bearer token.
    pub token: Option<String>,
    /// CA certificates, PEM.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain and key, PEM.
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
    /// State directory.
    pub state: PathBuf,
    /// Spool size limit.
    pub spool_bytes: u64,
    /// Where to serve `/metrics`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Sources.
    pub sources: Vec<collect::SourceConfig>,
}

fn read(path: &Path) -> Result<Vec<u8>, AgentError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let mut bytes = Vec::new();
    file.take(CONFIG_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(io(path))?;
    if bytes.len() as u64 > CONFIG_FILE_BYTES_MAX {
        return Err(AgentError::Config {
            path: path.to_owned(),
            reason: format!("larger than {CONFIG_FILE_BYTES_MAX} bytes"),
        });
    }
    Ok(bytes)
}

impl AgentSettings {
    /// Reads the configuration file and the files it names.
    pub fn load(path: &Path) -> Result<AgentSettings, AgentError> {
        let bad = |reason: String| AgentError::Config {
            path: path.to_owned(),
            reason,
        };
        let text = String::from_utf8(read(path)?).map_err(|_| bad("not UTF-8".to_owned()))?;
        let file: AgentFile = toml::from_str(&text).map_err(|error| bad(error.to_string()))?;
        collect::config::validate(&file.sources).map_err(bad)?;
        if file.sources.is_empty() {
            return Err(bad(
                "no [[sources]]: name the files or journal units to collect".to_owned(),
            ));
        }
        let agent = file.agent;
        let server = agent.server.trim_end_matches('/');
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(bad(format!(
                "server {server:?}: give a URL such as https://auditrail.example.com:8443"
            )));
        }
        let token = match &agent.token_file {
            Some(token_file) => {
                let token = String::from_utf8(read(token_file)?)
                    .map_err(|_| bad(format!("{}: not UTF-8", token_file.display())))?;
                Some(token.trim().to_owned())
            }
            None => None,
        };
        let client_pem = match (&agent.client_cert, &agent.client_key) {
            (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
            (None, None) => None,
            _ => return Err(bad("give both client_cert and client_key".to_owned())),
        };
        if token.is_none() && client_pem.is_none() {
            return Err(bad(
                "no credentials: set token_file (an ingest token) or client_cert and client_key"
                    .to_owned(),
            ));
        }
        let spool_bytes = agent.spool_bytes.unwrap_or(SPOOL_BYTES_DEFAULT);
        if spool_bytes < SPOOL_BYTES_MIN {
            return Err(bad(format!(
                "spool_bytes {spool_bytes}: give at least {SPOOL_BYTES_MIN}"
            )));
        }
        Ok(AgentSettings {
            ingest_url: format!("{server}/api/v1/ingest/jsonl"),
            token,
            ca_pem: agent.ca.as_deref().map(read).transpose()?,
            client_pem,
            state: agent.state,
            spool_bytes,
            metrics_listen: agent.metrics_listen,
            sources: file.sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_configuration_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/agent.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let file: AgentFile = toml::from_str(&text).unwrap();
        assert_eq!(file.sources.len(), 2);
        collect::config::validate(&file.sources).unwrap();
        assert!(file.agent.token_file.is_some());
    }

    #[test]
    fn credentials_and_a_sane_spool_are_required() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("agent.toml");
        let source = "[[sources]]\nname = \"a\"\ntype = \"file\"\npaths = [\"/x\"]\n";
        std::fs::write(
            &config,
            format!("[agent]\nserver = \"http://127.0.0.1:1\"\nstate = \"/s\"\n{source}"),
        )
        .unwrap();
        let error = AgentSettings::load(&config).unwrap_err().to_string();
        assert!(error.contains("token_file"), "{error}");
        std::fs::write(dir.path().join("token"), "secret\n").unwrap();
        std::fs::write(
            &config,
            format!(
                "[agent]\nserver = \"http://127.0.0.1:1/\"\nstate = \"/s\"\ntoken_file = {:?}\nspool_bytes = 10\n{source}",
                dir.path().join("token")
            ),
        )
        .unwrap();
        let error = AgentSettings::load(&config).unwrap_err().to_string();
        assert!(error.contains("spool_bytes"), "{error}");
        std::fs::write(
            &config,
            format!(
                "[agent]\nserver = \"http://127.0.0.1:1/\"\nstate = \"/s\"\ntoken_file = {:?}\n{source}",
                dir.path().join("token")
            ),
        )
        .unwrap();
        let settings = AgentSettings::load(&config).unwrap();
        assert_eq!(settings.token.as_deref(), Some("secret"));
        assert_eq!(
            settings.ingest_url,
            "http://127.0.0.1:1/api/v1/ingest/jsonl"
        );
    }
}
