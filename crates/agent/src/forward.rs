//! Sending a spooled batch to the server: `POST {server}/api/v1/ingest/jsonl` with the
//! events as auditrail JSON lines, a bearer token or a client certificate.
//!
//! ureq is a small blocking HTTP client on rustls: the agent sends one batch at a time from
//! one thread and waits for its acknowledgement, so an async client would add a runtime and
//! nothing else.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

use crate::config::AgentSettings;
use crate::error::AgentError;
use crate::limits::{REQUEST_TIMEOUT, RESPONSE_BYTES_MAX, RETRY_WAIT_MAX, RETRY_WAIT_MIN};

/// What became of a batch sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// 2xx: every event is durable on the server.
    Acknowledged,
    /// The server is busy (429, 503): send again after this long (its `Retry-After`).
    RetryAfter(Duration),
    /// Not acknowledged (connection error, other status): send again after a backoff.
    Failed(String),
}

/// The client.
#[derive(Debug)]
pub struct Forwarder {
    agent: ureq::Agent,
    url: String,
    authorization: Option<String>,
}

fn pem_error(what: &str, error: &dyn std::fmt::Display) -> AgentError {
    AgentError::Config {
        path: what.into(),
        reason: format!("unreadable PEM: {error}"),
    }
}

impl Forwarder {
    /// A client for `settings`.
    pub fn new(settings: &AgentSettings) -> Result<Forwarder, AgentError> {
        let mut tls = TlsConfig::builder();
        if let Some(ca) = &settings.ca_pem {
            let mut roots = Vec::new();
            for item in ureq::tls::parse_pem(ca) {
                if let PemItem::Certificate(certificate) =
                    item.map_err(|error| pem_error("ca", &error))?
                {
                    roots.push(certificate);
                }
            }
            tls = tls.root_certs(RootCerts::Specific(Arc::new(roots)));
        }
        if let Some((chain, key)) = &settings.client_pem {
            let mut certificates: Vec<Certificate<'static>> = Vec::new();
            for item in ureq::tls::parse_pem(chain) {
                if let PemItem::Certificate(certificate) =
                    item.map_err(|error| pem_error("client_cert", &error))?
                {
                    certificates.push(certificate);
                }
            }
            let key = PrivateKey::from_pem(key).map_err(|error| pem_error("client_key", &error))?;
            tls = tls.client_cert(Some(ClientCert::new_with_certs(&certificates, key)));
        }
        let agent = ureq::Agent::config_builder()
            .tls_config(tls.build())
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(Forwarder {
            agent,
            url: settings.ingest_url.clone(),
            authorization: settings
                .token
                .as_ref()
                .map(|token| format!("Bearer {token}")),
        })
    }

    /// Sends one body of JSON lines.
    pub fn send(&self, body: &[u8]) -> Sent {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization);
        }
        let response = match request.send(body) {
            Ok(response) => response,
            Err(error) => return Sent::Failed(format!("cannot reach {}: {error}", self.url)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text = String::new();
        let _ = response
            .into_body()
            .into_reader()
            .take(RESPONSE_BYTES_MAX)
            .read_to_string(&mut text);
        match status {
            200..=299 => Sent::Acknowledged,
            429 | 503 => Sent::RetryAfter(
                retry_after
                    .unwrap_or(RETRY_WAIT_MIN)
                    .clamp(RETRY_WAIT_MIN, RETRY_WAIT_MAX),
            ),
            401 => Sent::Failed(format!(
                "the server refused the credentials (401): check token_file or the client certificate; {}",
                text.trim()
            )),
            403 => Sent::Failed(format!(
                "the credentials may not ingest (403): use an ingest token; {}",
                text.trim()
            )),
            _ => Sent::Failed(format!("the server answered {status}: {}", text.trim())),
        }
    }
}
